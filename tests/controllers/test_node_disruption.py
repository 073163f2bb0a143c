"""Zone states, eviction rates and the token bucket of the node lifecycle controller
(upstream's ComputeZoneState / handleDisruption / per-zone NoExecute tainter)."""

from __future__ import annotations

import pytest

from pyk8s.controllers.node_disruption import (
    EvictionRates,
    TokenBucket,
    ZoneState,
    all_fully_disrupted,
    zone_key,
    zone_rate,
    zone_state,
)

RATES = EvictionRates()


@pytest.mark.parametrize(
    ("ready", "expected"),
    [
        pytest.param([True, True, True], ZoneState.NORMAL, id="all-ready"),
        pytest.param([False, False], ZoneState.FULL, id="none-ready"),
        pytest.param([False], ZoneState.FULL, id="single-node-down"),
        pytest.param([False, False, True], ZoneState.NORMAL, id="two-down-is-never-partial"),
        pytest.param([False, False, False, True], ZoneState.PARTIAL, id="three-of-four"),
        pytest.param([False] * 3 + [True] * 3, ZoneState.NORMAL, id="half-is-under-0.55"),
        pytest.param([False] * 11 + [True] * 9, ZoneState.PARTIAL, id="0.55-exactly"),
        pytest.param([], ZoneState.NORMAL, id="empty"),
    ],
)
def test_zone_state(ready: list[bool], expected: ZoneState) -> None:
    assert zone_state(ready, RATES) is expected


@pytest.mark.parametrize(
    ("state", "size", "rate"),
    [
        (ZoneState.NORMAL, 3, 0.1),
        (ZoneState.FULL, 3, 0.1),
        (ZoneState.PARTIAL, 50, 0.0),
        (ZoneState.PARTIAL, 51, 0.01),
    ],
)
def test_zone_rate(state: ZoneState, size: int, rate: float) -> None:
    assert zone_rate(state, size, RATES) == rate


def test_zone_key_uses_region_and_zone() -> None:
    labels = {"topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": "z1"}
    assert zone_key({"metadata": {"labels": labels}}) == "r1:\x00:z1"
    assert zone_key({"metadata": {}}) == ""


def test_master_disruption_needs_every_zone_full() -> None:
    assert all_fully_disrupted({"a": ZoneState.FULL, "b": ZoneState.FULL})
    assert not all_fully_disrupted({"a": ZoneState.FULL, "b": ZoneState.NORMAL})
    assert not all_fully_disrupted({})


def test_token_bucket_burst_one_then_rate() -> None:
    bucket = TokenBucket(0.1, now=100.0)
    assert bucket.try_take(100.0)
    assert not bucket.try_take(100.0)
    assert not bucket.try_take(109.0)
    assert bucket.try_take(110.0)
    assert not bucket.try_take(110.5)


def test_token_bucket_rate_zero_stops_and_refills_after_change() -> None:
    bucket = TokenBucket(0.1, now=0.0)
    assert bucket.try_take(0.0)
    bucket.set_rate(0.0, now=5.0)
    assert not bucket.try_take(1000.0)
    bucket.set_rate(0.1, now=1000.0)  # half a token accrued before the stop
    assert not bucket.try_take(1004.0)
    assert bucket.try_take(1005.0)
