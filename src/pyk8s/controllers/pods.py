"""What a workload controller reads off a pod: active, ready, available — and which pods
to delete first when there are too many (upstream's pkg/controller ActivePodsWithRanks).

All pure. ``now`` is always passed in, so tests pin time.

Deletion order (``deletion_order``), most deletable first — upstream 1.33 with its default
feature gates (PodDeletionCost and LogarithmicScaleDown on):

1. unassigned (no ``spec.nodeName``) before assigned;
2. phase Pending < Unknown < Running (any other phase counts as Pending);
3. not ready before ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` first;
5. higher rank first (rank = active related pods on the same node: doubled-up pods go);
6. both ready: the one ready for less time first (times compared on a log2 scale of their
   age, ties broken by uid);
7. more container restarts first;
8. newer first (creation times on a log2 scale, ties by uid).
Pods equal on every rule keep their input order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pyk8s.controllers import meta

__all__ = [
    "DELETION_COST_ANNOTATION",
    "deletion_order",
    "is_active",
    "is_available",
    "is_ready",
    "max_restarts",
    "ready_since",
    "related_ranks",
]

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"

_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_active(pod: Mapping[str, Any]) -> bool:
    """Not finished and not being deleted (controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and meta.deletion_timestamp(pod) is None


def is_ready(pod: Mapping[str, Any]) -> bool:
    cond = meta.get_condition(pod.get("status"), "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> datetime | None:
    """When the pod last became ready (None if it is not ready or no time is recorded)."""
    cond = meta.get_condition(pod.get("status"), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return meta.parse_time(cond.get("lastTransitionTime"))


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def max_restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    raw = meta.annotations_of(pod).get(DELETION_COST_ANNOTATION)
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        return 0
    return value if -(2**31) <= value < 2**31 else 0


def related_ranks(
    pods: Sequence[Mapping[str, Any]], related: Sequence[Mapping[str, Any]]
) -> list[int]:
    """For each pod: how many active ``related`` pods share its node."""
    on_node: dict[str, int] = {}
    for p in related:
        if is_active(p):
            node = str((p.get("spec") or {}).get("nodeName") or "")
            on_node[node] = on_node.get(node, 0) + 1
    return [on_node.get(str((p.get("spec") or {}).get("nodeName") or ""), 0) for p in pods]


def _log_rank(t: datetime, now: datetime) -> int:
    nanos = (now - t) // timedelta(microseconds=1) * 1000
    return int(math.log2(nanos)) if nanos > 0 else -1


def _time_order(
    t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime | None
) -> int:
    """-1 if the first pod goes first: zero/missing times first, then the later time."""
    if t1 is None or t2 is None:
        if t1 is None and t2 is None:
            return 0
        return -1 if t1 is None else 1
    if t1 == t2:
        return 0
    if now is None:
        return -1 if t1 > t2 else 1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


def _compare(
    a: tuple[Mapping[str, Any], int], b: tuple[Mapping[str, Any], int], now: datetime | None
) -> int:
    pa, ra = a
    pb, rb = b
    na = str((pa.get("spec") or {}).get("nodeName") or "")
    nb = str((pb.get("spec") or {}).get("nodeName") or "")
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    oa = _PHASE_ORDINAL.get(str((pa.get("status") or {}).get("phase") or ""), 0)
    ob = _PHASE_ORDINAL.get(str((pb.get("status") or {}).get("phase") or ""), 0)
    if oa != ob:
        return -1 if oa < ob else 1
    ready_a, ready_b = is_ready(pa), is_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    ca, cb = _deletion_cost(pa), _deletion_cost(pb)
    if ca != cb:
        return -1 if ca < cb else 1
    if ra != rb:
        return -1 if ra > rb else 1
    if ready_a and ready_b:
        order = _time_order(ready_since(pa), ready_since(pb), meta.uid(pa), meta.uid(pb), now)
        if order:
            return order
    restarts_a, restarts_b = max_restarts(pa), max_restarts(pb)
    if restarts_a != restarts_b:
        return -1 if restarts_a > restarts_b else 1
    created_a = meta.parse_time((pa.get("metadata") or {}).get("creationTimestamp"))
    created_b = meta.parse_time((pb.get("metadata") or {}).get("creationTimestamp"))
    return _time_order(created_a, created_b, meta.uid(pa), meta.uid(pb), now)


def deletion_order(
    pods: Sequence[Mapping[str, Any]],
    *,
    related: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> list[Mapping[str, Any]]:
    """``pods`` sorted most-deletable first (see the module docstring)."""
    ranked: list[tuple[Mapping[str, Any], int]] = list(
        zip(pods, related_ranks(pods, related), strict=True)
    )

    def cmp(a: tuple[Mapping[str, Any], int], b: tuple[Mapping[str, Any], int]) -> int:
        return _compare(a, b, now)

    ranked.sort(key=functools.cmp_to_key(cmp))
    return [p for p, _ in ranked]
