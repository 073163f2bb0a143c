"""Serving one stored resource in more than one group-version (pure): events.k8s.io/v1
Events are stored as core/v1 Events, autoscaling/v1 HorizontalPodAutoscalers as
autoscaling/v2 — upstream's internal-version conversions, field by field.

``storage_resource(res)`` names the resource objects are stored (and validated) as;
``to_storage`` and ``from_storage`` convert a whole object in each direction. Resources
stored in their own version pass through unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from pyk8s.api import resources
from pyk8s.api.resources import Resource

__all__ = ["converts", "from_storage", "storage_resource", "to_storage"]

Obj = dict[str, Any]


def converts(res: Resource) -> bool:
    return bool(res.storage_version) and res.storage_version != res.version


def storage_resource(res: Resource) -> Resource:
    if not converts(res):
        return res
    if res.custom:
        # a CRD's versions share one schema-less conversion (strategy None)
        return dataclasses.replace(res, version=res.storage_version)
    if res.storage_version == "core/v1":
        found = resources.find("", "v1", res.plural)
    else:
        found = resources.find(res.group, res.storage_version, res.plural)
    assert found is not None, res
    return found


# events.k8s.io/v1 field ↔ core/v1 field
_EVENT_RENAMES = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)


def _rename(obj: Obj, pairs: tuple[tuple[str, str], ...], *, reverse: bool) -> Obj:
    out = copy.deepcopy(obj)
    for a, b in pairs:
        src, dst = (b, a) if reverse else (a, b)
        if src in out:
            out[dst] = out.pop(src)
    return out


def _cpu_metric(percent: int) -> Obj:
    return {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": percent},
        },
    }


def _hpa_v1_to_v2(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    pct = spec.pop("targetCPUUtilizationPercentage", None)
    if pct is not None:
        spec["metrics"] = [_cpu_metric(pct)]
    status = out.get("status")
    if isinstance(status, dict):
        cur = status.pop("currentCPUUtilizationPercentage", None)
        if cur is not None:
            status["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cur}},
                }
            ]
    return out


def _hpa_v2_to_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    for m in spec.pop("metrics", None) or []:
        res = m.get("resource") or {}
        target = res.get("target") or {}
        if (
            m.get("type") == "Resource"
            and res.get("name") == "cpu"
            and target.get("type") == "Utilization"
        ):
            spec["targetCPUUtilizationPercentage"] = target.get("averageUtilization")
    spec.pop("behavior", None)
    status = out.get("status")
    if isinstance(status, dict):
        for m in status.pop("currentMetrics", None) or []:
            res = m.get("resource") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu":
                cur = (res.get("current") or {}).get("averageUtilization")
                if cur is not None:
                    status["currentCPUUtilizationPercentage"] = cur
        status.pop("conditions", None)
    return out


def to_storage(res: Resource, obj: Obj) -> Obj:
    if not converts(res):
        return obj
    target = storage_resource(res)
    if res.custom:
        out = dict(obj)
    elif res.group == "events.k8s.io":
        out = _rename(obj, _EVENT_RENAMES, reverse=False)
    else:
        out = _hpa_v1_to_v2(obj)
    out["apiVersion"] = target.api_version
    out["kind"] = target.kind
    return out


def from_storage(res: Resource, obj: Obj) -> Obj:
    if not converts(res):
        return obj
    if res.custom:
        out = dict(obj)
    elif res.group == "events.k8s.io":
        out = _rename(obj, _EVENT_RENAMES, reverse=True)
    else:
        out = _hpa_v2_to_v1(obj)
    out["apiVersion"] = res.api_version
    out["kind"] = res.kind
    return out
