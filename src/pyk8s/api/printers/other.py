"""Printers for the smaller groups: autoscaling (HPA, v1 and v2 shapes), coordination
(leases), storage (storage classes), policy (PDBs), scheduling (priority classes) and
node (runtime classes), with upstream's columns and cell logic.

Upstream prints the internal HPA type, which is v2-shaped; an autoscaling/v1 object is
converted first (``targetCPUUtilizationPercentage`` becomes a cpu Utilization metric).
TARGETS shows two metrics and ``+ N more...``; a quantity upstream dereferences from a
nil pointer prints as ``<nil>``, as it does there.
"""

from __future__ import annotations

from datetime import datetime

from pyk8s.api.printers import descriptions as d
from pyk8s.api.printers.columns import AGE, NAME, Cell, Printer, column
from pyk8s.api.printers.formatting import (
    Obj,
    get_bool,
    get_int,
    get_list,
    get_map,
    get_str,
    since,
    text,
)

__all__ = ["PRINTERS"]


def _name(obj: Obj) -> str:
    return get_str(get_map(obj, "metadata"), "name")


def _age(obj: Obj, now: datetime) -> str:
    return since(get_map(obj, "metadata").get("creationTimestamp"), now)


# -- horizontal pod autoscalers -----------------------------------------------------------


def _v1_as_v2(hpa: Obj) -> tuple[list[Obj], list[Obj]]:
    """(spec.metrics, status.currentMetrics), converting an autoscaling/v1 object."""
    spec, status = get_map(hpa, "spec"), get_map(hpa, "status")
    v1 = get_str(hpa, "apiVersion") == "autoscaling/v1" or "targetCPUUtilizationPercentage" in spec
    if not v1:
        return get_list(spec, "metrics"), get_list(status, "currentMetrics")
    metrics: list[Obj] = []
    current: list[Obj] = []
    if (target := spec.get("targetCPUUtilizationPercentage")) is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": target},
                },
            }
        )
    if (now_cpu := status.get("currentCPUUtilizationPercentage")) is not None:
        current.append(
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": now_cpu}},
            }
        )
    return metrics, current


def _quantity(obj: Obj, key: str) -> str:
    return text(obj.get(key)) if obj.get(key) is not None else "<nil>"


def _value_metric(source: Obj, status: Obj | None) -> str:
    """External and Object metrics: a value, or an average value marked ``(avg)``."""
    target = get_map(source, "target")
    current = get_map(status or {}, "current")
    if target.get("averageValue") is not None:
        now = "<unknown>"
        if status is not None and current.get("averageValue") is not None:
            now = _quantity(current, "averageValue")
        return f"{now}/{_quantity(target, 'averageValue')} (avg)"
    now = _quantity(current, "value") if status is not None else "<unknown>"
    return f"{now}/{_quantity(target, 'value')}"


def _resource_metric(source: Obj, status: Obj | None) -> str:
    """Resource and ContainerResource metrics: ``cpu: 40%/80%`` or average values."""
    target, current = get_map(source, "target"), get_map(status or {}, "current")
    name = get_str(source, "name")
    if target.get("averageValue") is not None:
        now = _quantity(current, "averageValue") if status is not None else "<unknown>"
        return f"{name}: {now}/{_quantity(target, 'averageValue')}"
    now = "<unknown>"
    if status is not None and current.get("averageUtilization") is not None:
        now = f"{get_int(current, 'averageUtilization')}%"
    goal = "<auto>"
    if target.get("averageUtilization") is not None:
        goal = f"{get_int(target, 'averageUtilization')}%"
    return f"{name}: {now}/{goal}"


_SOURCE_KEYS = {
    "External": "external",
    "Pods": "pods",
    "Object": "object",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}


