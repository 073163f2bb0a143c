"""What one DaemonSet sync should do, computed without I/O (upstream's
daemon_controller.go ``manage``/``podsShouldBeOnNode``, update.go ``rollingUpdate`` and
``updateDaemonSetStatus``).

Contract:
- ``pods_by_node`` groups the set's pods by target node (pods with no target are dropped;
  pods that are both terminal and being deleted are left out, as upstream does).
- ``manage``: for every node — should run and has no pod: create one; should keep running:
  delete Failed/Succeeded pods (a node whose failed pods were deleted recently is in
  back-off: skipped and retried after the delay) and, without surge, every running pod but
  the oldest; with surge, keep the oldest pod of the current hash and the oldest older
  one only while the new one is not yet available; should not keep running: delete all.
  Pods with no node, pinned to nodes that do not exist, are deleted too.
- ``rolling_update`` (run only when ``manage`` has nothing to do): with ``maxSurge`` 0 delete
  old pods, first those already unavailable, then up to ``maxUnavailable`` minus the
  unavailable count; with ``maxSurge`` > 0 create new pods next to old ones on up to
  ``maxSurge`` nodes (nodes whose old pod is unavailable always qualify) and delete each old
  pod once its replacement is available. Both are scaled against the number of nodes that
  should run the pod (percentages round up); if both come out 0, maxUnavailable is 1.
- ``status``: desired/current/misscheduled/ready/available/updated counts over nodes,
  judged by each node's oldest pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyk8s.controllers import daemonset_nodes as dn
from pyk8s.controllers import workload_history as history
from pyk8s.controllers.workload_pods import (
    is_pod_available,
    is_pod_ready,
    labels,
    meta,
    phase,
    scaled_value,
)

__all__ = [
    "Manage",
    "is_updated",
    "manage",
    "max_surge_and_unavailable",
    "pods_by_node",
    "rolling_update",
    "status",
]

Obj = dict[str, Any]


@dataclass(slots=True)
class Manage:
    create_on: list[str] = field(default_factory=list)  # node names
    delete: list[Obj] = field(default_factory=list)
    failed: list[tuple[str, Obj]] = field(default_factory=list)  # (node, failed pod) deleted
    retry_after: float | None = None  # a node in failed-pod back-off


def _created_at(pod: Mapping[str, Any]) -> str:
    return str(meta(pod).get("creationTimestamp") or "")


def _by_age_and_phase(pod: Mapping[str, Any]) -> tuple[str, int, str]:
    """podByCreationTimestampAndPhase: oldest first; a Running pod before others."""
    return (_created_at(pod), 0 if phase(pod) == "Running" else 1, str(meta(pod).get("name") or ""))


def pods_by_node(pods: Sequence[Obj]) -> dict[str, list[Obj]]:
    result: dict[str, list[Obj]] = {}
    for pod in pods:
        if phase(pod) in ("Succeeded", "Failed") and meta(pod).get("deletionTimestamp"):
            continue
        node = dn.target_node(pod)
        if node is not None:
            result.setdefault(node, []).append(pod)
    return result


def is_updated(pod: Mapping[str, Any], hash_: str, generation: str | None) -> bool:
    """``util.IsPodUpdated``: the pod's hash, or its template generation, is current."""
    pod_labels = labels(pod)
    return (bool(hash_) and pod_labels.get(history.HASH_LABEL) == hash_) or (
        generation is not None and pod_labels.get(dn.GENERATION_LABEL) == generation
    )


def max_surge_and_unavailable(ds: Mapping[str, Any], desired: int) -> tuple[int, int]:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge"), desired, round_up=True, default=0)
    unavailable = scaled_value(rolling.get("maxUnavailable"), desired, round_up=True, default=1)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def manage(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    by_node: Mapping[str, Sequence[Obj]],
    *,
    hash_: str,
    now: datetime,
    backoff: Mapping[str, float],
) -> Manage:
    """``backoff``: node name → seconds left before its failed pods may be deleted again."""
    result = Manage()
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    surge, _ = max_surge_and_unavailable(ds, 1)
    node_names = set()
    for node in nodes:
        name = str(meta(node).get("name") or "")
        node_names.add(name)
        run, keep = dn.should_run(node, ds)
        pods = list(by_node.get(name) or ())
        if run and not pods:
            result.create_on.append(name)
        elif keep:
            running: list[Obj] = []
            for pod in pods:
                if meta(pod).get("deletionTimestamp"):
                    continue
                if phase(pod) == "Failed":
                    left = backoff.get(name, 0.0)
                    if left > 0:
                        result.retry_after = (
                            left if result.retry_after is None else min(result.retry_after, left)
                        )
                        continue
                    result.failed.append((name, pod))
                    result.delete.append(pod)
                elif phase(pod) == "Succeeded":
                    result.delete.append(pod)
                else:
                    running.append(pod)
            if len(running) > 1:
                result.delete += _excess(
                    running, surge > 0, hash_=hash_, min_ready=min_ready, now=now
                )
        elif pods:
            result.delete += [p for p in pods if not meta(p).get("deletionTimestamp")]
    for name, on_node in by_node.items():
        if name not in node_names:
            result.delete += [p for p in on_node if not (p.get("spec") or {}).get("nodeName")]
    return result


