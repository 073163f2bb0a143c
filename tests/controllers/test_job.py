"""Job sync decisions, indexes and policies: pure functions, tables, pinned time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.controllers import job_indexes as ji
from pyk8s.controllers import job_manage as jm
from pyk8s.controllers import job_policy as jp
from pyk8s.controllers import job_sync as js
from pyk8s.controllers import job_tracking as jt

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(**spec: Any) -> Obj:
    status = spec.pop("status", {})
    return {
        "metadata": {"name": "work", "namespace": "ns", "uid": "job-uid", "generation": 1},
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main"}]}},
            **spec,
        },
        "status": status,
    }


_uid = iter(range(1_000_000))


def pod(
    phase: str = "Running",
    *,
    ready: bool = False,
    index: int | None = None,
    finalizer: bool = True,
    deleting: bool = False,
    finished_ago: float = 30.0,
    exit_code: int | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    n = next(_uid)
    ann = dict(annotations or {})
    if index is not None:
        ann[ji.COMPLETION_INDEX] = str(index)
    p: Obj = {
        "metadata": {
            "name": f"work-{n}",
            "namespace": "ns",
            "uid": f"uid-{n}",
            "annotations": ann,
            "finalizers": [js.FINALIZER] if finalizer else [],
            "creationTimestamp": ts(600),
        },
        "spec": {},
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": ts(finished_ago),
                }
            ],
        },
    }
    if exit_code is not None:
        p["status"]["containerStatuses"] = [
            {
                "name": "main",
                "state": {"terminated": {"exitCode": exit_code, "finishedAt": ts(finished_ago)}},
            }
        ]
    if deleting:
        p["metadata"]["deletionTimestamp"] = ts(1)
    return p


def assess(j: Obj, pods: list[Obj], **kw: Any) -> js.Sync:
    return js.assess(
        j,
        pods,
        now=NOW,
        backoff=kw.pop("backoff", jp.BackoffRecord()),
        expected_rm=kw.pop("expected_rm", set()),
    )


# ---------------------------------------------------------------------- indexes


@pytest.mark.parametrize(
    ("text", "completions", "intervals", "back"),
    [
        pytest.param("", 5, [], "", id="empty"),
        pytest.param("1,3-5,7", 10, [(1, 1), (3, 5), (7, 7)], "1,3-5,7", id="mixed"),
        pytest.param("3,4", 10, [(3, 4)], "3,4", id="pair-written-with-comma"),
        pytest.param("1,2,3", 10, [(1, 3)], "1-3", id="adjacent-merged"),
        pytest.param("2-9", 5, [(2, 4)], "2-4", id="cut-at-completions"),
        pytest.param("1,x,6", 5, [(1, 1)], "1", id="corrupt-and-out-of-range-ignored"),
    ],
)
def test_index_intervals(text: str, completions: int, intervals: ji.Intervals, back: str) -> None:
    parsed = ji.parse(text, completions)
    assert parsed == intervals
    assert ji.to_string(parsed) == back


def test_interval_operations() -> None:
    iv = ji.with_indexes([(1, 2), (6, 6)], [3, 8, 0])
    assert iv == [(0, 3), (6, 6), (8, 8)]
    assert ji.total(iv) == 6
    assert ji.has(iv, 3) and not ji.has(iv, 4)
    assert ji.merge([(0, 1)], [(5, 6), (2, 3)]) == [(0, 3), (5, 6)]
    assert ji.first_pending([(0, 1), (3, 3)], 3, 10) == [2, 4, 5]
    assert ji.first_pending([(0, 9)], 3, 10) == []
    assert ji.generate_name("work", 7) == "work-7-"
    assert len(ji.generate_name("x" * 80, 12)) == 58


def test_duplicate_indexes_for_removal() -> None:
    ready = pod(index=1, ready=True)
    not_ready = pod(index=1)
    no_index = pod()
    too_big = pod(index=9)
    ok = pod(index=0)
    remove, left = ji.duplicates_for_removal([ready, not_ready, no_index, too_big, ok], 3)
    assert {p["metadata"]["uid"] for p in remove} == {
        not_ready["metadata"]["uid"],
        no_index["metadata"]["uid"],
        too_big["metadata"]["uid"],
    }
    assert {p["metadata"]["uid"] for p in left} == {ready["metadata"]["uid"], ok["metadata"]["uid"]}


# ---------------------------------------------------------------------- policies

POLICY = {
    "rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
        },
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [2]}},
    ]
}


@pytest.mark.parametrize(
    ("the_pod", "expected"),
    [
        pytest.param(pod("Failed", exit_code=1), (None, True, None), id="no-rule-counts"),
        pytest.param(pod("Failed", exit_code=3), (None, True, "Count"), id="count-notin"),
        pytest.param(pod("Failed", exit_code=2), (None, True, "FailIndex"), id="fail-index"),
        pytest.param(pod("Failed", exit_code=0), (None, True, None), id="exit-zero-never-matches"),
        pytest.param(
            {**pod("Failed", exit_code=42), "metadata": {"name": "p", "namespace": "ns"}},
            (
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1",
                True,
                "FailJob",
            ),
            id="fail-job-message",
        ),
    ],
)
def test_pod_failure_policy(the_pod: Obj, expected: tuple[str | None, bool, str | None]) -> None:
    assert jp.match_pod_failure_policy(POLICY, the_pod) == expected


def test_pod_failure_policy_conditions() -> None:
    disrupted = pod("Failed", exit_code=42)
    disrupted["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True"})
    assert jp.match_pod_failure_policy(POLICY, disrupted) == (None, False, "Ignore")
    fail_on_condition = {
        "rules": [
            {
                "action": "FailJob",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            }
        ]
    }
    disrupted["metadata"]["name"] = "p"
    message, _, _ = jp.match_pod_failure_policy(fail_on_condition, disrupted)
    assert message == "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0"


@pytest.mark.parametrize(
    ("rules", "succeeded", "expected"),
    [
        pytest.param(
            [{"succeededIndexes": "0,2"}],
            [(0, 0), (2, 2)],
            ("Matched rules at index 0", True),
            id="indexes",
        ),
        pytest.param(
            [{"succeededIndexes": "0-3"}], [(0, 2)], ("", False), id="indexes-missing-one"
        ),
        pytest.param(
            [{"succeededIndexes": "0-3", "succeededCount": 2}],
            [(1, 2)],
            ("Matched rules at index 0", True),
            id="count-within-indexes",
        ),
        pytest.param(
            [{"succeededCount": 5}, {"succeededCount": 2}],
            [(4, 5)],
            ("Matched rules at index 1", True),
            id="second-rule",
        ),
        pytest.param([{"succeededCount": 1}], [], ("", False), id="nothing-succeeded"),
    ],
)
def test_success_policy(
    rules: list[Obj], succeeded: ji.Intervals, expected: tuple[str, bool]
) -> None:
    assert jp.match_success_policy({"rules": rules}, 10, succeeded) == expected


@pytest.mark.parametrize(
    ("failures", "ago", "expected"),
    [
        pytest.param(0, 0, 0.0, id="no-failures"),
        pytest.param(1, 0, 10.0, id="first-10s"),
        pytest.param(2, 5, 15.0, id="second-20s"),
        pytest.param(3, 0, 40.0, id="doubling"),
        pytest.param(10, 0, 360.0, id="capped-6min"),
        pytest.param(1, 11, 0.0, id="elapsed"),
    ],
)
def test_backoff_remaining(failures: int, ago: float, expected: float) -> None:
    assert jp.remaining(failures, NOW - timedelta(seconds=ago), NOW) == expected


def test_backoff_record() -> None:
    f1, f2 = (
        pod("Failed", exit_code=1, finished_ago=50),
        pod("Failed", exit_code=1, finished_ago=10),
    )
    s1 = pod("Succeeded", exit_code=0, finished_ago=30)
    rec = jp.new_backoff_record(jp.BackoffRecord(), [], [f1])
    assert rec == jp.BackoffRecord(1, NOW - timedelta(seconds=50))
    rec = jp.new_backoff_record(rec, [s1], [f2])
    assert rec == jp.BackoffRecord(1, NOW - timedelta(seconds=10))
    assert jp.new_backoff_record(rec, [s1], []) == jp.BackoffRecord(0, None)


# ---------------------------------------------------------------------- assess and manage


def finished_reason(s: js.Sync) -> tuple[str, str] | None:
    return None if s.finished is None else (s.finished["type"], s.finished["reason"])


@pytest.mark.parametrize(
    ("the_job", "pods", "expected"),
    [
        pytest.param(job(), [pod()], None, id="running"),
        pytest.param(
            job(backoffLimit=0),
            [pod("Failed")],
            ("FailureTarget", "BackoffLimitExceeded"),
            id="backoff-limit-0",
        ),
        pytest.param(job(backoffLimit=1), [pod("Failed")], None, id="within-backoff-limit"),
        pytest.param(
            job(backoffLimit=1, status={"failed": 1}),
            [pod("Failed")],
            ("FailureTarget", "BackoffLimitExceeded"),
            id="counts-status",
        ),
        pytest.param(
            job(backoffLimit=0),
            [pod("Failed", finalizer=False)],
            None,
            id="uncounted-without-finalizer-ignored",
        ),
        pytest.param(
            job(activeDeadlineSeconds=10, status={"startTime": ts(11)}),
            [pod()],
            ("FailureTarget", "DeadlineExceeded"),
            id="deadline",
        ),
        pytest.param(
            job(podFailurePolicy=POLICY, backoffLimit=6),
            [pod("Failed", exit_code=42)],
            ("FailureTarget", "PodFailurePolicy"),
            id="fail-job-rule",
        ),
        pytest.param(
            job(
                status={
                    "conditions": [
                        {"type": "FailureTarget", "status": "True", "reason": "X", "message": "m"}
                    ]
                }
            ),
            [],
            ("Failed", "X"),
            id="failure-target-becomes-failed",
        ),
        pytest.param(
            job(
                completionMode="Indexed",
                completions=4,
                successPolicy={"rules": [{"succeededIndexes": "1"}]},
            ),
            [pod("Succeeded", index=1)],
            ("SuccessCriteriaMet", "SuccessPolicy"),
            id="success-policy",
        ),
        pytest.param(
            job(completionMode="Indexed", completions=2, backoffLimitPerIndex=0),
            [
                pod("Failed", index=0, annotations={ji.INDEX_FAILURE_COUNT: "0"}),
                pod("Succeeded", index=1),
            ],
            ("FailureTarget", "FailedIndexes"),
            id="failed-indexes",
        ),
        pytest.param(
            job(
                completionMode="Indexed", completions=4, backoffLimitPerIndex=0, maxFailedIndexes=0
            ),
            [pod("Failed", index=0)],
            ("FailureTarget", "MaxFailedIndexesExceeded"),
            id="max-failed-indexes",
        ),
    ],
)
def test_assess_terminal_decisions(
    the_job: Obj, pods: list[Obj], expected: tuple[str, str] | None
) -> None:
    assert finished_reason(assess(the_job, pods)) == expected


def test_assess_requeues_before_deadline_and_sets_start_time() -> None:
    s = assess(job(activeDeadlineSeconds=10, status={"startTime": ts(4)}), [pod()])
    assert s.requeue_after == 6.0
    fresh = assess(job(), [])
    assert fresh.job["status"]["startTime"] == "2026-01-01T12:00:00Z"
    assert "startTime" not in assess(job(suspend=True), []).job["status"]


def created(plan: jm.ManagePlan) -> list[int | None]:
    return plan.create


@pytest.mark.parametrize(
    ("the_job", "pods", "creates", "deletes"),
    [
        pytest.param(job(completions=5, parallelism=2), [], 2, 0, id="parallelism-caps"),
        pytest.param(
            job(completions=5, parallelism=2, status={"succeeded": 4}),
            [],
            1,
            0,
            id="remaining-completions",
        ),
        pytest.param(job(completions=2, parallelism=5), [pod()], 1, 0, id="completions-cap"),
        pytest.param(job(completions=None, parallelism=3), [pod()], 2, 0, id="work-queue"),
        pytest.param(
            job(completions=None, parallelism=3, status={"succeeded": 1}),
            [pod()],
            0,
            0,
            id="work-queue-after-success",
        ),
        pytest.param(job(completions=5, parallelism=1), [pod(), pod()], 0, 1, id="too-many"),
        pytest.param(
            job(suspend=True, completions=5, parallelism=2), [pod(), pod()], 0, 2, id="suspended"
        ),
        pytest.param(
            job(completions=3, parallelism=3), [pod(deleting=True)], 3, 0, id="terminating-replaced"
        ),
        pytest.param(
            job(completions=3, parallelism=3, podReplacementPolicy="Failed"),
            [pod(deleting=True)],
            2,
            0,
            id="replace-only-failed",
        ),
    ],
)
def test_plan_manage(the_job: Obj, pods: list[Obj], creates: int, deletes: int) -> None:
    s = assess(the_job, pods)
    plan = jm.plan_manage(s, now=NOW)
    assert (len(plan.create), len(plan.delete)) == (creates, deletes)


def test_plan_manage_waits_for_pod_failure_backoff() -> None:
    s = assess(job(completions=1), [pod("Failed", finished_ago=4, exit_code=1)])
    assert s.new_backoff.failures_after_last_success == 1
    plan = jm.plan_manage(s, now=NOW)
    assert plan.create == []
    assert s.requeue_after == 6.0


def test_plan_manage_indexed_takes_lowest_pending() -> None:
    the_job = job(
        completionMode="Indexed", completions=5, parallelism=3, status={"completedIndexes": "0"}
    )
    s = assess(the_job, [pod(index=2)])
    assert jm.plan_manage(s, now=NOW).create == [1, 3]


def test_pod_for_index() -> None:
    the_job = job(completionMode="Indexed", completions=5, backoffLimitPerIndex=1)
    failed = pod("Failed", index=3, annotations={ji.INDEX_FAILURE_COUNT: "0"})
    template = jm.pod_for_index(the_job, 3, {3: failed})
    assert template["metadata"]["generateName"] == "work-3-"
    assert template["metadata"]["finalizers"] == [js.FINALIZER]
    assert template["metadata"]["annotations"] == {
        ji.COMPLETION_INDEX: "3",
        ji.INDEX_FAILURE_COUNT: "1",
    }
    assert template["metadata"]["labels"] == {ji.COMPLETION_INDEX: "3"}
    assert template["spec"]["hostname"] == "work-3"
    assert template["spec"]["containers"][0]["env"] == [
        {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{ji.COMPLETION_INDEX}']"}},
        }
    ]
    plain = jm.pod_for_index(job(), None, {})
    assert plain["metadata"]["generateName"] == "work-"
    assert "hostname" not in plain["spec"]


# ---------------------------------------------------------------------- tracking


def test_tracking_counts_each_pod_once() -> None:
    done, failed, running = pod("Succeeded"), pod("Failed"), pod()
    s = assess(job(completions=3, parallelism=3, backoffLimit=6), [done, failed, running])
    plan = jt.track(s, flush=False, now=NOW)
    status = s.job["status"]
    assert plan.flush
    assert status["uncountedTerminatedPods"] == {
        "succeeded": [done["metadata"]["uid"]],
        "failed": [failed["metadata"]["uid"]],
    }
    assert [p["metadata"]["uid"] for p in plan.remove_finalizer] == [
        done["metadata"]["uid"],
        failed["metadata"]["uid"],
    ]
    # finalizers removed: the uncounted pods move to the counters
    with_finalizer = plan.uids_with_finalizer - {done["metadata"]["uid"], failed["metadata"]["uid"]}
    assert jt.uncounted_done(status, with_finalizer)
    assert (status["succeeded"], status["failed"], status["uncountedTerminatedPods"]) == (1, 1, {})
    # the next sync sees the pods without finalizers: nothing more to count
    done["metadata"]["finalizers"] = []
    failed["metadata"]["finalizers"] = []
    again = assess(s.job, [done, failed, running])
    assert jt.track(again, flush=False, now=NOW).remove_finalizer == []
    assert (again.succeeded, again.failed) == (1, 1)


def test_tracking_finishes_after_counting() -> None:
    last = pod("Succeeded")
    s = assess(job(completions=1), [last])
    jm.conclude(s, active=0, manage_called=True, now=NOW)
    assert s.finished is not None and s.finished["type"] == "SuccessCriteriaMet"
    plan = jt.track(s, flush=False, now=NOW)
    assert [c["type"] for c in s.job["status"]["conditions"]] == ["SuccessCriteriaMet"]
    assert not jt.enact_finished(s, now=NOW)  # still uncounted
    jt.uncounted_done(s.job["status"], plan.uids_with_finalizer - {last["metadata"]["uid"]})
    assert jt.enact_finished(s, now=NOW)
    status = s.job["status"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["completionTime"] == "2026-01-01T12:00:00Z"
    assert ("Normal", "Completed", "Job completed") in s.events


def test_failed_job_waits_for_terminating_pods() -> None:
    s = assess(
        job(backoffLimit=0),
        [pod("Failed", finalizer=False)],
    )
    s = assess(job(backoffLimit=0, status={"failed": 1}), [pod(deleting=True, finalizer=False)])
    jt.track(s, flush=False, now=NOW)
    assert s.terminating == 1
    assert not jt.enact_finished(s, now=NOW)
    s.terminating = 0
    assert jt.enact_finished(s, now=NOW)
    failed = s.job["status"]["conditions"][-1]
    assert (failed["type"], failed["reason"], failed["message"]) == (
        "Failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert (
        "Warning",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    ) in s.events


def test_indexed_tracking_uses_completed_indexes() -> None:
    pods = [pod("Succeeded", index=2), pod("Succeeded", index=0), pod(index=1)]
    s = assess(job(completionMode="Indexed", completions=3, parallelism=3), pods)
    jt.track(s, flush=False, now=NOW)
    assert s.job["status"]["completedIndexes"] == "0,2"
    assert s.job["status"]["succeeded"] == 2
    assert s.job["status"]["uncountedTerminatedPods"] == {}


def test_normalized_status() -> None:
    status = jt.normalized_status(
        {"succeeded": 0, "failed": 2, "uncountedTerminatedPods": {"failed": []}},
        active=0,
        ready=0,
        terminating=0,
    )
    assert status == {"failed": 2, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}}


def test_suspend_and_resume_conditions() -> None:
    s = assess(job(suspend=True, completions=2), [])
    assert jm.conclude(s, active=0, manage_called=True, now=NOW)
    cond = s.job["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "Suspended",
        "True",
        "JobSuspended",
        "Job suspended",
    )
    resumed = assess(job(completions=2, status={"conditions": [cond]}), [])
    assert jm.conclude(resumed, active=0, manage_called=True, now=NOW)
    cond = resumed.job["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "JobResumed")
    assert ("Normal", "Resumed", "Job resumed") in resumed.events
    never_suspended = assess(job(completions=2), [])
    assert not jm.conclude(never_suspended, active=0, manage_called=True, now=NOW)
    assert "conditions" not in never_suspended.job["status"]
