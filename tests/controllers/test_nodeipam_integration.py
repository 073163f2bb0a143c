"""Node IPAM against its own apiserver (it patches every Node in the cluster, so it does
not share the session cluster): existing CIDRs are respected, new nodes get distinct
ones, a deleted node's CIDR is reused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ctlharness
import podstatus
import pytest

from cluster import Cluster, free_port
from pyk8s.controllers import nodeipam
from pyk8s.controllers.context import Options
from pyk8s.controllers.workload_pods import NODES

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(Path(tmp_path_factory.mktemp("nodeipam")), free_port())
    c.start()
    try:
        yield c
    finally:
        c.stop()


def cidr_of(h: ctlharness.Harness, name: str) -> str | None:
    node = h.get(NODES, "", name)
    if node is None:
        return None
    return (node.get("spec") or {}).get("podCIDR")


async def test_nodes_get_distinct_cidrs(own_cluster: Cluster) -> None:
    pre = podstatus.node("pre")
    pre["spec"] = {"podCIDR": "10.250.0.0/24", "podCIDRs": ["10.250.0.0/24"]}
    options = Options(cluster_cidr="10.250.0.0/16", node_cidr_mask_size=24)
    async with ctlharness.running(own_cluster, nodeipam.new, options=options) as h:
        await h.client.create(NODES, pre)
        await h.wait(lambda: cidr_of(h, "pre") == "10.250.0.0/24")
    # a fresh controller rebuilds its used set from the nodes
    async with ctlharness.running(own_cluster, nodeipam.new, options=options) as h:
        for name in ("n1", "n2"):
            await h.client.create(NODES, podstatus.node(name))
        await h.wait(lambda: cidr_of(h, "n1") is not None and cidr_of(h, "n2") is not None)
        assert {cidr_of(h, "n1"), cidr_of(h, "n2")} == {"10.250.1.0/24", "10.250.2.0/24"}
        n1 = h.get(NODES, "", "n1")
        assert n1 is not None
        assert n1["spec"]["podCIDRs"] == [n1["spec"]["podCIDR"]]
        assert cidr_of(h, "pre") == "10.250.0.0/24"

        freed = cidr_of(h, "n1")
        await h.client.delete(NODES, "n1")
        await h.wait(lambda: h.get(NODES, "", "n1") is None)
        await h.client.create(NODES, podstatus.node("n3"))
        await h.wait(lambda: cidr_of(h, "n3") is not None)
        assert cidr_of(h, "n3") == freed
        assert cidr_of(h, "n2") != freed
