"""What one StatefulSet sync should do, computed without I/O (upstream's
``updateStatefulSet`` in stateful_set_control.go).

``plan(set, pods, …)`` returns the status to record and ``phases`` of ``Step``s. The
applier runs the phases in order and stops at the first failure. Within a phase:
- OrderedReady (monotonic): the steps run one at a time, in order. The planner already
  stops where upstream's loop would return: after a creation, at a pod that is not yet
  Running and Ready (and available for ``minReadySeconds``), at a terminating pod, after
  a scale-down deletion.
- Parallel (burst): the steps may run concurrently (slow-start batches).

Phases, as upstream: (1) replicas in ascending ordinal order — delete failed/succeeded
pods, create missing ones (claims first), create missing claims of pending pods, bring
identities and claim owner references in line; (2) condemned pods (ordinal out of range)
— claim owner references for the scale-down retention policy; (3) condemned pods in
descending ordinal order — delete; (4) rolling update — delete up to ``maxUnavailable``
pods not at the update revision, highest ordinal first, down to ``partition``, while no
more than ``maxUnavailable`` replicas are unavailable. OnDelete stops after (3); a set
being deleted gets no steps at all.

Status counts every pod that exists (``replicas``), Running+Ready (``readyReplicas``),
available (``availableReplicas``), and non-terminating pods at the current/update
revision; deletions planned in phase (4) lower ``currentReplicas``, and a finished rolling
update makes the update revision current (``completeRollingUpdate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pyk8s.controllers import statefulset_pods as sp
from pyk8s.controllers.workload_pods import (
    is_pod_available,
    is_pod_ready,
    meta,
    phase,
    scaled_value,
)

__all__ = ["Plan", "Step", "StepKind", "plan", "replica_status"]

Obj = dict[str, Any]


class StepKind(StrEnum):
    CREATE = "create"  # claims (if missing), then the pod
    DELETE = "delete"
    CREATE_CLAIMS = "create-claims"  # a pending pod's missing claims
    UPDATE = "update"  # identity labels and/or claim owner references
    FIX_CLAIMS = "fix-claims"  # claim owner references only (condemned pods)


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    pod: Obj
    ordinal: int
    reason: str = ""  # "failed", "scale-down", "update" for deletions


@dataclass(slots=True)
class Plan:
    status: Obj
    monotonic: bool
    phases: list[list[Step]] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [s for p in self.phases for s in p]


def _running_and_ready(pod: Mapping[str, Any]) -> bool:
    return phase(pod) == "Running" and is_pod_ready(pod)


def _created(pod: Mapping[str, Any]) -> bool:
    return phase(pod) != ""


def _terminating(pod: Mapping[str, Any]) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def _unavailable(pod: Mapping[str, Any], min_ready: int, now: datetime) -> bool:
    return not is_pod_available(pod, min_ready, now) or _terminating(pod)


def replica_status(
    pods: Sequence[Mapping[str, Any]], *, min_ready: int, current: str, update: str, now: datetime
) -> dict[str, int]:
    counts = {
        "replicas": 0,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "currentReplicas": 0,
        "updatedReplicas": 0,
    }
    for pod in pods:
        if _created(pod):
            counts["replicas"] += 1
        if _running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_pod_available(pod, min_ready, now):
                counts["availableReplicas"] += 1
        if _created(pod) and not _terminating(pod):
            rev = sp.pod_revision(pod)
            if rev == current:
                counts["currentReplicas"] += 1
            if rev == update:
                counts["updatedReplicas"] += 1
    return counts


def _claims_match(
    update_set: Mapping[str, Any], pod: Mapping[str, Any], claims: Mapping[str, Obj]
) -> bool:
    """``ClaimsMatchRetentionPolicy``; a claim not in the cache counts as matching."""
    for claim in sp.claims_for(update_set, sp.ordinal(pod)).values():
        cached = claims.get(claim["metadata"]["name"])
        if cached is not None and not sp.claim_owner_up_to_date(cached, update_set, pod):
            return False
    return True


def _claim_is_stale(
    sts: Mapping[str, Any], pod: Mapping[str, Any], claims: Mapping[str, Obj]
) -> bool:
    """``PodClaimIsStale``: with WhenScaled=Delete, a claim still owned by an older pod."""
    if sp.retention_policy(sts)[1] == "Retain":
        return False
    for claim in sp.claims_for(sts, sp.ordinal(pod)).values():
        cached = claims.get(claim["metadata"]["name"])
        if cached is not None:
            for ref in meta(cached).get("ownerReferences") or ():
                if (
                    ref.get("kind") == "Pod"
                    and ref.get("name") == meta(pod).get("name")
                    and ref.get("uid") != meta(pod).get("uid")
                ):
                    return True
    return False


def _missing_claims(sts: Mapping[str, Any], ord_: int, claims: Mapping[str, Obj]) -> bool:
    return any(c["metadata"]["name"] not in claims for c in sp.claims_for(sts, ord_).values())


def plan(
    sts: Mapping[str, Any],
    pods: Sequence[Obj],
    *,
    current_set: Mapping[str, Any],
    update_set: Mapping[str, Any],
    current_revision: str,
    update_revision: str,
    collision_count: int,
    claims: Mapping[str, Obj],
    now: datetime,
) -> Plan:
    spec = sts.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    monotonic = spec.get("podManagementPolicy") != "Parallel"
    start, count = sp.start_ordinal(sts), sp.replicas(sts)

    replicas: list[Obj | None] = [None] * count
    condemned: list[Obj] = []
    for pod in pods:
        o = sp.ordinal(pod)
        if sp.in_ordinal_range(pod, sts):
            replicas[o - start] = pod
        elif o >= 0:
            condemned.append(pod)
    slots: list[Obj] = [
        p
        if p is not None
        else sp.new_versioned_pod(
            current_set, update_set, current_revision, update_revision, start + i
        )
        for i, p in enumerate(replicas)
    ]
    condemned.sort(key=sp.ordinal, reverse=True)

    first_unavailable: Obj | None = next(
        (p for p in slots if _unavailable(p, min_ready, now)), None
    )
    if first_unavailable is None:
        first_unavailable = next(
            (p for p in reversed(condemned) if _unavailable(p, min_ready, now)), None
        )

    counts = replica_status(
        [*slots, *condemned],
        min_ready=min_ready,
        current=current_revision,
        update=update_revision,
        now=now,
    )
    status: Obj = {
        "observedGeneration": int(meta(sts).get("generation") or 0),
        **counts,
        "currentRevision": current_revision,
        "updateRevision": update_revision,
        "collisionCount": collision_count,
    }
    result = Plan(status=status, monotonic=monotonic)
    if not meta(sts).get("deletionTimestamp"):
        _plan_steps(
            result,
            sts,
            slots,
            condemned,
            first_unavailable=first_unavailable,
            update_set=update_set,
            update_revision=update_revision,
            claims=claims,
            now=now,
        )
    _complete_rolling_update(sts, status)
    return result


def _plan_steps(
    result: Plan,
    sts: Mapping[str, Any],
    slots: list[Obj],
    condemned: list[Obj],
    *,
    first_unavailable: Obj | None,
    update_set: Mapping[str, Any],
    update_revision: str,
    claims: Mapping[str, Obj],
    now: datetime,
) -> None:
    spec = sts.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    monotonic = result.monotonic
    status = result.status

    # (1) replicas
    phase1: list[Step] = []
    result.phases.append(phase1)
    blocked = False
    for pod in slots:
        o = sp.ordinal(pod)
        if phase(pod) in ("Failed", "Succeeded"):
            if not _terminating(pod):
                phase1.append(Step(StepKind.DELETE, pod, o, "failed"))
            blocked = monotonic
        elif not _created(pod):
            if _claim_is_stale(sts, pod, claims):
                blocked = monotonic
            else:
                phase1.append(Step(StepKind.CREATE, pod, o))
                blocked = monotonic
        else:
            if phase(pod) == "Pending" and _missing_claims(sts, o, claims):
                phase1.append(Step(StepKind.CREATE_CLAIMS, pod, o))
            if monotonic and (
                _terminating(pod)
                or not _running_and_ready(pod)
                or not is_pod_available(pod, min_ready, now)
            ):
                blocked = True
            elif not (
                sp.identity_matches(sts, pod)
                and sp.storage_matches(sts, pod)
                and _claims_match(update_set, pod, claims)
            ):
                phase1.append(Step(StepKind.UPDATE, pod, o))
        if blocked:
            return

    # (2) claim owner references of condemned pods
    phase2 = [
        Step(StepKind.FIX_CLAIMS, p, sp.ordinal(p))
        for p in condemned
        if not _claims_match(update_set, p, claims)
    ]
    result.phases.append(phase2)

    # (3) scale down, highest ordinal first
    phase3: list[Step] = []
    result.phases.append(phase3)
    for pod in condemned:
        if _terminating(pod):
            if monotonic:
                return
            continue
        if (
            monotonic
            and pod is not first_unavailable
            and (not _running_and_ready(pod) or not is_pod_available(pod, min_ready, now))
        ):
            return
        phase3.append(Step(StepKind.DELETE, pod, sp.ordinal(pod), "scale-down"))
        if monotonic:
            return

    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return

    # (4) rolling update
    rolling = strategy.get("rollingUpdate") or {}
    partition = int(rolling.get("partition") or 0)
    count = len(slots)
    max_unavailable = max(
        1, scaled_value(rolling.get("maxUnavailable"), count, round_up=False, default=1)
    )
    unavailable = sum(1 for p in slots if _unavailable(p, min_ready, now))
    phase4: list[Step] = []
    result.phases.append(phase4)
    if unavailable > max_unavailable:
        return
    budget = max_unavailable - unavailable
    for index in range(len(slots) - 1, partition - 1, -1):
        if budget <= 0:
            break
        pod = slots[index]
        if sp.pod_revision(pod) != update_revision and not _terminating(pod):
            phase4.append(Step(StepKind.DELETE, pod, sp.ordinal(pod), "update"))
            status["currentReplicas"] -= 1
            budget -= 1


def _complete_rolling_update(sts: Mapping[str, Any], status: Obj) -> None:
    spec = sts.get("spec") or {}
    want = sp.replicas(sts)
    if (
        (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        and status["updatedReplicas"] == want
        and status["readyReplicas"] == want
        and status["replicas"] == want
    ):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]
