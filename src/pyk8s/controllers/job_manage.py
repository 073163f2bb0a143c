"""Step 2 of a Job sync (see ``job_sync``): which pods to delete or create, the pods
themselves, and what follows (completion, the Suspended condition). Pure.

Contract:
- ``plan_manage``: a suspended Job deletes all active pods; otherwise the Job wants
  ``min(completions - succeeded, parallelism)`` active pods (without completions:
  ``parallelism`` until the first success, then whatever runs). Excess pods — and for
  Indexed Jobs pods with a missing, out-of-range, repeated or failed index — are deleted
  first, most deletable first; only if nothing is deleted are pods created: at most 500 per
  sync, none while the pod-failure back-off runs (the sync is requeued for then), Indexed
  Jobs taking the lowest pending indexes. Pods still terminating count as active when the
  Job only replaces failed pods (``podReplacementPolicy: Failed`` or a podFailurePolicy).
- ``pod_for_index``: the template with the tracking finalizer; for index ``i`` also the
  ``batch.kubernetes.io/job-completion-index`` annotation and label, the
  ``JOB_COMPLETION_INDEX`` env var, hostname ``<job>-<i>``, generateName ``<job>-<i>-`` and,
  with backoffLimitPerIndex, the index failure counts carried over from the pod it replaces.
- ``conclude``: complete when enough pods succeeded and none is active; else the
  Suspended condition (True "JobSuspended"/False "JobResumed", resuming resets startTime).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyk8s.controllers import job_indexes as ji
from pyk8s.controllers import job_policy as jp
from pyk8s.controllers.job_sync import (
    FINALIZER,
    Sync,
    ensure_condition,
    is_indexed,
    new_condition,
    only_replace_failed,
    per_index,
    suspended,
)
from pyk8s.controllers.workload_pods import deletion_rank, meta, phase
from pyk8s.controllers.workload_time import format_time

__all__ = ["MAX_PER_SYNC", "ManagePlan", "conclude", "plan_manage", "pod_for_index"]

Obj = dict[str, Any]

MAX_PER_SYNC = 500
_INDEX_ENV = "JOB_COMPLETION_INDEX"


def _spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return job.get("spec") or {}


def _absolute_failures(pod: Mapping[str, Any]) -> int:
    return ji.failure_count(pod) + ji.failure_count(pod, ji.INDEX_IGNORED_FAILURE_COUNT)


@dataclass(slots=True)
class ManagePlan:
    delete: list[Obj] = field(default_factory=list)
    create: list[int | None] = field(default_factory=list)  # completion indexes (None: NonIndexed)


def _for_removal(s: Sync, at_least: int) -> list[Obj]:
    remove: list[Obj] = []
    left = list(s.active_pods)
    if is_indexed(s.job):
        remove, left = ji.duplicates_for_removal(left, int(_spec(s.job).get("completions") or 0))
        if s.failed_ix:
            remove += [p for p in left if ji.has(s.failed_ix, ji.completion_index(p))]
            left = [p for p in left if not ji.has(s.failed_ix, ji.completion_index(p))]
    if len(remove) < at_least:
        left.sort(key=deletion_rank)
        remove += left[: at_least - len(remove)]
    return remove


def plan_manage(s: Sync, *, now: datetime) -> ManagePlan:
    spec = _spec(s.job)
    active = len(s.active_pods)
    if suspended(s.job):
        return ManagePlan(delete=sorted(s.active_pods, key=deletion_rank))
    parallelism = int(spec.get("parallelism", 1) or 0)
    completions = spec.get("completions")
    if completions is None:
        want = active if s.succeeded > 0 else parallelism
    else:
        want = max(0, min(int(completions) - s.succeeded, parallelism))
    delete = _for_removal(s, max(active - want, 0))[:MAX_PER_SYNC]
    if delete:
        return ManagePlan(delete=delete)
    terminating = s.terminating if only_replace_failed(s.job) else 0
    diff = want - terminating - active
    if diff <= 0:
        return ManagePlan()
    if not per_index(s.job):
        left = jp.remaining(
            s.new_backoff.failures_after_last_success, s.new_backoff.last_failure, now
        )
        if left > 0:
            s.requeue(left)
            return ManagePlan()
    diff = min(diff, MAX_PER_SYNC)
    if not is_indexed(s.job):
        return ManagePlan(create=[None] * diff)
    covered = ji.with_indexes(s.succeeded_ix, ji.indexes_of(s.active_pods))
    if only_replace_failed(s.job):
        covered = ji.with_indexes(
            covered,
            ji.indexes_of(
                p
                for p in s.pods
                if meta(p).get("deletionTimestamp") and phase(p) not in ("Succeeded", "Failed")
            ),
        )
    if s.failed_ix:
        covered = ji.merge(covered, s.failed_ix)
    indexes = ji.first_pending(covered, diff, int(completions or 0))
    if per_index(s.job):
        ready_now: list[int] = []
        waits: list[float] = []
        for index in indexes:
            last = s.delayed_per_index.get(index)
            wait = (
                0.0
                if last is None
                else jp.remaining(_absolute_failures(last) + 1, jp.finished_at(last), now)
            )
            if wait > 0:
                waits.append(wait)
            else:
                ready_now.append(index)
        if not ready_now and waits:
            s.requeue(min(waits))
            return ManagePlan()
        indexes = ready_now
    return ManagePlan(create=list(indexes))


def pod_for_index(job: Mapping[str, Any], index: int | None, delayed: Mapping[int, Obj]) -> Obj:
    """The pod to create (before the controller ref is added): template, finalizer, and for
    an Indexed Job the index annotation/label, env var, hostname and generateName."""
    template = copy.deepcopy(_spec(job).get("template") or {})
    tmeta = template.setdefault("metadata", {})
    finalizers = list(tmeta.get("finalizers") or ())
    if FINALIZER not in finalizers:
        finalizers.append(FINALIZER)
    tmeta["finalizers"] = finalizers
    name = str(meta(job).get("name") or "")
    generate_name = f"{name}-"
    if index is not None:
        tspec = template.setdefault("spec", {})
        for key in ("initContainers", "containers"):
            for container in tspec.get(key) or ():
                env = container.setdefault("env", [])
                if not any(e.get("name") == _INDEX_ENV for e in env):
                    env.append(
                        {
                            "name": _INDEX_ENV,
                            "valueFrom": {
                                "fieldRef": {
                                    "fieldPath": f"metadata.labels['{ji.COMPLETION_INDEX}']"
                                }
                            },
                        }
                    )
        tmeta["annotations"] = {**(tmeta.get("annotations") or {}), ji.COMPLETION_INDEX: str(index)}
        tmeta["labels"] = {**(tmeta.get("labels") or {}), ji.COMPLETION_INDEX: str(index)}
        tspec["hostname"] = f"{name}-{index}"
        generate_name = ji.generate_name(name, index)
        if per_index(job):
            replaced = delayed.get(index)
            failures = ignored = 0
            if replaced is not None:
                failures = ji.failure_count(replaced)
                ignored = ji.failure_count(replaced, ji.INDEX_IGNORED_FAILURE_COUNT)
                policy = _spec(job).get("podFailurePolicy")
                if policy is not None and not jp.match_pod_failure_policy(policy, replaced)[1]:
                    ignored += 1
                else:
                    failures += 1
            tmeta["annotations"][ji.INDEX_FAILURE_COUNT] = str(failures)
            if ignored > 0:
                tmeta["annotations"][ji.INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    template["metadata"]["generateName"] = generate_name
    return template


def conclude(s: Sync, *, active: int, manage_called: bool, now: datetime) -> bool:
    """After manage: completion, or the Suspended condition. True if conditions changed."""
    completions = _spec(s.job).get("completions")
    complete = (
        s.succeeded > 0 and active == 0
        if completions is None
        else s.succeeded >= int(completions) and active == 0
    )
    if complete:
        s.finished = new_condition(
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        )
        return False
    if not manage_called:
        return False
    status = s.job["status"]
    if suspended(s.job):
        if ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now):
            s.events.append(("Normal", "Suspended", "Job suspended"))
            return True
    elif ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now):
        s.events.append(("Normal", "Resumed", "Job resumed"))
        status["startTime"] = format_time(now)
        return True
    return False
