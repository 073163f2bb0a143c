"""Node lifecycle against a real apiserver: a node whose heartbeats stop becomes Unknown,
is tainted unreachable, and pods that do not tolerate that long are evicted."""

from __future__ import annotations

import dataclasses
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


async def test_silent_node_is_tainted_and_its_pods_evicted(
    cluster: Cluster, namespace: str
) -> None:
    name = f"quiet-{namespace}"
    opts = dataclasses.replace(Options(), node_monitor_grace_period=1.0, node_monitor_period=0.2)
    async with ctlharness.running(cluster, nl.new, options=opts) as h:
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
