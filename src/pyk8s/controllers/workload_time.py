"""Wall-clock time for the workload controllers (StatefulSet, DaemonSet, Job, CronJob,
TTL-after-finished, pod GC).

These controllers compare timestamps that live in objects (``status.startTime``, pod
``lastTransitionTime``, ``creationTimestamp``, cron schedule times) with "now", so they
need a wall clock; ``ControllerContext`` only carries a monotonic ``Clock`` (waits,
work-queue delays). ``anchored_wall(clock)`` joins the two: it reads the real UTC time
once and then advances exactly as the clock does, so a ``FakeClock`` in tests moves wall
time too and ``queue.add_after(key, seconds)`` lines up with the timestamps computed here.

Contract:
- ``Wall`` is a ``clock.Wall``: a callable returning an aware UTC ``datetime``.
- ``parse_time`` reads metav1.Time (RFC 3339, ``Z`` or offset, optional fraction); anything
  else, including ``None`` and ``""``, is ``None``. ``format_time`` writes whole seconds in
  UTC with ``Z``, as metav1.Time serialises.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyk8s.client import clock as clock_mod

__all__ = ["EPOCH", "Wall", "anchored_wall", "format_time", "parse_time", "seconds_between"]

Wall = clock_mod.Wall

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def anchored_wall(clock: clock_mod.Clock, *, start: datetime | None = None) -> clock_mod.Wall:
    """A wall clock that starts at ``start`` (default: now) and moves with ``clock``."""
    anchor_wall = start if start is not None else clock_mod.utc_now()
    anchor = clock.now()

    def wall() -> datetime:
        return anchor_wall + timedelta(seconds=clock.now() - anchor)

    return wall


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()
