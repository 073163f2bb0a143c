"""Node health, taints and taint-based eviction decisions (pure)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.controllers.nodelifecycle import (
    NOT_READY,
    UNREACHABLE,
    eviction_time,
    health,
    wanted_taints,
)

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(ready: str = "True", beat: float = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": "n", "creationTimestamp": ts(3600)},
        "status": {
            "conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": ts(beat)}]
        },
    }


@pytest.mark.parametrize(
    ("n", "lease_age", "expected"),
    [
        pytest.param(node(), None, "healthy", id="fresh-heartbeat"),
        pytest.param(node(beat=100), None, "unknown", id="stale-heartbeat"),
        pytest.param(node(beat=100), 5, "healthy", id="lease-renewal-counts"),
        pytest.param(node(ready="False"), None, "notready", id="ready-false"),
    ],
)
def test_health(n: dict[str, Any], lease_age: float | None, expected: str) -> None:
    lease = None if lease_age is None else {"spec": {"renewTime": ts(lease_age)}}
    assert health(n, lease, NOW, 40) == expected


def test_taints_follow_state_and_keep_others() -> None:
    other = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    t = wanted_taints([other], "unknown", NOW)
    assert {(x["key"], x["effect"]) for x in t} == {
        ("dedicated", "NoSchedule"),
        (UNREACHABLE, "NoSchedule"),
        (UNREACHABLE, "NoExecute"),
    }
    assert wanted_taints(t, "unknown", NOW) == t
    t2 = wanted_taints(t, "notready", NOW)
    assert {x["key"] for x in t2} == {"dedicated", NOT_READY}
    assert wanted_taints(t2, "healthy", NOW) == [other]


@pytest.mark.parametrize(
    ("tolerations", "expected_delay"),
    [
        pytest.param([], 0, id="no-toleration-evicts-now"),
        pytest.param(
            [
                {
                    "key": UNREACHABLE,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            300,
            id="default-300s",
        ),
        pytest.param([{"operator": "Exists"}], None, id="tolerates-everything"),
        pytest.param(
            [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}],
            None,
            id="tolerates-forever",
        ),
    ],
)
def test_eviction_time(tolerations: list[dict[str, Any]], expected_delay: float | None) -> None:
    taints = wanted_taints([], "unknown", NOW)
    at = eviction_time({"spec": {"tolerations": tolerations}}, taints, NOW)
    if expected_delay is None:
        assert at is None
    else:
        assert at == NOW + datetime.timedelta(seconds=expected_delay)
