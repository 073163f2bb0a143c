"""The ReplicaSet and ReplicationController controllers against a real apiserver: pods
with controller refs and upstream's events, status, availability after minReadySeconds,
adoption and release, which pod goes on scale-down, and no duplicate pods when the
controller-manager process is killed mid-creation and another one takes over."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness
from fakekubelet import FakeKubelet
from harness import (
    PODS,
    REPLICASETS,
    events_for,
    eventually,
    is_ready,
    list_pods,
    observing,
    replicaset,
    running,
)

from pyk8s.client import config, paths, rest

api, client, ns = harness.api, harness.client, harness.ns  # fixtures

Obj = dict[str, Any]
RCS = paths.resource_for("", "v1", "replicationcontrollers", kind="ReplicationController")
LEASES = paths.resource_for("coordination.k8s.io", "v1", "leases", kind="Lease")


async def rs_status(client: rest.RESTClient, ns: str, name: str, **want: int) -> Obj:
    async def check() -> Obj | None:
        rs = await client.get(REPLICASETS, name, namespace=ns)
        st = rs.get("status") or {}
        return rs if all(st.get(k, 0) == v for k, v in want.items()) else None

    return await eventually(check, message=f"{name} status {want}")


def orphan(name: str, labels: dict[str, str], image: str = "nginx") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": image}]},
    }


async def test_creates_pods_with_controller_refs_events_and_status(
    api: Any, client: rest.RESTClient, ns: str
) -> None:

    async with running(api, controllers=["replicaset"]):
        created = await client.create(REPLICASETS, replicaset("web", replicas=3), namespace=ns)
        rs = await rs_status(
            client,
            ns,
            "web",
            replicas=3,
            fullyLabeledReplicas=3,
            readyReplicas=3,
            availableReplicas=3,
            observedGeneration=1,
        )
        pods = await list_pods(client, ns)
        assert len(pods) == 3
        for pod in pods:
            assert re.fullmatch(r"web-[a-z0-9]{5}", pod["metadata"]["name"])
            assert pod["metadata"]["generateName"] == "web-"
            assert pod["metadata"]["ownerReferences"] == [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web",
                    "uid": created["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        events = await events_for(client, ns, "web")
        assert sorted(e["message"] for e in events if e["reason"] == "SuccessfulCreate") == sorted(
            f"Created pod: {p['metadata']['name']}" for p in pods
        )
        assert {e["source"]["component"] for e in events} == {"replicaset-controller"}
        assert {e["involvedObject"]["kind"] for e in events} == {"ReplicaSet"}
        assert "conditions" not in rs["status"]

        await client.patch(REPLICASETS, "web", {"spec": {"replicas": 1}}, namespace=ns)
        await rs_status(client, ns, "web", replicas=1, readyReplicas=1, observedGeneration=2)
        deleted = [
            e for e in await events_for(client, ns, "web") if e["reason"] == "SuccessfulDelete"
        ]
        assert len(deleted) == 2
        assert all(re.fullmatch(r"Deleted pod: web-[a-z0-9]{5}", e["message"]) for e in deleted)


async def test_scale_down_removes_the_unready_pod_first(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, controllers=["replicaset"]):
        await client.create(REPLICASETS, replicaset("web", replicas=3), namespace=ns)
        await rs_status(client, ns, "web", readyReplicas=3)
        await client.create(PODS, orphan("stray", {"app": "web"}, image="nginx:bad"), namespace=ns)
        await rs_status(client, ns, "web", replicas=3, readyReplicas=3)

        async def stray_gone() -> bool:
            return all(p["metadata"]["name"] != "stray" for p in await list_pods(client, ns))

        await eventually(stray_gone, message="the adopted, never-ready pod deleted")
        messages = [e["message"] for e in await events_for(client, ns, "web")]
        assert "Deleted pod: stray" in messages
        assert len([m for m in messages if m.startswith("Deleted pod")]) == 1


async def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, controllers=["replicaset"]):
        await client.create(PODS, orphan("early", {"app": "web"}), namespace=ns)
        created = await client.create(REPLICASETS, replicaset("web", replicas=2), namespace=ns)
        await rs_status(client, ns, "web", replicas=2, readyReplicas=2)
        early = await client.get(PODS, "early", namespace=ns)
        assert early["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
        assert early["metadata"]["ownerReferences"][0]["controller"] is True
        assert len(await list_pods(client, ns)) == 2  # adopted, so only one created

        await client.patch(PODS, "early", {"metadata": {"labels": {"app": "other"}}}, namespace=ns)

        async def released() -> bool:
            pod = await client.get(PODS, "early", namespace=ns)
            return not pod["metadata"].get("ownerReferences")

        await eventually(released, message="the relabelled pod released")
        await rs_status(client, ns, "web", replicas=2, readyReplicas=2)
        assert len(await list_pods(client, ns, "app=web")) == 2


async def test_min_ready_seconds_delays_availability(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, controllers=["replicaset"]):
        body = replicaset("slow", replicas=2)
        body["spec"]["minReadySeconds"] = 2
        await client.create(REPLICASETS, body, namespace=ns)
        rs = await rs_status(client, ns, "slow", readyReplicas=2)
        assert rs["status"].get("availableReplicas", 0) < 2
        await rs_status(client, ns, "slow", readyReplicas=2, availableReplicas=2)


async def test_replication_controller(api: Any, client: rest.RESTClient, ns: str) -> None:
    async with running(api, controllers=["replicationcontroller"]):
        rc = {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "legacy"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "legacy"},
                "template": {
                    "metadata": {"labels": {"app": "legacy"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }
        await client.create(RCS, rc, namespace=ns)

        async def ready() -> Obj | None:
            got = await client.get(RCS, "legacy", namespace=ns)
            return got if (got.get("status") or {}).get("readyReplicas") == 2 else None

        await eventually(ready)
        pods = await list_pods(client, ns)
        assert len(pods) == 2
        assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {
            "ReplicationController"
        }
        assert {p["metadata"]["ownerReferences"][0]["apiVersion"] for p in pods} == {"v1"}
        events = await events_for(client, ns, "legacy")
        assert {e["source"]["component"] for e in events} == {"replication-controller"}


def start_manager(api: Any, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "pyk8s.cli.controller_manager_cmd",
        "--kubeconfig",
        str(api.kubeconfig),
        "--controllers=replicaset",
        "--leader-elect-lease-duration=3s",
        "--leader-elect-renew-deadline=2s",
        "--leader-elect-retry-period=500ms",
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})


async def test_no_duplicate_pods_after_a_controller_manager_restart(
    api: Any, client: rest.RESTClient, ns: str, tmp_path: Path
) -> None:
    replicas = 60
    kubelet_client = rest.RESTClient(config.from_kubeconfig(api.kubeconfig), qps=500, burst=1000)
    stop = asyncio.Event()
    kubelet = asyncio.ensure_future(FakeKubelet(kubelet_client).run(stop))
    first = start_manager(api, tmp_path / "cm1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        async with observing(client, PODS, ns) as pod_log:

            async def leading() -> bool:
                try:
                    lease = await client.get(
                        LEASES, "kube-controller-manager", namespace="kube-system"
                    )
                except Exception:
                    return False
                return bool(lease["spec"].get("holderIdentity"))

            await eventually(leading, message="the first controller-manager leading")
            await client.create(REPLICASETS, replicaset("many", replicas=replicas), namespace=ns)

            async def some_pods() -> bool:
                return any(t == "ADDED" for t, _ in pod_log)

            await eventually(some_pods, message="the first pods")
            first.send_signal(signal.SIGKILL)  # no chance to release the lease or finish
            at_kill = sum(1 for t, _ in pod_log if t == "ADDED")
            first.wait(10)
            second = start_manager(api, tmp_path / "cm2.log")
            await rs_status(client, ns, "many", replicas=replicas, readyReplicas=replicas)
            pods = await list_pods(client, ns)
        assert at_kill < replicas  # the first one really died mid-way
        created = {p["metadata"]["uid"] for t, p in pod_log if t == "ADDED"}
        assert len(pods) == replicas
        assert len(created) == replicas, (tmp_path / "cm2.log").read_text()[-3000:]
        assert not [p for t, p in pod_log if t == "DELETED"]
        assert all(is_ready(p) for p in pods)
    finally:
        stop.set()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        await kubelet
        await kubelet_client.close()
