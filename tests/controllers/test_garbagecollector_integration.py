"""The garbage collector against a real apiserver: background deletion of dependents,
foreground deletion in dependency order, orphaning, dangling references, several owners,
and dependents that block (or do not block) their owner's foreground deletion."""

from __future__ import annotations

from typing import Any

import harness
from harness import (
    CONFIGMAPS,
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    deployment,
    eventually,
    list_pods,
    observing,
    replicaset,
    running,
)

from pyk8s.client import errors, rest

api, client, ns = harness.api, harness.client, harness.ns  # fixtures


Obj = dict[str, Any]


async def gone(client: rest.RESTClient, resource: Any, name: str, ns: str) -> bool:
    try:
        await client.get(resource, name, namespace=ns)
    except errors.NotFound:
        return True
    return False


def cm(name: str, *owners: Obj, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if owners:
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": o["name"],
                "uid": o["uid"],
                **o.get("extra", {}),
            }
            for o in owners
        ]
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def owner(obj: Obj, **extra: Any) -> Obj:
    return {"name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"], "extra": extra}


async def ready_rs(client: rest.RESTClient, ns: str, name: str, n: int) -> None:
    async def check() -> bool:
        rs = await client.get(REPLICASETS, name, namespace=ns)
        return (rs.get("status") or {}).get("readyReplicas") == n

    await eventually(check, message=f"{name} ready")


async def test_background_deletion_removes_dependents(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, controllers=["replicaset", "garbagecollector"]):
        await client.create(REPLICASETS, replicaset("bg", replicas=3), namespace=ns)
        await ready_rs(client, ns, "bg", 3)
        await client.delete(REPLICASETS, "bg", namespace=ns, propagation_policy="Background")

        async def no_pods() -> bool:
            return not await list_pods(client, ns)

        await eventually(no_pods, message="the pods collected")


async def test_foreground_deletion_goes_bottom_up(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api):
        await client.create(DEPLOYMENTS, deployment("fg", replicas=2), namespace=ns)

        async def available() -> bool:
            d = await client.get(DEPLOYMENTS, "fg", namespace=ns)
            return (d.get("status") or {}).get("availableReplicas") == 2

        await eventually(available, message="deployment available")
        async with (
            observing(client, PODS, ns) as pods,
            observing(client, REPLICASETS, ns) as rss,
            observing(client, DEPLOYMENTS, ns) as deps,
        ):
            await client.delete(DEPLOYMENTS, "fg", namespace=ns, propagation_policy="Foreground")
            await eventually(lambda: gone(client, DEPLOYMENTS, "fg", ns), message="deployment gone")
        log: list[tuple[str, str, Obj]] = []
        # merge the three streams by resourceVersion: one global order of changes
        for kind, stream in (("pod", pods), ("rs", rss), ("deploy", deps)):
            log += [(kind, t, o) for t, o in stream]
        log.sort(key=lambda e: int(e[2]["metadata"]["resourceVersion"]))
        deleted = [(kind, o["metadata"]["name"]) for kind, t, o in log if t == "DELETED"]
        kinds = [k for k, _ in deleted]
        assert kinds == ["pod", "pod", "rs", "deploy"], deleted
        waiting = [o for k, t, o in log if k == "deploy" and t == "MODIFIED"]
        assert waiting and "foregroundDeletion" in waiting[0]["metadata"]["finalizers"]
        rs_waiting = [o for k, t, o in log if k == "rs" and o["metadata"].get("deletionTimestamp")]
        assert rs_waiting and "foregroundDeletion" in rs_waiting[0]["metadata"]["finalizers"]


async def test_orphan_deletion_keeps_dependents(api: Any, client: rest.RESTClient, ns: str) -> None:
    async with running(api, controllers=["replicaset", "garbagecollector"]):
        await client.create(REPLICASETS, replicaset("orph", replicas=2), namespace=ns)
        await ready_rs(client, ns, "orph", 2)
        await client.delete(REPLICASETS, "orph", namespace=ns, propagation_policy="Orphan")
        await eventually(lambda: gone(client, REPLICASETS, "orph", ns), message="owner gone")

        async def orphaned() -> bool:
            pods = await list_pods(client, ns)
            return len(pods) == 2 and all(not p["metadata"].get("ownerReferences") for p in pods)

        await eventually(orphaned, message="pods without owner references")


async def test_dangling_and_mixed_owner_references(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, controllers=["garbagecollector"], kubelet=False):
        boss = await client.create(CONFIGMAPS, cm("boss"), namespace=ns)
        ghost = {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}
        await client.create(CONFIGMAPS, cm("lost", ghost), namespace=ns)
        await client.create(CONFIGMAPS, cm("kept", owner(boss)), namespace=ns)
        await client.create(CONFIGMAPS, cm("mixed", owner(boss), ghost), namespace=ns)
        await eventually(lambda: gone(client, CONFIGMAPS, "lost", ns), message="dangling collected")

        async def ghost_dropped() -> bool:
            mixed = await client.get(CONFIGMAPS, "mixed", namespace=ns)
            return [r["name"] for r in mixed["metadata"]["ownerReferences"]] == ["boss"]

        await eventually(ghost_dropped, message="the dangling reference removed")
        assert not await gone(client, CONFIGMAPS, "kept", ns)

        await client.delete(CONFIGMAPS, "boss", namespace=ns)
        await eventually(lambda: gone(client, CONFIGMAPS, "kept", ns), message="kept collected")
        await eventually(lambda: gone(client, CONFIGMAPS, "mixed", ns), message="mixed collected")


async def test_only_blocking_dependents_hold_a_foreground_deletion(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api, controllers=["garbagecollector"], kubelet=False):
        boss = await client.create(CONFIGMAPS, cm("boss"), namespace=ns)
        await client.create(
            CONFIGMAPS,
            cm("held", owner(boss, blockOwnerDeletion=True), finalizers=["example.com/hold"]),
            namespace=ns,
        )
        await client.create(
            CONFIGMAPS, cm("free", owner(boss, blockOwnerDeletion=False)), namespace=ns
        )
        await client.delete(CONFIGMAPS, "boss", namespace=ns, propagation_policy="Foreground")
        await eventually(lambda: gone(client, CONFIGMAPS, "free", ns), message="free collected")

        async def held_terminating() -> bool:
            held = await client.get(CONFIGMAPS, "held", namespace=ns)
            return bool(held["metadata"].get("deletionTimestamp"))

        await eventually(held_terminating, message="held being deleted")
        still = await client.get(CONFIGMAPS, "boss", namespace=ns)
        assert still["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert still["metadata"].get("deletionTimestamp")

        await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, namespace=ns)
        await eventually(lambda: gone(client, CONFIGMAPS, "boss", ns), message="boss released")
