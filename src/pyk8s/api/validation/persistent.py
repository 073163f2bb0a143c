"""core/v1 PersistentVolume and PersistentVolumeClaim (upstream messages).  A claim's
spec is immutable after creation except ``resources.requests`` and
``volumeAttributesClassName``; a PV must name exactly one volume source."""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.validation import field, names, scheduling
from pyk8s.api.validation.access import Obj, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path
from pyk8s.api.validation.quantity import QuantityError, parse_quantity

_META: Final = Path("metadata")
_SPEC: Final = Path("spec")
_PROTOCOLS: Final = ("SCTP", "TCP", "UDP")
_IP_INVALID: Final = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _meta(
    obj: Obj, *, namespaced: bool = True, name_fn: names.NameFn = names.name_is_dns_subdomain
) -> list[Cause]:
    return names.validate_object_meta(obj.get("metadata"), namespaced=namespaced, name_fn=name_fn)


def _meta_update(new: Obj, old: Obj) -> list[Cause]:
    return names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))


_ACCESS_MODES: Final = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")

__all__ = ["validate_pv", "validate_pv_update", "validate_pvc", "validate_pvc_update"]


def _access_modes(modes: list[Any], path: Path, *, required_detail: str) -> list[Cause]:
    out: list[Cause] = []
    if not modes:
        out.append(field.required(path, required_detail))
    rwop = other = False
    for m in modes:
        m = as_str(m)
        if m not in _ACCESS_MODES:
            out.append(field.not_supported(path, m, _ACCESS_MODES))
        elif m == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        out.append(field.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return out


_PV_SOURCES: Final = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "nfs",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
    "iscsi",
)


def validate_pv(pv: Obj) -> list[Cause]:
    out = _meta(pv, namespaced=False)
    spec = as_obj(pv.get("spec"))
    out.extend(
        _access_modes(
            as_list(spec.get("accessModes")), _SPEC.child("accessModes"), required_detail=""
        )
    )
    cap = as_obj(spec.get("capacity"))
    if not cap:
        out.append(field.required(_SPEC.child("capacity")))
    if "storage" not in cap or len(cap) > 1:
        shown = (
            field.GoRepr(
                "core.ResourceList{"
                + ", ".join(f'"{k}":resource.Quantity{{{cap[k]}}}' for k in sorted(cap))
                + "}"
            )
            if cap
            else field.GoRepr("core.ResourceList(nil)")
        )
        out.append(field.not_supported(_SPEC.child("capacity"), shown, ("storage",)))
    for r in sorted(cap):
        try:
            q = parse_quantity(cap[r])
        except QuantityError:
            continue
        if q.value <= 0:
            out.append(
                field.invalid(_SPEC.child("capacity").key(r), str(q), "must be greater than zero")
            )
    policy = as_str(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in ("Delete", "Recycle", "Retain"):
        out.append(
            field.not_supported(
                _SPEC.child("persistentVolumeReclaimPolicy"),
                policy,
                ("Delete", "Recycle", "Retain"),
            )
        )
    scn = as_str(spec.get("storageClassName"))
    if scn:
        out.extend(
            field.invalid(_SPEC.child("storageClassName"), scn, m)
            for m in names.is_dns1123_subdomain(scn)
        )
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in ("Block", "Filesystem"):
        out.append(field.not_supported(_SPEC.child("volumeMode"), mode, ("Block", "Filesystem")))
    affinity = as_obj(spec.get("nodeAffinity"))
    required = affinity.get("required")
    if isinstance(required, dict):
        out.extend(
            scheduling.validate_node_selector(required, _SPEC.child("nodeAffinity", "required"))
        )
    count = 0
    for key in _PV_SOURCES:
        src = spec.get(key)
        if not isinstance(src, dict):
            continue
        if count:
            out.append(field.forbidden(_SPEC.child(key), "may not specify more than 1 volume type"))
            continue
        count += 1
        sp = _SPEC.child(key)
        if key in ("hostPath", "local"):
            p = as_str(src.get("path"))
            if not p:
                out.append(field.required(sp.child("path")))
            elif ".." in p.split("/"):
                out.append(field.invalid(sp.child("path"), p, "must not contain '..'"))
            if key == "local" and not isinstance(required, dict):
                out.append(
                    field.required(
                        _SPEC.child("nodeAffinity"), "Local volume requires node affinity"
                    )
                )
        elif key == "nfs":
            if not as_str(src.get("server")):
                out.append(field.required(sp.child("server")))
            p = as_str(src.get("path"))
            if not p:
                out.append(field.required(sp.child("path")))
            if not p.startswith("/"):
                out.append(field.invalid(sp.child("path"), p, "must be an absolute path"))
        elif key == "csi":
            if not as_str(src.get("driver")):
                out.append(field.required(sp.child("driver")))
            if not as_str(src.get("volumeHandle")):
                out.append(field.required(sp.child("volumeHandle")))
    if count == 0:
        out.append(field.required(_SPEC, "must specify a volume type"))
    return out


def validate_pv_update(new: Obj, old: Obj) -> list[Cause]:
    out = _meta_update(new, old) + validate_pv(new)
    ns, os_ = as_obj(new.get("spec")), as_obj(old.get("spec"))
    for key in ("csi", "volumeMode"):
        if key in os_ and ns.get(key) != os_.get(key):
            out.append(
                field.invalid(
                    _SPEC.child(key),
                    ns.get(key) if isinstance(ns.get(key), str) else field.GoRepr("..."),
                    names.FIELD_IMMUTABLE,
                )
            )
    return out


def _pvc_spec(spec: Obj, path: Path) -> list[Cause]:
    out = _access_modes(
        as_list(spec.get("accessModes")),
        path.child("accessModes"),
        required_detail="at least 1 access mode is required",
    )
    out.extend(names.validate_label_selector(spec.get("selector"), path.child("selector")))
    req = as_obj(as_obj(spec.get("resources")).get("requests"))
    rp = path.child("resources").key("storage")
    if "storage" not in req:
        out.append(field.required(rp))
    else:
        try:
            q = parse_quantity(req["storage"])
        except QuantityError:
            q = None
        if q is not None and q.value <= 0:
            out.append(field.invalid(rp, str(q), "must be greater than zero"))
    scn = spec.get("storageClassName")
    if isinstance(scn, str) and scn:
        out.extend(
            field.invalid(path.child("storageClassName"), scn, m)
            for m in names.is_dns1123_subdomain(scn)
        )
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in ("Block", "Filesystem"):
        out.append(field.not_supported(path.child("volumeMode"), mode, ("Block", "Filesystem")))
    return out


def validate_pvc(pvc: Obj) -> list[Cause]:
    return _meta(pvc) + _pvc_spec(as_obj(pvc.get("spec")), _SPEC)


def validate_pvc_update(new: Obj, old: Obj) -> list[Cause]:
    out = _meta_update(new, old) + validate_pvc(new)
    ns, os_ = dict(as_obj(new.get("spec"))), dict(as_obj(old.get("spec")))
    bound = bool(os_.get("volumeName"))
    for key in ("resources", "volumeAttributesClassName"):
        ns.pop(key, None)
        os_.pop(key, None)
    if not bound:
        ns.pop("volumeName", None)
        os_.pop("volumeName", None)
    if ns != os_:
        out.append(
            field.forbidden(
                _SPEC,
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            )
        )
    return out
