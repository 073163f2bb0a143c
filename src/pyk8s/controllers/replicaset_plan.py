"""What a ReplicaSet (or ReplicationController) should look like, as pure functions: the
kind descriptor (``Workload``), how many pods to create or which to delete
(``plan_replicas``: upstream's manageReplicas, with its 500-pod burst cap and the
deletion ranking of ``pods.deletion_order``), and the status to report
(``replica_status``: calculateStatus, with the ReplicaFailure condition).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyk8s.api import resources
from pyk8s.api import selectors as sel
from pyk8s.client import paths
from pyk8s.controllers import meta, pods, refs

__all__ = [
    "BURST_REPLICAS",
    "ORPHANS_BY_NAMESPACE",
    "REPLICATION_CONTROLLER",
    "REPLICA_SET",
    "ReplicaPlan",
    "Workload",
    "desired_replicas",
    "orphan_namespace_index",
    "plan_replicas",
    "replica_status",
    "status_needs_update",
]

Obj = dict[str, Any]
Pod = Mapping[str, Any]

BURST_REPLICAS = 500
ORPHANS_BY_NAMESPACE = "controllers/orphans-by-namespace"


@dataclass(frozen=True, slots=True)
class Workload:
    """Which kind a replica controller manages."""

    resource: resources.Resource
    kind: str
    component: str  # the events' source
    map_selector: bool  # ReplicationController: spec.selector is a plain label map

    @property
    def api_version(self) -> str:
        return self.resource.api_version

    def selector(self, obj: Mapping[str, Any]) -> sel.LabelSelector:
        raw = (obj.get("spec") or {}).get("selector")
        if self.map_selector:
            if not raw:
                return sel.LabelSelector(nothing=True)
            raw = {"matchLabels": raw}
        return sel.from_label_selector_obj(raw)


REPLICA_SET = Workload(
    resource=paths.resource_for("apps", "v1", "replicasets", kind="ReplicaSet"),
    kind="ReplicaSet",
    component="replicaset-controller",
    map_selector=False,
)
REPLICATION_CONTROLLER = Workload(
    resource=paths.resource_for("", "v1", "replicationcontrollers", kind="ReplicationController"),
    kind="ReplicationController",
    component="replication-controller",
    map_selector=True,
)


def orphan_namespace_index(obj: Mapping[str, Any]) -> Iterable[str]:
    """Pods without a controller, by namespace: the candidates for adoption."""
    return () if refs.controller_of(obj) is not None else (meta.namespace(obj),)


# ---------------------------------------------------------------------- decisions


def desired_replicas(rs: Mapping[str, Any]) -> int:
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


@dataclass(frozen=True, slots=True)
class ReplicaPlan:
    create: int = 0
    delete: tuple[Pod, ...] = ()


def plan_replicas(
    rs: Mapping[str, Any],
    active: Sequence[Pod],
    *,
    related: Sequence[Pod] = (),
    now: datetime | None = None,
    burst: int = BURST_REPLICAS,
) -> ReplicaPlan:
    """How many pods to create, or which to delete (manageReplicas)."""
    diff = len(active) - desired_replicas(rs)
    if diff < 0:
        return ReplicaPlan(create=min(-diff, burst))
    if diff > 0:
        diff = min(diff, burst)
        ordered = (
            pods.deletion_order(active, related=related, now=now)
            if diff < len(active)
            else list(active)
        )
        return ReplicaPlan(delete=tuple(ordered[:diff]))
    return ReplicaPlan()


def replica_status(
    rs: Mapping[str, Any],
    active: Sequence[Pod],
    *,
    manage_error: str | None,
    now: datetime,
) -> Obj:
    """calculateStatus: counts over the claimed active pods, and ReplicaFailure."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    status: Obj = {k: v for k, v in (rs.get("status") or {}).items()}
    labeled = ready = available = 0
    for pod in active:
        pod_labels = meta.labels(pod)
        if all(pod_labels.get(k) == v for k, v in template_labels.items()):
            labeled += 1
        if pods.is_ready(pod):
            ready += 1
            if pods.is_available(pod, min_ready, now):
                available += 1
    failure = meta.get_condition(status, "ReplicaFailure")
    if manage_error is not None and failure is None:
        diff = len(active) - desired_replicas(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        status["conditions"] = list(status.get("conditions") or [])
        meta.set_condition(
            status,
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": meta.format_time(now),
                "reason": reason,
                "message": manage_error,
            },
            keep_transition=False,
        )
    elif manage_error is None and failure is not None:
        status["conditions"] = list(status.get("conditions") or [])
        meta.remove_condition(status, "ReplicaFailure")
    status["replicas"] = len(active)
    status["fullyLabeledReplicas"] = labeled
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    return status


_COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")


def status_needs_update(rs: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    old = rs.get("status") or {}
    if any(int(old.get(k) or 0) != int(status.get(k) or 0) for k in _COUNTS):
        return True
    if meta.generation(rs) != int(old.get("observedGeneration") or 0):
        return True
    return (old.get("conditions") or []) != (status.get("conditions") or [])
