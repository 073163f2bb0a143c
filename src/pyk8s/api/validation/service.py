"""core/v1 Service (``ValidateService``, ``ValidateServiceUpdate``, upstream messages),
and the node-port range check upstream's allocator makes.

ClusterIPs, ipFamilies and nodePorts are allocated by the apiserver before validation
(as upstream's store does in ``BeginCreate``); validation accepts a Service that has none
yet and checks the ones it has.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path

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


_SERVICE_TYPES: Final = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")

__all__ = ["check_node_port_range", "cidr_errors", "validate_service", "validate_service_update"]


def _is_headless(spec: Obj) -> bool:
    ips = as_list(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def _cluster_ip_fields(spec: Obj) -> list[Cause]:
    if spec.get("type") == "ExternalName":
        return []
    out: list[Cause] = []
    ips_path = _SPEC.child("clusterIPs")
    ip = as_str(spec.get("clusterIP"))
    ips = [as_str(x) for x in as_list(spec.get("clusterIPs"))]
    if ip:
        if not ips:
            out.append(field.required(ips_path))
        elif ips[0] != ip:
            out.append(
                field.invalid(
                    ips_path, field.go_str_list(ips), "first value must match `clusterIP`"
                )
            )
    elif ips:
        out.append(
            field.invalid(
                ips_path, field.go_str_list(ips), "must be empty when `clusterIP` is not specified"
            )
        )
    seen: set[str] = set()
    for i, fam in enumerate(as_list(spec.get("ipFamilies"))):
        fam = as_str(fam)
        if fam not in ("IPv4", "IPv6"):
            out.append(
                field.not_supported(_SPEC.child("ipFamilies").index(i), fam, ("IPv4", "IPv6"))
            )
        if fam in seen:
            out.append(field.duplicate(_SPEC.child("ipFamilies").index(i), fam))
        seen.add(fam)
    policy = spec.get("ipFamilyPolicy")
    if isinstance(policy, str) and policy not in (
        "PreferDualStack",
        "RequireDualStack",
        "SingleStack",
    ):
        out.append(
            field.not_supported(
                _SPEC.child("ipFamilyPolicy"),
                policy,
                ("PreferDualStack", "RequireDualStack", "SingleStack"),
            )
        )
    bad = False
    for i, x in enumerate(ips):
        if i == 0 and x == "None":
            if len(ips) > 1:
                bad = True
                out.append(
                    field.invalid(
                        ips_path, field.go_str_list(ips), "'None' must be the first and only value"
                    )
                )
            continue
        if not names.is_valid_ip(x):
            bad = True
            out.append(field.invalid(ips_path.index(i), x, _IP_INVALID))
    if len(ips) > 2:
        out.append(field.invalid(ips_path, field.go_str_list(ips), "may only hold up to 2 values"))
    if bad:
        return out
    if len(ips) > 1 and (":" in ips[0]) == (":" in ips[1]):
        out.append(
            field.invalid(
                ips_path,
                field.go_str_list(ips),
                "may specify no more than one IP for each IP family",
            )
        )
    fams = [as_str(f) for f in as_list(spec.get("ipFamilies"))]
    if not _is_headless(spec):
        for i, x in enumerate(ips[: len(fams)]):
            if fams[i] == "IPv4" and ":" in x:
                out.append(
                    field.invalid(
                        ips_path.index(i),
                        x,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if fams[i] == "IPv6" and ":" not in x:
                out.append(
                    field.invalid(
                        ips_path.index(i),
                        x,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return out


def cidr_errors(value: str, path: Path) -> list[Cause]:

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [
            field.invalid(
                path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            )
        ]
    return []


def validate_service(svc: Obj) -> list[Cause]:
    meta, spec = as_obj(svc.get("metadata")), as_obj(svc.get("spec"))
    out = _meta(svc, name_fn=names.name_is_dns1035_label)
    ann = as_obj(meta.get("annotations"))
    hints, mode = (
        ann.get("service.kubernetes.io/topology-aware-hints"),
        ann.get("service.kubernetes.io/topology-mode"),
    )
    if hints is not None and mode is not None and hints != mode:
        out.append(
            field.invalid(
                _META.child("annotations").key("service.kubernetes.io/topology-mode"),
                as_str(mode),
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            )
        )
    stype = as_str(spec.get("type"))
    ports = [as_obj(p) for p in as_list(spec.get("ports"))]
    headless = _is_headless(spec)
    if not ports and not headless and stype != "ExternalName":
        out.append(field.required(_SPEC.child("ports")))
    if stype in ("LoadBalancer", "NodePort") and headless:
        out.append(
            field.invalid(
                _SPEC.child("clusterIPs").index(0),
                "None",
                f"may not be set to 'None' for {stype} services",
            )
        )
    elif stype == "ExternalName":
        if as_list(spec.get("clusterIPs")):
            out.append(
                field.forbidden(
                    _SPEC.child("clusterIPs"), "may not be set for ExternalName services"
                )
            )
        if as_list(spec.get("ipFamilies")):
            out.append(
                field.forbidden(
                    _SPEC.child("ipFamilies"), "may not be set for ExternalName services"
                )
            )
        if spec.get("ipFamilyPolicy") is not None:
            out.append(
                field.forbidden(
                    _SPEC.child("ipFamilyPolicy"), "may not be set for ExternalName services"
                )
            )
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            out.extend(names.validate_dns1123_subdomain(cname, _SPEC.child("externalName")))
        else:
            out.append(field.required(_SPEC.child("externalName")))
    port_names: set[str] = set()
    for i, p in enumerate(ports):
        pp = _SPEC.child("ports").index(i)
        pname = as_str(p.get("name"))
        if len(ports) > 1 and not pname:
            out.append(field.required(pp.child("name")))
        elif pname:
            out.extend(names.validate_dns1123_label(pname, pp.child("name")))
            if pname in port_names:
                out.append(field.duplicate(pp.child("name"), pname))
            port_names.add(pname)
        port = as_int(p.get("port"))
        out.extend(field.invalid(pp.child("port"), port, m) for m in names.is_valid_port_num(port))
        proto = as_str(p.get("protocol"))
        if not proto:
            out.append(field.required(pp.child("protocol")))
        elif proto not in _PROTOCOLS:
            out.append(field.not_supported(pp.child("protocol"), proto, _PROTOCOLS))
        tp = p.get("targetPort", 0)
        if isinstance(tp, int) and not isinstance(tp, bool):
            out.extend(
                field.invalid(pp.child("targetPort"), tp, m) for m in names.is_valid_port_num(tp)
            )
        else:
            out.extend(
                field.invalid(pp.child("targetPort"), as_str(tp), m)
                for m in names.is_valid_port_name(as_str(tp))
            )
        app = p.get("appProtocol")
        if isinstance(app, str):
            out.extend(names.validate_qualified_name(app, pp.child("appProtocol")))
    if spec.get("selector") is not None:
        out.extend(names.validate_labels(spec.get("selector"), _SPEC.child("selector")))
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        out.append(field.required(_SPEC.child("sessionAffinity")))
    elif affinity not in ("ClientIP", "None"):
        out.append(
            field.not_supported(_SPEC.child("sessionAffinity"), affinity, ("ClientIP", "None"))
        )
    cfg_path = _SPEC.child("sessionAffinityConfig")
    if affinity == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        why = "when session affinity type is ClientIP"
        client = as_obj(cfg).get("clientIP")
        if not isinstance(cfg, dict):
            out.append(field.required(cfg_path, why))
        elif not isinstance(client, dict):
            out.append(field.required(cfg_path.child("clientIP"), why))
        elif client.get("timeoutSeconds") is None:
            out.append(field.required(cfg_path.child("clientIP", "timeoutSeconds"), why))
        elif not 0 < as_int(client.get("timeoutSeconds")) <= 86400:
            out.append(
                field.invalid(
                    cfg_path.child("clientIP", "timeoutSeconds"),
                    as_int(client.get("timeoutSeconds")),
                    "must be greater than 0 and less than 86400",
                )
            )
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        out.append(field.forbidden(cfg_path, "must not be set when session affinity is None"))
    out.extend(_cluster_ip_fields(spec))
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        ip = as_str(ip)
        if not names.is_valid_ip(ip):
            out.append(field.invalid(_SPEC.child("externalIPs").index(i), ip, _IP_INVALID))
        elif (
            ip in ("0.0.0.0", "::")
            or ip.startswith(("127.", "169.254.", "224.", "fe80:", "ff0"))
            or ip == "::1"
        ):
            out.append(
                field.invalid(
                    _SPEC.child("externalIPs").index(i),
                    ip,
                    "may not be unspecified, loopback, link-local or multicast",
                )
            )
    if not stype:
        out.append(field.required(_SPEC.child("type")))
    elif stype not in _SERVICE_TYPES:
        out.append(field.not_supported(_SPEC.child("type"), stype, _SERVICE_TYPES))
    if stype == "ClusterIP":
        for i, p in enumerate(ports):
            if as_int(p.get("nodePort")) != 0:
                out.append(
                    field.forbidden(
                        _SPEC.child("ports").index(i).child("nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        np_ = as_int(p.get("nodePort"))
        if np_ == 0:
            continue
        key = (as_str(p.get("protocol")), np_)
        if key in node_ports:
            out.append(field.duplicate(_SPEC.child("ports").index(i).child("nodePort"), np_))
        node_ports.add(key)
    seen_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        key = (as_str(p.get("protocol")), as_int(p.get("port")))
        if key in seen_ports:
            shown = field.GoRepr(
                f'core.ServicePort{{Name:"", Protocol:{field.go_quote(key[0])}, AppProtocol:(*string)(nil), '
                f'Port:{key[1]}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
            )
            out.append(field.duplicate(_SPEC.child("ports").index(i), shown))
        seen_ports.add(key)
    ranges = [as_str(r) for r in as_list(spec.get("loadBalancerSourceRanges"))]
    if ranges:
        rp = _SPEC.child("LoadBalancerSourceRanges")
        if stype != "LoadBalancer":
            out.append(field.forbidden(rp, "may only be used when `type` is 'LoadBalancer'"))
        for i, r in enumerate(ranges):
            out.extend(cidr_errors(r.strip(), rp.index(i)))
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        out.append(
            field.forbidden(
                _SPEC.child("allocateLoadBalancerNodePorts"),
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        out.append(field.required(Path("allocateLoadBalancerNodePorts")))
    lbc = spec.get("loadBalancerClass")
    if isinstance(lbc, str):
        if stype == "LoadBalancer":
            out.extend(names.validate_qualified_name(lbc, _SPEC.child("loadBalancerClass")))
        else:
            out.append(
                field.forbidden(
                    _SPEC.child("loadBalancerClass"),
                    "may only be used when `type` is 'LoadBalancer'",
                )
            )
    externally = stype in ("NodePort", "LoadBalancer") or bool(as_list(spec.get("externalIPs")))
    etp = as_str(spec.get("externalTrafficPolicy"))
    if not externally:
        if etp:
            out.append(
                field.invalid(
                    _SPEC.child("externalTrafficPolicy"),
                    etp,
                    "may only be set for externally-accessible services",
                )
            )
    elif not etp:
        out.append(field.required(_SPEC.child("externalTrafficPolicy")))
    elif etp not in ("Cluster", "Local"):
        out.append(
            field.not_supported(_SPEC.child("externalTrafficPolicy"), etp, ("Cluster", "Local"))
        )
    hc = as_int(spec.get("healthCheckNodePort"))
    if not (stype == "LoadBalancer" and etp == "Local") and hc != 0:
        out.append(
            field.invalid(
                _SPEC.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            )
        )
    itp = spec.get("internalTrafficPolicy")
    if itp is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        out.append(field.required(_SPEC.child("internalTrafficPolicy")))
    if isinstance(itp, str) and itp not in ("Cluster", "Local"):
        out.append(
            field.not_supported(_SPEC.child("internalTrafficPolicy"), itp, ("Cluster", "Local"))
        )
    td = spec.get("trafficDistribution")
    if isinstance(td, str) and td != "PreferClose":
        out.append(field.not_supported(_SPEC.child("trafficDistribution"), td, ("PreferClose",)))
    return out


def validate_service_update(new: Obj, old: Obj) -> list[Cause]:
    out = _meta_update(new, old)
    ns, os_ = as_obj(new.get("spec")), as_obj(old.get("spec"))
    if "ExternalName" not in (ns.get("type"), os_.get("type")) and not (
        _is_headless(ns) and _is_headless(os_)
    ):
        nips = [as_str(x) for x in as_list(ns.get("clusterIPs"))]
        oips = [as_str(x) for x in as_list(os_.get("clusterIPs"))]
        shown = field.go_str_list(nips if "clusterIPs" in ns else None)
        p = _SPEC.child("clusterIPs")
        if len(nips) == len(oips):
            out.extend(
                field.invalid(p.index(i), shown, "may not change once set")
                for i, ip in enumerate(oips)
                if ip != nips[i]
            )
        elif len(oips) > len(nips):
            if not nips:
                out.append(field.invalid(p.index(0), shown, "primary clusterIP can not be unset"))
            elif oips and nips[0] != oips[0]:
                out.append(field.invalid(p.index(0), shown, "may not change once set"))
            if len(nips) == 1 and ns.get("ipFamilyPolicy") != "SingleStack":
                out.append(
                    field.invalid(
                        p.index(0),
                        shown,
                        "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP",
                    )
                )
        elif oips and nips[0] != oips[0]:
            out.append(field.invalid(p.index(0), shown, "may not change once set"))
    if (
        ns.get("type") == "LoadBalancer"
        and os_.get("type") == "LoadBalancer"
        and ns.get("loadBalancerClass") != os_.get("loadBalancerClass")
    ):
        lbc = ns.get("loadBalancerClass")
        out.append(
            field.invalid(
                _SPEC.child("loadBalancerClass"),
                lbc if isinstance(lbc, str) else None,
                "may not change once set",
            )
        )
    return out + validate_service(new)


def check_node_port_range(svc: Obj, lo: int = 30000, hi: int = 32767) -> list[Cause]:
    """The allocator's check (not validation proper): requested nodePorts in range."""
    out = []
    for i, p in enumerate(as_list(as_obj(svc.get("spec")).get("ports"))):
        np_ = as_int(as_obj(p).get("nodePort"))
        if np_ and not lo <= np_ <= hi:
            out.append(
                field.invalid(
                    _SPEC.child("ports").index(i).child("nodePort"),
                    np_,
                    f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}",
                )
            )
    return out
