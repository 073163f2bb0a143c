"""The namespace controller against a real apiserver: a deleted namespace is emptied —
workloads, their pods (whose graceful deletion the fake kubelet completes), config —
before it goes, and content held by a finalizer holds the namespace until it is released.
(The status conditions are tested without a server: writing them is off by default, see
``namespace.py``.)"""

from __future__ import annotations

from typing import Any

import harness
from harness import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NAMESPACES,
    PODS,
    deployment,
    eventually,
    observing,
    running,
)

from pyk8s.client import errors, paths, rest

api, client, ns = harness.api, harness.client, harness.ns  # fixtures

Obj = dict[str, Any]
SECRETS = paths.resource_for("", "v1", "secrets", kind="Secret")


async def namespace_gone(client: rest.RESTClient, name: str) -> bool:
    try:
        await client.get(NAMESPACES, name)
    except errors.NotFound:
        return True
    return False


async def test_deleting_a_namespace_removes_its_content_then_the_namespace(
    api: Any, client: rest.RESTClient, ns: str
) -> None:

    async with running(api):
        await client.create(DEPLOYMENTS, deployment("web", replicas=3), namespace=ns)
        await client.create(
            CONFIGMAPS, {"metadata": {"name": "cfg"}, "data": {"a": "b"}}, namespace=ns
        )
        await client.create(
            SECRETS, {"metadata": {"name": "s"}, "stringData": {"a": "b"}}, namespace=ns
        )

        async def running_pods() -> bool:
            d = await client.get(DEPLOYMENTS, "web", namespace=ns)
            return (d.get("status") or {}).get("availableReplicas") == 3

        await eventually(running_pods, message="workload running")
        async with (
            observing(client, NAMESPACES, None) as ns_log,
            observing(client, PODS, ns) as pod_log,
            observing(client, CONFIGMAPS, ns) as cm_log,
        ):
            await client.delete(NAMESPACES, ns)
            await eventually(
                lambda: namespace_gone(client, ns), timeout=30, message="namespace gone"
            )
        mine = [(t, o) for t, o in ns_log if o["metadata"]["name"] == ns]
        assert mine[-1][0] == "DELETED"
        gone_at = int(mine[-1][1]["metadata"]["resourceVersion"])
        pod_deletions = [
            int(o["metadata"]["resourceVersion"]) for t, o in pod_log if t == "DELETED"
        ]
        assert len(pod_deletions) == 3 and max(pod_deletions) < gone_at
        cm_deletions = [int(o["metadata"]["resourceVersion"]) for t, o in cm_log if t == "DELETED"]
        assert cm_deletions and max(cm_deletions) < gone_at
        terminating = [o for t, o in mine if o.get("status", {}).get("phase") == "Terminating"]
        assert terminating and all(
            o["spec"]["finalizers"] == ["kubernetes"] for o in terminating[:-1]
        )


async def test_content_with_a_finalizer_holds_the_namespace(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, kubelet=False):
        await client.create(
            CONFIGMAPS,
            {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}},
            namespace=ns,
        )
        await client.delete(NAMESPACES, ns)

        async def held_terminating() -> bool:
            held = await client.get(CONFIGMAPS, "held", namespace=ns)
            return bool(held["metadata"].get("deletionTimestamp"))

        # the controller has deleted the namespace's content: only the finalizer holds it
        await eventually(held_terminating, message="content deleted")
        held = await client.get(NAMESPACES, ns)
        assert held["status"]["phase"] == "Terminating"
        assert held["spec"]["finalizers"] == ["kubernetes"]
        await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, namespace=ns)
        await eventually(lambda: namespace_gone(client, ns), timeout=30, message="namespace gone")
