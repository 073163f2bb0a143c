"""Step 3 of a Job sync (see ``job_sync``): counting finished pods through
``status.uncountedTerminatedPods`` and the tracking finalizer, and finishing the Job. Pure.

Contract:
- ``track`` picks the pods whose finalizer may go (all, once the Job is finishing or being
  deleted; otherwise succeeded and failed ones — with backoffLimitPerIndex a failed pod
  stays until its replacement exists) and adds the finished ones to the uncounted lists
  (at most 500 per sync; failures an Ignore rule matches are not counted). Indexed Jobs
  record succeeded indexes in ``completedIndexes`` (and ``failedIndexes``) instead. It also
  appends the interim FailureTarget/SuccessCriteriaMet condition and turns the decision
  into the final Failed/Complete condition. ``flush`` says the status must be written
  before any finalizer is removed.
- ``uncounted_done`` moves uncounted pods whose finalizer is gone into the counters.
- ``enact_finished`` adds Failed/Complete (and ``completionTime``) only when nothing is
  uncounted and no pod is terminating, and queues the events.
- ``normalized_status``: zero ``active``/``succeeded``/``failed`` omitted, ``ready`` and
  ``terminating`` always present, as upstream serialises JobStatus.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyk8s.controllers import job_indexes as ji
from pyk8s.controllers import job_policy as jp
from pyk8s.controllers.job_sync import (
    Sync,
    ensure_condition,
    find_condition,
    has_finalizer,
    is_indexed,
    is_pod_failed,
    new_condition,
    per_index,
)
from pyk8s.controllers.workload_pods import meta, phase

__all__ = [
    "MAX_UNCOUNTED",
    "TrackPlan",
    "enact_finished",
    "normalized_status",
    "track",
    "uncounted_done",
]

Obj = dict[str, Any]

MAX_UNCOUNTED = 500


def _spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return job.get("spec") or {}


def _valid_index(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    index = ji.completion_index(pod)
    return 0 <= index < int(_spec(job).get("completions") or 0)


@dataclass(slots=True)
class TrackPlan:
    remove_finalizer: list[Obj]
    flush: bool
    reached_max: bool
    uids_with_finalizer: set[str]


def uncounted_done(status: Obj, uids_with_finalizer: set[str]) -> bool:
    """Move uncounted pods whose finalizer is gone to the counters. True if changed."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for key, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        uids = list(uncounted.get(key) or ())
        keep = [u for u in uids if u in uids_with_finalizer]
        if len(keep) != len(uids):
            changed = True
            status[counter] = int(status.get(counter) or 0) + len(uids) - len(keep)
            if keep:
                uncounted[key] = keep
            else:
                uncounted.pop(key, None)
    return changed


def _can_remove_finalizer(s: Sync, pod: Mapping[str, Any], failed: bool) -> bool:
    if meta(s.job).get("deletionTimestamp") or s.finished is not None or phase(pod) == "Succeeded":
        return True
    if not failed:
        return False
    if per_index(s.job):
        index = ji.completion_index(pod)
        delayed = s.delayed_per_index.get(index)
        if delayed is not None and meta(delayed).get("uid") == meta(pod).get("uid"):
            return False
    return True


