"""Job policies: podFailurePolicy, successPolicy and the pod-failure back-off (upstream's
pod_failure_policy.go, success_policy.go, backoff_utils.go). Pure.

Contract:
- ``match_pod_failure_policy(policy, pod)`` → (FailJob message or None, whether the
  failure counts against the back-off limit, the matched action or None). Rules are tried
  in order; ``onExitCodes`` looks at terminated containers (then init containers) with a
  non-zero exit code, optionally of one container; ``onPodConditions`` at the pod's
  conditions by type and status. Ignore → not counted; Count, FailIndex → counted;
  FailJob → counted, with upstream's message ("Container main for pod ns/p failed with
  exit code 42 matching FailJob rule at index 0").
- ``match_success_policy`` → (message, met): the first rule whose ``succeededIndexes`` are
  all succeeded (or at least ``succeededCount`` of them), or with only ``succeededCount``,
  that many indexes succeeded; message "Matched rules at index <i>".
- Back-off: failures since the last success (a success clears the count) and the finish
  time of the last failure. The next pod may be created ``10 s · 2^(n-1)`` (capped at 6 min)
  after that failure; ``remaining`` says how long is left.
- ``finished_at(pod)``: the latest container ``finishedAt`` if every container finished,
  else the Ready=False transition, else deletionTimestamp minus the grace period, else
  the creation time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pyk8s.controllers import job_indexes as ji
from pyk8s.controllers.workload_pods import condition, meta
from pyk8s.controllers.workload_time import EPOCH, parse_time

__all__ = [
    "DEFAULT_BACKOFF",
    "MAX_BACKOFF",
    "BackoffRecord",
    "finished_at",
    "match_pod_failure_policy",
    "match_success_policy",
    "new_backoff_record",
    "remaining",
]

Obj = dict[str, Any]

DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0


def _terminated(
    statuses: Sequence[Mapping[str, Any]], requirement: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    want_container = requirement.get("containerName")
    values = [int(v) for v in requirement.get("values") or ()]
    operator = requirement.get("operator")
    for status in statuses:
        terminated = (status.get("state") or {}).get("terminated")
        if not terminated:
            continue
        if want_container and want_container != status.get("name"):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code == 0:
            continue
        if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
            return status
    return None


def match_pod_failure_policy(
    policy: Mapping[str, Any] | None, pod: Mapping[str, Any]
) -> tuple[str | None, bool, str | None]:
    if not policy:
        return None, True, None
    status = pod.get("status") or {}
    for index, rule in enumerate(policy.get("rules") or ()):
        action = str(rule.get("action") or "")
        message = None
        if rule.get("onExitCodes") is not None:
            container = _terminated(
                status.get("containerStatuses") or (), rule["onExitCodes"]
            ) or _terminated(status.get("initContainerStatuses") or (), rule["onExitCodes"])
            if container is None:
                continue
            message = (
                f"Container {container.get('name')} for pod {meta(pod).get('namespace')}/{meta(pod).get('name')} "
                f"failed with exit code {container['state']['terminated'].get('exitCode')} matching {action} "
                f"rule at index {index}"
            )
        elif rule.get("onPodConditions") is not None:
            matched = next(
                (
                    c
                    for c in status.get("conditions") or ()
                    for pattern in rule["onPodConditions"]
                    if c.get("type") == pattern.get("type")
                    and c.get("status") == (pattern.get("status") or "True")
                ),
                None,
            )
            if matched is None:
                continue
            message = (
                f"Pod {meta(pod).get('namespace')}/{meta(pod).get('name')} has condition {matched.get('type')} "
                f"matching {action} rule at index {index}"
            )
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
        if action == "FailJob":
            return message, True, action
    return None, True, None


def match_success_policy(
    policy: Mapping[str, Any] | None, completions: int, succeeded: ji.Intervals
) -> tuple[str, bool]:
    if not policy or not succeeded:
        return "", False
    for index, rule in enumerate(policy.get("rules") or ()):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = ji.parse(str(rule["succeededIndexes"]), completions)
            if not required:
                continue
            contained = sum(
                max(0, min(rl, sl) - max(rf, sf) + 1) for rf, rl in required for sf, sl in succeeded
            )
            if contained == ji.total(required) or (count is not None and contained >= int(count)):
                return f"Matched rules at index {index}", True
        elif count is not None and ji.total(succeeded) >= int(count):
            return f"Matched rules at index {index}", True
    return "", False


def finished_at(pod: Mapping[str, Any]) -> datetime:
    status = pod.get("status") or {}
    latest: datetime | None = None
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        at = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if at is None:
            latest = None
            break
        latest = at if latest is None or at > latest else latest
    if latest is not None:
        return latest
    ready = condition(pod, "Ready")
    if ready is not None and ready.get("status") == "False":
        at = parse_time(ready.get("lastTransitionTime"))
        if at is not None:
            return at
    deleted = parse_time(meta(pod).get("deletionTimestamp"))
    if deleted is not None:
        return deleted - timedelta(seconds=int(meta(pod).get("deletionGracePeriodSeconds") or 0))
    return parse_time(meta(pod).get("creationTimestamp")) or EPOCH


@dataclass(frozen=True, slots=True)
class BackoffRecord:
    failures_after_last_success: int = 0
    last_failure: datetime | None = None


def new_backoff_record(
    old: BackoffRecord,
    new_succeeded: Sequence[Mapping[str, Any]],
    new_failed: Sequence[Mapping[str, Any]],
) -> BackoffRecord:
    failed_times = sorted(finished_at(p) for p in new_failed)
    if not new_succeeded:
        if not failed_times:
            return old
        return BackoffRecord(old.failures_after_last_success + len(failed_times), failed_times[-1])
    last_success = max(finished_at(p) for p in new_succeeded)
    after = [t for t in failed_times if t > last_success]
    return BackoffRecord(len(after), after[-1] if after else None)


def remaining(failures: int, last_failure: datetime | None, now: datetime) -> float:
    if failures <= 0 or last_failure is None:
        return 0.0
    backoff = DEFAULT_BACKOFF
    for _ in range(1, failures):
        backoff *= 2
        if backoff >= MAX_BACKOFF:
            backoff = MAX_BACKOFF
            break
    elapsed = (now - last_failure).total_seconds()
    return 0.0 if backoff < elapsed else backoff - elapsed
