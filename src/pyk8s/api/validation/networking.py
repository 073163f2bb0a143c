"""networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy (upstream messages).

Ingress paths of type Exact/Prefix must be absolute and free of ``//``, ``/./``,
``/../``, ``%2f``; the regex-looking paths ingress-nginx users write (``/(.*)``) are
accepted, as upstream's apiserver accepts them.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "is_valid_path_segment_name",
    "validate_ingress",
    "validate_ingress_class",
    "validate_ingress_class_update",
    "validate_ingress_update",
    "validate_network_policy",
    "validate_network_policy_update",
]

_SPEC: Final = Path("spec")
_INVALID_SEQUENCES: Final = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_SUFFIXES: Final = ("/..", "/.")
_PATH_TYPES: Final = ("Exact", "ImplementationSpecific", "Prefix")


def is_valid_path_segment_name(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: what may appear as one URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _typed_ref(ref: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    group = ref.get("apiGroup")
    if isinstance(group, str):
        out.extend(
            field.invalid(path.child("apiGroup"), group, m)
            for m in names.is_dns1123_subdomain(group)
        )
    for key in ("kind", "name"):
        v = as_str(ref.get(key))
        if not v:
            out.append(field.required(path.child(key), f"{key} is required"))
        else:
            out.extend(field.invalid(path.child(key), v, m) for m in is_valid_path_segment_name(v))
    return out


def _backend(backend: Obj, path: Path) -> list[Cause]:
    has_resource = isinstance(backend.get("resource"), dict)
    svc = backend.get("service")
    if has_resource and isinstance(svc, dict):
        return [field.invalid(path, "", "cannot set both resource and service backends")]
    if has_resource:
        return _typed_ref(backend["resource"], path.child("resource"))
    if not isinstance(svc, dict):
        return [field.invalid(path, "", "resource or service backend is required")]
    out: list[Cause] = []
    name = as_str(svc.get("name"))
    if not name:
        out.append(field.required(path.child("service", "name")))
    else:
        out.extend(
            field.invalid(path.child("service", "name"), name, m)
            for m in names.is_dns1035_label(name)
        )
    port = as_obj(svc.get("port"))
    pname, pnum = as_str(port.get("name")), as_int(port.get("number"))
    if pname and pnum:
        out.append(field.invalid(path, "", "cannot set both port name & port number"))
    elif pname:
        out.extend(
            field.invalid(path.child("service", "port", "name"), pname, m)
            for m in names.is_valid_port_name(pname)
        )
    elif pnum:
        out.extend(
            field.invalid(path.child("service", "port", "number"), pnum, m)
            for m in names.is_valid_port_num(pnum)
        )
    else:
        out.append(field.required(path, "port name or number is required"))
    return out


def _http_path(p: Obj, path: Path) -> list[Cause]:
    ptype = p.get("pathType")
    if not isinstance(ptype, str):
        return [field.required(path.child("pathType"), "pathType must be specified")]
    out: list[Cause] = []
    value = as_str(p.get("path"))
    if ptype in ("Exact", "Prefix"):
        if not value.startswith("/"):
            out.append(field.invalid(path.child("path"), value, "must be an absolute path"))
        if value:
            out.extend(
                field.invalid(path.child("path"), value, f"must not contain '{s}'")
                for s in _INVALID_SEQUENCES
                if s in value
            )
            out.extend(
                field.invalid(path.child("path"), value, f"cannot end with '{s}'")
                for s in _INVALID_SUFFIXES
                if value.endswith(s)
            )
    elif ptype == "ImplementationSpecific":
        if value and not value.startswith("/"):
            out.append(field.invalid(path.child("path"), value, "must be an absolute path"))
    else:
        out.append(field.not_supported(path.child("pathType"), ptype, _PATH_TYPES))
    return out + _backend(as_obj(p.get("backend")), path.child("backend"))


def _is_ip(host: str) -> bool:
    return names.is_valid_ip(host)


def _spec(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    rules = as_list(spec.get("rules"))
    if not rules and not isinstance(spec.get("defaultBackend"), dict):
        shown = (
            field.GoRepr("[]networking.IngressRule(nil)")
            if spec.get("rules") is None
            else field.GoRepr("[]networking.IngressRule{}")
        )
        out.append(
            field.invalid(_SPEC, shown, "either `defaultBackend` or `rules` must be specified")
        )
    if isinstance(spec.get("defaultBackend"), dict):
        out.extend(_backend(spec["defaultBackend"], _SPEC.child("defaultBackend")))
    for i, rule in enumerate(rules):
        rule = as_obj(rule)
        rp = _SPEC.child("rules").index(i)
        host = as_str(rule.get("host"))
        if host:
            if _is_ip(host):
                out.append(
                    field.invalid(rp.child("host"), host, "must be a DNS name, not an IP address")
                )
            if "*" in host:
                out.extend(
                    field.invalid(rp.child("host"), host, m)
                    for m in names.is_wildcard_dns1123_subdomain(host)
                )
            else:
                out.extend(
                    field.invalid(rp.child("host"), host, m)
                    for m in names.is_dns1123_subdomain(host)
                )
        http = rule.get("http")
        if isinstance(http, dict):
            paths = as_list(http.get("paths"))
            if not paths:
                out.append(field.required(rp.child("http", "paths")))
            for j, p in enumerate(paths):
                out.extend(_http_path(as_obj(p), rp.child("http", "paths").index(j)))
    for i, tls in enumerate(as_list(spec.get("tls"))):
        tls = as_obj(tls)
        tp = _SPEC.child("tls").index(i)
        for j, host in enumerate(as_list(tls.get("hosts"))):
            host = as_str(host)
            check = (
                names.is_wildcard_dns1123_subdomain if "*" in host else names.is_dns1123_subdomain
            )
            out.extend(field.invalid(tp.child("hosts").index(j), host, m) for m in check(host))
        secret = as_str(tls.get("secretName"))
        if secret:
            out.extend(
                field.invalid(tp.child("secretName"), secret, m)
                for m in names.is_dns1123_subdomain(secret)
            )
    icn = spec.get("ingressClassName")
    if isinstance(icn, str):
        out.extend(
            field.invalid(_SPEC.child("ingressClassName"), icn, m)
            for m in names.is_dns1123_subdomain(icn)
        )
    return out


def validate_ingress(ing: Obj) -> list[Cause]:
    meta = as_obj(ing.get("metadata"))
    out = names.validate_object_meta(meta, namespaced=True, name_fn=names.name_is_dns_subdomain)
    spec = as_obj(ing.get("spec"))
    out.extend(_spec(spec))
    ann = as_obj(meta.get("annotations")).get("kubernetes.io/ingress.class")
    icn = spec.get("ingressClassName")
    if isinstance(ann, str) and isinstance(icn, str) and ann != icn:
        out.append(
            field.invalid(
                Path("annotations", "kubernetes.io/ingress.class"),
                ann,
                "must match `ingressClassName` when both are specified",
            )
        )
    return out


def validate_ingress_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    return out + _spec(as_obj(new.get("spec")))


def validate_ingress_class(ic: Obj) -> list[Cause]:
    out = names.validate_object_meta(
        ic.get("metadata"), namespaced=False, name_fn=names.name_is_dns_subdomain
    )
    return out + _ingress_class_spec(as_obj(ic.get("spec")))


def _ingress_class_spec(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    controller = as_str(spec.get("controller"))
    cp = _SPEC.child("controller")
    if len(controller) > 250:
        out.append(field.too_long(cp, 250))
    if not controller:
        out.append(field.required(cp))
    else:
        parts = controller.split("/", 1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            out.append(
                field.invalid(
                    cp, controller, 'must be a domain-prefixed path (such as "acme.io/foo")'
                )
            )
        else:
            out.extend(field.invalid(cp, parts[0], m) for m in names.is_dns1123_subdomain(parts[0]))
    params = spec.get("parameters")
    if isinstance(params, dict):
        pp = _SPEC.child("parameters")
        out.extend(_typed_ref(params, pp))
        scope, ns = params.get("scope"), params.get("namespace")
        if scope is None:
            if ns is not None:
                out.append(
                    field.required(
                        pp.child("scope"),
                        "`parameters.scope` is required when `parameters.namespace` is set",
                    )
                )
        elif scope not in ("Namespace", "Cluster"):
            out.append(field.not_supported(pp.child("scope"), scope, ("Cluster", "Namespace")))
        elif scope == "Namespace" and ns is None:
            out.append(
                field.required(pp.child("namespace"), "`parameters.scope` is set to 'Namespace'")
            )
        elif scope == "Cluster" and ns is not None:
            out.append(
                field.forbidden(pp.child("namespace"), "`parameters.scope` is set to 'Cluster'")
            )
    return out


def validate_ingress_class_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    out.extend(_ingress_class_spec(as_obj(new.get("spec"))))
    nc = as_str(as_obj(new.get("spec")).get("controller"))
    oc = as_str(as_obj(old.get("spec")).get("controller"))
    out.extend(names.validate_immutable(nc, oc, _SPEC.child("controller")))
    return out


# --- NetworkPolicy ---------------------------------------------------------------------------


def _cidr(
    value: str, path: Path
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network | None, list[Cause]]:
    try:
        return ipaddress.ip_network(value, strict=False), []
    except ValueError:
        return None, [
            field.invalid(
                path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            )
        ]


def _np_port(port: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    proto = port.get("protocol")
    if isinstance(proto, str) and proto not in ("TCP", "UDP", "SCTP"):
        out.append(field.not_supported(path.child("protocol"), proto, ("TCP", "UDP", "SCTP")))
    p, end = port.get("port"), port.get("endPort")
    if isinstance(p, int) and not isinstance(p, bool):
        out.extend(field.invalid(path.child("port"), p, m) for m in names.is_valid_port_num(p))
        if isinstance(end, int):
            if end < p:
                out.append(
                    field.invalid(
                        path.child("endPort"), p, "must be greater than or equal to `port`"
                    )
                )
            out.extend(
                field.invalid(path.child("endPort"), end, m) for m in names.is_valid_port_num(end)
            )
    elif isinstance(p, str):
        if isinstance(end, int):
            out.append(
                field.invalid(
                    path.child("endPort"), end, "may not be specified when `port` is non-numeric"
                )
            )
        out.extend(field.invalid(path.child("port"), p, m) for m in names.is_valid_port_name(p))
    elif isinstance(end, int):
        out.append(
            field.invalid(
                path.child("endPort"), end, "may not be specified when `port` is not specified"
            )
        )
    return out


def _np_peer(peer: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    n = 0
    for key in ("podSelector", "namespaceSelector"):
        if isinstance(peer.get(key), dict):
            n += 1
            out.extend(names.validate_label_selector(peer[key], path.child(key)))
    ipb = peer.get("ipBlock")
    if isinstance(ipb, dict):
        n += 1
        bp = path.child("ipBlock")
        cidr = as_str(ipb.get("cidr"))
        if not cidr:
            out.append(field.required(bp.child("cidr")))
        else:
            net, errs = _cidr(cidr, bp.child("cidr"))
            out.extend(errs)
            if net is not None:
                for i, ex in enumerate(as_list(ipb.get("except"))):
                    ex = as_str(ex)
                    ep = bp.child("except").index(i)
                    exn, errs = _cidr(ex, ep)
                    out.extend(errs)
                    if exn is None:
                        continue
                    if (
                        exn.version != net.version
                        or exn.network_address not in net
                        or net.prefixlen >= exn.prefixlen
                    ):
                        out.append(field.invalid(ep, ex, "must be a strict subset of `cidr`"))
    if n == 0:
        out.append(field.required(path, "must specify a peer"))
    elif n > 1 and isinstance(ipb, dict):
        out.append(field.forbidden(path, "may not specify both ipBlock and another peer"))
    return out


def _np_spec(spec: Obj) -> list[Cause]:
    out = names.validate_label_selector(spec.get("podSelector"), _SPEC.child("podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_list(spec.get(direction))):
            rule = as_obj(rule)
            rp = _SPEC.child(direction).index(i)
            for j, port in enumerate(as_list(rule.get("ports"))):
                out.extend(_np_port(as_obj(port), rp.child("ports").index(j)))
            for j, peer in enumerate(as_list(rule.get(peers))):
                out.extend(_np_peer(as_obj(peer), rp.child(peers).index(j)))
    types = as_list(spec.get("policyTypes"))
    if len(types) > 2:
        out.append(
            field.invalid(
                _SPEC.child("policyTypes"),
                field.go_str_list(types, "networking.PolicyType"),
                "may not specify more than two policyTypes",
            )
        )
        return out
    for i, t in enumerate(types):
        if t not in ("Ingress", "Egress"):
            out.append(
                field.not_supported(
                    _SPEC.child("policyTypes").index(i), as_str(t), ("Ingress", "Egress")
                )
            )
    return out


def validate_network_policy(np_: Obj) -> list[Cause]:
    out = names.validate_object_meta(
        np_.get("metadata"), namespaced=True, name_fn=names.name_is_dns_subdomain
    )
    return out + _np_spec(as_obj(np_.get("spec")))


def validate_network_policy_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    return out + _np_spec(as_obj(new.get("spec")))
