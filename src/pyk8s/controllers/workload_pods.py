"""What the workload controllers (StatefulSet, DaemonSet, Job) need to know about pods:
the resources they touch, pod predicates, pods built from templates, and upstream's
"which pod goes first" ranking. Pure functions over JSON dicts, no I/O.

Contract (upstream's pkg/api/v1/pod and pkg/controller/controller_utils.go):
- ``is_pod_ready``: the ``Ready`` condition is ``True``. ``is_pod_available``: ready, and
  ready for longer than ``minReadySeconds`` (strictly) at ``now``; 0 means ready is enough.
- ``is_active``: not Succeeded, not Failed, not being deleted (``FilterActivePods``).
  ``is_terminating``: being deleted and not yet terminal (``CountTerminatingPods``).
- ``pod_from_template`` copies the template's labels, annotations, finalizers and spec,
  adds the controller reference and ``generateName`` ``<owner>-``; callers add identity.
- ``deletion_rank`` sorts pods the way ``controller.ActivePods`` does: the pod to remove
  first sorts first (unscheduled, pending, not ready, ready for less time, more restarts,
  newer).
- ``scaled_value`` is ``intstr.GetScaledValueFromIntOrPercent``; ``ValueError`` for a
  string that is not a percentage.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pyk8s.api import selectors
from pyk8s.client import paths
from pyk8s.controllers.workload_time import parse_time

__all__ = [
    "CONTROLLER_REVISIONS",
    "CRONJOBS",
    "DAEMONSETS",
    "JOBS",
    "NODES",
    "PODS",
    "PVCS",
    "STATEFULSETS",
    "annotations_of",
    "condition",
    "deletion_rank",
    "is_active",
    "is_pod_available",
    "is_pod_ready",
    "is_terminating",
    "labels",
    "meta",
    "phase",
    "pod_from_template",
    "scaled_value",
    "selector_of",
    "with_kind",
]

Obj = dict[str, Any]

PODS = paths.resource_for("", "v1", "pods", kind="Pod")
NODES = paths.resource_for("", "v1", "nodes", namespaced=False, kind="Node")
PVCS = paths.resource_for("", "v1", "persistentvolumeclaims", kind="PersistentVolumeClaim")
STATEFULSETS = paths.resource_for("apps", "v1", "statefulsets", kind="StatefulSet")
DAEMONSETS = paths.resource_for("apps", "v1", "daemonsets", kind="DaemonSet")
CONTROLLER_REVISIONS = paths.resource_for(
    "apps", "v1", "controllerrevisions", kind="ControllerRevision"
)
JOBS = paths.resource_for("batch", "v1", "jobs", kind="Job")
CRONJOBS = paths.resource_for("batch", "v1", "cronjobs", kind="CronJob")


# ---------------------------------------------------------------------- accessors


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    v = meta(obj).get("labels")
    return v if isinstance(v, Mapping) else {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    v = meta(obj).get("annotations")
    return v if isinstance(v, Mapping) else {}


def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == ctype:
            return c
    return None


def with_kind(obj: Mapping[str, Any], kind: str, api_version: str) -> Obj:
    """``obj`` with kind/apiVersion filled in (list items arrive without them), for events."""
    return {
        **obj,
        "kind": obj.get("kind") or kind,
        "apiVersion": obj.get("apiVersion") or api_version,
    }


def selector_of(obj: Mapping[str, Any]) -> selectors.LabelSelector:
    """The object's ``spec.selector`` (``SelectorError`` if it does not parse)."""
    sel = (obj.get("spec") or {}).get("selector")
    return selectors.from_label_selector_obj(sel if isinstance(sel, Mapping) else None)


# ---------------------------------------------------------------------- predicates


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and (now - since).total_seconds() > min_ready_seconds


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(meta(pod).get("deletionTimestamp")) and phase(pod) not in ("Succeeded", "Failed")


def is_active(pod: Mapping[str, Any]) -> bool:
    return phase(pod) not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


# ---------------------------------------------------------------------- templates


def pod_from_template(
    template: Mapping[str, Any],
    *,
    owner_ref: Mapping[str, Any],
    generate_name: str = "",
    name: str = "",
) -> Obj:
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {}
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = generate_name or f"{owner_ref.get('name', '')}-"
    if tmeta.get("labels"):
        pod_meta["labels"] = dict(tmeta["labels"])
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        pod_meta["finalizers"] = list(tmeta["finalizers"])
    pod_meta["ownerReferences"] = [dict(owner_ref)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


# ---------------------------------------------------------------------- ranking

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _zero_first_newest_first(t: datetime | None) -> tuple[int, float]:
    """afterOrZero as a sort key: zero times first, then later times before earlier."""
    return (0, 0.0) if t is None else (1, -t.timestamp())


def _max_restarts(pod: Mapping[str, Any]) -> int:
    return max(
        (
            int(s.get("restartCount") or 0)
            for s in (pod.get("status") or {}).get("containerStatuses") or ()
        ),
        default=0,
    )


def deletion_rank(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    ready = is_pod_ready(pod)
    ready_since = (
        parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime")) if ready else None
    )
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        _PHASE_RANK.get(phase(pod), 3),
        1 if ready else 0,
        _zero_first_newest_first(ready_since) if ready else (0, 0.0),
        -_max_restarts(pod),
        _zero_first_newest_first(parse_time(meta(pod).get("creationTimestamp"))),
    )


# ---------------------------------------------------------------------- int-or-percent


def scaled_value(
    value: int | str | None, total: int, *, round_up: bool, default: int | str = 0
) -> int:
    v: int | str = default if value is None else value
    if isinstance(v, bool):
        raise ValueError(f"invalid value for IntOrString: {v!r}")
    if isinstance(v, int):
        return v
    text = str(v)
    if not text.endswith("%"):
        raise ValueError(
            f"invalid value for IntOrString: invalid type: string is not a percentage: {text!r}"
        )
    try:
        pct = int(text[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: invalid value {text!r}") from None
    scaled = pct * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)
