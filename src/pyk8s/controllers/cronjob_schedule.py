"""CronJob schedules and the Jobs they start (upstream's cronjob/utils.go with
robfig/cron's ParseStandard). Pure.

Contract:
- ``parse(schedule, time_zone)`` accepts five-field cron expressions, the descriptors
  ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``, ``@hourly``
  and ``@every <Go duration>``, optionally prefixed ``CRON_TZ=<zone>`` or ``TZ=<zone>``; a
  ``spec.timeZone`` applies when the schedule carries no prefix. Without either, times are
  in the controller-manager's local zone (``local_zone()``: ``$TZ``, else
  /etc/localtime, else UTC), as upstream uses ``time.Local``. ``UnknownTimeZone`` and
  ``ScheduleError`` report bad input.
- ``most_recent(...)`` is ``mostRecentScheduleTime``: from the last schedule time (else the
  creation time; no earlier than ``now - startingDeadlineSeconds`` when asked) it returns the
  latest schedule time not after ``now`` and whether none, a few or more than 100 were missed.
- ``next_delay`` is ``nextScheduleTimeDuration``: seconds until the next schedule time plus
  100 ms.
- ``job_name``: ``<cronjob>-<scheduled time in minutes since the epoch>``; ``job_for``
  copies the template's labels, annotations and spec, adds the controller reference and
  ``batch.kubernetes.io/cronjob-scheduled-timestamp`` (RFC 3339 in ``spec.timeZone``, UTC if
  unset).
"""

from __future__ import annotations

import copy
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]

from pyk8s.controllers.workload_ownership import controller_ref
from pyk8s.controllers.workload_pods import meta
from pyk8s.controllers.workload_time import parse_time

__all__ = [
    "SCHEDULED_TIMESTAMP",
    "Missed",
    "Schedule",
    "ScheduleError",
    "UnknownTimeZone",
    "job_for",
    "job_name",
    "load_zone",
    "local_zone",
    "most_recent",
    "next_delay",
    "parse",
]

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
_TZ_PREFIX = re.compile(r"^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$")
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ScheduleError(ValueError):
    """The schedule does not parse, or never fires."""


class UnknownTimeZone(ValueError):
    """``spec.timeZone`` (or a TZ= prefix) names no known zone."""


class Missed(StrEnum):
    NONE = "none"
    FEW = "few"
    MANY = "many"


def load_zone(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return local_zone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(f"unknown time zone {name}") from exc


def local_zone() -> tzinfo:
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return UTC
    try:
        with open("/etc/localtime", "rb") as f:
            return zoneinfo.ZoneInfo.from_file(f)
    except (OSError, ValueError):
        return UTC


def _go_duration(text: str) -> float:
    if not text or _DURATION_PART.sub("", text) != "":
        raise ScheduleError(f"failed to parse duration {text}: time: invalid duration {text!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))


@dataclass(frozen=True, slots=True)
class Schedule:
    expression: str  # five cron fields, or "" for @every
    zone: tzinfo
    every: float = 0.0  # seconds, for @every

    def next(self, t: datetime) -> datetime:
        """The first activation strictly after ``t`` (whole seconds), in UTC."""
        if self.every:
            delay = max(self.every, 1.0)
            return (
                t - timedelta(microseconds=t.microsecond) + timedelta(seconds=delay)
            ).astimezone(UTC)
        start = t.astimezone(self.zone)
        try:
            nxt: datetime = croniter(self.expression, start).get_next(datetime)
        except CroniterBadDateError as exc:
            raise ScheduleError(
                "time difference between two schedules is less than 1 second"
            ) from exc
        return nxt.astimezone(UTC)


def parse(schedule: str, time_zone: str | None = None, *, local: tzinfo | None = None) -> Schedule:
    text = schedule.strip()
    zone = local if local is not None else local_zone()
    prefix = _TZ_PREFIX.match(text)
    if prefix is not None:
        zone = load_zone(prefix.group(1))
        text = prefix.group(2).strip()
    elif time_zone is not None:
        zone = load_zone(time_zone)
    if text.startswith("@every "):
        return Schedule("", zone, every=_go_duration(text[len("@every ") :].strip()))
    if text.startswith("@"):
        if text not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ScheduleError(f"expected exactly 5 fields, found {len(text.split())}: [{text}]")
    return Schedule(text, zone)


def _spec(cj: Mapping[str, Any]) -> Mapping[str, Any]:
    return cj.get("spec") or {}


def most_recent(
    cj: Mapping[str, Any], now: datetime, schedule: Schedule, *, include_deadline: bool
) -> tuple[datetime, datetime | None, Missed]:
    """(earliest time considered, most recent unmet schedule time or None, missed)."""
    earliest = parse_time((cj.get("status") or {}).get("lastScheduleTime")) or parse_time(
        meta(cj).get("creationTimestamp")
    )
    if earliest is None:
        earliest = now
    deadline = _spec(cj).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = schedule.next(earliest)
    if now < t1:
        return earliest, None, Missed.NONE
    t2 = schedule.next(t1)
    if now < t2:
        return earliest, t1, Missed.NONE
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    latest: datetime | None = None
    t = schedule.next(t1 + timedelta(seconds=(missed - 2) * between))
    while t <= now:
        latest = t
        t = schedule.next(t)
    return earliest, latest, Missed.MANY if missed > 100 else Missed.FEW


def next_delay(cj: Mapping[str, Any], now: datetime, schedule: Schedule) -> float:
    try:
        earliest, latest, missed = most_recent(cj, now, schedule, include_deadline=False)
    except ScheduleError:
        base = now
    else:
        base = latest if latest is not None else (earliest if missed is Missed.NONE else now)
    return (schedule.next(base) - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: Mapping[str, Any], scheduled: datetime) -> str:
    return f"{meta(cj).get('name')}-{int(scheduled.timestamp()) // 60}"


def _rfc3339(t: datetime) -> str:
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_for(cj: Mapping[str, Any], scheduled: datetime) -> Obj:
    template = _spec(cj).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    time_zone = _spec(cj).get("timeZone")
    zone = load_zone(time_zone) if time_zone else UTC
    annotations = {
        **(tmeta.get("annotations") or {}),
        SCHEDULED_TIMESTAMP: _rfc3339(scheduled.astimezone(zone)),
    }
    job_meta: Obj = {
        "name": job_name(cj, scheduled),
        "namespace": meta(cj).get("namespace") or "",
        "annotations": annotations,
        "ownerReferences": [controller_ref(cj, api_version="batch/v1", kind="CronJob")],
    }
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
