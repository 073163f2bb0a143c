from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.apiwriter import scheduled_condition_patch
from pyk8s.scheduler.scheduler import _with_priority

NOW = "2026-01-01T00:00:00Z"


def _pod(cond: dict[str, Any] | None = None, nominated: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Pending"}
    if cond:
        status["conditions"] = [cond]
    if nominated:
        status["nominatedNodeName"] = nominated
    return {"metadata": {"name": "p", "namespace": "ns"}, "status": status}


COND = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "m",
    "lastTransitionTime": "2025-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("pod", "message", "nominated", "expected"),
    [
        pytest.param(
            _pod(),
            "m",
            None,
            {
                "status": {
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "m",
                            "lastProbeTime": None,
                            "lastTransitionTime": NOW,
                        }
                    ]
                }
            },
            id="first-failure",
        ),
        pytest.param(_pod(COND), "m", None, None, id="unchanged-no-write"),
        pytest.param(
            _pod(COND),
            "m2",
            None,
            {
                "status": {
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "m2",
                            "lastProbeTime": None,
                            "lastTransitionTime": "2025-01-01T00:00:00Z",
                        }
                    ]
                }
            },
            id="new-message-keeps-transition",
        ),
        pytest.param(
            _pod(COND), "m", "node-a", {"status": {"nominatedNodeName": "node-a"}}, id="nominate"
        ),
        pytest.param(
            _pod(COND, nominated="node-a"),
            "m",
            "",
            {"status": {"nominatedNodeName": None}},
            id="clear-nomination",
        ),
    ],
)
def test_scheduled_condition_patch(
    pod: dict[str, Any], message: str, nominated: str | None, expected: Any
) -> None:
    got = scheduled_condition_patch(
        pod, reason="Unschedulable", message=message, nominated_node=nominated, now=NOW
    )
    assert got == expected


@pytest.mark.parametrize(
    ("spec", "classes", "expected"),
    [
        pytest.param(
            {"priority": 5, "priorityClassName": "high"},
            {"high": {"value": 100}},
            5,
            id="admission-set-wins",
        ),
        pytest.param({"priorityClassName": "high"}, {"high": {"value": 100}}, 100, id="from-class"),
        pytest.param({}, {"d": {"value": 7, "globalDefault": True}}, 7, id="global-default"),
        pytest.param({}, {}, None, id="none"),
    ],
)
def test_with_priority(spec: dict[str, Any], classes: dict[str, Any], expected: int | None) -> None:
    assert _with_priority({"spec": spec}, classes)["spec"].get("priority") == expected