def _targets(specs: list[Obj], statuses: list[Obj]) -> str:
    if not specs:
        return "<none>"
    shown = []
    for i, spec in enumerate(specs):
        type_ = get_str(spec, "type")
        key = _SOURCE_KEYS.get(type_)
        if key is None:
            shown.append("<unknown type>")
            continue
        source = get_map(spec, key)
        status = None
        if i < len(statuses) and statuses[i].get(key) is not None:
            status = get_map(statuses[i], key)
        if type_ == "Pods":
            now = "<unknown>"
            if status is not None:
                now = _quantity(get_map(status, "current"), "averageValue")
            shown.append(f"{now}/{_quantity(get_map(source, 'target'), 'averageValue')}")
        elif type_ in ("External", "Object"):
            shown.append(_value_metric(source, status))
        else:
            shown.append(_resource_metric(source, status))
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _hpa(hpa: Obj, now: datetime) -> list[Cell]:
    spec, status = get_map(hpa, "spec"), get_map(hpa, "status")
    ref = get_map(spec, "scaleTargetRef")
    metrics, current = _v1_as_v2(hpa)
    min_replicas = spec.get("minReplicas")
    return [
        _name(hpa),
        f"{get_str(ref, 'kind')}/{get_str(ref, 'name')}",
        _targets(metrics, current),
        text(min_replicas) if min_replicas is not None else "<unset>",
        get_int(spec, "maxReplicas"),
        get_int(status, "currentReplicas"),
        _age(hpa, now),
    ]


_HPA = Printer(
    (
        NAME,
        column("Reference", "string", d.HPA_SCALE_TARGET_REF),
        column("Targets", "string", d.HPA_METRICS),
        column("MinPods", "string", d.HPA_MIN_REPLICAS),
        column("MaxPods", "string", d.HPA_MAX_REPLICAS),
        column("Replicas", "string", d.HPA_CURRENT_REPLICAS),
        AGE,
    ),
    _hpa,
)

# -- the rest -----------------------------------------------------------------------------

_DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storage_class(sc: Obj, now: datetime) -> list[Cell]:
    annotations = get_map(sc, "metadata", "annotations")
    name = _name(sc)
    if any(annotations.get(key) == "true" for key in _DEFAULT_CLASS):
        name += " (default)"
    return [
        name,
        get_str(sc, "provisioner"),
        get_str(sc, "reclaimPolicy") if sc.get("reclaimPolicy") is not None else "Delete",
        get_str(sc, "volumeBindingMode")
        if sc.get("volumeBindingMode") is not None
        else "Immediate",
        get_bool(sc, "allowVolumeExpansion"),
        _age(sc, now),
    ]


def _int_or_string(value: object) -> str:
    return text(value) if value is not None else "N/A"


def _pdb(pdb: Obj, now: datetime) -> list[Cell]:
    spec = get_map(pdb, "spec")
    return [
        _name(pdb),
        _int_or_string(spec.get("minAvailable")),
        _int_or_string(spec.get("maxUnavailable")),
        get_int(get_map(pdb, "status"), "disruptionsAllowed"),
        _age(pdb, now),
    ]


PRINTERS = {
    ("autoscaling", "horizontalpodautoscalers"): _HPA,
    ("coordination.k8s.io", "leases"): Printer(
        (NAME, column("Holder", "string", d.LEASE_HOLDER), AGE),
        lambda o, now: [_name(o), get_str(get_map(o, "spec"), "holderIdentity"), _age(o, now)],
    ),
    ("storage.k8s.io", "storageclasses"): Printer(
        (
            NAME,
            column("Provisioner", "string", d.SC_PROVISIONER),
            column("ReclaimPolicy", "string", d.SC_RECLAIM_POLICY),
            column("VolumeBindingMode", "string", d.SC_VOLUME_BINDING_MODE),
            column("AllowVolumeExpansion", "string", d.SC_ALLOW_VOLUME_EXPANSION),
            AGE,
        ),
        _storage_class,
    ),
    ("policy", "poddisruptionbudgets"): Printer(
        (
            NAME,
            column("Min Available", "string", "The minimum number of pods that must be available."),
            column(
                "Max Unavailable", "string", "The maximum number of pods that may be unavailable."
            ),
            column(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            AGE,
        ),
        _pdb,
    ),
    ("scheduling.k8s.io", "priorityclasses"): Printer(
        (
            NAME,
            column("Value", "integer", d.PC_VALUE),
            column("Global-Default", "boolean", d.PC_GLOBAL_DEFAULT),
            AGE,
            column("PreemptionPolicy", "string", d.PC_PREEMPTION_POLICY),
        ),
        lambda o, now: [
            _name(o),
            get_int(o, "value"),
            get_bool(o, "globalDefault"),
            _age(o, now),
            get_str(o, "preemptionPolicy"),
        ],
    ),
    # upstream describes Handler with ObjectMeta's (missing) "handler" doc: an empty string
    ("node.k8s.io", "runtimeclasses"): Printer(
        (NAME, column("Handler", "string", ""), AGE),
        lambda o, now: [_name(o), get_str(o, "handler"), _age(o, now)],
    ),
}
