"""TaintToleration, NodeAffinity and ImageLocality."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import Framework
from pyk8s.scheduler.nodeinfo import Taint
from pyk8s.scheduler.plugins.image_locality import (
    ImageLocality,
    calculate_priority,
    normalized_image_name,
)
from pyk8s.scheduler.plugins.node_affinity import NodeAffinity, requirement_matches
from pyk8s.scheduler.plugins.taint_toleration import TaintToleration, tolerates_taint
from pyk8s.scheduler.status import Code
from pyk8s.scheduler.testing import filter_all, make_node, make_pod, score_all, snapshot_of

FW: Framework = None  # type: ignore[assignment]
MB = 1024 * 1024


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        pytest.param(
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            Taint("k", "v", "NoSchedule"),
            True,
            id="equal",
        ),
        pytest.param(
            {"key": "k", "value": "x", "effect": "NoSchedule"},
            Taint("k", "v", "NoSchedule"),
            False,
            id="value-differs",
        ),
        pytest.param(
            {"key": "k", "operator": "Exists"},
            Taint("k", "v", "NoExecute"),
            True,
            id="exists-any-effect",
        ),
        pytest.param(
            {"operator": "Exists"},
            Taint("any", "", "NoSchedule"),
            True,
            id="empty-key-exists-matches-all",
        ),
        pytest.param(
            {"key": "k", "value": "v", "effect": "NoExecute"},
            Taint("k", "v", "NoSchedule"),
            False,
            id="effect-differs",
        ),
        pytest.param(
            {"key": "k"}, Taint("k", "", "NoSchedule"), True, id="empty-operator-is-equal"
        ),
        pytest.param(
            {"key": "k", "operator": "Bogus"},
            Taint("k", "", "NoSchedule"),
            False,
            id="unknown-operator",
        ),
    ],
)
def test_tolerates_taint(toleration: dict[str, str], taint: Taint, expected: bool) -> None:
    assert tolerates_taint(toleration, taint) is expected


@pytest.mark.parametrize(
    ("taints", "tolerations", "fits", "reason"),
    [
        pytest.param(
            [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}],
            [],
            False,
            "node(s) had untolerated taint {dedicated: user1}",
            id="untolerated",
        ),
        pytest.param(
            [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}],
            [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}],
            True,
            "",
            id="tolerated",
        ),
        pytest.param(
            [{"key": "foo", "value": "bar", "effect": "PreferNoSchedule"}],
            [],
            True,
            "",
            id="prefer-is-not-filtered",
        ),
        pytest.param(
            [{"key": "gone", "effect": "NoExecute"}],
            [],
            False,
            "node(s) had untolerated taint {gone: }",
            id="no-execute",
        ),
    ],
)
def test_taint_filter(taints: list[Any], tolerations: list[Any], fits: bool, reason: str) -> None:
    snap = snapshot_of([make_node("n", taints=taints)])
    st = filter_all(TaintToleration(), make_pod("p", spec={"tolerations": tolerations}), snap)["n"]
    assert st.is_success is fits
    if not fits:
        assert st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and st.reasons == (reason,)


def test_taint_score_reverse_normalized() -> None:
    prefer = lambda k: {"key": k, "value": "v", "effect": "PreferNoSchedule"}  # noqa: E731
    snap = snapshot_of(
        [
            make_node("none"),
            make_node("one", taints=[prefer("a")]),
            make_node("two", taints=[prefer("a"), prefer("b")]),
        ]
    )
    assert score_all(TaintToleration(), make_pod("p"), snap) == {"none": 100, "one": 50, "two": 0}
    tol = [{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}]
    got = score_all(TaintToleration(), make_pod("p", spec={"tolerations": tol}), snap)
    assert got == {"none": 100, "one": 100, "two": 0}


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        pytest.param({"operator": "In", "values": ["a", "b"]}, "b", True, id="in"),
        pytest.param({"operator": "In", "values": ["a"]}, None, False, id="in-absent"),
        pytest.param({"operator": "NotIn", "values": ["a"]}, None, True, id="notin-absent"),
        pytest.param({"operator": "Exists"}, "", True, id="exists"),
        pytest.param({"operator": "DoesNotExist"}, "x", False, id="does-not-exist"),
        pytest.param({"operator": "Gt", "values": ["5"]}, "6", True, id="gt"),
        pytest.param({"operator": "Lt", "values": ["5"]}, "6", False, id="lt"),
        pytest.param({"operator": "Gt", "values": ["5"]}, "x", False, id="gt-not-a-number"),
    ],
)
def test_requirement_matches(expr: dict[str, Any], value: str | None, expected: bool) -> None:
    assert requirement_matches(expr, value) is expected


def _req(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }
    }


NODES = [
    make_node("a", labels={"zone": "z1", "gpu": "true", "cores": "8"}),
    make_node("b", labels={"zone": "z2", "cores": "2"}),
    make_node("c", labels={"zone": "z3"}),
]


@pytest.mark.parametrize(
    ("spec", "fits"),
    [
        pytest.param({}, {"a", "b", "c"}, id="no-constraints"),
        pytest.param({"nodeSelector": {"zone": "z2"}}, {"b"}, id="node-selector"),
        pytest.param(
            _req({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z3"]}]}),
            {"a", "c"},
            id="in",
        ),
        pytest.param(
            _req(
                {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z3"]}]},
            ),
            {"a", "c"},
            id="terms-ored",
        ),
        pytest.param(
            _req(
                {
                    "matchExpressions": [
                        {"key": "zone", "operator": "NotIn", "values": ["z1"]},
                        {"key": "cores", "operator": "Gt", "values": ["1"]},
                    ]
                }
            ),
            {"b"},
            id="expressions-anded",
        ),
        pytest.param(
            _req({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}),
            {"c"},
            id="match-fields",
        ),
        pytest.param(_req({}), set(), id="empty-term-matches-nothing"),
        pytest.param(
            _req({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]})
            | {"nodeSelector": {"zone": "z1"}},
            set(),
            id="selector-and-affinity-both-required",
        ),
    ],
)
def test_node_affinity_filter(spec: dict[str, Any], fits: set[str]) -> None:
    got = filter_all(NodeAffinity(), make_pod("p", spec=spec), snapshot_of(NODES))
    assert {n for n, st in got.items() if st.is_success} == fits
    for n, st in got.items():
        if n not in fits:
            assert st.reasons == ("node(s) didn't match Pod's node affinity/selector",)
            assert st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_node_affinity_preferred_score() -> None:
    spec = {
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 2,
                        "preference": {
                            "matchExpressions": [
                                {"key": "zone", "operator": "In", "values": ["z1"]}
                            ]
                        },
                    },
                    {
                        "weight": 8,
                        "preference": {
                            "matchExpressions": [{"key": "cores", "operator": "Exists"}]
                        },
                    },
                    {"weight": 5, "preference": {}},
                ]
            }
        }
    }
    assert score_all(NodeAffinity(), make_pod("p", spec=spec), snapshot_of(NODES)) == {
        "a": 100,
        "b": 80,
        "c": 0,
    }
    assert score_all(NodeAffinity(), make_pod("p"), snapshot_of(NODES)) == {}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("nginx", "nginx:latest", id="bare"),
        pytest.param("nginx:1.2", "nginx:1.2", id="tagged"),
        pytest.param("reg:5000/nginx", "reg:5000/nginx:latest", id="registry-port"),
        pytest.param("nginx@sha256:abc", "nginx@sha256:abc", id="digest"),
    ],
)
def test_normalized_image_name(name: str, expected: str) -> None:
    assert normalized_image_name(name) == expected


def test_image_locality() -> None:
    assert calculate_priority(0, 1) == 0
    assert calculate_priority(1000 * MB, 1) == 100
    nodes = [make_node("has", images=[(["busybox:latest"], 500 * MB)]), make_node("none")]
    got = score_all(ImageLocality(), make_pod("p"), snapshot_of(nodes))
    # 500MB spread over 1 of 2 nodes -> 250MB -> (250-23)*100/(1000-23)
    assert got == {"has": 23, "none": 0}
