"""NodeUnschedulable, NodeName, NodePorts, SchedulingGates, PrioritySort."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import QueuedPodInfo
from pyk8s.scheduler.plugins import (
    node_name,
    node_ports,
    node_unschedulable,
    priority_sort,
    scheduling_gates,
)
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Code
from pyk8s.scheduler.testing import filter_all, make_node, make_pod, snapshot_of

UNSCHED_TOL = {
    "key": "node.kubernetes.io/unschedulable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


@pytest.mark.parametrize(
    ("tolerations", "fits"),
    [
        pytest.param([], False, id="cordoned-rejects"),
        pytest.param([UNSCHED_TOL], True, id="tolerated"),
        pytest.param([{"operator": "Exists"}], True, id="tolerate-everything"),
        pytest.param(
            [
                {
                    "key": "node.kubernetes.io/unschedulable",
                    "effect": "NoExecute",
                    "operator": "Exists",
                }
            ],
            False,
            id="wrong-effect",
        ),
    ],
)
def test_node_unschedulable(tolerations: list[Any], fits: bool) -> None:
    snap = snapshot_of([make_node("cordoned", unschedulable=True), make_node("ok")])
    got = filter_all(
        node_unschedulable.NodeUnschedulable(),
        make_pod("p", spec={"tolerations": tolerations}),
        snap,
    )
    assert got["ok"].is_success
    assert got["cordoned"].is_success is fits
    if not fits:
        assert got["cordoned"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert got["cordoned"].reasons == ("node(s) were unschedulable",)


@pytest.mark.parametrize(
    ("node_name_", "expected"),
    [
        pytest.param("", {"a": True, "b": True}, id="unset"),
        pytest.param("b", {"a": False, "b": True}, id="pinned"),
        pytest.param("zzz", {"a": False, "b": False}, id="missing-node"),
    ],
)
def test_node_name(node_name_: str, expected: dict[str, bool]) -> None:
    snap = snapshot_of([make_node("a"), make_node("b")])
    pod = make_pod("p", spec={"nodeName": node_name_} if node_name_ else {})
    got = filter_all(node_name.NodeName(), pod, snap)
    assert {k: v.is_success for k, v in got.items()} == expected
    for st in got.values():
        if not st.is_success:
            assert st.reasons == ("node(s) didn't match the requested node name",)


def _ports(*ports: tuple[int, str, str]) -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "c",
                "ports": [
                    {"containerPort": 80, "hostPort": p, "protocol": proto, "hostIP": ip}
                    for p, proto, ip in ports
                ],
            }
        ]
    }


@pytest.mark.parametrize(
    ("existing", "wanted", "fits"),
    [
        pytest.param([], [(80, "TCP", "")], True, id="free"),
        pytest.param([(80, "TCP", "")], [(80, "TCP", "")], False, id="same-port"),
        pytest.param([(80, "UDP", "")], [(80, "TCP", "")], True, id="other-protocol"),
        pytest.param(
            [(80, "TCP", "127.0.0.1")], [(80, "TCP", "127.0.0.2")], True, id="different-ips"
        ),
        pytest.param(
            [(80, "TCP", "127.0.0.1")], [(80, "TCP", "0.0.0.0")], False, id="wildcard-conflicts"
        ),
        pytest.param(
            [(80, "TCP", "0.0.0.0")], [(80, "TCP", "10.0.0.1")], False, id="existing-wildcard"
        ),
        pytest.param([(8080, "TCP", "")], [(80, "TCP", "")], True, id="different-port"),
    ],
)
def test_node_ports(
    existing: list[tuple[int, str, str]], wanted: list[tuple[int, str, str]], fits: bool
) -> None:
    snap = snapshot_of([make_node("a")], [make_pod("x", node="a", spec=_ports(*existing))])
    got = filter_all(node_ports.NodePorts(), make_pod("p", spec=_ports(*wanted)), snap)
    assert got["a"].is_success is fits
    if not fits:
        assert got["a"].code is Code.UNSCHEDULABLE
        assert got["a"].reasons == ("node(s) didn't have free ports for the requested pod ports",)


def test_scheduling_gates() -> None:
    pl = scheduling_gates.SchedulingGates()
    assert pl.pre_enqueue(PodInfo.of(make_pod("p"))).is_success
    st = pl.pre_enqueue(
        PodInfo.of(make_pod("p", spec={"schedulingGates": [{"name": "a"}, {"name": "b"}]}))
    )
    assert st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == ("waiting for scheduling gates: [a b]",)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param((10, 5.0), (1, 1.0), True, id="higher-priority-first"),
        pytest.param((1, 1.0), (1, 2.0), True, id="earlier-first"),
        pytest.param((1, 2.0), (1, 1.0), False, id="later-second"),
        pytest.param((0, 1.0), (5, 9.0), False, id="lower-priority-second"),
    ],
)
def test_priority_sort(a: tuple[int, float], b: tuple[int, float], expected: bool) -> None:
    qa = QueuedPodInfo(PodInfo.of(make_pod("a", priority=a[0])), a[1])
    qb = QueuedPodInfo(PodInfo.of(make_pod("b", priority=b[0])), b[1])
    assert priority_sort.less(qa, qb) is expected
