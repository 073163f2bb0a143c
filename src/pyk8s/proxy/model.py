"""What the proxy needs to know about Services, EndpointSlices and its own Node, distilled
from the API objects (pure functions, no I/O). Facts follow kube-proxy (pkg/proxy:
serviceport.go, endpointslicecache.go, topology.go).

- ``service_ports(svc)``: one ``ServicePort`` per ``spec.ports[]`` of a proxied Service.
  Services without a ClusterIP of our family (headless, ``None``, ExternalName) are not
  proxied. Load-balancer addresses come from ``status.loadBalancer.ingress[].ip`` whose
  ``ipMode`` is unset or ``VIP`` (``Proxy`` means the LB itself delivers to the node).
- ``endpoints_by_port(slices)``: endpoints grouped by ``ServicePortName`` (service name
  from the ``kubernetes.io/service-name`` label, port name and protocol from the slice's
  ports), one per ``ip:port`` (a local copy wins), sorted by ``ip:port`` text as upstream.
  Conditions as upstream: ``ready`` and ``serving`` default to true, ``terminating`` to
  false. Slices of the other family and FQDN slices are ignored.
- ``categorize(endpoints, port, node)``: the endpoints for "Cluster" and for "Local"
  traffic policy (CategorizeEndpoints): ready ones; when none is ready, the serving and
  terminating ones (independently for Cluster and Local); zone hints are honoured when
  every ready endpoint carries one and one names this node's zone.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SERVICE_NAME_LABEL",
    "ZONE_LABEL",
    "Categorized",
    "Endpoint",
    "NodeInfo",
    "ServicePort",
    "ServicePortName",
    "categorize",
    "endpoints_by_port",
    "node_info",
    "parse_ip",
    "service_ports",
]

Obj = Mapping[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ZONE_LABEL = "topology.kubernetes.io/zone"
DEFAULT_AFFINITY_TIMEOUT = 10800


@dataclass(frozen=True, slots=True, order=True)
class ServicePortName:
    namespace: str
    name: str
    port: str  # the port's name ("" for a single unnamed port)
    protocol: str  # TCP, UDP, SCTP

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: ServicePortName
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    lb_source_ranges: tuple[str, ...] = ()
    affinity_timeout: int | None = None  # seconds, when sessionAffinity is ClientIP
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0

    @property
    def protocol(self) -> str:
        return self.name.protocol

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.lb_ips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # external traffic with policy Local still needs them to short-circuit pod traffic
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (
            self.external_policy_local and self.externally_accessible
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    node_name: str = ""
    zone: str = ""
    zone_hints: frozenset[str] = frozenset()
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    is_local: bool = False

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    zone: str = ""
    addresses: tuple[str, ...] = ()  # InternalIPs first, then ExternalIPs


def node_info(name: str, node: Obj | None) -> NodeInfo:
    if node is None:
        return NodeInfo(name=name)
    labels = (node.get("metadata") or {}).get("labels") or {}
    listed = [
        (a.get("type"), str(a.get("address") or ""))
        for a in ((node.get("status") or {}).get("addresses") or [])
    ]
    internal = [ip for kind, ip in listed if kind == "InternalIP" and _is_ip(ip)]
    external = [ip for kind, ip in listed if kind == "ExternalIP" and _is_ip(ip)]
    ordered = tuple(dict.fromkeys([*internal, *external]))
    return NodeInfo(name=name, zone=str(labels.get(ZONE_LABEL) or ""), addresses=ordered)


@functools.lru_cache(maxsize=1 << 16)
def parse_ip(text: str) -> tuple[int, int, str] | None:
    """(version, integer value, canonical text) of an address; None if it is not one.
    Cached: the same endpoint addresses come back on every sync."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr.version, int(addr), str(addr)


def _is_ip(text: str) -> bool:
    return parse_ip(text) is not None


def _family_ok(ip: str, ipv6: bool) -> bool:
    parsed = parse_ip(ip)
    return parsed is not None and parsed[0] == (6 if ipv6 else 4)


def _cluster_ip(spec: Obj, ipv6: bool) -> str:
    ips = [str(ip) for ip in (spec.get("clusterIPs") or []) if ip]
    if not ips and spec.get("clusterIP"):
        ips = [str(spec["clusterIP"])]
    for ip in ips:
        if _family_ok(ip, ipv6):
            return ip
    return ""


def service_ports(svc: Obj, *, ipv6: bool = False) -> list[ServicePort]:
    """The proxied ports of ``svc`` (empty when the Service is not proxied)."""
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    if stype == "ExternalName":
        return []
    cluster_ip = _cluster_ip(spec, ipv6)
    if not cluster_ip:
        return []
    externally = stype in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    ext_local = externally and spec.get("externalTrafficPolicy") == "Local"
    int_local = spec.get("internalTrafficPolicy") == "Local"
    affinity: int | None = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    external_ips = tuple(ip for ip in spec.get("externalIPs") or [] if _family_ok(ip, ipv6))
    lb_ips: list[str] = []
    source_ranges: tuple[str, ...] = ()
    if stype == "LoadBalancer":
        for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            ip = ing.get("ip") or ""
            if ip and (ing.get("ipMode") or "VIP") == "VIP" and _family_ok(ip, ipv6):
                lb_ips.append(ip)
        ranges = [str(r).strip() for r in spec.get("loadBalancerSourceRanges") or []]
        source_ranges = tuple(r for r in ranges if _cidr_family_ok(r, ipv6))
    hc_port = 0
    if stype == "LoadBalancer" and ext_local:
        hc_port = int(spec.get("healthCheckNodePort") or 0)
    out: list[ServicePort] = []
    for p in spec.get("ports") or []:
        name = ServicePortName(
            meta.get("namespace") or "",
            meta.get("name") or "",
            str(p.get("name") or ""),
            str(p.get("protocol") or "TCP"),
        )
        out.append(
            ServicePort(
                name=name,
                cluster_ip=cluster_ip,
                port=int(p.get("port") or 0),
                node_port=int(p.get("nodePort") or 0)
                if stype in ("NodePort", "LoadBalancer")
                else 0,
                external_ips=external_ips,
                lb_ips=tuple(dict.fromkeys(lb_ips)),
                lb_source_ranges=source_ranges,
                affinity_timeout=affinity,
                external_policy_local=ext_local,
                internal_policy_local=int_local,
                health_check_node_port=hc_port,
            )
        )
    return out


