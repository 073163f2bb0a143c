"""The controller-manager process against a real apiserver: one leader at a time on the
kube-system/kube-controller-manager Lease, a hand-over when the leader stops, only the
selected controllers, Prometheus metrics, and the command's exit codes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from typing import Any

import harness
from harness import (
    REPLICASETS,
    eventually,
    replicaset,
)

from pyk8s.client import config, paths, rest
from pyk8s.controllers import manager

api, client, ns = harness.api, harness.client, harness.ns  # fixtures

LEASES = paths.resource_for("coordination.k8s.io", "v1", "leases", kind="Lease")


def make(api: Any, **kw: Any) -> manager.ControllerManager:
    cfg = manager.ManagerConfig(
        controllers=["replicaset"],
        lease_duration=3.0,
        renew_deadline=2.0,
        retry_period=0.5,
        **kw,
    )
    return manager.ControllerManager(config.from_kubeconfig(api.kubeconfig), cfg)


async def holder(client: rest.RESTClient) -> str:
    try:
        lease = await client.get(LEASES, "kube-controller-manager", namespace="kube-system")
    except Exception:
        return ""
    return str(lease["spec"].get("holderIdentity") or "")


async def test_one_leader_and_a_hand_over(api: Any, client: rest.RESTClient, ns: str) -> None:
    a, b = make(api, identity="cm-a"), make(api, identity="cm-b")
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.ensure_future(a.run(stop_a))
    await eventually(lambda: _true(a.leading.is_set()), message="a leads")
    task_b = asyncio.ensure_future(b.run(stop_b))
    try:
        assert await holder(client) == "cm-a"
        await client.create(REPLICASETS, replicaset("led", replicas=1), namespace=ns)

        async def has_pod() -> bool:
            rs = await client.get(REPLICASETS, "led", namespace=ns)
            return (rs.get("status") or {}).get("replicas") == 1

        await eventually(has_pod, message="the leader acting")
        assert not b.leading.is_set()
        stop_a.set()  # releases the lease
        await task_a
        await eventually(lambda: _true(b.leading.is_set()), message="b takes over")
        assert await holder(client) == "cm-b"
    finally:
        stop_a.set()
        stop_b.set()
        await asyncio.gather(task_a, task_b)


async def _true(value: bool) -> bool:
    return value


async def test_selected_controllers_and_metrics(api: Any) -> None:
    cm = make(api, leader_elect=False, metrics_port=0)
    stop = asyncio.Event()
    task = asyncio.ensure_future(cm.run(stop))
    try:
        await eventually(lambda: _true(cm.leading.is_set() and bool(cm.metrics_url)))
        assert list(cm.controllers) == ["replicaset-controller"]
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(cm.metrics_url + "/metrics", timeout=10).read().decode()
        )
        assert "pyk8s_controller_manager_leader 1.0" in body
        assert "pyk8s_controller_syncs_total" in body
    finally:
        stop.set()
        await task


def test_command_line_errors(api: Any) -> None:
    base = [
        sys.executable,
        "-m",
        "pyk8s.cli.controller_manager_cmd",
        "--kubeconfig",
        str(api.kubeconfig),
    ]
    bad = subprocess.run(
        [*base, "--controllers=*,-nope"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert '"nope" is not in the list of known controllers' in bad.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "pyk8s.cli.controller_manager_cmd", "--kubeconfig", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
