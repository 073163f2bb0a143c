"""Node lifecycle against a real apiserver: a node whose heartbeats stop becomes Unknown,
is tainted unreachable, and pods that do not tolerate that long are evicted — while
another node keeps heartbeating (with every node silent, upstream evicts nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
from collections.abc import AsyncIterator
from typing import Any

import ctlharness

from cluster import Cluster
from pyk8s.controllers import nodelifecycle as nl
from pyk8s.controllers.context import Options


def _ready(node: dict[str, Any] | None) -> str:
    for c in ((node or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == "Ready":
            return str(c["status"])
    return ""


LEASES = nl.LEASES


@contextlib.asynccontextmanager
async def heartbeating(
    client: Any, name: str, labels: dict[str, str] | None = None
) -> AsyncIterator[None]:
    """A node whose Lease is renewed every 0.2 s while the block runs."""

    def now() -> str:
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    await client.create(nl.NODES, {"metadata": {"name": name, "labels": labels or {}}})
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "lastHeartbeatTime": now(),
    }
    await client.patch(nl.NODES, name, {"status": {"conditions": [ready]}}, subresource="status")
    await client.create(
        LEASES,
        {"metadata": {"name": name}, "spec": {"holderIdentity": name, "renewTime": now()}},
        namespace="kube-node-lease",
    )
    stop = asyncio.Event()

    async def renew() -> None:
        while not stop.is_set():
            await client.patch(
                LEASES, name, {"spec": {"renewTime": now()}}, namespace="kube-node-lease"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        stop.set()
        await task
        await client.delete(LEASES, name, namespace="kube-node-lease")
        await client.delete(nl.NODES, name)


async def test_silent_node_is_tainted_and_its_pods_evicted(
    cluster: Cluster, namespace: str
) -> None:
    name = f"quiet-{namespace}"
    opts = dataclasses.replace(Options(), node_monitor_grace_period=1.0, node_monitor_period=0.2)
    async with (
        ctlharness.running(cluster, nl.new, options=opts) as h,
        heartbeating(h.client, f"alive-{namespace}"),
    ):
        await h.client.create(nl.NODES, {"metadata": {"name": name}})
        await h.client.patch(
            nl.NODES,
            name,
            {
                "status": {
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "lastHeartbeatTime": "2020-01-01T00:00:00Z",
                        }
                    ]
                }
            },
            subresource="status",
        )
        base = {"containers": [{"name": "c", "image": "busybox"}], "nodeName": name}
        short = {
            "key": nl.UNREACHABLE,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 0,
        }
        forever = {"key": nl.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
        await h.client.create(
            nl.PODS,
            {
                "metadata": {"name": "goes", "namespace": namespace},
                "spec": {**base, "tolerations": [short]},
            },
        )
        await h.client.create(
            nl.PODS,
            {
                "metadata": {"name": "stays", "namespace": namespace},
                "spec": {**base, "tolerations": [forever]},
            },
        )
        await h.wait(
            lambda: _ready(h.get(nl.NODES, "", name)) == "Unknown", message="Ready=Unknown"
        )
        await h.wait(
            lambda: any(
                t["key"] == nl.UNREACHABLE and t["effect"] == "NoExecute"
                for t in (h.get(nl.NODES, "", name) or {}).get("spec", {}).get("taints") or []
            ),
            message="unreachable taint",
        )
        await h.wait(
            lambda: (
                h.get(nl.PODS, namespace, "goes") is None
                or bool(h.get(nl.PODS, namespace, "goes")["metadata"].get("deletionTimestamp"))
            ),
            message="eviction",
        )  # type: ignore[index]
        assert h.get(nl.PODS, namespace, "stays") is not None
        await h.client.delete(nl.PODS, "stays", namespace=namespace, grace_period_seconds=0)
        await h.client.delete(nl.PODS, "goes", namespace=namespace, grace_period_seconds=0)
        await h.client.delete(nl.NODES, name)


async def test_no_execute_taints_are_rate_limited_per_zone(
    cluster: Cluster, namespace: str
) -> None:
    """Two silent nodes in a zone of three: the first is tainted NoExecute at once (burst
    1), the second waits for the zone's rate (here one per 1,000 s) — but both get the
    NoSchedule taint, which is never limited."""
    zone = {"topology.kubernetes.io/zone": f"z-{namespace}"}
    silent = [f"silent-{i}-{namespace}" for i in range(2)]
    opts = dataclasses.replace(
        Options(), node_monitor_grace_period=1.0, node_monitor_period=0.2, node_eviction_rate=0.001
    )
    async with (
        ctlharness.running(cluster, nl.new, options=opts) as h,
        heartbeating(h.client, f"alive-{namespace}", labels=zone),
    ):
        for name in silent:
            await h.client.create(nl.NODES, {"metadata": {"name": name, "labels": zone}})

        def effects(name: str) -> set[str]:
            taints = ((h.get(nl.NODES, "", name) or {}).get("spec") or {}).get("taints") or []
            return {t["effect"] for t in taints if t["key"] == nl.UNREACHABLE}

        await h.wait(
            lambda: all("NoSchedule" in effects(n) for n in silent), message="NoSchedule taints"
        )
        await h.wait(
            lambda: any("NoExecute" in effects(n) for n in silent), message="one NoExecute"
        )
        assert sorted("NoExecute" in effects(n) for n in silent) == [False, True]
        for name in silent:
            await h.client.delete(nl.NODES, name)
