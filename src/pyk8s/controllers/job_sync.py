"""The decisions of one Job sync, without I/O (upstream's ``syncJob``, ``manageJob`` and
``trackJobStatusAndRemoveFinalizers`` in job_controller.go): step 1 lives here, step 2 in
``job_manage``, step 3 in ``job_tracking``.

A sync goes through these pure steps, with the controller's writes in between:
1. ``assess``: count pods (active, ready, terminating; newly finished pods that still carry
   the ``batch.kubernetes.io/job-tracking`` finalizer), set ``startTime``, and decide
   whether the Job has reached a terminal state: an earlier SuccessCriteriaMet or
   FailureTarget condition, a FailJob rule of the podFailurePolicy, the backoff limit
   ("BackoffLimitExceeded", "Job has reached the specified backoff limit"), the active
   deadline ("DeadlineExceeded", "Job was active longer than specified deadline"), failed
   indexes (backoffLimitPerIndex) or the successPolicy.
2. A finishing Job deletes its active pods; otherwise ``plan_manage`` says which pods to
   delete (suspended: all; too many; duplicate indexes) or create (up to 500 per sync,
   honouring the pod-failure back-off), then ``conclude`` checks completion ("CompletionsReached",
   "Reached expected number of succeeded pods") and the Suspended condition.
3. ``track``: finished pods go into ``status.uncountedTerminatedPods`` (at most 500 per
   sync) — written first — then their finalizers are removed, and only then
   ``uncounted_done`` moves them to the ``succeeded``/``failed`` counters (Indexed Jobs count
   ``completedIndexes`` instead). FailureTarget/SuccessCriteriaMet are written before the
   finalizers go; ``enact_finished`` adds Failed/Complete (and ``completionTime``) once no
   pod is uncounted or terminating.
Invariant: a finished pod is counted exactly once: it is counted when its finalizer is
removed, and a pod without the finalizer is never counted again.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyk8s.controllers import job_indexes as ji
from pyk8s.controllers import job_policy as jp
from pyk8s.controllers.workload_pods import (
    is_active,
    is_pod_ready,
    meta,
    phase,
)
from pyk8s.controllers.workload_time import format_time, parse_time

__all__ = [
    "FINALIZER",
    "Sync",
    "assess",
    "ensure_condition",
    "find_condition",
    "has_finalizer",
    "is_finished",
    "is_indexed",
    "is_pod_failed",
    "new_condition",
    "only_replace_failed",
    "per_index",
    "suspended",
]

Obj = dict[str, Any]

FINALIZER = "batch.kubernetes.io/job-tracking"


# ---------------------------------------------------------------------- small predicates


def has_finalizer(pod: Mapping[str, Any]) -> bool:
    return FINALIZER in (meta(pod).get("finalizers") or ())


def _spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return job.get("spec") or {}


def is_indexed(job: Mapping[str, Any]) -> bool:
    return _spec(job).get("completionMode") == "Indexed"


def per_index(job: Mapping[str, Any]) -> bool:
    return _spec(job).get("backoffLimitPerIndex") is not None


def suspended(job: Mapping[str, Any]) -> bool:
    return bool(_spec(job).get("suspend"))


def only_replace_failed(job: Mapping[str, Any]) -> bool:
    spec = _spec(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    if phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(meta(pod).get("deletionTimestamp")) and phase(pod) != "Succeeded"


def find_condition(job: Mapping[str, Any], ctype: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return dict(c)
    return None


def is_finished(job: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def new_condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    ts = format_time(now)
    return {
        "type": ctype,
        "status": status,
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def ensure_condition(
    status: Obj, ctype: str, cstatus: str, reason: str, message: str, now: datetime
) -> bool:
    """Add or update a condition; a missing one is not added as False. True if changed."""
    conditions = status.setdefault("conditions", [])
    for i, c in enumerate(conditions):
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason", ""), c.get("message", "")) != (
                cstatus,
                reason,
                message,
            ):
                conditions[i] = new_condition(ctype, cstatus, reason, message, now)
                return True
            return False
    if cstatus == "False":
        if not conditions:
            status.pop("conditions")
        return False
    conditions.append(new_condition(ctype, cstatus, reason, message, now))
    return True


# ---------------------------------------------------------------------- 1. assess


@dataclass(slots=True)
class Sync:
    job: Obj  # a private copy; its status is what gets written
    pods: list[Obj]
    active_pods: list[Obj]
    ready: int
    terminating: int
    succeeded: int
    failed: int
    finished: Obj | None  # the terminal (or interim) condition decided in this sync
    new_backoff: jp.BackoffRecord
    expected_rm: set[str]
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    prev_succeeded_ix: ji.Intervals = field(default_factory=list)
    succeeded_ix: ji.Intervals = field(default_factory=list)
    failed_ix: ji.Intervals | None = None
    delayed_per_index: dict[int, Obj] = field(default_factory=dict)
    requeue_after: float | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)

    def requeue(self, delay: float) -> None:
        self.requeue_after = delay if self.requeue_after is None else min(self.requeue_after, delay)


def _valid_index(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    index = ji.completion_index(pod)
    return 0 <= index < int(_spec(job).get("completions") or 0)


def _new_finished(s: Sync) -> tuple[list[Obj], list[Obj]]:
    """Finished pods not yet counted (still carrying the finalizer)."""
    succeeded: list[Obj] = []
    failed: list[Obj] = []
    for pod in s.pods:
        uid = str(meta(pod).get("uid") or "")
        if not has_finalizer(pod) or uid in s.expected_rm:
            continue
        if is_indexed(s.job) and not _valid_index(s.job, pod):
            continue
        if phase(pod) == "Succeeded" and uid not in s.uncounted_succeeded:
            succeeded.append(pod)
        elif is_pod_failed(pod, s.job) and uid not in s.uncounted_failed:
            failed.append(pod)
    return succeeded, failed


def _past_backoff_limit_on_failure(
    job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> bool:
    if ((_spec(job).get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for cs in [
                *(status.get("initContainerStatuses") or ()),
                *(status.get("containerStatuses") or ()),
            ]:
                restarts += int(cs.get("restartCount") or 0)
    limit = int(_spec(job).get("backoffLimit") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


def _index_failed(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    counted = False
    if is_pod_failed(pod, job):
        policy = _spec(job).get("podFailurePolicy")
        if policy is not None:
            _, counted, action = jp.match_pod_failure_policy(policy, pod)
            if action == "FailIndex":
                return True
        else:
            counted = True
    return counted and ji.failure_count(pod) >= int(_spec(job).get("backoffLimitPerIndex") or 0)


def _absolute_failures(pod: Mapping[str, Any]) -> int:
    return ji.failure_count(pod) + ji.failure_count(pod, ji.INDEX_IGNORED_FAILURE_COUNT)


def _delayed_per_index(s: Sync) -> dict[int, Obj]:
    """Per index, the failed pod whose removal waits until its replacement exists."""
    active = ji.indexes_of(s.active_pods)
    result: dict[int, Obj] = {}
    for pod in s.pods:
        uid = str(meta(pod).get("uid") or "")
        if not has_finalizer(pod) or uid in s.expected_rm or not is_pod_failed(pod, s.job):
            continue
        if not _valid_index(s.job, pod):
            continue
        index = ji.completion_index(pod)
        if ji.has(s.succeeded_ix, index) or ji.has(s.failed_ix or [], index) or index in active:
            continue
        last = result.get(index)
        if last is None or (
            _absolute_failures(last) <= _absolute_failures(pod)
            and jp.finished_at(pod) >= jp.finished_at(last)
        ):
            result[index] = pod
    return result


def assess(
    cached: Mapping[str, Any],
    pods: Sequence[Obj],
    *,
    now: datetime,
    backoff: jp.BackoffRecord,
    expected_rm: set[str],
) -> Sync:
    job: Obj = copy.deepcopy(dict(cached))
    spec = _spec(job)
    status = job.setdefault("status", {})
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    active_pods = [p for p in pods if is_active(p)]
    s = Sync(
        job=job,
        pods=list(pods),
        active_pods=active_pods,
        ready=sum(1 for p in active_pods if is_pod_ready(p)),
        terminating=sum(
            1
            for p in pods
            if meta(p).get("deletionTimestamp") and phase(p) not in ("Succeeded", "Failed")
        ),
        succeeded=0,
        failed=0,
        finished=None,
        new_backoff=backoff,
        expected_rm=set(expected_rm),
        uncounted_succeeded=set(uncounted.get("succeeded") or ()),
        uncounted_failed=set(uncounted.get("failed") or ()),
    )
    new_succeeded, new_failed = _new_finished(s)
    counted_failures = len(new_failed)
    policy = spec.get("podFailurePolicy")
    if policy is not None:
        counted_failures = sum(1 for p in new_failed if jp.match_pod_failure_policy(policy, p)[1])
    s.succeeded = (
        int(status.get("succeeded") or 0) + len(new_succeeded) + len(s.uncounted_succeeded)
    )
    s.failed = int(status.get("failed") or 0) + counted_failures + len(s.uncounted_failed)
    if not status.get("startTime") and not suspended(job):
        status["startTime"] = format_time(now)
    s.new_backoff = jp.new_backoff_record(backoff, new_succeeded, new_failed)

    success = find_condition(job, "SuccessCriteriaMet")
    s.finished = success if success is not None and success.get("status") == "True" else None
    if s.finished is None:
        target = find_condition(job, "FailureTarget")
        if target is not None and target.get("status") == "True":
            s.finished = new_condition(
                "Failed", "True", target.get("reason", ""), target.get("message", ""), now
            )
        elif policy is not None:
            for pod in pods:
                message = (
                    jp.match_pod_failure_policy(policy, pod)[0] if is_pod_failed(pod, job) else None
                )
                if message is not None:
                    s.finished = new_condition(
                        "FailureTarget", "True", "PodFailurePolicy", message, now
                    )
                    break
    if s.finished is None:
        started = parse_time(status.get("startTime"))
        deadline = spec.get("activeDeadlineSeconds")
        if s.failed > int(spec.get("backoffLimit") or 0) or _past_backoff_limit_on_failure(
            job, pods
        ):
            s.finished = new_condition(
                "FailureTarget",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            )
        elif deadline is not None and started is not None and not suspended(job):
            left = float(deadline) - (now - started).total_seconds()
            if left <= 0:
                s.finished = new_condition(
                    "FailureTarget",
                    "True",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    now,
                )
            else:
                s.requeue(left)

    if is_indexed(job):
        completions = int(spec.get("completions") or 0)
        s.prev_succeeded_ix = ji.parse(status.get("completedIndexes"), completions)
        fresh = {
            ji.completion_index(p)
            for p in pods
            if phase(p) == "Succeeded" and has_finalizer(p) and _valid_index(job, p)
        }
        s.succeeded_ix = ji.with_indexes(s.prev_succeeded_ix, fresh)
        s.succeeded = ji.total(s.succeeded_ix)
        if per_index(job):
            fresh_failed = {
                ji.completion_index(p)
                for p in pods
                if has_finalizer(p) and _valid_index(job, p) and _index_failed(job, p)
            }
            s.failed_ix = ji.with_indexes(
                ji.parse(status.get("failedIndexes"), completions), fresh_failed
            )
            failed_total = ji.total(s.failed_ix)
            max_failed = spec.get("maxFailedIndexes")
            if s.finished is None:
                if max_failed is not None and failed_total > int(max_failed):
                    s.finished = new_condition(
                        "FailureTarget",
                        "True",
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                        now,
                    )
                elif failed_total > 0 and failed_total + s.succeeded >= completions:
                    s.finished = new_condition(
                        "FailureTarget", "True", "FailedIndexes", "Job has failed indexes", now
                    )
            s.delayed_per_index = _delayed_per_index(s)
        if s.finished is None:
            message, met = jp.match_success_policy(
                spec.get("successPolicy"), completions, s.succeeded_ix
            )
            if met:
                s.finished = new_condition(
                    "SuccessCriteriaMet", "True", "SuccessPolicy", message, now
                )
    return s
