"""CronJob schedules and sync decisions: pure functions, tables, pinned times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.controllers import cronjob
from pyk8s.controllers import cronjob_schedule as cs

Obj = dict[str, Any]
T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cj(
    *,
    created: datetime = T0,
    last: datetime | None = None,
    active: list[Obj] | None = None,
    **spec: Any,
) -> Obj:
    status: Obj = {}
    if last is not None:
        status["lastScheduleTime"] = stamp(last)
    if active:
        status["active"] = active
    return {
        "metadata": {
            "name": "tick",
            "namespace": "ns",
            "uid": "cj-uid",
            "creationTimestamp": stamp(created),
        },
        "spec": {
            "schedule": "*/10 * * * *",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                "spec": {"backoffLimit": 1},
            },
            **spec,
        },
        "status": status,
    }


@pytest.mark.parametrize(
    ("schedule", "time_zone", "after", "expected"),
    [
        pytest.param("*/10 * * * *", None, at(1), at(10), id="every-ten-minutes"),
        pytest.param("@hourly", None, at(1), at(60), id="hourly"),
        pytest.param("@daily", None, at(1), datetime(2026, 3, 11, tzinfo=UTC), id="daily"),
        pytest.param("@midnight", None, at(1), datetime(2026, 3, 11, tzinfo=UTC), id="midnight"),
        pytest.param("@weekly", None, at(1), datetime(2026, 3, 15, tzinfo=UTC), id="weekly-sunday"),
        pytest.param("@monthly", None, at(1), datetime(2026, 4, 1, tzinfo=UTC), id="monthly"),
        pytest.param("@yearly", None, at(1), datetime(2027, 1, 1, tzinfo=UTC), id="yearly"),
        pytest.param(
            "0 13 * * *",
            "Europe/Berlin",
            at(1),
            datetime(2026, 3, 11, 12, tzinfo=UTC),
            id="time-zone",
        ),
        pytest.param(
            "CRON_TZ=Asia/Tokyo 0 0 * * *",
            None,
            at(1),
            datetime(2026, 3, 10, 15, tzinfo=UTC),
            id="cron-tz-prefix",
        ),
        pytest.param("TZ=UTC 30 12 * * *", "Asia/Tokyo", at(1), at(30), id="tz-prefix-wins"),
        pytest.param("@every 90s", None, at(1), at(2.5), id="every-duration"),
        pytest.param("@every 1h30m", None, at(0), at(90), id="every-compound"),
    ],
)
def test_schedule_next(
    schedule: str, time_zone: str | None, after: datetime, expected: datetime
) -> None:
    assert cs.parse(schedule, time_zone, local=UTC).next(after) == expected


@pytest.mark.parametrize(
    ("schedule", "time_zone", "error"),
    [
        pytest.param("* * * *", None, cs.ScheduleError, id="four-fields"),
        pytest.param("@sometimes", None, cs.ScheduleError, id="bad-descriptor"),
        pytest.param("@every soon", None, cs.ScheduleError, id="bad-duration"),
        pytest.param("61 * * * *", None, cs.ScheduleError, id="minute-out-of-range"),
        pytest.param("* * * * *", "Mars/Olympus", cs.UnknownTimeZone, id="unknown-zone"),
    ],
)
def test_schedule_errors(schedule: str, time_zone: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        cs.parse(schedule, time_zone, local=UTC)


SCHED = cs.parse("*/10 * * * *", local=UTC)


@pytest.mark.parametrize(
    ("the_cj", "now", "deadline", "expected"),
    [
        pytest.param(cj(), at(5), True, (None, cs.Missed.NONE), id="before-first"),
        pytest.param(cj(), at(10), True, (at(10), cs.Missed.NONE), id="exactly-first"),
        pytest.param(cj(), at(15), True, (at(10), cs.Missed.NONE), id="first-missed-window"),
        pytest.param(cj(), at(35), True, (at(30), cs.Missed.FEW), id="three-missed"),
        pytest.param(cj(last=at(30)), at(35), True, (None, cs.Missed.NONE), id="after-last"),
        pytest.param(cj(), at(10 * 200), True, (at(10 * 200), cs.Missed.MANY), id="many-missed"),
        pytest.param(
            cj(startingDeadlineSeconds=300),
            at(10 * 200 + 2),
            True,
            (at(10 * 200), cs.Missed.NONE),
            id="deadline-limits-lookback",
        ),
        pytest.param(
            cj(startingDeadlineSeconds=300),
            at(10 * 200 + 2),
            False,
            (at(10 * 200), cs.Missed.MANY),
            id="deadline-ignored",
        ),
    ],
)
def test_most_recent(
    the_cj: Obj, now: datetime, deadline: bool, expected: tuple[datetime | None, cs.Missed]
) -> None:
    _, latest, missed = cs.most_recent(the_cj, now, SCHED, include_deadline=deadline)
    assert (latest, missed) == expected


def test_next_delay_aims_past_the_next_schedule() -> None:
    assert cs.next_delay(cj(), at(5), SCHED) == pytest.approx(300.1)
    assert cs.next_delay(cj(last=at(10)), at(10), SCHED) == pytest.approx(600.1)
    assert cs.next_delay(cj(), at(35), SCHED) == pytest.approx(300.1)


def test_job_for() -> None:
    job = cs.job_for(cj(timeZone="Europe/Berlin"), at(10))
    assert job["metadata"]["name"] == f"tick-{int(at(10).timestamp()) // 60}"
    assert job["metadata"]["labels"] == {"a": "b"}
    assert job["metadata"]["annotations"] == {
        "x": "y",
        cs.SCHEDULED_TIMESTAMP: "2026-03-10T13:10:00+01:00",
    }
    assert job["metadata"]["ownerReferences"][0] == {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": "tick",
        "uid": "cj-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert job["spec"] == {"backoffLimit": 1}
    assert (
        cs.job_for(cj(), at(10))["metadata"]["annotations"][cs.SCHEDULED_TIMESTAMP]
        == "2026-03-10T12:10:00Z"
    )


def ref(name: str, uid: str) -> Obj:
    return {"kind": "Job", "namespace": "ns", "name": name, "uid": uid, "apiVersion": "batch/v1"}


def reasons(d: cronjob.Decision) -> list[str]:
    return [r for _, r, _ in d.events]


@pytest.mark.parametrize(
    ("the_cj", "now", "creates", "events"),
    [
        pytest.param(cj(), at(5), False, [], id="not-yet"),
        pytest.param(cj(), at(10.5), True, [], id="due"),
        pytest.param(cj(suspend=True), at(10.5), False, [], id="suspended"),
        pytest.param(cj(last=at(10)), at(10.5), False, [], id="already-started"),
        pytest.param(
            cj(active=[ref("tick-x", "u1")]), at(10.5), True, [], id="allow-runs-alongside"
        ),
        pytest.param(
            cj(concurrencyPolicy="Forbid", active=[ref("tick-x", "u1")]),
            at(10.5),
            False,
            ["JobAlreadyActive"],
            id="forbid",
        ),
        pytest.param(cj(startingDeadlineSeconds=10), at(10.5), False, [], id="too-late-skipped"),
        pytest.param(cj(startingDeadlineSeconds=60), at(10.5), True, [], id="within-deadline"),
        pytest.param(cj(), at(10 * 200 + 1), True, ["TooManyMissedTimes"], id="too-many-missed"),
        pytest.param(
            cj(timeZone="Mars/Olympus"),
            at(10.5),
            False,
            ["UnknownTimeZone"],
            id="unknown-time-zone",
        ),
        pytest.param(
            cj(schedule="nonsense"), at(10.5), False, ["UnparseableSchedule"], id="unparseable"
        ),
        pytest.param(
            cj(schedule="TZ=UTC */10 * * * *"),
            at(10.5),
            True,
            ["UnsupportedSchedule"],
            id="tz-in-schedule-warns",
        ),
    ],
)
def test_decide(the_cj: Obj, now: datetime, creates: bool, events: list[str]) -> None:
    d = cronjob.decide(the_cj, now, local=UTC)
    assert (d.create is not None) == creates
    assert reasons(d) == events
    if creates:
        assert d.create is not None and d.scheduled is not None
        assert d.create["metadata"]["name"] == cs.job_name(the_cj, d.scheduled)


def test_decide_messages_and_requeue() -> None:
    forbid = cronjob.decide(
        cj(concurrencyPolicy="Forbid", active=[ref("tick-x", "u1")]), at(10.5), local=UTC
    )
    assert forbid.events == [
        (
            "Normal",
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid",
        )
    ]
    assert forbid.requeue_after == pytest.approx(9.5 * 60 + 0.1)
    # as upstream: the look-back stops at now - startingDeadlineSeconds, so a start that
    # is too late is never found (no MissSchedule event), only skipped
    late = cronjob.decide(cj(startingDeadlineSeconds=10), at(10.5), local=UTC)
    assert late.create is None and late.events == []
    many = cronjob.decide(cj(), at(10 * 200 + 1), local=UTC)
    assert many.events == [
        (
            "Warning",
            "TooManyMissedTimes",
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
        )
    ]
    replace = cronjob.decide(
        cj(concurrencyPolicy="Replace", active=[ref("tick-x", "u1")]), at(10.5), local=UTC
    )
    assert replace.replace == [ref("tick-x", "u1")]
    assert cronjob.decide(cj(suspend=True), at(10.5), local=UTC).requeue_after is None


def job(
    name: str,
    uid: str,
    *,
    finished: str | None = None,
    start: str | None = None,
    completed: str | None = None,
) -> Obj:
    status: Obj = {}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
    if start:
        status["startTime"] = start
    if completed:
        status["completionTime"] = completed
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "status": status}


def test_reconcile_active() -> None:
    the_cj = cj(active=[ref("done", "u1"), ref("gone", "u2"), ref("running", "u3")])
    jobs = [
        job("done", "u1", finished="Complete", completed="2026-03-10T12:30:00Z"),
        job("running", "u3"),
        job("stray", "u4"),
    ]
    changed, events = cronjob.reconcile_active(the_cj, jobs, missing={"u2"})
    assert changed
    assert [a["name"] for a in the_cj["status"]["active"]] == ["running"]
    assert the_cj["status"]["lastSuccessfulTime"] == "2026-03-10T12:30:00Z"
    assert events == [
        ("Normal", "SawCompletedJob", "Saw completed job: done, status: Complete"),
        (
            "Warning",
            "UnexpectedJob",
            "Saw a job that the controller did not create or forgot: stray",
        ),
        ("Normal", "MissingJob", "Active job went missing: gone"),
    ]


def test_jobs_to_clean_oldest_first() -> None:
    jobs = [
        job("s1", "1", finished="Complete", start="2026-03-10T10:00:00Z"),
        job("s2", "2", finished="Complete", start="2026-03-10T11:00:00Z"),
        job("s3", "3", finished="Complete", start="2026-03-10T12:00:00Z"),
        job("f1", "4", finished="Failed", start="2026-03-10T09:00:00Z"),
        job("f2", "5", finished="Failed"),
        job("r", "6"),
    ]
    out = cronjob.jobs_to_clean(cj(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1), jobs)
    assert [j["metadata"]["name"] for j in out] == ["s1", "s2", "f1"]
    assert cronjob.jobs_to_clean(cj(), jobs) == []
