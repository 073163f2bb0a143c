"""TTL-after-finished expiry: pure, table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pyk8s.controllers import ttlafterfinished as ttl

Obj = dict[str, Any]


def job(ttl_seconds: int | None, conditions: list[Obj]) -> Obj:
    spec: Obj = {} if ttl_seconds is None else {"ttlSecondsAfterFinished": ttl_seconds}
    return {"metadata": {"name": "j"}, "spec": spec, "status": {"conditions": conditions}}


DONE = {"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
FAILED = {"type": "Failed", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z"}
CRITERIA = {
    "type": "SuccessCriteriaMet",
    "status": "True",
    "lastTransitionTime": "2025-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("the_job", "expected"),
    [
        pytest.param(
            job(60, [CRITERIA, DONE]), datetime(2026, 1, 1, 0, 1, tzinfo=UTC), id="complete"
        ),
        pytest.param(job(0, [FAILED]), datetime(2026, 1, 1, 0, 1, tzinfo=UTC), id="failed-ttl-0"),
        pytest.param(job(None, [DONE]), None, id="no-ttl"),
        pytest.param(job(60, [CRITERIA]), None, id="not-finished"),
        pytest.param(job(60, [{**DONE, "status": "False"}]), None, id="condition-false"),
        pytest.param(
            job(60, [{"type": "Complete", "status": "True"}]), None, id="no-transition-time"
        ),
    ],
)
def test_expires_at(the_job: Obj, expected: datetime | None) -> None:
    assert ttl.expires_at(the_job) == expected


def test_deletes_in_foreground_like_upstream() -> None:
    assert ttl.PROPAGATION == "Foreground"
