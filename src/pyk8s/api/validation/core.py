"""The core/v1 kinds other than Pod, Service and PersistentVolume(Claim): ConfigMap,
Secret, Namespace, Node, ServiceAccount, Endpoints, Event, LimitRange, ResourceQuota,
ReplicationController, PodTemplate (core ``validation.go``, upstream messages).

Each kind has ``validate_<kind>(obj)`` for create and ``validate_<kind>_update(new, old)``
for a PUT of the main resource; both expect defaulted objects.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from pyk8s.api.validation import containers, field, names, pod, scheduling, service
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path
from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "MAX_SECRET_SIZE",
    "validate_config_map",
    "validate_config_map_update",
    "validate_endpoints",
    "validate_event",
    "validate_limit_range",
    "validate_namespace",
    "validate_namespace_update",
    "validate_node",
    "validate_node_update",
    "validate_pod_template",
    "validate_replication_controller",
    "validate_replication_controller_update",
    "validate_resource_quota",
    "validate_secret",
    "validate_secret_update",
    "validate_service_account",
]

MAX_SECRET_SIZE: Final = 1024 * 1024
_META: Final = Path("metadata")
_SPEC: Final = Path("spec")
_PROTOCOLS: Final = ("SCTP", "TCP", "UDP")
_SERVICE_TYPES: Final = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_ACCESS_MODES: Final = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_IP_INVALID: Final = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _meta(
    obj: Obj, *, namespaced: bool = True, name_fn: names.NameFn = names.name_is_dns_subdomain
) -> list[Cause]:
    return names.validate_object_meta(obj.get("metadata"), namespaced=namespaced, name_fn=name_fn)


def _meta_update(new: Obj, old: Obj) -> list[Cause]:
    return names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))


# --- ConfigMap / Secret ---------------------------------------------------------------


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(as_str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(as_str(value))


def validate_config_map(cm: Obj) -> list[Cause]:
    out = _meta(cm)
    data, binary = as_obj(cm.get("data")), as_obj(cm.get("binaryData"))
    total = 0
    for key in sorted(data):
        out.extend(
            field.invalid(Path("data").key(key), key, m) for m in names.is_config_map_key(key)
        )
        if key in binary:
            out.append(
                field.invalid(Path("data").key(key), key, "duplicate of key present in binaryData")
            )
        total += len(as_str(data[key]).encode())
    for key in sorted(binary):
        out.extend(
            field.invalid(Path("binaryData").key(key), key, m) for m in names.is_config_map_key(key)
        )
        total += _decoded_len(binary[key])
    if total > MAX_SECRET_SIZE:
        out.append(field.too_long(Path(""), MAX_SECRET_SIZE))
    return out


def _immutable_data(new: Obj, old: Obj, keys: tuple[str, ...]) -> list[Cause]:
    out: list[Cause] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            out.append(
                field.forbidden(Path("immutable"), "field is immutable when `immutable` is set")
            )
        for key in keys:
            if (new.get(key) or {}) != (old.get(key) or {}):
                out.append(field.forbidden(Path(key), "field is immutable when `immutable` is set"))
    return out


def validate_config_map_update(new: Obj, old: Obj) -> list[Cause]:
    out = _meta_update(new, old)
    out.extend(_immutable_data(new, old, ("data", "binaryData")))
    return out + validate_config_map(new)


def _secret_bytes(data: Obj, key: str) -> bytes | None:
    if key not in data:
        return None
    try:
        return base64.b64decode(as_str(data[key]), validate=True)
    except (binascii.Error, ValueError):
        return b""


def validate_secret(secret: Obj) -> list[Cause]:
    out = _meta(secret)
    data = as_obj(secret.get("data"))
    dp = Path("data")
    total = 0
    for key in sorted(data):
        out.extend(field.invalid(dp.key(key), key, m) for m in names.is_config_map_key(key))
        total += _decoded_len(data[key])
    if total > MAX_SECRET_SIZE:
        out.append(field.too_long(dp, MAX_SECRET_SIZE))
    stype = as_str(secret.get("type"))
    ann = as_obj(as_obj(secret.get("metadata")).get("annotations"))
    if stype == "kubernetes.io/service-account-token":
        if not as_str(ann.get("kubernetes.io/service-account.name")):
            out.append(
                field.required(_META.child("annotations").key("kubernetes.io/service-account.name"))
            )
    elif stype in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if stype == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        raw = _secret_bytes(data, key)
        if raw is None:
            out.append(field.required(dp.key(key)))
        else:
            detail = _go_json_map_error(raw)
            ok = not detail
            if not ok:
                out.append(field.invalid(dp.key(key), "<secret contents redacted>", detail))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            out.append(field.required(dp.key("username")))
            out.append(field.required(dp.key("password")))
    elif stype == "kubernetes.io/ssh-auth":
        if not _secret_bytes(data, "ssh-privatekey"):
            out.append(field.required(dp.key("ssh-privatekey")))
    elif stype == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                out.append(field.required(dp.key(key)))
    return out


def _go_json_map_error(raw: bytes) -> str:
    """What Go's ``json.Unmarshal(raw, &map[string]interface{}{})`` says, or "" if fine."""
    text = raw.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError as exc:
        return _go_syntax_error(text, exc)
    if isinstance(value, dict):
        return ""
    go_kind = {list: "array", str: "string", bool: "bool", type(None): ""}.get(
        type(value), "number"
    )
    if not go_kind:
        return ""  # JSON null leaves the map alone
    return f"json: cannot unmarshal {go_kind} into Go value of type map[string]interface {{}}"


