"""DefaultPreemption: victim selection, PDBs, candidate choice and messages."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pyk8s.scheduler import config
from pyk8s.scheduler.plugins.default_preemption import Candidate, pick_one_node, pods_violating_pdbs
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import FitError
from pyk8s.scheduler.testing import make_node, make_pod, snapshot_of


def preempt(
    nodes: list[Any], pods: list[Any], pod: dict[str, Any], pdbs: list[Any] = ()
) -> FitError:  # type: ignore[assignment]
    snap = snapshot_of(nodes, pods)
    for pdb in pdbs:
        snap.set_object("PodDisruptionBudget", pdb)
    fw = config.load_config().profiles[0].build(rng=random.Random(0))
    r = fw.schedule_one(pod, snap)
    assert isinstance(r, FitError)
    return r


def test_reprieves_as_many_as_possible() -> None:
    r = preempt(
        [make_node("a", cpu="3")],
        [
            make_pod("v1", cpu="1", node="a", priority=1),
            make_pod("v2", cpu="1", node="a", priority=2),
            make_pod("v3", cpu="1", node="a", priority=3),
        ],
        make_pod("p", cpu="1500m", priority=10),
    )
    assert r.nominated_node == "a"
    assert sorted(v.name for v in r.victims) == ["v1", "v2"]  # v3 (most important) reprieved first


def test_equal_priority_is_never_a_victim() -> None:
    r = preempt(
        [make_node("a", cpu="1")],
        [make_pod("v", cpu="1", node="a", priority=10)],
        make_pod("p", cpu="1", priority=10),
    )
    assert r.nominated_node == "" and r.victims == []
    assert r.message.endswith(
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.."
    )


def test_removing_all_victims_does_not_help() -> None:
    r = preempt(
        [make_node("a", cpu="1")],
        [make_pod("v", cpu="500m", node="a", priority=1)],
        make_pod("p", cpu="2", priority=10),
    )
    assert r.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
        "1 Insufficient cpu.."
    )


def pdb(selector: dict[str, str], allowed: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "pdb", "namespace": "default"},
        "spec": {"selector": {"matchLabels": selector}},
        "status": {"disruptionsAllowed": allowed},
    }


def test_prefers_node_without_pdb_violation() -> None:
    r = preempt(
        [make_node("a", cpu="1"), make_node("b", cpu="1")],
        [
            make_pod("guarded", cpu="1", node="a", priority=1, labels={"app": "db"}),
            make_pod("free", cpu="1", node="b", priority=5),
        ],
        make_pod("p", cpu="1", priority=10),
        [pdb({"app": "db"}, 0)],
    )
    assert r.nominated_node == "b"


def test_pods_violating_pdbs() -> None:
    pods = [PodInfo.of(make_pod(n, labels={"app": "db"})) for n in ("a", "b", "c")]
    violating, ok = pods_violating_pdbs(pods, [pdb({"app": "db"}, 1)])
    assert [p.name for p in ok] == ["a"] and [p.name for p in violating] == ["b", "c"]


def _cand(node: str, prios: list[int], violations: int = 0, start: str = "2025") -> Candidate:
    return Candidate(
        node,
        [
            PodInfo.of(dict(make_pod(f"{node}{i}", priority=p), status={"startTime": start}))
            for i, p in enumerate(prios)
        ],
        violations,
    )


@pytest.mark.parametrize(
    ("cands", "expected"),
    [
        pytest.param([_cand("a", [1], 1), _cand("b", [5], 0)], "b", id="fewest-pdb-violations"),
        pytest.param([_cand("a", [5]), _cand("b", [3, 3])], "b", id="lowest-highest-priority"),
        pytest.param([_cand("a", [3, 2]), _cand("b", [3, 1])], "b", id="lowest-priority-sum"),
        pytest.param(
            [_cand("a", [3, 1, 1]), _cand("b", [3, 2])], "b", id="fewest-victims-after-sum-ties"
        ),
        pytest.param(
            [_cand("a", [3], start="2025-01-01"), _cand("b", [3], start="2025-06-01")],
            "b",
            id="latest-start",
        ),
        pytest.param([_cand("a", [3]), _cand("b", [3])], "a", id="first"),
    ],
)
def test_pick_one_node(cands: list[Candidate], expected: str) -> None:
    best = pick_one_node(cands)
    assert best is not None and best.node == expected