def _cidr_family_ok(cidr: str, ipv6: bool) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).version == (6 if ipv6 else 4)
    except ValueError:
        return False


def endpoints_by_port(
    slices: Iterable[Obj], *, node_name: str, ipv6: bool = False
) -> dict[ServicePortName, list[Endpoint]]:
    """Endpoints of every service port that any slice names, deduplicated and sorted."""
    want_type = "IPv6" if ipv6 else "IPv4"
    found: dict[ServicePortName, dict[str, Endpoint]] = {}
    for es in slices:
        meta = es.get("metadata") or {}
        service = ((meta.get("labels") or {}).get(SERVICE_NAME_LABEL)) or ""
        if not service or es.get("addressType") != want_type:
            continue
        namespace = meta.get("namespace") or ""
        for port in es.get("ports") or []:
            number = port.get("port")
            if not number:
                continue
            key = ServicePortName(
                namespace, service, str(port.get("name") or ""), str(port.get("protocol") or "TCP")
            )
            bucket = found.setdefault(key, {})
            for ep in es.get("endpoints") or []:
                made = _endpoint(ep, int(number), node_name=node_name, ipv6=ipv6)
                if made is None:
                    continue
                text = str(made)
                if text not in bucket or made.is_local:
                    bucket[text] = made
    return {
        key: [bucket[text] for text in sorted(bucket)] for key, bucket in found.items() if bucket
    }


def _endpoint(ep: Obj, port: int, *, node_name: str, ipv6: bool) -> Endpoint | None:
    addresses = ep.get("addresses") or []
    parsed = parse_ip(str(addresses[0])) if addresses else None
    if parsed is None or parsed[0] != (6 if ipv6 else 4):
        return None
    cond = ep.get("conditions") or {}
    node = str(ep.get("nodeName") or "")
    hints = (ep.get("hints") or {}).get("forZones") or []
    return Endpoint(
        ip=parsed[2],
        port=port,
        node_name=node,
        zone=str(ep.get("zone") or ""),
        zone_hints=frozenset(str(h.get("name")) for h in hints if h.get("name")),
        ready=cond.get("ready") is not False,
        serving=cond.get("serving") is not False,
        terminating=cond.get("terminating") is True,
        is_local=bool(node_name) and node == node_name,
    )


@dataclass(frozen=True, slots=True)
class Categorized:
    cluster: tuple[Endpoint, ...]  # endpoints for policy Cluster (empty when unused)
    local: tuple[Endpoint, ...]  # endpoints for policy Local (empty when unused)
    reachable: tuple[Endpoint, ...]  # union of both: every endpoint that gets a chain
    has_any: bool  # usable endpoints exist somewhere in the cluster


def _zone_mode(endpoints: Iterable[Endpoint], zone: str) -> bool:
    """True when zone hints apply: every ready endpoint has one, one names our zone."""
    ready = [ep for ep in endpoints if ep.ready]
    if not ready or not zone:
        return False
    return all(ep.zone_hints for ep in ready) and any(zone in ep.zone_hints for ep in ready)


def categorize(endpoints: list[Endpoint], port: ServicePort, node: NodeInfo) -> Categorized:
    if not endpoints:
        return Categorized((), (), (), False)
    cluster: list[Endpoint] = []
    has_any = False
    zone_mode = False
    if port.uses_cluster_endpoints:
        zone_mode = _zone_mode(endpoints, node.zone)
        cluster = [
            ep for ep in endpoints if ep.ready and (not zone_mode or node.zone in ep.zone_hints)
        ]
        if not cluster:
            cluster = [ep for ep in endpoints if ep.serving and ep.terminating]
        has_any = bool(cluster)
    if not port.uses_local_endpoints:
        return Categorized(tuple(cluster), (), tuple(cluster), has_any)
    local_ready = [ep for ep in endpoints if ep.is_local and ep.ready]
    local_fallback = [ep for ep in endpoints if ep.is_local and ep.serving and ep.terminating]
    if any(ep.ready or (ep.serving and ep.terminating) for ep in endpoints):
        has_any = True
    local = local_ready or local_fallback
    if not port.uses_cluster_endpoints:
        return Categorized((), tuple(local), tuple(local), has_any)
    if not zone_mode and (local_ready or not local_fallback):
        # cluster holds every ready endpoint, so it already includes the local ones
        return Categorized(tuple(cluster), tuple(local), tuple(cluster), has_any)
    merged = {str(ep): ep for ep in cluster}
    merged.update({str(ep): ep for ep in local})
    reachable = tuple(merged[k] for k in sorted(merged))
    return Categorized(tuple(cluster), tuple(local), reachable, has_any)