def _go_syntax_error(text: str, exc: ValueError) -> str:
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return "unexpected end of JSON input"
    first = stripped[0]
    for literal in ("true", "false", "null"):
        if first == literal[0]:
            for got, want in zip(stripped[1:], literal[1:], strict=False):
                if got != want:
                    return f"invalid character {_go_char(got)} in literal {literal} (expecting {_go_char(want)})"
            break
    if first not in '{["-0123456789tfn':
        return f"invalid character {_go_char(first)} looking for beginning of value"
    if isinstance(exc, json.JSONDecodeError) and exc.pos >= len(exc.doc.rstrip()):
        return "unexpected end of JSON input"
    if isinstance(exc, json.JSONDecodeError) and exc.msg.startswith("Extra data"):
        return f"invalid character {_go_char(exc.doc[exc.pos])} after top-level value"
    return "unexpected end of JSON input"


def _go_char(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"


def validate_secret_update(new: Obj, old: Obj) -> list[Cause]:
    out = _meta_update(new, old)
    out.extend(
        names.validate_immutable(as_str(new.get("type")), as_str(old.get("type")), Path("type"))
    )
    out.extend(_immutable_data(new, old, ("data",)))
    return out + validate_secret(new)


# --- Namespace, ServiceAccount, Node ----------------------------------------------------


def validate_namespace(ns: Obj) -> list[Cause]:
    out = _meta(ns, namespaced=False, name_fn=names.name_is_dns_label)
    for f in as_list(as_obj(ns.get("spec")).get("finalizers")):
        out.extend(names.validate_finalizer_name(as_str(f), _SPEC.child("finalizers")))
    return out


def validate_namespace_update(new: Obj, old: Obj) -> list[Cause]:
    return _meta_update(new, old)


def validate_service_account(sa: Obj) -> list[Cause]:
    return _meta(sa)


def _taints(taints: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(as_list(taints)):
        t = as_obj(t)
        ip = path.index(i)
        key, value, effect = as_str(t.get("key")), as_str(t.get("value")), as_str(t.get("effect"))
        out.extend(field.invalid(ip.child("key"), key, m) for m in names.is_qualified_name(key))
        errs = names.is_label_value(value)
        if errs:
            out.append(field.invalid(ip.child("value"), value, ";".join(errs)))
        out.extend(scheduling.validate_taint_effect(effect, ip.child("effect"), allow_empty=False))
        if (key, effect) in seen:
            shown = field.GoRepr(
                f"core.Taint{{Key:{field.go_quote(key)}, Value:{field.go_quote(value)}, Effect:{field.go_quote(effect)}, TimeAdded:<nil>}}"
            )
            out.append(
                field.Cause(
                    field.DUPLICATE,
                    str(ip),
                    f"Duplicate value: {shown}: taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((key, effect))
    return out


def validate_node(node: Obj) -> list[Cause]:
    out = _meta(node, namespaced=False)
    spec = as_obj(node.get("spec"))
    out.extend(_taints(spec.get("taints"), _SPEC.child("taints")))
    cidrs = [as_str(c) for c in as_list(spec.get("podCIDRs"))]
    for i, c in enumerate(cidrs):
        out.extend(service.cidr_errors(c, _SPEC.child("podCIDRs").index(i)))
    if len(cidrs) > 2:
        out.append(
            field.invalid(
                _SPEC.child("podCIDRs"),
                field.go_str_list(cidrs),
                "may specify no more than one CIDR for each IP family",
            )
        )
    return out


def validate_node_update(new: Obj, old: Obj) -> list[Cause]:
    out = _meta_update(new, old)
    out.extend(validate_node(new))
    ns, os_ = as_obj(new.get("spec")), as_obj(old.get("spec"))
    old_cidrs = as_list(os_.get("podCIDRs"))
    if old_cidrs and as_list(ns.get("podCIDRs")) != old_cidrs:
        out.append(
            field.forbidden(
                _SPEC.child("podCIDRs"),
                'node updates may not change podCIDR except from "" to valid',
            )
        )
    if as_str(os_.get("providerID")) and ns.get("providerID") != os_.get("providerID"):
        out.append(
            field.forbidden(
                _SPEC.child("providerID"),
                'node updates may not change providerID except from "" to valid',
            )
        )
    return out


# --- Endpoints, Event, LimitRange, ResourceQuota ------------------------------------------


def validate_endpoints(ep: Obj) -> list[Cause]:
    out = _meta(ep)
    for i, ss in enumerate(as_list(ep.get("subsets"))):
        ss = as_obj(ss)
        sp = Path("subsets").index(i)
        addrs, nra = as_list(ss.get("addresses")), as_list(ss.get("notReadyAddresses"))
        if not addrs and not nra:
            out.append(field.required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for key, lst in (("addresses", addrs), ("notReadyAddresses", nra)):
            for j, a in enumerate(lst):
                ip = as_str(as_obj(a).get("ip"))
                if not names.is_valid_ip(ip):
                    out.append(field.invalid(sp.child(key).index(j).child("ip"), ip, _IP_INVALID))
        for j, p in enumerate(as_list(ss.get("ports"))):
            p = as_obj(p)
            pp = sp.child("ports").index(j)
            pname = as_str(p.get("name"))
            if len(as_list(ss.get("ports"))) > 1 and not pname:
                out.append(field.required(pp.child("name")))
            elif pname:
                out.extend(names.validate_dns1123_label(pname, pp.child("name")))
            port = as_int(p.get("port"))
            out.extend(
                field.invalid(pp.child("port"), port, m) for m in names.is_valid_port_num(port)
            )
            proto = as_str(p.get("protocol"))
            if not proto:
                out.append(field.required(pp.child("protocol")))
            elif proto not in _PROTOCOLS:
                out.append(field.not_supported(pp.child("protocol"), proto, _PROTOCOLS))
    return out


def validate_event(ev: Obj, *, core_v1: bool = True) -> list[Cause]:
    """``legacyValidateEvent`` (core/v1 and events.k8s.io share storage)."""
    out: list[Cause] = []
    meta = as_obj(ev.get("metadata"))
    ns = as_str(meta.get("namespace"))
    inv_ns = as_str(
        as_obj(ev.get("involvedObject") if core_v1 else ev.get("regarding")).get("namespace")
    )
    inv_path = Path("involvedObject", "namespace")
    if not ev.get("eventTime"):
        if (not inv_ns and ns not in ("", "default")) or (inv_ns and ns != inv_ns):
            out.append(field.invalid(inv_path, inv_ns, "does not match event.namespace"))
    else:
        if not inv_ns and ns not in ("default", "kube-system"):
            out.append(field.invalid(inv_path, inv_ns, "does not match event.namespace"))
        rc_name = "source" if core_v1 else "reportingController"
        rc = as_str(ev.get("reportingComponent") if core_v1 else ev.get("reportingController"))
        if not rc:
            out.append(field.required(Path(rc_name)))
        out.extend(names.validate_qualified_name(rc, Path(rc_name)))
        for key in ("reportingInstance", "action", "reason"):
            if not as_str(ev.get(key)):
                out.append(field.required(Path(key)))
    out.extend(field.invalid(Path("namespace"), ns, m) for m in names.is_dns1123_subdomain(ns))
    return out


def validate_limit_range(lr: Obj) -> list[Cause]:
    out = _meta(lr)
    for i, item in enumerate(as_list(as_obj(lr.get("spec")).get("limits"))):
        item = as_obj(item)
        ip = _SPEC.child("limits").index(i)
        ltype = as_str(item.get("type"))
        out.extend(
            field.invalid(ip.child("type"), ltype, m) for m in names.is_qualified_name(ltype)
        )
        if "/" not in ltype and ltype not in ("Pod", "Container", "PersistentVolumeClaim"):
            out.append(
                field.invalid(
                    ip.child("type"), ltype, "must be a standard limit type or fully qualified"
                )
            )
        if ltype == "Pod" and (item.get("default") or item.get("defaultRequest")):
            out.append(
                field.forbidden(ip.child("default"), "may not be specified when `type` is 'Pod'")
            )
    return out


def validate_resource_quota(rq: Obj) -> list[Cause]:
    out = _meta(rq)
    hard = as_obj(as_obj(rq.get("spec")).get("hard"))
    for name in sorted(hard):
        hp = _SPEC.child("hard").key(name)
        out.extend(containers.validate_resource_name(name, hp))
        try:
            q = parse_quantity(hard[name])
        except QuantityError:
            continue
        if q.value < 0:
            out.append(field.invalid(hp, str(q), names.IS_NEGATIVE))
    return out


# --- ReplicationController, PodTemplate --------------------------------------------------


def validate_replication_controller(rc: Obj) -> list[Cause]:
    return _meta(rc) + _rc_spec(rc)


def _rc_spec(rc: Obj) -> list[Cause]:
    out: list[Cause] = []
    spec = as_obj(rc.get("spec"))
    out.extend(names.validate_nonnegative(as_int(spec.get("replicas")), _SPEC.child("replicas")))
    out.extend(
        names.validate_nonnegative(
            as_int(spec.get("minReadySeconds")), _SPEC.child("minReadySeconds")
        )
    )
    selector = as_obj(spec.get("selector"))
    if not selector:
        out.append(field.required(_SPEC.child("selector")))
    out.extend(names.validate_labels(selector, _SPEC.child("selector")))
    tmpl = spec.get("template")
    tp = _SPEC.child("template")
    if not isinstance(tmpl, dict):
        out.append(field.required(tp))
        return out
    labels = as_obj(as_obj(tmpl.get("metadata")).get("labels"))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        out.append(
            field.invalid(
                tp.child("metadata", "labels"),
                field.go_str_map(labels or None),
                "`selector` does not match template `labels`",
            )
        )
    out.extend(pod.validate_pod_template_spec(tmpl, tp))
    restart = as_str(as_obj(tmpl.get("spec")).get("restartPolicy"))
    if restart != "Always":
        out.append(field.not_supported(tp.child("spec", "restartPolicy"), restart, ("Always",)))
    if as_obj(tmpl.get("spec")).get("activeDeadlineSeconds") is not None:
        out.append(
            field.forbidden(
                tp.child("spec", "activeDeadlineSeconds"),
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return out


def validate_replication_controller_update(new: Obj, old: Obj) -> list[Cause]:
    return _meta_update(new, old) + _rc_spec(new)


def validate_pod_template(pt: Obj) -> list[Cause]:
    return _meta(pt) + pod.validate_pod_template_spec(pt.get("template"), Path("template"))
