"""How big each of a Deployment's ReplicaSets should be — pure plans for the controller to
carry out (upstream's sync.go ``scale``, rolling.go, recreate.go and cleanup).

Every plan is a list of ``Scale(rs, to)``; the controller writes them in order, records a
``ScalingReplicaSet`` event for each size change, and refreshes the desired/max replica
annotations on every ReplicaSet it writes.

- ``proportional_scale`` (a scaling event, or a paused Deployment): one active ReplicaSet
  takes the whole count; a saturated new ReplicaSet scales the old ones to 0; otherwise
  (RollingUpdate) the replicas to add or remove are spread over the active ReplicaSets in
  proportion to their size (``deployment.kubernetes.io/max-replicas`` says what each was
  sized for), larger ones first — newer first when adding, older first when removing —
  and the rounding leftover goes to the first.
- ``plan_new_rs`` / ``plan_old_scale_down`` (a rolling update step): grow the new
  ReplicaSet up to replicas + maxSurge in total; shrink old ones while at least
  replicas - maxUnavailable pods stay available, removing unhealthy replicas first
  (oldest ReplicaSet first) so they never block the rollout.
- Recreate: every old ReplicaSet to 0, and only when no old pod is left running, the new
  one to the full count (``old_pods_running``).
- ``replicasets_to_clean_up``: the oldest revisions beyond ``revisionHistoryLimit`` that
  are fully scaled down and observed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.controllers import deployment_replicasets as drs
from pyk8s.controllers import meta

__all__ = [
    "Scale",
    "filter_active",
    "get_proportion",
    "is_scaling_event",
    "old_pods_running",
    "plan_new_rs",
    "plan_old_scale_down",
    "proportional_scale",
    "replicasets_to_clean_up",
    "sort_by_revision",
]

RS = Mapping[str, Any]
MAX_INT32 = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Scale:
    rs: RS
    to: int

    @property
    def frm(self) -> int:
        return drs.replicas(self.rs)


def filter_active(rss: Sequence[RS | None]) -> list[RS]:
    return [rs for rs in rss if rs is not None and drs.replicas(rs) > 0]


def _available(rs: RS | None) -> int:
    return int(((rs or {}).get("status") or {}).get("availableReplicas") or 0)


def _go_round(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _rs_fraction(rs: RS, d: Mapping[str, Any]) -> int:
    if drs.replicas(d) == 0:
        return -drs.replicas(rs)
    deployment_replicas = drs.replicas(d) + drs.max_surge(d)
    annotated = drs.annotation_int(rs, drs.MAX_REPLICAS)
    if annotated is None:
        annotated = int((d.get("status") or {}).get("replicas") or 0)
    if annotated == 0:
        return 0
    return _go_round(drs.replicas(rs) * deployment_replicas / annotated) - drs.replicas(rs)


def get_proportion(rs: RS | None, d: Mapping[str, Any], to_add: int, added: int) -> int:
    if rs is None or drs.replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _by_size(rss: Sequence[RS], *, newer_first: bool) -> list[RS]:
    by_creation = {meta.uid(rs): i for i, rs in enumerate(drs.sort_by_creation(rss))}

    def cmp(a: RS, b: RS) -> int:
        ra, rb = drs.replicas(a), drs.replicas(b)
        if ra != rb:
            return -1 if ra > rb else 1
        ia, ib = by_creation[meta.uid(a)], by_creation[meta.uid(b)]
        if ia == ib:
            return 0
        return (-1 if ia > ib else 1) if newer_first else (-1 if ia < ib else 1)

    return sorted(rss, key=functools.cmp_to_key(cmp))


def proportional_scale(d: Mapping[str, Any], new: RS | None, old: Sequence[RS]) -> list[Scale]:
    target = drs.find_active_or_latest(new, old)
    if target is not None:
        if drs.replicas(target) == drs.replicas(d):
            return []
        return [Scale(target, drs.replicas(d))]
    if drs.is_saturated(d, new):
        return [Scale(rs, 0) for rs in filter_active(old)]
    if not drs.is_rolling_update(d):
        return []
    active = filter_active([*old, new])
    total = sum(drs.replicas(rs) for rs in active)
    allowed = drs.replicas(d) + drs.max_surge(d) if drs.replicas(d) > 0 else 0
    to_add = allowed - total
    if to_add > 0:
        active = _by_size(active, newer_first=True)
    elif to_add < 0:
        active = _by_size(active, newer_first=False)
    sizes: list[int] = []
    added = 0
    for rs in active:
        if to_add != 0:
            proportion = get_proportion(rs, d, to_add, added)
            sizes.append(drs.replicas(rs) + proportion)
            added += proportion
        else:
            sizes.append(drs.replicas(rs))
    if active and to_add != 0:
        sizes[0] = max(0, sizes[0] + to_add - added)
    return [Scale(rs, size) for rs, size in zip(active, sizes, strict=True)]


def is_scaling_event(d: Mapping[str, Any], all_rss: Sequence[RS | None]) -> bool:
    for rs in filter_active(all_rss):
        desired = drs.annotation_int(rs, drs.DESIRED_REPLICAS)
        if desired is not None and desired != drs.replicas(d):
            return True
    return False


# ---------------------------------------------------------------------- rolling update


def plan_new_rs(d: Mapping[str, Any], all_rss: Sequence[RS], new: RS) -> Scale | None:
    """reconcileNewReplicaSet: the new ReplicaSet's next size, if it changes."""
    want = drs.replicas(d)
    have = drs.replicas(new)
    if have == want:
        return None
    if have > want:
        return Scale(new, want)
    size = drs.new_rs_new_replicas(d, all_rss, new)
    return Scale(new, size) if size != have else None


