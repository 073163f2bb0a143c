"""The indexed state the DNS server answers from: one ``ServiceEntry`` per Service,
built from the Service and its EndpointSlices, plus the set of namespaces.

Role: the informer adapter (``dns/watch.py``) calls ``service_entry`` (pure) and then
``ZoneData.put``/``remove``/``set_namespace``; ``dns/records.py`` reads ``ZoneData``
through O(1) dict lookups. Nothing here does I/O.

Contract:
- A ``ServiceEntry`` holds only what DNS needs, normalised: names lower-case, IP addresses
  in ``ipaddress`` canonical form, protocols lower-case. Endpoints are the *ready* ones
  (``conditions.ready`` absent or true), or all of them when the Service sets
  ``publishNotReadyAddresses`` or the legacy ``service.alpha.kubernetes.io/
  tolerate-unready-endpoints: "true"`` annotation. FQDN slices are ignored. Each endpoint
  carries its slice's ports and its DNS label: ``hostname`` if set, else the dashed IP
  (CoreDNS's rule: ``10-244-1-5``, IPv6 ``fd00--5`` with a trailing ``-`` closed by ``0``).
- Slices are merged in name order; an (ip, label, ports) triple appears once.
- ``ZoneData`` keeps the reverse indexes (ClusterIP → services, endpoint IP → services)
  in step with every ``put``/``remove``, and each write returns the cache tags it made
  stale (see ``Tag``), so an answer cache can drop exactly those entries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "ZONE_TAG",
    "Endpoint",
    "Kind",
    "Port",
    "ServiceEntry",
    "ServiceKey",
    "Tag",
    "ZoneConfig",
    "ZoneData",
    "canonical_ip",
    "dashed_ip",
    "ip_tag",
    "namespace_tag",
    "service_entry",
    "service_tag",
]

ServiceKey = tuple[str, str]  # (namespace, name)
# Cache tags: ("svc", ns, name) names under a service; ("ns", ns) namespace-level names;
# ("ip", ip) the reverse name of an address; ZONE_TAG the apex, NS and ns.dns names.
Tag = tuple[str, ...]
ZONE_TAG: Tag = ("zone",)

TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def service_tag(namespace: str, name: str) -> Tag:
    return ("svc", namespace, name)


def namespace_tag(namespace: str) -> Tag:
    return ("ns", namespace)


def ip_tag(ip: str) -> Tag:
    return ("ip", ip)


class Kind(StrEnum):
    CLUSTER_IP = "ClusterIP"
    HEADLESS = "Headless"
    EXTERNAL_NAME = "ExternalName"


@dataclass(frozen=True, slots=True)
class Port:
    name: str  # "" for an unnamed port
    protocol: str  # "tcp", "udp", "sctp"
    port: int  # -1: a slice without ports (CoreDNS's placeholder; never in SRV)


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    label: str  # hostname, else the dashed IP
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    namespace: str
    name: str
    kind: Kind
    cluster_ips: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    external_name: str = ""  # fully qualified, lower-case, trailing dot
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> ServiceKey:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    zone: str = "cluster.local"
    ttl: int = 30
    pods_insecure: bool = True  # CoreDNS "pods insecure" (kubeadm's Corefile)
    dns_service: ServiceKey = ("kube-system", "kube-dns")

    @property
    def zone_labels(self) -> tuple[str, ...]:
        return tuple(self.zone.lower().strip(".").split("."))

    @property
    def origin(self) -> str:
        return self.zone.lower().strip(".") + "."


def canonical_ip(text: str) -> str:
    """``text`` as ``ipaddress`` prints it, or "" when it is not an address."""
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return ""


def dashed_ip(ip: str) -> str:
    if "." in ip:
        return ip.replace(".", "-")
    dashed = ip.replace(":", "-")
    return dashed + "0" if dashed.endswith("-") else dashed


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, Mapping) else {}


def _ports(raw: Iterable[Any], *, service: bool) -> tuple[Port, ...]:
    out: list[Port] = []
    for p in raw:
        if not isinstance(p, Mapping):
            continue
        number = p.get("port")
        out.append(
            Port(
                name=str(p.get("name") or "").lower(),
                protocol=str(p.get("protocol") or "TCP").lower(),
                port=number if isinstance(number, int) else -1,
            )
        )
    if not out and not service:
        return (Port("", "", -1),)
    return tuple(out)


def _publishes_not_ready(service: Mapping[str, Any]) -> bool:
    if _spec(service).get("publishNotReadyAddresses") is True:
        return True
    annotations = _meta(service).get("annotations") or {}
    return str(annotations.get(TOLERATE_UNREADY, "")).lower() == "true"


def _endpoints(slices: Iterable[Mapping[str, Any]], all_addresses: bool) -> tuple[Endpoint, ...]:
    seen: dict[Endpoint, None] = {}
    for sl in sorted(slices, key=lambda s: str(_meta(s).get("name") or "")):
        if sl.get("addressType") not in (None, "IPv4", "IPv6"):
            continue
        ports = _ports(sl.get("ports") or (), service=False)
        for ep in sl.get("endpoints") or ():
            if not isinstance(ep, Mapping):
                continue
            ready = (ep.get("conditions") or {}).get("ready")
            if not all_addresses and ready is False:
                continue
            hostname = str(ep.get("hostname") or "").lower()
            for address in ep.get("addresses") or ():
                ip = canonical_ip(str(address))
                if ip:
                    seen[Endpoint(ip, hostname or dashed_ip(ip), ports)] = None
    return tuple(seen)


def service_entry(
    service: Mapping[str, Any], slices: Iterable[Mapping[str, Any]] = ()
) -> ServiceEntry:
    """What DNS serves for ``service`` given the EndpointSlices that name it."""
    meta, spec = _meta(service), _spec(service)
    namespace = str(meta.get("namespace") or "").lower()
    name = str(meta.get("name") or "").lower()
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "").lower().strip().rstrip(".")
        return ServiceEntry(
            namespace, name, Kind.EXTERNAL_NAME, external_name=target + "." if target else ""
        )
    ports = _ports(spec.get("ports") or (), service=True)
    endpoints = _endpoints(slices, _publishes_not_ready(service))
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip == "None":
        return ServiceEntry(namespace, name, Kind.HEADLESS, ports=ports, endpoints=endpoints)
    raw_ips = spec.get("clusterIPs") or ([cluster_ip] if cluster_ip else [])
    ips = tuple(ip for ip in (canonical_ip(str(x)) for x in raw_ips) if ip)
    return ServiceEntry(
        namespace, name, Kind.CLUSTER_IP, cluster_ips=ips, ports=ports, endpoints=endpoints
    )


def _ips(entry: ServiceEntry | None) -> tuple[set[str], set[str]]:
    if entry is None:
        return set(), set()
    return set(entry.cluster_ips), {e.ip for e in entry.endpoints}


@dataclass
class ZoneData:
    """The live, indexed zone. Mutated only by ``put``/``remove``/``set_namespace``."""

    config: ZoneConfig = field(default_factory=ZoneConfig)
    services: dict[ServiceKey, ServiceEntry] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)
    # how many services each namespace holds (a namespace with services exists even when
    # the namespace informer has not caught up yet)
    service_counts: dict[str, int] = field(default_factory=dict)
    cluster_ips: dict[str, dict[ServiceKey, None]] = field(default_factory=dict)
    endpoint_ips: dict[str, dict[ServiceKey, None]] = field(default_factory=dict)
    serial: int = 0  # SOA serial: unix time of the last change
    synced: bool = False

    # ------------------------------------------------------------------ reads

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self.namespaces or namespace in self.service_counts

    def dns_service(self) -> ServiceEntry | None:
        return self.services.get(self.config.dns_service)

    # ------------------------------------------------------------------ writes

    def put(self, entry: ServiceEntry, *, now: int = 0) -> set[Tag]:
        key = entry.key
        old = self.services.get(key)
        if old == entry:
            return set()
        self.services[key] = entry
        if old is None:
            self.service_counts[entry.namespace] = self.service_counts.get(entry.namespace, 0) + 1
        return self._reindex(key, old, entry, now)

    def remove(self, key: ServiceKey, *, now: int = 0) -> set[Tag]:
        old = self.services.pop(key, None)
        if old is None:
            return set()
        left = self.service_counts.get(old.namespace, 1) - 1
        if left > 0:
            self.service_counts[old.namespace] = left
        else:
            self.service_counts.pop(old.namespace, None)
        return self._reindex(key, old, None, now)

    def set_namespace(self, namespace: str, exists: bool, *, now: int = 0) -> set[Tag]:
        if (namespace in self.namespaces) == exists:
            return set()
        if exists:
            self.namespaces.add(namespace)
        else:
            self.namespaces.discard(namespace)
        self.serial = max(self.serial, now)
        return {namespace_tag(namespace)}

    def _reindex(
        self, key: ServiceKey, old: ServiceEntry | None, new: ServiceEntry | None, now: int
    ) -> set[Tag]:
        old_cips, old_eips = _ips(old)
        new_cips, new_eips = _ips(new)
        for ip in old_cips - new_cips:
            _unlink(self.cluster_ips, ip, key)
        for ip in new_cips - old_cips:
            self.cluster_ips.setdefault(ip, {})[key] = None
        for ip in old_eips - new_eips:
            _unlink(self.endpoint_ips, ip, key)
        for ip in new_eips - old_eips:
            self.endpoint_ips.setdefault(ip, {})[key] = None
        self.serial = max(self.serial, now)
        tags: set[Tag] = {service_tag(*key), namespace_tag(key[0])}
        tags.update(ip_tag(ip) for ip in old_cips | new_cips | old_eips | new_eips)
        if key == self.config.dns_service:
            tags.add(ZONE_TAG)
        return tags


def _unlink(index: dict[str, dict[ServiceKey, None]], ip: str, key: ServiceKey) -> None:
    keys = index.get(ip)
    if keys is not None:
        keys.pop(key, None)
        if not keys:
            del index[ip]
