"""The smaller groups: Lease, PodDisruptionBudget, PriorityClass, StorageClass,
RuntimeClass, EndpointSlice, HorizontalPodAutoscaler (required fields, names, ranges and
immutable fields with upstream messages)."""

from __future__ import annotations

from typing import Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "validate_endpoint_slice",
    "validate_endpoint_slice_update",
    "validate_hpa",
    "validate_lease",
    "validate_pdb",
    "validate_priority_class",
    "validate_priority_class_update",
    "validate_runtime_class",
    "validate_runtime_class_update",
    "validate_storage_class",
    "validate_storage_class_update",
]

_SPEC: Final = Path("spec")
_HIGHEST_USER_PRIORITY: Final = 1_000_000_000


def _meta(
    obj: Obj, *, namespaced: bool, name_fn: names.NameFn = names.name_is_dns_subdomain
) -> list[Cause]:
    return names.validate_object_meta(obj.get("metadata"), namespaced=namespaced, name_fn=name_fn)


def validate_lease(lease: Obj) -> list[Cause]:
    out = _meta(lease, namespaced=True)
    spec = as_obj(lease.get("spec"))
    lds = spec.get("leaseDurationSeconds")
    if isinstance(lds, int) and lds <= 0:
        out.append(
            field.invalid(_SPEC.child("leaseDurationSeconds"), lds, "must be greater than 0")
        )
    lt = spec.get("leaseTransitions")
    if isinstance(lt, int) and lt < 0:
        out.append(
            field.invalid(_SPEC.child("leaseTransitions"), lt, "must be greater than or equal to 0")
        )
    strategy = spec.get("strategy")
    if isinstance(strategy, str) and strategy != "OldestEmulationVersion":
        out.append(
            field.not_supported(_SPEC.child("strategy"), strategy, ("OldestEmulationVersion",))
        )
    return out


def _int_or_percent(v: object, path: Path) -> list[Cause]:
    if isinstance(v, str):
        return [
            field.invalid(path, field.go_int_or_string(v), m) for m in names.is_valid_percent(v)
        ]
    return names.validate_nonnegative(as_int(v), path)


def validate_pdb(pdb: Obj) -> list[Cause]:
    out = _meta(pdb, namespaced=True)
    spec = as_obj(pdb.get("spec"))
    mina, maxu = spec.get("minAvailable"), spec.get("maxUnavailable")
    if mina is not None and maxu is not None:
        out.append(
            field.invalid(
                _SPEC,
                field.GoRepr("policy.PodDisruptionBudgetSpec{...}"),
                "minAvailable and maxUnavailable cannot be both set",
            )
        )
    for key, v in (("minAvailable", mina), ("maxUnavailable", maxu)):
        if v is not None:
            out.extend(_int_or_percent(v, _SPEC.child(key)))
            if isinstance(v, str) and v.endswith("%") and v[:-1].isdigit() and int(v[:-1]) > 100:
                out.append(
                    field.invalid(
                        _SPEC.child(key), field.go_int_or_string(v), "must not be greater than 100%"
                    )
                )
    out.extend(names.validate_label_selector(spec.get("selector"), _SPEC.child("selector")))
    uhep = spec.get("unhealthyPodEvictionPolicy")
    if isinstance(uhep, str) and uhep not in ("AlwaysAllow", "IfHealthyBudget"):
        out.append(
            field.not_supported(
                _SPEC.child("unhealthyPodEvictionPolicy"), uhep, ("AlwaysAllow", "IfHealthyBudget")
            )
        )
    return out


