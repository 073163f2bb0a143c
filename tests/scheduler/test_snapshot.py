from __future__ import annotations

import numpy as np
import pytest

from pyk8s.api.label_selectors import parse_label_selector
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.testing import make_node, make_pod, snapshot_of


def _row(snap: Snapshot, name: str) -> int:
    i = snap.index_of(name)
    assert i is not None
    return i


def assert_columns_match(snap: Snapshot) -> None:
    cols = snap.columns
    assert cols.n == len(snap.nodes)
    for i, ni in enumerate(snap.nodes):
        for r in ("cpu", "memory"):
            assert cols.requested(r)[i] == ni.requested.get(r, 0)
            assert cols.allocatable(r)[i] == ni.allocatable.get(r, 0)
        assert cols.pod_count[i] == len(ni.pods)
        assert cols.non_zero_cpu[i] == ni.non_zero_cpu


def test_pods_counted_on_their_nodes() -> None:
    snap = snapshot_of(
        [make_node("a"), make_node("b")],
        [make_pod("x", cpu="1", node="a"), make_pod("y", node="a"), make_pod("pending", cpu="1")],
    )
    a = snap.get("a")
    assert isinstance(a, NodeInfo)
    assert a.requested == {"cpu": 1000}
    assert a.non_zero_cpu == 1100 and a.non_zero_memory == 400 * 2**20
    assert len(a.pods) == 2 and not snap.get("b").pods  # type: ignore[union-attr]
    assert_columns_match(snap)


def test_update_and_delete_pod() -> None:
    pod = make_pod("x", cpu="1", node="a", uid="u1")
    snap = snapshot_of([make_node("a")], [pod])
    bigger = make_pod("x", cpu="2", node="a", uid="u1")
    snap.update_pod(bigger)
    assert snap.get("a").requested["cpu"] == 2000  # type: ignore[union-attr]
    snap.remove_pod(bigger)
    assert snap.get("a").requested == {}  # type: ignore[union-attr]
    assert_columns_match(snap)


def test_finished_pods_free_their_resources() -> None:
    pod = make_pod("x", cpu="1", node="a", uid="u1")
    snap = snapshot_of([make_node("a")], [pod])
    pod["status"]["phase"] = "Succeeded"
    snap.update_pod(pod)
    assert snap.get("a").requested == {}  # type: ignore[union-attr]


def test_pod_before_node_is_counted_when_node_arrives() -> None:
    snap = snapshot_of([], [make_pod("x", cpu="1", node="late")])
    snap.add_node(make_node("late"))
    assert snap.get("late").requested == {"cpu": 1000}  # type: ignore[union-attr]
    assert_columns_match(snap)


def test_remove_node_keeps_rows_consistent() -> None:
    snap = snapshot_of(
        [make_node(f"n{i}", cpu=str(i + 1)) for i in range(5)], [make_pod("x", cpu="1", node="n4")]
    )
    snap.remove_node("n1")
    assert [n.name for n in snap.nodes] == ["n0", "n4", "n2", "n3"]
    assert snap.columns.allocatable("cpu")[_row(snap, "n4")] == 5000
    assert list(snap.names()) == ["n0", "n4", "n2", "n3"]
    assert_columns_match(snap)


def test_columns_grow_past_initial_capacity() -> None:
    snap = snapshot_of([make_node(f"n{i}") for i in range(200)])
    assert snap.columns.allocatable("cpu").shape == (200,)
    assert_columns_match(snap)


def test_extended_resources_get_columns() -> None:
    snap = snapshot_of(
        [make_node("gpu", extra={"nvidia.com/gpu": "4"}), make_node("plain")],
        [make_pod("x", requests={"nvidia.com/gpu": "1"}, node="gpu")],
    )
    cols = snap.columns
    assert list(cols.allocatable("nvidia.com/gpu")) == [4, 0]
    assert list(cols.requested("nvidia.com/gpu")) == [1, 0]


def test_assume_then_bound_then_forget() -> None:
    snap = snapshot_of([make_node("a")])
    pod = make_pod("x", cpu="1", uid="u1")
    pi = PodInfo.of(pod)
    snap.assume_pod(pi, "a")
    assert snap.is_assumed("u1") and snap.get("a").requested["cpu"] == 1000  # type: ignore[union-attr]
    snap.forget_pod("u1")
    assert snap.get("a").requested == {}  # type: ignore[union-attr]
    snap.assume_pod(pi, "a")
    bound = make_pod("x", cpu="1", uid="u1", node="a")
    snap.add_pod(bound)  # the informer's copy replaces the assumed one
    assert not snap.is_assumed("u1")
    snap.forget_pod("u1")  # no longer assumed: nothing to forget
    assert snap.get("a").requested["cpu"] == 1000  # type: ignore[union-attr]


def test_label_column_invalidated_on_label_change() -> None:
    snap = snapshot_of([make_node("a", labels={"zone": "z1"}), make_node("b")])
    assert list(snap.label_column("zone")) == ["z1", None]
    snap.update_node(make_node("b", labels={"zone": "z2"}))
    assert list(snap.label_column("zone")) == ["z1", "z2"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("app=web", {"w1", "w2"}, id="equality-uses-index"),
        pytest.param("app in (web,db)", {"w1", "w2", "d1"}, id="set"),
        pytest.param("app=web,tier!=front", {"w2"}, id="mixed"),
        pytest.param("tier", {"w1"}, id="exists-falls-back-to-scan"),
    ],
)
def test_pods_matching(selector: str, expected: set[str]) -> None:
    snap = snapshot_of(
        [make_node("a")],
        [
            make_pod("w1", node="a", labels={"app": "web", "tier": "front"}),
            make_pod("w2", node="a", labels={"app": "web"}),
            make_pod("d1", node="a", labels={"app": "db"}),
            make_pod("other-ns", namespace="x", node="a", labels={"app": "web", "tier": "front"}),
        ],
    )
    got = {p.name for p in snap.pods_matching("default", parse_label_selector(selector))}
    assert got == expected


def test_count_per_node() -> None:
    snap = snapshot_of(
        [make_node("a"), make_node("b")],
        [make_pod("1", node="b", labels={"x": "1"}), make_pod("2", node="b", labels={"x": "1"})],
    )
    pods = list(snap.pods_matching("default", parse_label_selector("x=1")))
    assert np.array_equal(snap.count_per_node(pods), [0, 2])


def test_image_spread() -> None:
    snap = snapshot_of(
        [make_node("a", images=[(["nginx:1"], 10)]), make_node("b", images=[(["nginx:1"], 10)])]
    )
    assert snap.image_num_nodes("nginx:1") == 2
    snap.remove_node("a")
    assert snap.image_num_nodes("nginx:1") == 1
