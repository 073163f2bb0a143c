from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from pyk8s.scheduler import config
from pyk8s.scheduler.framework import Framework, ScheduleResult
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import FitError
from pyk8s.scheduler.testing import make_node, make_pod, snapshot_of

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def default_fw(seed: int = 0, text: str | None = None) -> Framework:
    return config.load_config(text).profiles[0].build(rng=random.Random(seed))


def test_picks_least_allocated_node() -> None:
    snap = snapshot_of(
        [make_node("busy", cpu="4"), make_node("idle", cpu="4")],
        [make_pod("x", cpu="3", memory="1Gi", node="busy")],
    )
    r = default_fw().schedule_one(make_pod("p", cpu="500m", memory="1Gi"), snap)
    assert isinstance(r, ScheduleResult)
    assert r.suggested_host == "idle" and r.feasible_nodes == 2 and r.evaluated_nodes == 2


@pytest.mark.parametrize(
    ("nodes", "pods", "pod", "expected"),
    [
        pytest.param(
            [make_node("cp", taints=[CP_TAINT]), make_node("a", cpu="1"), make_node("b", cpu="1")],
            [],
            make_pod("p", cpu="2"),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod..",
            id="taint-and-cpu-with-preemption-message",
        ),
        pytest.param(
            [make_node("a", pods=1)],
            [make_pod("x", node="a")],
            make_pod("p"),
            "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod..",
            id="too-many-pods",
        ),
        pytest.param(
            [make_node("a", unschedulable=True), make_node("b", labels={"disk": "hdd"})],
            [],
            make_pod("p", spec={"nodeSelector": {"disk": "ssd"}}),
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "1 node(s) were unschedulable. preemption: 0/2 nodes are available: "
            "2 Preemption is not helpful for scheduling..",
            id="first-failing-filter-wins-per-node",
        ),
        pytest.param(
            [make_node("a")],
            [],
            make_pod("p", spec={"preemptionPolicy": "Never", "nodeSelector": {"x": "y"}}),
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
            "preemption: not eligible due to preemptionPolicy=Never..",
            id="preemption-policy-never",
        ),
    ],
)
def test_fit_error_messages(
    nodes: list[Any], pods: list[Any], pod: dict[str, Any], expected: str
) -> None:
    r = default_fw().schedule_one(pod, snapshot_of(nodes, pods))
    assert isinstance(r, FitError)
    assert r.message == expected


def test_unschedulable_plugins_recorded() -> None:
    snap = snapshot_of([make_node("cp", taints=[CP_TAINT]), make_node("a", cpu="1")])
    r = default_fw().schedule_one(make_pod("p", cpu="2"), snap)
    assert isinstance(r, FitError)
    assert r.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


def test_ties_broken_uniformly_at_random() -> None:
    snap = snapshot_of([make_node(f"n{i}") for i in range(4)])
    fw = default_fw(seed=7)
    seen = Counter()
    for i in range(400):
        r = fw.schedule_one(make_pod(f"p{i}", cpu="100m"), snap)
        assert isinstance(r, ScheduleResult)
        seen[r.suggested_host] += 1
    assert set(seen) == {"n0", "n1", "n2", "n3"}
    assert min(seen.values()) > 60


def test_weights_taint_toleration_outweighs_fit() -> None:
    prefer = {"key": "k", "effect": "PreferNoSchedule"}
    snap = snapshot_of(
        [
            make_node("tainted", cpu="64", memory="256Gi", taints=[prefer]),
            make_node("small", cpu="2"),
        ]
    )
    table = default_fw().score_table(make_pod("p", cpu="100m"), snap)
    # TaintToleration (weight 3) gives small 100 and tainted 0 -> 300 points apart
    assert table["small"] > table["tainted"]


def test_single_feasible_node_skips_scoring() -> None:
    snap = snapshot_of([make_node("a", cpu="1"), make_node("b", cpu="8")])
    r = default_fw().schedule_one(make_pod("p", cpu="2"), snap)
    assert isinstance(r, ScheduleResult) and r.suggested_host == "b" and r.feasible_nodes == 1


def test_assumed_pods_take_room_for_the_next_cycle() -> None:
    snap = snapshot_of([make_node("a", cpu="1"), make_node("b", cpu="1")])
    fw = default_fw()
    hosts = []
    for i in range(2):
        pi = PodInfo.of(make_pod(f"p{i}", cpu="700m"))
        r = fw.schedule_one(pi, snap)
        assert isinstance(r, ScheduleResult)
        snap.assume_pod(pi, r.suggested_host)
        hosts.append(r.suggested_host)
    assert sorted(hosts) == ["a", "b"]
    assert isinstance(fw.schedule_one(make_pod("p3", cpu="700m"), snap), FitError)


def test_nominated_higher_priority_pod_reserves_room() -> None:
    snap = snapshot_of([make_node("a", cpu="1")])
    big = PodInfo.of(make_pod("big", cpu="800m", priority=100))
    snap.nominate(big, "a")
    fw = default_fw()
    low = fw.schedule_one(make_pod("low", cpu="500m", priority=0), snap)
    assert isinstance(low, FitError)
    high = fw.schedule_one(make_pod("high", cpu="500m", priority=1000), snap)
    assert isinstance(high, ScheduleResult)


def test_preemption_nominates_and_names_victims() -> None:
    snap = snapshot_of(
        [make_node("a", cpu="1"), make_node("b", cpu="1")],
        [
            make_pod("low-a", cpu="800m", node="a", priority=10),
            make_pod("low-b", cpu="800m", node="b", priority=5),
        ],
    )
    r = default_fw().schedule_one(make_pod("p", cpu="500m", priority=100), snap)
    assert isinstance(r, FitError)
    assert r.nominated_node == "b"  # lowest-priority victim
    assert [v.name for v in r.victims] == ["low-b"]
    assert r.message == "0/2 nodes are available: 2 Insufficient cpu."


def test_profile_without_plugin_ignores_it() -> None:
    text = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: no-taints
  plugins:
    filter:
      disabled: [{name: TaintToleration}]
"""
    snap = snapshot_of([make_node("cp", taints=[CP_TAINT])])
    r = default_fw(text=text).schedule_one(make_pod("p"), snap)
    assert isinstance(r, ScheduleResult) and r.suggested_host == "cp"


def test_empty_cluster() -> None:
    r = default_fw().schedule_one(make_pod("p"), snapshot_of([]))
    assert isinstance(r, FitError)
    assert r.message.startswith("0/0 nodes are available")
