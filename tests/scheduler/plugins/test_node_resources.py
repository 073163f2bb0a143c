"""NodeResourcesFit (filter and the three scoring strategies) and BalancedAllocation,
with scenarios re-expressed from upstream's noderesources tests."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import Framework
from pyk8s.scheduler.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from pyk8s.scheduler.plugins.node_resources_fit import NodeResourcesFit, insufficient_resources
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Code
from pyk8s.scheduler.testing import filter_all, make_node, make_pod, score_all, snapshot_of

FW: Framework = None  # type: ignore[assignment]  # the plugins under test ignore it


def fit(args: dict[str, Any] | None = None) -> NodeResourcesFit:
    return NodeResourcesFit.new(args or {}, FW)


@pytest.mark.parametrize(
    ("pod", "existing", "expected"),
    [
        pytest.param(make_pod("p"), [], [], id="no-requests-fit"),
        pytest.param(
            make_pod("p", cpu="1", memory="1"),
            [make_pod("e", cpu="10", memory="20", node="n")],
            ["Insufficient cpu", "Insufficient memory"],
            id="too-many-resources",
        ),
        pytest.param(
            make_pod("p", cpu="1", memory="1"),
            [make_pod("e", cpu="5", memory="5", node="n")],
            [],
            id="enough",
        ),
        pytest.param(
            make_pod("p", cpu="1", memory="1"),
            [make_pod("e", cpu="9", memory="19", node="n")],
            [],
            id="exactly-full",
        ),
        pytest.param(
            make_pod("p", cpu="2"),
            [make_pod("e", cpu="9", node="n")],
            ["Insufficient cpu"],
            id="cpu-only",
        ),
        pytest.param(
            make_pod("p", memory="2"),
            [make_pod("e", cpu="11", memory="19", node="n")],
            ["Insufficient cpu", "Insufficient memory"],
            id="overcommitted-cpu-fails-zero-request",
        ),
        pytest.param(
            make_pod("p", requests={"example.com/aaa": "1"}),
            [],
            ["Insufficient example.com/aaa"],
            id="extended-resource-missing",
        ),
        pytest.param(
            make_pod("p", requests={"ephemeral-storage": "30"}),
            [],
            ["Insufficient ephemeral-storage"],
            id="ephemeral-storage",
        ),
        pytest.param(
            make_pod(
                "p",
                spec={
                    "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}],
                    "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3"}}}],
                },
            ),
            [make_pod("e", cpu="8", node="n")],
            ["Insufficient cpu"],
            id="init-container-max",
        ),
        pytest.param(
            make_pod("p", cpu="1", spec={"overhead": {"cpu": "2"}}),
            [make_pod("e", cpu="8", node="n")],
            ["Insufficient cpu"],
            id="overhead-counts",
        ),
    ],
)
def test_fit_filter(pod: dict[str, Any], existing: list[Any], expected: list[str]) -> None:
    snap = snapshot_of(
        [make_node("n", cpu="10", memory="20", extra={"ephemeral-storage": "20"})], existing
    )
    st = filter_all(fit(), pod, snap)["n"]
    assert list(st.reasons) == expected
    if expected:
        assert st.code is Code.UNSCHEDULABLE


def test_too_many_pods() -> None:
    snap = snapshot_of([make_node("n", pods=1)], [make_pod("e", node="n")])
    assert filter_all(fit(), make_pod("p", cpu="1"), snap)["n"].reasons == ("Too many pods",)


@pytest.mark.parametrize(
    ("args", "fits"),
    [
        pytest.param({}, False, id="checked"),
        pytest.param({"ignoredResources": ["example.com/aaa"]}, True, id="ignored"),
        pytest.param({"ignoredResourceGroups": ["example.com"]}, True, id="ignored-group"),
    ],
)
def test_ignored_extended_resources(args: dict[str, Any], fits: bool) -> None:
    snap = snapshot_of([make_node("n")])
    got = filter_all(fit(args), make_pod("p", requests={"example.com/aaa": "1"}), snap)
    assert got["n"].is_success is fits


def test_gpu_fits_only_gpu_node() -> None:
    snap = snapshot_of(
        [make_node("gpu", extra={"nvidia.com/gpu": "2"}), make_node("cpu")],
        [make_pod("e", requests={"nvidia.com/gpu": "1"}, node="gpu")],
    )
    got = filter_all(fit(), make_pod("p", requests={"nvidia.com/gpu": "1"}), snap)
    assert got["gpu"].is_success and got["cpu"].reasons == ("Insufficient nvidia.com/gpu",)
    got = filter_all(fit(), make_pod("p", requests={"nvidia.com/gpu": "2"}), snap)
    assert not got["gpu"].is_success


def test_insufficient_resources_pure() -> None:
    snap = snapshot_of([make_node("n", cpu="1", memory="1Gi")])
    node = snap.get("n")
    assert node is not None
    assert insufficient_resources({"cpu": 2000, "memory": 1}, node) == ["Insufficient cpu"]


def _sized() -> list[dict[str, Any]]:
    return [
        make_node("n1", cpu="4000m", memory="10000"),
        make_node("n2", cpu="6000m", memory="10000"),
    ]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param({"type": "LeastAllocated"}, {"n1": 37, "n2": 50}, id="least"),
        pytest.param({"type": "MostAllocated"}, {"n1": 62, "n2": 50}, id="most"),
        pytest.param(
            {
                "type": "RequestedToCapacityRatio",
                "requestedToCapacityRatio": {
                    "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                },
            },
            {"n1": 63, "n2": 50},
            id="rtcr-bin-packing-rounds",
        ),
        pytest.param(
            {
                "type": "RequestedToCapacityRatio",
                "requestedToCapacityRatio": {
                    "shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
                },
            },
            {"n1": 38, "n2": 50},
            id="rtcr-spreading",
        ),
        pytest.param(
            {
                "type": "LeastAllocated",
                "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
            },
            {"n1": 31, "n2": 50},
            id="weighted",
        ),
    ],
)
def test_fit_scoring(strategy: dict[str, Any], expected: dict[str, int]) -> None:
    pod = make_pod("p", cpu="3000m", memory="5000")
    assert score_all(fit({"scoringStrategy": strategy}), pod, snapshot_of(_sized())) == expected


def test_least_allocated_uses_non_zero_defaults() -> None:
    # best-effort pods count as 100m / 200Mi: the node with one already scores lower
    snap = snapshot_of(
        [make_node("a", cpu="1", memory="1Gi"), make_node("b", cpu="1", memory="1Gi")],
        [make_pod("e", node="a")],
    )
    got = score_all(fit(), make_pod("p"), snap)
    assert got["b"] > got["a"]


def test_least_allocated_over_capacity_scores_zero() -> None:
    snap = snapshot_of(
        [make_node("n", cpu="1", memory="1Gi")], [make_pod("e", cpu="2", memory="2Gi", node="n")]
    )
    assert score_all(fit(), make_pod("p", cpu="1", memory="1"), snap) == {"n": 0}


def test_scoring_extended_resource_only_when_requested() -> None:
    args = {
        "scoringStrategy": {
            "type": "LeastAllocated",
            "resources": [{"name": "cpu", "weight": 1}, {"name": "nvidia.com/gpu", "weight": 1}],
        }
    }
    snap = snapshot_of([make_node("n", cpu="4", extra={"nvidia.com/gpu": "4"})])
    assert score_all(fit(args), make_pod("p", cpu="2"), snap) == {"n": 50}
    assert score_all(fit(args), make_pod("p", cpu="2", requests={"nvidia.com/gpu": "1"}), snap) == {
        "n": 62
    }


@pytest.mark.parametrize(
    ("pod", "existing", "expected"),
    [
        pytest.param(
            make_pod("p", cpu="3000m", memory="5000"),
            [],
            {"n1": 87, "n2": 100},
            id="differently-sized",
        ),
        pytest.param(
            make_pod("p", cpu="1000m", memory="2000"),
            [make_pod("e", cpu="2000m", memory="3000", node="n1")],
            {"n1": 87, "n2": 98},
            id="with-existing",
        ),
        pytest.param(
            make_pod("p", cpu="6000m", memory="5000"),
            [],
            {"n1": 75, "n2": 75},
            id="fraction-capped-at-one",
        ),
    ],
)
def test_balanced_allocation(
    pod: dict[str, Any], existing: list[Any], expected: dict[str, int]
) -> None:
    pl = NodeResourcesBalancedAllocation.new({}, FW)
    assert score_all(pl, pod, snapshot_of(_sized(), existing)) == expected


def test_balanced_allocation_skips_best_effort() -> None:
    pl = NodeResourcesBalancedAllocation.new({}, FW)
    assert score_all(pl, make_pod("p"), snapshot_of(_sized())) == {}


def test_balanced_three_resources_std() -> None:
    pl = NodeResourcesBalancedAllocation.new(
        {"resources": [{"name": "cpu"}, {"name": "memory"}, {"name": "nvidia.com/gpu"}]}, FW
    )
    snap = snapshot_of([make_node("n", cpu="4", memory="4", extra={"nvidia.com/gpu": "4"})])
    # fractions 0.5, 0.25, 1.0 -> mean 0.5833, std 0.3118 -> 68
    got = score_all(
        pl, PodInfo.of(make_pod("p", cpu="2", memory="1", requests={"nvidia.com/gpu": "4"})), snap
    )
    assert got == {"n": 68}
