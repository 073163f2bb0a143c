"""The selector that default spreading uses for a pod (upstream's helper.DefaultSelector):
the merged selectors of the Services in the pod's namespace that select it, plus the
selector of its controller when that is a ReplicationController, ReplicaSet or
StatefulSet. Empty when nothing selects the pod (then no default constraint applies)."""

from __future__ import annotations

from pyk8s.api.label_selectors import (
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    from_label_selector_obj,
)
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot

__all__ = ["default_selector"]


def default_selector(snapshot: Snapshot, pod: PodInfo) -> LabelSelector:
    merged: dict[str, str] = {}
    prefix = pod.namespace + "/"
    for key, svc in snapshot.services.items():
        if not key.startswith(prefix):
            continue
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(pod.labels.get(k) == v for k, v in sel.items()):
            merged.update(sel)
    extra: list[Requirement] = []
    owners = (pod.pod.get("metadata") or {}).get("ownerReferences") or ()
    owner = next((o for o in owners if o.get("controller")), None)
    if owner is not None:
        kind = str(owner.get("kind") or "")
        obj = snapshot.workloads.get(f"{kind}/{pod.namespace}/{owner.get('name')}")
        spec = (obj or {}).get("spec") or {}
        if kind == "ReplicationController":
            merged.update({str(k): str(v) for k, v in (spec.get("selector") or {}).items()})
        elif obj is not None:
            try:
                extra = list(from_label_selector_obj(spec.get("selector")).requirements)
            except SelectorError:
                extra = []
    reqs = [Requirement(k, Operator.EQUALS, (v,)) for k, v in sorted(merged.items())]
    return LabelSelector(tuple(reqs + extra))
