"""What the cluster DNS answers: a pure function from (zone state, question) to an answer.

``resolve(zone, labels, qtype)`` implements the Kubernetes DNS-Based Service Discovery
specification (schema 1.1.0) the way CoreDNS's *kubernetes* plugin does with kubeadm's
Corefile (``pods insecure``, ``fallthrough in-addr.arpa ip6.arpa``, ``ttl 30``). The
caller (``dns/responder.py``) encodes the answer; nothing here does I/O.

Names under ``<zone>`` (labels are compared lower-case; the caller lower-cases them):
- apex: SOA; NS ``ns.dns.<zone>`` with its addresses (the DNS Service's ClusterIPs) in the
  additional section; anything else NODATA. ``dns-version``: TXT "1.1.0" (TTL 28800).
  ``ns.dns``: A/AAAA of the DNS Service. ``svc``, ``pod``: NODATA. ``<ns>.svc``,
  ``<ns>.pod``: NODATA when the namespace exists, else NXDOMAIN.
- ``<svc>.<ns>.svc``: ClusterIP → A/AAAA of its ClusterIPs (by family); headless → one
  A/AAAA per ready endpoint address, NXDOMAIN when there is none; ExternalName → CNAME
  (chased: in-zone targets here, out-of-zone targets by the caller via ``Answer.chase``).
  SRV on the service name lists every port (ClusterIP: target the service name; headless:
  one per endpoint and slice port, target ``<hostname or dashed ip>.<svc>.<ns>.svc``).
- ``<endpoint>.<svc>.<ns>.svc``: the endpoints whose hostname (else dashed IP) matches.
- ``_<port>._<proto>.<svc>.<ns>.svc``: SRV for the named port (priority 0, weight
  ⌊100 / number of candidates⌋ like CoreDNS), with the targets' A/AAAA records in the
  additional section; NXDOMAIN when no port matches; other types NODATA.
- ``<a-b-c-d>.<ns>.pod``: A (or AAAA for the dashed IPv6 form) for the address itself when
  the namespace exists (CoreDNS ``pods insecure``).
- Anything else under the zone: NXDOMAIN (e.g. search-path expansions such as
  ``svc.ns.svc.cluster.local.ns.svc.cluster.local``).

Negative answers (NXDOMAIN and NODATA) carry the zone's SOA in the authority section
(TTL min(ttl, 300), minimum = ttl). Before the first sync NXDOMAIN becomes SERVFAIL, as
CoreDNS does. AXFR/IXFR are REFUSED; a class other than IN is REFUSED.

Reverse names (``in-addr.arpa``, ``ip6.arpa``): PTR for a ClusterIP (the first service by
name) or else for every ready endpoint with that address; everything else there, and
every name outside the zone, is ``Answer.forward`` (the caller asks the upstreams).

Each answer lists the ``zone.Tag``s it was computed from (``Answer.tags``): an answer cache
drops an entry when ``ZoneData`` reports one of its tags changed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from pyk8s.dns import zone as zone_mod
from pyk8s.dns.zone import Endpoint, Kind, Port, ServiceEntry, Tag, ZoneData

__all__ = [
    "DNS_SCHEMA_VERSION",
    "MAX_CNAME_CHAIN",
    "TXT_VERSION_TTL",
    "Answer",
    "QType",
    "Rcode",
    "Record",
    "Soa",
    "Srv",
    "resolve",
    "reverse_ip",
]

DNS_SCHEMA_VERSION = "1.1.0"
TXT_VERSION_TTL = 28800
MAX_CNAME_CHAIN = 10
CLASS_IN = 1


class QType(IntEnum):
    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    MX = 15
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    IXFR = 251
    AXFR = 252
    ANY = 255


class Rcode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


@dataclass(frozen=True, slots=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(frozen=True, slots=True)
class Record:
    name: str  # lower-case, fully qualified, trailing dot
    rtype: int
    ttl: int
    data: str | Srv | Soa  # address, target name, TXT string, SRV or SOA


@dataclass(frozen=True, slots=True)
class Answer:
    rcode: int = Rcode.NOERROR
    answer: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    authoritative: bool = True
    forward: bool = False  # not ours: send the query to the upstreams as it is
    chase: str = ""  # out-of-zone CNAME target to resolve upstream and append
    tags: tuple[Tag, ...] = ()


def _forward(*tags: Tag) -> Answer:
    return Answer(authoritative=False, forward=True, tags=tags)


def resolve(zone: ZoneData, labels: Sequence[str], qtype: int, qclass: int = CLASS_IN) -> Answer:
    """The answer to ``labels`` (the query name, lower-case, no root label) of ``qtype``."""
    zl = zone.config.zone_labels
    n = len(zl)
    if len(labels) >= n and tuple(labels[len(labels) - n :]) == zl:
        if qclass != CLASS_IN:
            return Answer(rcode=Rcode.REFUSED, tags=(zone_mod.ZONE_TAG,))
        return _in_zone(zone, tuple(labels[: len(labels) - n]), qtype, 0)
    if qclass != CLASS_IN:
        return Answer(rcode=Rcode.REFUSED, authoritative=False)
    ip = reverse_ip(labels)
    if ip and qtype == QType.PTR:
        targets = _ptr_targets(zone, ip)
        if targets:
            name = ".".join(labels) + "."
            recs = tuple(Record(name, QType.PTR, zone.config.ttl, t) for t in targets)
            return Answer(answer=recs, tags=(zone_mod.ip_tag(ip),))
    return _forward(zone_mod.ip_tag(ip)) if ip else _forward()


def reverse_ip(labels: Sequence[str]) -> str:
    """The address a full ``in-addr.arpa``/``ip6.arpa`` name stands for, else ""."""
    if len(labels) == 6 and labels[4:] == ("in-addr", "arpa"):
        parts = labels[3::-1]
        if all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
            return zone_mod.canonical_ip(".".join(str(int(p)) for p in parts))
        return ""
    if len(labels) == 34 and tuple(labels[32:]) == ("ip6", "arpa"):
        nibbles = labels[31::-1]
        if all(len(x) == 1 and x in "0123456789abcdef" for x in nibbles):
            text = "".join(nibbles)
            return zone_mod.canonical_ip(":".join(text[i : i + 4] for i in range(0, 32, 4)))
    return ""


def _ptr_targets(zone: ZoneData, ip: str) -> list[str]:
    origin = zone.config.origin
    for key in sorted(zone.cluster_ips.get(ip, ())):
        return [f"{key[1]}.{key[0]}.svc.{origin}"]
    out: dict[str, None] = {}
    for key in sorted(zone.endpoint_ips.get(ip, ())):
        entry = zone.services.get(key)
        for ep in entry.endpoints if entry else ():
            if ep.ip == ip:
                out[f"{ep.label}.{key[1]}.{key[0]}.svc.{origin}"] = None
    return list(out)


# ---------------------------------------------------------------------- in the zone


def _soa(zone: ZoneData) -> Record:
    cfg = zone.config
    origin = cfg.origin
    return Record(
        origin,
        QType.SOA,
        min(cfg.ttl, 300),
        Soa(f"ns.dns.{origin}", f"hostmaster.{origin}", zone.serial, 7200, 1800, 86400, cfg.ttl),
    )


def _negative(zone: ZoneData, rcode: int, tags: tuple[Tag, ...]) -> Answer:
    if rcode == Rcode.NXDOMAIN and not zone.synced:
        rcode = Rcode.SERVFAIL
    return Answer(rcode=rcode, authority=(_soa(zone),), tags=tags)


def _family(ip: str) -> int:
    return QType.AAAA if ":" in ip else QType.A


def _name(rel: tuple[str, ...], zone: ZoneData) -> str:
    return ".".join((*rel, zone.config.origin))


def _in_zone(zone: ZoneData, rel: tuple[str, ...], qtype: int, depth: int) -> Answer:
    if qtype in (QType.AXFR, QType.IXFR):
        return Answer(rcode=Rcode.REFUSED, tags=(zone_mod.ZONE_TAG,))
    ttl = zone.config.ttl
    qname = _name(rel, zone)
    n = len(rel)
    if n == 0:
        return _apex(zone, qtype)
    if rel == ("dns-version",):
        if qtype == QType.TXT:
            rec = Record(qname, QType.TXT, TXT_VERSION_TTL, DNS_SCHEMA_VERSION)
            return Answer(answer=(rec,), tags=(zone_mod.ZONE_TAG,))
        return _negative(zone, Rcode.NOERROR, (zone_mod.ZONE_TAG,))
    if rel == ("ns", "dns"):
        dns = zone.dns_service()
        ips = dns.cluster_ips if dns else ()
        recs = tuple(Record(qname, qtype, ttl, ip) for ip in ips if _family(ip) == qtype)
        return _positive(zone, recs, (), (zone_mod.ZONE_TAG,))
    kind = rel[-1]
    if kind not in ("svc", "pod"):
        return _negative(zone, Rcode.NXDOMAIN, (zone_mod.ZONE_TAG,))
    if n == 1:
        return _negative(zone, Rcode.NOERROR, (zone_mod.ZONE_TAG,))
    namespace = rel[-2]
    if n == 2:
        rcode = Rcode.NOERROR if zone.namespace_exists(namespace) else Rcode.NXDOMAIN
        return _negative(zone, rcode, (zone_mod.namespace_tag(namespace),))
    if kind == "pod":
        return _pod(zone, rel, qname, qtype)
    tags = (zone_mod.service_tag(namespace, rel[-3]),)
    entry = zone.services.get((namespace, rel[-3]))
    if entry is None or n > 5:
        return _negative(zone, Rcode.NXDOMAIN, tags)
    if entry.kind is Kind.EXTERNAL_NAME:
        if n > 3:
            return _negative(zone, Rcode.NXDOMAIN, tags)
        return _external(zone, entry, qname, qtype, depth, tags)
    if n == 3:
        return _service(zone, entry, qname, qtype, tags)
    if n == 4:
        eps = tuple(e for e in entry.endpoints if e.label == rel[0])
        if not eps:
            return _negative(zone, Rcode.NXDOMAIN, tags)
        return _endpoints(zone, entry, eps, qname, qtype, None, tags)
    port, proto = rel[0], rel[1]
    if not (port.startswith("_") and proto.startswith("_")):
        return _negative(zone, Rcode.NXDOMAIN, tags)
    want = (port[1:], proto[1:])
    if entry.kind is Kind.HEADLESS:
        return _endpoints(zone, entry, entry.endpoints, qname, qtype, want, tags)
    ports = tuple(p for p in entry.ports if (p.name, p.protocol) == want)
    if not ports:
        return _negative(zone, Rcode.NXDOMAIN, tags)
    if qtype != QType.SRV:
        return _negative(zone, Rcode.NOERROR, tags)
    return _srv_cluster(zone, entry, ports, qname, tags)


def _positive(
    zone: ZoneData,
    answer: tuple[Record, ...],
    additional: tuple[Record, ...],
    tags: tuple[Tag, ...],
) -> Answer:
    if not answer:
        return _negative(zone, Rcode.NOERROR, tags)
    return Answer(answer=answer, additional=additional, tags=tags)


def _apex(zone: ZoneData, qtype: int) -> Answer:
    origin = zone.config.origin
    tags = (zone_mod.ZONE_TAG,)
    if qtype == QType.SOA:
        return Answer(answer=(_soa(zone),), tags=tags)
    if qtype == QType.NS:
        ns_name = f"ns.dns.{origin}"
        ttl = zone.config.ttl
        dns = zone.dns_service()
        extra = tuple(
            Record(ns_name, _family(ip), ttl, ip) for ip in (dns.cluster_ips if dns else ())
        )
        return Answer(answer=(Record(origin, QType.NS, ttl, ns_name),), additional=extra, tags=tags)
    return _negative(zone, Rcode.NOERROR, tags)


def _pod(zone: ZoneData, rel: tuple[str, ...], qname: str, qtype: int) -> Answer:
    namespace = rel[-2]
    tags = (zone_mod.namespace_tag(namespace),)
    if len(rel) != 3 or not zone.config.pods_insecure or not zone.namespace_exists(namespace):
        return _negative(zone, Rcode.NXDOMAIN, tags)
    label = rel[0]
    text = (
        label.replace("-", ".")
        if label.count("-") == 3 and "--" not in label
        else label.replace("-", ":")
    )
    try:
        ip = ipaddress.ip_address(text).compressed
    except ValueError:
        return _negative(zone, Rcode.NXDOMAIN, tags)
    recs = (Record(qname, qtype, zone.config.ttl, ip),) if _family(ip) == qtype else ()
    return _positive(zone, recs, (), tags)


def _addresses(qname: str, qtype: int, ttl: int, ips: Sequence[str]) -> tuple[Record, ...]:
    if qtype not in (QType.A, QType.AAAA):
        return ()
    seen = dict.fromkeys(ip for ip in ips if _family(ip) == qtype)
    return tuple(Record(qname, qtype, ttl, ip) for ip in seen)


def _service(
    zone: ZoneData, entry: ServiceEntry, qname: str, qtype: int, tags: tuple[Tag, ...]
) -> Answer:
    if entry.kind is Kind.HEADLESS:
        return _endpoints(zone, entry, entry.endpoints, qname, qtype, None, tags)
    if qtype == QType.SRV:
        return _srv_cluster(zone, entry, entry.ports, qname, tags)
    return _positive(zone, _addresses(qname, qtype, zone.config.ttl, entry.cluster_ips), (), tags)


def _weights(count: int) -> int:
    return max(1, int(100.0 / count)) if count else 100


def _srv_cluster(
    zone: ZoneData, entry: ServiceEntry, ports: Sequence[Port], qname: str, tags: tuple[Tag, ...]
) -> Answer:
    ttl = zone.config.ttl
    target = f"{entry.name}.{entry.namespace}.svc.{zone.config.origin}"
    candidates = [(p, ip) for p in ports for ip in entry.cluster_ips]
    weight = _weights(len(candidates))
    answer: dict[Record, None] = {}
    extra: dict[Record, None] = {}
    for p, ip in candidates:
        if p.port < 0:
            continue
        answer[Record(qname, QType.SRV, ttl, Srv(0, weight, p.port, target))] = None
        extra[Record(target, _family(ip), ttl, ip)] = None
    return _positive(zone, tuple(answer), tuple(extra), tags)


def _endpoints(
    zone: ZoneData,
    entry: ServiceEntry,
    eps: Sequence[Endpoint],
    qname: str,
    qtype: int,
    want: tuple[str, str] | None,
    tags: tuple[Tag, ...],
) -> Answer:
    """Answers from endpoints (headless names, endpoint names, headless SRV names).
    ``want`` = (port name, protocol) for ``_port._proto`` names; None matches any port."""
    candidates = [
        (e, p) for e in eps for p in e.ports if want is None or (p.name, p.protocol) == want
    ]
    if not candidates:
        return _negative(zone, Rcode.NXDOMAIN, tags)
    ttl = zone.config.ttl
    if qtype != QType.SRV:
        if want is not None:
            return _negative(zone, Rcode.NOERROR, tags)
        return _positive(
            zone, _addresses(qname, qtype, ttl, [e.ip for e, _ in candidates]), (), tags
        )
    base = f"{entry.name}.{entry.namespace}.svc.{zone.config.origin}"
    weight = _weights(len(candidates))
    answer: dict[Record, None] = {}
    extra: dict[Record, None] = {}
    for e, p in candidates:
        if p.port < 0:
            continue
        target = f"{e.label}.{base}"
        answer[Record(qname, QType.SRV, ttl, Srv(0, weight, p.port, target))] = None
        extra[Record(target, _family(e.ip), ttl, e.ip)] = None
    return _positive(zone, tuple(answer), tuple(extra), tags)


def _external(
    zone: ZoneData, entry: ServiceEntry, qname: str, qtype: int, depth: int, tags: tuple[Tag, ...]
) -> Answer:
    target = entry.external_name
    if not target:
        return _negative(zone, Rcode.NXDOMAIN, tags)
    cname = Record(qname, QType.CNAME, zone.config.ttl, target)
    if qtype == QType.CNAME:
        return Answer(answer=(cname,), tags=tags)
    labels = tuple(target.rstrip(".").split("."))
    zl = zone.config.zone_labels
    if labels[-len(zl) :] != zl:
        return Answer(answer=(cname,), chase=target, tags=tags)
    if depth >= MAX_CNAME_CHAIN:
        return Answer(rcode=Rcode.SERVFAIL, answer=(cname,), tags=tags)
    rest = _in_zone(zone, labels[: len(labels) - len(zl)], qtype, depth + 1)
    return Answer(
        rcode=rest.rcode,
        answer=(cname, *rest.answer),
        authority=rest.authority,
        additional=rest.additional,
        chase=rest.chase,
        tags=(*tags, *rest.tags),
    )
