"""A Deployment's status and conditions, computed from its ReplicaSets (pure; upstream's
sync.go calculateStatus, progress.go syncRolloutStatus and checkPausedConditions).

Conditions and their upstream messages:

- ``Available``: True/MinimumReplicasAvailable "Deployment has minimum availability." when
  at least replicas - maxUnavailable pods are available, else
  False/MinimumReplicasUnavailable "Deployment does not have minimum availability.".
- ``Progressing`` (only with a progress deadline): True/NewReplicaSetCreated 'Created new
  replica set "x"', True/FoundNewReplicaSet 'Found new replica set "x"',
  True/ReplicaSetUpdated 'ReplicaSet "x" is progressing.' (``lastUpdateTime`` moves on
  every sign of progress), True/NewReplicaSetAvailable 'ReplicaSet "x" has successfully
  progressed.', False/ProgressDeadlineExceeded 'ReplicaSet "x" has timed out progressing.'
  once ``progressDeadlineSeconds`` pass without progress, Unknown/DeploymentPaused
  "Deployment is paused" and Unknown/DeploymentResumed "Deployment is resumed".
- ``ReplicaFailure``: copied from the new ReplicaSet (else any old one).

``progress_check_after`` says when to look again for a timeout (upstream's
requeueStuckDeployment), so a stuck rollout times out without waiting for a resync.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pyk8s.controllers import deployment_replicasets as drs
from pyk8s.controllers import meta

__all__ = [
    "calculate_status",
    "deployment_complete",
    "deployment_progressing",
    "deployment_timed_out",
    "has_progress_deadline",
    "new_condition",
    "paused_condition",
    "progress_check_after",
    "rollout_status",
    "status_equal",
    "without_zero_counts",
]

Obj = dict[str, Any]
RS = Mapping[str, Any]
MAX_INT32 = 2**31 - 1

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"


def new_condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    ts = meta.format_time(now)
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def _sum(rss: Sequence[RS | None], field: str) -> int:
    return sum(int(((rs or {}).get("status") or {}).get(field) or 0) for rs in rss if rs)


def calculate_status(
    all_rss: Sequence[RS | None], new: RS | None, d: Mapping[str, Any], now: datetime
) -> Obj:
    available = _sum(all_rss, "availableReplicas")
    total = sum(drs.replicas(rs) for rs in all_rss if rs is not None)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": meta.generation(d),
        "replicas": _sum(all_rss, "replicas"),
        "updatedReplicas": _sum([new], "replicas"),
        "readyReplicas": _sum(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(list(old["conditions"]))
    if available >= drs.replicas(d) - drs.max_unavailable(d):
        cond = new_condition(
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        cond = new_condition(
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    meta.set_condition(status, cond, keep_transition=True)
    return status


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    want = drs.replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0) >= meta.generation(d)
    )


def deployment_progressing(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    old = d.get("status") or {}

    def n(s: Mapping[str, Any], k: str) -> int:
        return int(s.get(k) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(status, "replicas") - n(status, "updatedReplicas")
    return (
        n(status, "updatedReplicas") > n(old, "updatedReplicas")
        or new_old < old_old
        or n(status, "readyReplicas") > n(old, "readyReplicas")
        or n(status, "availableReplicas") > n(old, "availableReplicas")
    )


def deployment_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = meta.get_condition(status, PROGRESSING)
    if cond is None:
        return False
    if cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = meta.parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return since + timedelta(seconds=deadline) < now


def _replica_failures(all_rss: Sequence[RS | None], new: RS | None) -> list[Obj]:
    def from_rs(rs: RS | None) -> list[Obj]:
        out = []
        for c in ((rs or {}).get("status") or {}).get("conditions") or ():
            if c.get("type") == REPLICA_FAILURE:
                out.append(
                    {
                        "type": REPLICA_FAILURE,
                        "status": c.get("status"),
                        "lastTransitionTime": c.get("lastTransitionTime"),
                        "lastUpdateTime": c.get("lastTransitionTime"),
                        "reason": c.get("reason"),
                        "message": c.get("message"),
                    }
                )
        return out

    found = from_rs(new)
    if found:
        return found
    return [c for rs in all_rss for c in from_rs(rs)]


def rollout_status(
    all_rss: Sequence[RS | None], new: RS | None, d: Mapping[str, Any], now: datetime
) -> Obj:
    """syncRolloutStatus: the status to write after a rollout step."""
    status = calculate_status(all_rss, new, d, now)
    if not has_progress_deadline(d):
        meta.remove_condition(status, PROGRESSING)
    current = meta.get_condition(d.get("status"), PROGRESSING)
    complete_already = (
        int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
        and current is not None
        and current.get("reason") == "NewReplicaSetAvailable"
    )
    if has_progress_deadline(d) and not complete_already:
        subject = (
            f'ReplicaSet "{meta.name(new)}"' if new is not None else f'Deployment "{meta.name(d)}"'
        )
        if deployment_complete(d, status):
            cond = new_condition(
                PROGRESSING,
                "True",
                "NewReplicaSetAvailable",
                f"{subject} has successfully progressed.",
                now,
            )
            meta.set_condition(status, cond, keep_transition=True)
        elif deployment_progressing(d, status):
            cond = new_condition(
                PROGRESSING, "True", "ReplicaSetUpdated", f"{subject} is progressing.", now
            )
            if current is not None:
                if current.get("status") == "True" and current.get("lastTransitionTime"):
                    cond["lastTransitionTime"] = current["lastTransitionTime"]
                meta.remove_condition(status, PROGRESSING)
            meta.set_condition(status, cond, keep_transition=True)
        elif deployment_timed_out(d, status, now):
            cond = new_condition(
                PROGRESSING,
                "False",
                "ProgressDeadlineExceeded",
                f"{subject} has timed out progressing.",
                now,
            )
            meta.set_condition(status, cond, keep_transition=True)
    failures = _replica_failures(all_rss, new)
    if failures:
        meta.set_condition(status, failures[0], keep_transition=True)
    else:
        meta.remove_condition(status, REPLICA_FAILURE)
    return status


def progress_check_after(
    d: Mapping[str, Any], status: Mapping[str, Any], now: datetime
) -> float | None:
    """requeueStuckDeployment: seconds until the next progress check (0 = now), or None."""
    current = meta.get_condition(d.get("status"), PROGRESSING)
    if not has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, status) or current.get("reason") == "ProgressDeadlineExceeded":
        return None
    since = meta.parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    after = (since + timedelta(seconds=deadline) - now).total_seconds()
    return 0.0 if after < 1 else after + 1


def paused_condition(d: Mapping[str, Any], now: datetime) -> Obj | None:
    """checkPausedConditions: the status with a paused/resumed condition, if it changes."""
    if not has_progress_deadline(d):
        return None
    current = meta.get_condition(d.get("status"), PROGRESSING)
    if current is not None and current.get("reason") == "ProgressDeadlineExceeded":
        return None
    paused_exists = current is not None and current.get("reason") == "DeploymentPaused"
    paused = bool((d.get("spec") or {}).get("paused"))
    if paused and not paused_exists:
        cond = new_condition(
            PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused", now
        )
    elif not paused and paused_exists:
        cond = new_condition(
            PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed", now
        )
    else:
        return None
    status = copy.deepcopy(dict(d.get("status") or {}))
    meta.set_condition(status, cond, keep_transition=True)
    return status


def status_equal(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """DeepEqual of two DeploymentStatus: an absent count is the same as 0."""

    def normal(status: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (status or {}).items() if v not in (0, None, [], {})}

    return normal(a) == normal(b)


_OMIT_EMPTY = (
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
)


def without_zero_counts(status: Mapping[str, Any]) -> Obj:
    """DeploymentStatus counts are omitempty upstream: leave zeros out."""
    return {k: v for k, v in status.items() if not (k in _OMIT_EMPTY and not v)}