def _excess(
    running: list[Obj], surge: bool, *, hash_: str, min_ready: int, now: datetime
) -> list[Obj]:
    running = sorted(running, key=_by_age_and_phase)
    if not surge:
        return running[1:]
    oldest_new: Obj | None = None
    oldest_old: Obj | None = None
    extra: list[Obj] = []
    for pod in running:
        if labels(pod).get(history.HASH_LABEL) == hash_:
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        extra.append(pod)
    if (
        oldest_new is not None
        and oldest_old is not None
        and (not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready, now))
    ):
        extra.append(oldest_old)
    return extra


def _split(
    pods: Sequence[Obj], hash_: str, generation: str | None
) -> tuple[Obj | None, Obj | None, bool]:
    """``findUpdatedPodsOnNode``: (new pod, old pod, ok) — not ok for duplicates."""
    new_pod: Obj | None = None
    old_pod: Obj | None = None
    for pod in pods:
        if meta(pod).get("deletionTimestamp"):
            continue
        if is_updated(pod, hash_, generation):
            if new_pod is not None:
                return None, None, False
            new_pod = pod
        else:
            if old_pod is not None:
                return None, None, False
            old_pod = pod
    return new_pod, old_pod, True


def rolling_update(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    by_node: Mapping[str, Sequence[Obj]],
    *,
    hash_: str,
    now: datetime,
) -> tuple[list[Obj], list[str]]:
    """(old pods to delete, nodes to surge a new pod onto)."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = dn.template_generation(ds)
    should = {str(meta(n).get("name")): dn.should_run(n, ds)[0] for n in nodes}
    desired = sum(1 for v in should.values() if v)
    max_surge, max_unavailable = max_surge_and_unavailable(ds, desired)
    to_delete: list[Obj] = []
    if max_surge == 0:
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for name in sorted(by_node):
            new_pod, old_pod, ok = _split(by_node[name], hash_, generation)
            if not ok or (new_pod is None) == (old_pod is None):
                unavailable += 1
            elif new_pod is not None:
                if not is_pod_available(new_pod, min_ready, now):
                    unavailable += 1
            elif old_pod is not None:
                if not is_pod_available(old_pod, min_ready, now):
                    replace.append(old_pod)
                    unavailable += 1
                elif unavailable < max_unavailable:
                    candidates.append(old_pod)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replace + candidates[:room], []
    surged = 0
    allowed: list[str] = []
    candidate_nodes: list[str] = []
    for name in sorted(by_node):
        new_pod, old_pod, ok = _split(by_node[name], hash_, generation)
        if not ok or old_pod is None:
            continue
        if new_pod is None:
            if not is_pod_available(old_pod, min_ready, now):
                if should.get(name):
                    allowed.append(name)
            elif surged < max_surge:
                candidate_nodes.append(name)
        elif not is_pod_available(new_pod, min_ready, now):
            surged += 1
        else:
            to_delete.append(old_pod)
    room = min(max(max_surge - surged, 0), len(candidate_nodes))
    return to_delete, allowed + candidate_nodes[:room]


def status(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    by_node: Mapping[str, Sequence[Obj]],
    *,
    hash_: str,
    now: datetime,
    observe_generation: bool,
) -> Obj:
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = dn.template_generation(ds)
    desired = current = misscheduled = ready = available = updated = 0
    for node in nodes:
        run, _ = dn.should_run(node, ds)
        pods = sorted(by_node.get(str(meta(node).get("name"))) or (), key=_by_age_and_phase)
        if run:
            desired += 1
            if not pods:
                continue
            current += 1
            oldest = pods[0]
            if is_pod_ready(oldest):
                ready += 1
                if is_pod_available(oldest, min_ready, now):
                    available += 1
            if is_updated(oldest, hash_, generation):
                updated += 1
        elif pods:
            misscheduled += 1
    old = ds.get("status") or {}
    result: Obj = {
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "desiredNumberScheduled": desired,
        "numberReady": ready,
        "observedGeneration": int(meta(ds).get("generation") or 0)
        if observe_generation
        else int(old.get("observedGeneration") or 0),
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
    }
    if desired - available:
        result["numberUnavailable"] = desired - available
    if old.get("collisionCount") is not None:
        result["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        result["conditions"] = old["conditions"]
    return result