def track(s: Sync, *, flush: bool, now: datetime) -> TrackPlan:
    job, status = s.job, s.job["status"]
    indexed = is_indexed(job)
    completions = int(_spec(job).get("completions") or 0)
    pods = sorted(s.pods, key=ji.completion_index) if indexed else s.pods
    with_finalizer = {
        str(meta(p).get("uid"))
        for p in pods
        if has_finalizer(p) and str(meta(p).get("uid")) not in s.expected_rm
    }
    if uncounted_done(status, with_finalizer):
        flush = True
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    policy = _spec(job).get("podFailurePolicy")
    remove: list[Obj] = []
    new_ix: list[int] = []
    reached_max = False
    for pod in pods:
        uid = str(meta(pod).get("uid") or "")
        if not has_finalizer(pod) or uid in s.expected_rm:
            continue
        failed = is_pod_failed(pod, job)
        if not _can_remove_finalizer(s, pod, failed):
            continue
        remove.append(pod)
        if phase(pod) == "Succeeded" and uid not in s.uncounted_failed:
            if indexed:
                index = ji.completion_index(pod)
                if 0 <= index < completions and not ji.has(s.prev_succeeded_ix, index):
                    new_ix.append(index)
                    flush = True
            elif uid not in s.uncounted_succeeded:
                uncounted.setdefault("succeeded", []).append(uid)
                s.uncounted_succeeded.add(uid)
                flush = True
        elif (
            (failed or (s.finished is not None and s.finished.get("type") != "SuccessCriteriaMet"))
            and uid not in s.uncounted_failed
            and (not indexed or _valid_index(job, pod))
            and (policy is None or jp.match_pod_failure_policy(policy, pod)[1])
        ):
            uncounted.setdefault("failed", []).append(uid)
            s.uncounted_failed.add(uid)
            flush = True
        if (
            len(new_ix) + len(uncounted.get("succeeded") or ()) + len(uncounted.get("failed") or ())
            >= MAX_UNCOUNTED
        ):
            reached_max = True
            break
    if indexed:
        s.succeeded_ix = ji.with_indexes(s.succeeded_ix, new_ix)
        text = ji.to_string(s.succeeded_ix)
        if text != (status.get("completedIndexes") or ""):
            flush = True
        status["succeeded"] = ji.total(s.succeeded_ix)
        status["completedIndexes"] = text
        failed_text = ji.to_string(s.failed_ix) if s.failed_ix is not None else None
        if status.get("failedIndexes") != failed_text:
            if failed_text is None:
                status.pop("failedIndexes", None)
            else:
                status["failedIndexes"] = failed_text
            flush = True
    if s.finished is not None and s.finished.get("type") == "FailureTarget":
        status.setdefault("conditions", []).append(s.finished)
        flush = True
        s.finished = new_condition(
            "Failed", "True", s.finished["reason"], s.finished["message"], now
        )
    if s.finished is not None and s.finished.get("type") == "SuccessCriteriaMet":
        if find_condition(job, "SuccessCriteriaMet") is None:
            status.setdefault("conditions", []).append(s.finished)
            flush = True
        s.finished = new_condition(
            "Complete", "True", s.finished.get("reason", ""), s.finished.get("message", ""), now
        )
    return TrackPlan(
        remove_finalizer=remove,
        flush=flush,
        reached_max=reached_max,
        uids_with_finalizer=with_finalizer,
    )


def enact_finished(s: Sync, *, now: datetime) -> bool:
    """Add the Complete/Failed condition if nothing is left to count. True if finished."""
    if s.finished is None:
        return False
    status = s.job["status"]
    uncounted = status.get("uncountedTerminatedPods") or {}
    if uncounted.get("succeeded") or uncounted.get("failed") or s.terminating > 0:
        return False
    cond = s.finished
    ensure_condition(
        status, cond["type"], cond["status"], cond.get("reason", ""), cond.get("message", ""), now
    )
    if cond["type"] == "Complete":
        status["completionTime"] = cond["lastTransitionTime"]
        completions = _spec(s.job).get("completions")
        if completions is not None and int(status.get("succeeded") or 0) > int(completions):
            s.events.append(
                (
                    "Warning",
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                )
            )
        s.events.append(("Normal", "Completed", "Job completed"))
    else:
        s.events.append(("Warning", cond.get("reason", ""), cond.get("message", "")))
    return True


def normalized_status(
    status: Mapping[str, Any], *, active: int, ready: int, terminating: int
) -> Obj:
    """The status as upstream serialises it: zero counters omitted, ready/terminating kept."""
    out = copy.deepcopy(dict(status))
    out["active"] = active
    out["ready"] = ready
    out["terminating"] = terminating
    for key in ("active", "succeeded", "failed"):
        if not out.get(key):
            out.pop(key, None)
    out["uncountedTerminatedPods"] = {
        k: v for k, v in (out.get("uncountedTerminatedPods") or {}).items() if v
    }
    return out