def plan_old_scale_down(
    d: Mapping[str, Any], all_rss: Sequence[RS], old_active: Sequence[RS], new: RS | None
) -> list[Scale]:
    """reconcileOldReplicaSets: unhealthy replicas first, then as availability allows."""
    if sum(drs.replicas(rs) for rs in old_active) == 0:
        return []
    all_pods = sum(drs.replicas(rs) for rs in all_rss)
    min_available = drs.replicas(d) - drs.max_unavailable(d)
    new_unavailable = (drs.replicas(new) - _available(new)) if new is not None else 0
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return []
    ordered = drs.sort_by_creation(old_active)
    sizes = {meta.uid(rs): drs.replicas(rs) for rs in ordered}
    cleaned = 0
    for rs in ordered:
        if cleaned >= max_scaled_down:
            break
        size, avail = sizes[meta.uid(rs)], _available(rs)
        if size == 0 or size <= avail:
            continue
        down = min(max_scaled_down - cleaned, size - avail)
        sizes[meta.uid(rs)] = size - down
        cleaned += down
    available = sum(_available(rs) for rs in [*old_active, new] if rs is not None)
    if available > min_available:
        budget = available - min_available
        done = 0
        for rs in ordered:
            if done >= budget:
                break
            size = sizes[meta.uid(rs)]
            if size == 0:
                continue
            down = min(size, budget - done)
            sizes[meta.uid(rs)] = size - down
            done += down
    return [
        Scale(rs, sizes[meta.uid(rs)]) for rs in ordered if sizes[meta.uid(rs)] != drs.replicas(rs)
    ]


# ---------------------------------------------------------------------- recreate


def old_pods_running(
    new: RS | None, old: Sequence[RS], pods_by_rs: Mapping[str, Sequence[Mapping[str, Any]]]
) -> bool:
    """Any old ReplicaSet reporting replicas, or any old pod not finished (Unknown counts)."""
    if sum(int((rs.get("status") or {}).get("replicas") or 0) for rs in old) > 0:
        return True
    for rs_uid, pods in pods_by_rs.items():
        if new is not None and rs_uid == meta.uid(new):
            continue
        if any((p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for p in pods):
            return True
    return False


# ---------------------------------------------------------------------- cleanup


def sort_by_revision(rss: Sequence[RS]) -> list[RS]:
    order = {meta.uid(rs): i for i, rs in enumerate(drs.sort_by_creation(rss))}
    return sorted(rss, key=lambda rs: (drs.revision(rs) or 0, order[meta.uid(rs)]))


def replicasets_to_clean_up(d: Mapping[str, Any], old: Sequence[RS]) -> list[RS]:
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    if limit is None or int(limit) == MAX_INT32:
        return []
    cleanable = [rs for rs in old if meta.deletion_timestamp(rs) is None]
    diff = len(cleanable) - int(limit)
    if diff <= 0:
        return []
    out = []
    for rs in sort_by_revision(cleanable)[:diff]:
        status = rs.get("status") or {}
        if (
            int(status.get("replicas") or 0) != 0
            or drs.replicas(rs) != 0
            or meta.generation(rs) > int(status.get("observedGeneration") or 0)
        ):
            continue
        out.append(rs)
    return out
