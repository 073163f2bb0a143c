"""Pod GC against its own apiserver (it looks at every pod in the cluster, so it does not
share the session cluster): terminated pods above the threshold, orphans of deleted nodes
after the quarantine, on virtual time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ctlharness
import podstatus
import pytest

from cluster import Cluster, free_port
from pyk8s.client import paths, testing
from pyk8s.controllers import podgc
from pyk8s.controllers.context import Options
from pyk8s.controllers.workload_pods import NODES, PODS

Obj = dict[str, Any]
NAMESPACES = paths.resource_for("", "v1", "namespaces", namespaced=False, kind="Namespace")


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(Path(tmp_path_factory.mktemp("podgc")), free_port())
    c.start()
    try:
        yield c
    finally:
        c.stop()


def a_pod(name: str, *, node: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "gc"},
        "spec": spec,
    }


async def test_terminated_pods_above_threshold_and_orphans(own_cluster: Cluster) -> None:
    clock = testing.FakeClock()
    options = Options(terminated_pod_gc_threshold=2)
    async with ctlharness.running(
        own_cluster, podgc.new, clock=clock, options=options, watch=(PODS, NODES)
    ) as h:
        await h.client.create(NAMESPACES, {"metadata": {"name": "gc"}})
        for i in range(4):
            await h.client.create(PODS, a_pod(f"done-{i}"))
            await podstatus.succeeded(h.client, "gc", f"done-{i}")
        await h.client.create(NODES, podstatus.node("n1"))
        await h.client.create(PODS, a_pod("bound", node="n1"))
        await podstatus.running(h.client, "gc", "bound")
        seen: list[Obj] = []
        h.cache(PODS).add_handler(
            on_update=lambda _o, n: seen.append(n) if n["metadata"]["name"] == "bound" else None
        )

        async def gc_pass() -> None:
            """Let one GC pass run: wait for the loop to sleep, move time, wait again."""
            await clock.wait_for_sleepers(1)
            await clock.advance(podgc.GC_PERIOD)
            await clock.wait_for_sleepers(1)

        def names() -> list[str]:
            return sorted(p["metadata"]["name"] for p in h.cache(PODS).list("gc"))

        await h.wait(lambda: len([n for n in names() if n.startswith("done")]) == 4)
        await gc_pass()  # two terminated pods over the threshold, the oldest go
        await h.wait(lambda: names() == ["bound", "done-2", "done-3"])

        await h.client.delete(NODES, "n1")
        await h.wait(lambda: h.get(NODES, "", "n1") is None)
        await gc_pass()  # n1 is missing: quarantined
        assert "bound" in names()
        await gc_pass()
        assert "bound" in names()  # 20 s of 40
        await gc_pass()
        await h.wait(lambda: "bound" not in names())
        final = seen[-1]
        assert final["status"]["phase"] == "Failed"
        cond = next(c for c in final["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "True",
            "DeletionByPodGC",
            "PodGC: node no longer exists",
        )
