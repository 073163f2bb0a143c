"""PodDisruptionBudget status (upstream's disruption controller), pure."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.controllers.disruption import pdb_status, scaled_value

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
RS_REF = {"kind": "ReplicaSet", "name": "rs", "uid": "u-rs", "controller": True}


def pod(name: str, *, ready: bool = True, deleting: bool = False, owner: bool = True) -> Any:
    meta: dict[str, Any] = {"name": name, "namespace": "ns"}
    if owner:
        meta["ownerReferences"] = [RS_REF]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    cond = {"type": "Ready", "status": "True" if ready else "False"}
    return {"metadata": meta, "status": {"conditions": [cond]}}


def pdb(spec: dict[str, Any], status: dict[str, Any] | None = None) -> Any:
    return {
        "metadata": {"name": "b", "namespace": "ns", "generation": 2},
        "spec": spec,
        "status": status or {},
    }


def scale5(_ns: str, _ref: Any) -> int:
    return 5


@pytest.mark.parametrize(
    ("value", "total", "up", "want"),
    [(2, 10, True, 2), ("50%", 5, True, 3), ("50%", 5, False, 2), ("100%", 3, True, 3)],
)
def test_scaled_value(value: Any, total: int, up: bool, want: int) -> None:
    assert scaled_value(value, total, round_up=up) == want


@pytest.mark.parametrize(
    ("spec", "pods", "want"),
    [
        pytest.param(
            {"minAvailable": 2},
            [pod("a"), pod("b"), pod("c")],
            {"expectedPods": 3, "desiredHealthy": 2, "currentHealthy": 3, "disruptionsAllowed": 1},
            id="min-available-int",
        ),
        pytest.param(
            {"minAvailable": 3},
            [pod("a"), pod("b"), pod("c", ready=False)],
            {"expectedPods": 3, "desiredHealthy": 3, "currentHealthy": 2, "disruptionsAllowed": 0},
            id="unready-not-healthy",
        ),
        pytest.param(
            {"maxUnavailable": 1},
            [pod("a"), pod("b"), pod("c"), pod("d"), pod("e")],
            {"expectedPods": 5, "desiredHealthy": 4, "currentHealthy": 5, "disruptionsAllowed": 1},
            id="max-unavailable-uses-controller-scale",
        ),
        pytest.param(
            {"minAvailable": "50%"},
            [pod("a"), pod("b"), pod("c", deleting=True)],
            {"expectedPods": 5, "desiredHealthy": 3, "currentHealthy": 2, "disruptionsAllowed": 0},
            id="percent-rounds-up-deleting-not-healthy",
        ),
    ],
)
def test_status(spec: Any, pods: list[Any], want: dict[str, int]) -> None:
    status = pdb_status(pdb(spec), pods, scale_of=scale5, now=NOW)
    assert {k: status[k] for k in want} == want
    assert status["observedGeneration"] == 2
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed",
        "True" if want["disruptionsAllowed"] else "False",
        "SufficientPods" if want["disruptionsAllowed"] else "InsufficientPods",
    )


def test_disrupted_pods_do_not_count_until_they_expire() -> None:
    fresh = "2026-01-01T11:59:30Z"
    old = "2026-01-01T11:50:00Z"
    status = pdb_status(
        pdb({"minAvailable": 1}, {"disruptedPods": {"a": fresh, "b": old, "gone": fresh}}),
        [pod("a"), pod("b")],
        scale_of=scale5,
        now=NOW,
    )
    assert status["disruptedPods"] == {"a": fresh}
    assert status["currentHealthy"] == 1
    assert status["disruptionsAllowed"] == 0


def test_percentage_needs_controllers() -> None:
    status = pdb_status(
        pdb({"maxUnavailable": "10%"}), [pod("a", owner=False)], scale_of=scale5, now=NOW
    )
    assert status["disruptionsAllowed"] == 0
    assert status["conditions"][0]["reason"] == "SyncFailed"
    assert "found no controller ref for pod" in status["conditions"][0]["message"]