def validate_priority_class(pc: Obj) -> list[Cause]:
    out = _meta(pc, namespaced=False)
    name = as_str(as_obj(pc.get("metadata")).get("name"))
    value = as_int(pc.get("value"))
    system = name in ("system-node-critical", "system-cluster-critical")
    if name.startswith("system-") and not system:
        out.append(
            field.forbidden(
                Path("metadata", "name"),
                "priority class names with 'system-' prefix are reserved for system use only",
            )
        )
    elif not system and value > _HIGHEST_USER_PRIORITY:
        out.append(
            field.forbidden(
                Path("value"),
                f"maximum allowed value of a user defined priority is {_HIGHEST_USER_PRIORITY}",
            )
        )
    pp = pc.get("preemptionPolicy")
    if isinstance(pp, str) and pp not in ("PreemptLowerPriority", "Never"):
        out.append(
            field.not_supported(Path("preemptionPolicy"), pp, ("PreemptLowerPriority", "Never"))
        )
    return out


def validate_priority_class_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    if new.get("value") != old.get("value"):
        out.append(field.forbidden(Path("value"), "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        out.append(
            field.invalid(
                Path("preemptionPolicy"), as_str(new.get("preemptionPolicy")), names.FIELD_IMMUTABLE
            )
        )
    return out


def validate_storage_class(sc: Obj) -> list[Cause]:
    out = _meta(sc, namespaced=False)
    prov = as_str(sc.get("provisioner"))
    if not prov:
        out.append(field.required(Path("provisioner")))
    else:
        out.extend(
            field.invalid(Path("provisioner"), prov, m)
            for m in names.is_qualified_name(prov.lower())
        )
    params = as_obj(sc.get("parameters"))
    if len(params) > 512:
        out.append(field.too_long(Path("parameters"), 512))
    total = 0
    for k in sorted(params):
        if not k:
            out.append(field.invalid(Path("parameters"), k, "field can not be empty."))
        total += len(k) + len(as_str(params[k]))
    if total > 256 * 1024:
        out.append(field.too_long(Path("parameters"), 256 * 1024))
    rp = sc.get("reclaimPolicy")
    if isinstance(rp, str) and rp not in ("Delete", "Retain"):
        out.append(field.not_supported(Path("reclaimPolicy"), rp, ("Delete", "Retain")))
    vbm = sc.get("volumeBindingMode")
    if vbm is None:
        out.append(field.required(Path("volumeBindingMode")))
    elif vbm not in ("Immediate", "WaitForFirstConsumer"):
        out.append(
            field.not_supported(
                Path("volumeBindingMode"), as_str(vbm), ("Immediate", "WaitForFirstConsumer")
            )
        )
    return out


def validate_storage_class_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    if new.get("parameters") != old.get("parameters"):
        out.append(field.forbidden(Path("parameters"), "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        out.append(field.forbidden(Path("provisioner"), "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        out.append(
            field.forbidden(Path("reclaimPolicy"), "updates to reclaimPolicy are forbidden.")
        )
    out.extend(
        names.validate_immutable(
            new.get("volumeBindingMode"), old.get("volumeBindingMode"), Path("volumeBindingMode")
        )
    )
    return out


def validate_runtime_class(rc: Obj) -> list[Cause]:
    out = _meta(rc, namespaced=False)
    handler = as_str(rc.get("handler"))
    if not handler:
        out.append(field.required(Path("handler")))
    else:
        out.extend(names.validate_dns1123_label(handler, Path("handler")))
    return out


def validate_runtime_class_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    return out + names.validate_immutable(
        as_str(new.get("handler")), as_str(old.get("handler")), Path("handler")
    )


_ADDRESS_TYPES: Final = ("IPv4", "IPv6", "FQDN")


def validate_endpoint_slice(es: Obj) -> list[Cause]:
    out = _meta(es, namespaced=True)
    at = as_str(es.get("addressType"))
    if at not in _ADDRESS_TYPES:
        out.append(field.not_supported(Path("addressType"), at, _ADDRESS_TYPES))
    endpoints = as_list(es.get("endpoints"))
    if len(endpoints) > 1000:
        out.append(field.too_many(Path("endpoints"), len(endpoints), 1000))
    for i, ep in enumerate(endpoints):
        ep = as_obj(ep)
        ap = Path("endpoints").index(i).child("addresses")
        addrs = [as_str(a) for a in as_list(ep.get("addresses"))]
        if not addrs:
            out.append(field.required(ap, "must contain at least 1 address"))
        elif len(addrs) > 100:
            out.append(field.too_many(ap, len(addrs), 100))
        for j, a in enumerate(addrs):
            if at in ("IPv4", "IPv6") and (
                not names.is_valid_ip(a) or (":" in a) != (at == "IPv6")
            ):
                detail = (
                    "must be a valid IPv4 address"
                    if at == "IPv4"
                    else "must be a valid IPv6 address"
                )
                out.append(field.invalid(ap.index(j), a, detail))
            elif at == "FQDN":
                out.extend(field.invalid(ap.index(j), a, m) for m in names.is_dns1123_subdomain(a))
        hostname = ep.get("hostname")
        if isinstance(hostname, str):
            out.extend(
                names.validate_dns1123_label(hostname, Path("endpoints").index(i).child("hostname"))
            )
    ports = as_list(es.get("ports"))
    seen: set[str] = set()
    for i, p in enumerate(ports):
        p = as_obj(p)
        pp = Path("ports").index(i)
        pname = as_str(p.get("name"))
        if pname:
            out.extend(names.validate_dns1123_label(pname, pp.child("name")))
        if pname in seen:
            out.append(field.duplicate(pp.child("name"), pname))
        seen.add(pname)
        proto = p.get("protocol")
        if not isinstance(proto, str):
            out.append(field.required(pp.child("protocol")))
        elif proto not in ("SCTP", "TCP", "UDP"):
            out.append(field.not_supported(pp.child("protocol"), proto, ("SCTP", "TCP", "UDP")))
        port = p.get("port")
        if isinstance(port, int):
            out.extend(
                field.invalid(pp.child("port"), port, m) for m in names.is_valid_port_num(port)
            )
    return out


def validate_endpoint_slice_update(new: Obj, old: Obj) -> list[Cause]:
    out = (
        names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
        + validate_endpoint_slice(new)[len(_meta(new, namespaced=True)) :]
    )
    if as_str(new.get("addressType")) != as_str(old.get("addressType")):
        out.append(
            field.invalid(
                Path("addressType"), as_str(new.get("addressType")), names.FIELD_IMMUTABLE
            )
        )
    return out


def validate_hpa(hpa: Obj) -> list[Cause]:
    out = _meta(hpa, namespaced=True)
    spec = as_obj(hpa.get("spec"))
    ref = as_obj(spec.get("scaleTargetRef"))
    rp = _SPEC.child("scaleTargetRef")
    kind, name = as_str(ref.get("kind")), as_str(ref.get("name"))
    if not kind:
        out.append(field.required(rp.child("kind")))
    else:
        out.extend(
            field.invalid(rp.child("kind"), kind, m)
            for m in ("may not be '.'", "may not be '..'")
            if kind in (".", "..")
        )
    if not name:
        out.append(field.required(rp.child("name")))
    min_r = spec.get("minReplicas")
    max_r = as_int(spec.get("maxReplicas"))
    if isinstance(min_r, int) and min_r < 1:
        out.append(
            field.invalid(_SPEC.child("minReplicas"), min_r, "must be greater than or equal to 1")
        )
    if max_r < 1:
        out.append(field.invalid(_SPEC.child("maxReplicas"), max_r, "must be greater than 0"))
    if isinstance(min_r, int) and min_r > max_r:
        out.append(
            field.invalid(
                _SPEC.child("maxReplicas"), max_r, "must be greater than or equal to `minReplicas`"
            )
        )
    for i, m in enumerate(as_list(spec.get("metrics"))):
        mtype = as_str(as_obj(m).get("type"))
        if mtype not in ("Object", "Pods", "Resource", "External", "ContainerResource"):
            out.append(
                field.not_supported(
                    _SPEC.child("metrics").index(i).child("type"),
                    mtype,
                    ("ContainerResource", "External", "Object", "Pods", "Resource"),
                )
            )
    return out
