"""NetworkPolicy → nftables, the pure half: which traffic each pod of this node may send and
receive (``compute``), the ruleset that enforces it (``render``) and an evaluator over the
same model (``allowed``), so tests check the semantics and the text from one computation.

Semantics (networking.k8s.io/v1, as upstream documents them):

- A policy selects pods of its own namespace with ``spec.podSelector`` (``{}``: all of
  them). A pod selected by at least one policy whose ``policyTypes`` contains ``Ingress``
  is *isolated for ingress*: it accepts only what the union of the ingress rules of every
  such policy allows. The same holds for ``Egress``. A pod selected by no policy of a type
  is not isolated in that direction. ``policyTypes`` is defaulted here as the apiserver
  does (``Ingress``, plus ``Egress`` when egress rules exist) in case it is missing.
- A rule allows traffic when one of its peers matches (``from``/``to`` empty or missing:
  any address) and one of its ports matches (``ports`` empty or missing: everything).
- Peers: ``podSelector`` alone = matching pods of the policy's namespace;
  ``namespaceSelector`` alone = every pod of the matching namespaces; both = matching pods
  in matching namespaces; ``ipBlock`` = ``cidr`` minus each ``except``, matched by address.
  Namespaces always carry ``kubernetes.io/metadata.name`` (added here too if missing).
- Ports: ``protocol`` (TCP default, UDP, SCTP); numeric ``port`` with optional ``endPort``
  (inclusive range); no ``port``: every port of the protocol; a named ``port`` resolves
  against the *destination* pod's container ports with that name and protocol — the
  isolated pod itself for ingress, each destination pod for egress (an egress named port
  therefore only ever matches known pods). A name that resolves nowhere matches nothing.
- Pods are network endpoints (subject to policy and selectable as peers) when they have
  an IPv4 ``status.podIP(s)``, are not ``hostNetwork`` and have not terminated
  (``Succeeded``/``Failed``). hostNetwork pods are node traffic.
- Always allowed, whatever the policies: a pod talking to itself (also through a Service
  hairpin), traffic to and from the node itself (it never crosses the ``forward`` hook —
  see ``pyk8s.proxy.netpol``), and packets of established or related connections, so
  replies are never blocked.

The model (``Ruleset``) has, for every isolated pod of the node keyed by IP, the allowed
``Clause``s of each isolated direction, already resolved to addresses and port numbers.
``render`` prints it as one ``nft -f`` transaction that replaces the table atomically:

    table inet pyk8s-netpol {
        map ingress-pods { type ipv4_addr : verdict; elements = { IP : jump ingress-IP } }
        map egress-pods  { type ipv4_addr : verdict; elements = { IP : jump egress-IP } }
        chain forward { type filter hook forward priority filter; policy accept;
            ct state established,related accept
            ip saddr vmap @egress-pods      # source isolated for egress → its chain
            ip daddr vmap @ingress-pods }   # destination isolated for ingress → its chain
        chain ingress-IP { ip saddr IP return; <one rule per allowed clause> return; drop }
    }

A per-pod chain ``return``s what its pod allows and drops the rest, so a packet between
two pods passes the source's egress chain and then the destination's ingress chain; the
rule count grows with the pods' own rules, and a packet only walks the chains of its two
endpoints (the verdict maps are hash lookups). Only IPv4 is programmed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import label_selectors as ls

__all__ = [
    "DEFAULT_TABLE",
    "Block",
    "Clause",
    "Endpoint",
    "Peers",
    "PodRules",
    "PortRange",
    "Ruleset",
    "allowed",
    "compute",
    "endpoints_of",
    "render",
    "render_delete",
]

Obj = Mapping[str, Any]

DEFAULT_TABLE = "pyk8s-netpol"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_PEER_KEY = {"Ingress": "from", "Egress": "to"}


# -- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """A protocol and an inclusive range of destination ports (``first`` None: all)."""

    protocol: str  # "tcp" | "udp" | "sctp"
    first: int | None = None
    last: int | None = None

    def matches(self, protocol: str, port: int | None) -> bool:
        if protocol != self.protocol:
            return False
        if self.first is None:
            return True
        return port is not None and self.first <= port <= (self.last or self.first)


@dataclass(frozen=True, slots=True, order=True)
class Block:
    """An ipBlock: ``cidr`` minus ``excepts`` (networks, normalised)."""

    cidr: str
    excepts: tuple[str, ...] = ()

    def contains(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        net = ipaddress.ip_network(self.cidr)
        if ip.version != net.version or ip not in net:
            return False
        return not any(ip in ipaddress.ip_network(e) for e in self.excepts)


@dataclass(frozen=True, slots=True)
class Peers:
    """Remote addresses: exact pod IPs and ipBlocks."""

    ips: frozenset[str] = frozenset()
    blocks: tuple[Block, ...] = ()

    def contains(self, address: str) -> bool:
        return address in self.ips or any(b.contains(address) for b in self.blocks)


@dataclass(frozen=True, slots=True)
class Clause:
    """Allows traffic whose remote address is in ``peers`` (None: any address) and whose
    protocol and destination port match one of ``ports`` (None: any traffic at all).
    ``origin`` names the policy (``namespace/name``) for comments and logs."""

    peers: Peers | None
    ports: tuple[PortRange, ...] | None
    origin: str = ""

    def matches(self, remote: str, protocol: str, port: int | None) -> bool:
        if self.peers is not None and not self.peers.contains(remote):
            return False
        return self.ports is None or any(r.matches(protocol, port) for r in self.ports)


@dataclass(frozen=True, slots=True)
class PodRules:
    """One pod of this node: what it may receive and send (None: not isolated)."""

    ip: str
    pod: str  # namespace/name
    ingress: tuple[Clause, ...] | None = None
    egress: tuple[Clause, ...] | None = None


@dataclass(frozen=True, slots=True)
class Ruleset:
    pods: Mapping[str, PodRules] = field(default_factory=dict)  # by IP, isolated pods only
    warnings: tuple[str, ...] = ()  # policies skipped (bad selectors) and why

    @property
    def ingress(self) -> dict[str, tuple[Clause, ...]]:
        return {ip: r.ingress for ip, r in self.pods.items() if r.ingress is not None}

    @property
    def egress(self) -> dict[str, tuple[Clause, ...]]:
        return {ip: r.egress for ip, r in self.pods.items() if r.egress is not None}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A pod as a network endpoint (one per IPv4 address)."""

    ip: str
    namespace: str
    name: str
    node: str
    labels: Mapping[str, str]
    ports: Mapping[tuple[str, str], int]  # (port name, protocol) → container port

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


# -- from API objects to the model ---------------------------------------------------------------


def endpoints_of(pod: Obj) -> list[Endpoint]:
    """The pod's endpoints: one per IPv4 pod IP; none for hostNetwork or finished pods."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return []
    ips = [str(p.get("ip") or "") for p in status.get("podIPs") or ()]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    ports: dict[tuple[str, str], int] = {}
    for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        for p in c.get("ports") or ():
            if p.get("name") and isinstance(p.get("containerPort"), int):
                key = (str(p["name"]), str(p.get("protocol") or "TCP").upper())
                ports.setdefault(key, int(p["containerPort"]))
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    out = []
    for ip in dict.fromkeys(ips):
        if _is_ipv4(ip):
            out.append(
                Endpoint(
                    ip=ip,
                    namespace=str(meta.get("namespace") or ""),
                    name=str(meta.get("name") or ""),
                    node=str(spec.get("nodeName") or ""),
                    labels=labels,
                    ports=ports,
                )
            )
    return out


def _is_ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False


def policy_types(policy: Obj) -> frozenset[str]:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if not types:
        return frozenset({"Ingress", "Egress"} if spec.get("egress") else {"Ingress"})
    return frozenset(str(t) for t in types)


class _Policy:
    """A policy with its selectors parsed; ``SelectorError`` on bad ones."""

    def __init__(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self.namespace = str(meta.get("namespace") or "")
        self.key = f"{self.namespace}/{meta.get('name') or ''}"
        self.spec: Obj = obj.get("spec") or {}
        self.selector = ls.from_label_selector_obj(self.spec.get("podSelector") or {})
        self.types = policy_types(obj)
        self.rules: dict[str, list[Obj]] = {
            "Ingress": list(self.spec.get("ingress") or ()),
            "Egress": list(self.spec.get("egress") or ()),
        }
        for direction, peer_key in _PEER_KEY.items():
            for rule in self.rules[direction]:
                for peer in rule.get(peer_key) or ():
                    for sel in ("podSelector", "namespaceSelector"):
                        if peer.get(sel) is not None:
                            ls.from_label_selector_obj(peer[sel])

    def selects(self, ep: Endpoint) -> bool:
        return ep.namespace == self.namespace and self.selector.matches(ep.labels)


class _World:
    """Everything a peer can be resolved against: endpoints and namespace labels."""

    def __init__(self, endpoints: Sequence[Endpoint], namespaces: Iterable[Obj]) -> None:
        self.endpoints = endpoints
        self.ns_labels: dict[str, dict[str, str]] = {}
        for ns in namespaces:
            meta = ns.get("metadata") or {}
            name = str(meta.get("name") or "")
            labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
            labels.setdefault(NAMESPACE_NAME_LABEL, name)
            self.ns_labels[name] = labels
        self._peers: dict[tuple[str, str, int], Peers | None] = {}
        self._egress: dict[tuple[str, int], list[Clause]] = {}

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        return self.ns_labels.get(name) or {NAMESPACE_NAME_LABEL: name}

    def rule_peers(self, policy: _Policy, direction: str, index: int) -> Peers | None:
        """The peers of one rule, resolved once per computation."""
        key = (policy.key, direction, index)
        if key not in self._peers:
            rule = policy.rules[direction][index]
            self._peers[key] = self.peers(policy, rule.get(_PEER_KEY[direction]) or ())
        return self._peers[key]

    def egress_clauses(self, policy: _Policy, index: int) -> list[Clause]:
        """Egress clauses do not depend on the source pod: computed once per rule."""
        key = (policy.key, index)
        if key not in self._egress:
            self._egress[key] = _egress_clauses(self, policy, index)
        return self._egress[key]

    def peers(self, policy: _Policy, peer_objs: Sequence[Obj]) -> Peers | None:
        """The addresses a ``from``/``to`` list stands for (None: any address)."""
        if not peer_objs:
            return None
        ips: set[str] = set()
        blocks: list[Block] = []
        for peer in peer_objs:
            block = peer.get("ipBlock")
            if block is not None:
                if b := _block(block):
                    blocks.append(b)
                continue
            pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
            if pod_sel is None and ns_sel is None:
                continue  # rejected by validation: a peer must say something
            pods = ls.from_label_selector_obj(pod_sel or {})
            nss = None if ns_sel is None else ls.from_label_selector_obj(ns_sel)
            for ep in self.endpoints:
                if nss is None:
                    if ep.namespace != policy.namespace:
                        continue
                elif not nss.matches(self.namespace_labels(ep.namespace)):
                    continue
                if pods.matches(ep.labels):
                    ips.add(ep.ip)
        return Peers(frozenset(ips), tuple(sorted(set(blocks))))


def _block(obj: Obj) -> Block | None:
    try:
        net = ipaddress.ip_network(str(obj.get("cidr") or ""), strict=False)
        excepts = [ipaddress.ip_network(str(e), strict=False) for e in obj.get("except") or ()]
    except ValueError:
        return None
    return Block(str(net), tuple(sorted({str(e) for e in excepts})))


def _protocol(port_obj: Obj) -> str | None:
    proto = str(port_obj.get("protocol") or "TCP").upper()
    return proto.lower() if proto in _PROTOCOLS else None


def _numeric_ports(port_obj: Obj) -> PortRange | None:
    """The range a port entry with a numeric (or no) port stands for."""
    proto = _protocol(port_obj)
    port = port_obj.get("port")
    if proto is None or isinstance(port, str):
        return None
    if port is None:
        return PortRange(proto)
    end = port_obj.get("endPort")
    last = max(int(port), int(end)) if isinstance(end, int) else int(port)
    return PortRange(proto, int(port), last)


def _named(port_obj: Obj) -> tuple[str, str] | None:
    """(name, PROTOCOL) of a named port entry."""
    port, proto = port_obj.get("port"), _protocol(port_obj)
    if isinstance(port, str) and proto is not None:
        return port, proto.upper()
    return None


def _ingress_clauses(world: _World, policy: _Policy, index: int, target: Endpoint) -> list[Clause]:
    rule = policy.rules["Ingress"][index]
    peers = world.rule_peers(policy, "Ingress", index)
    port_objs = rule.get("ports") or ()
    if not port_objs:
        return [Clause(peers, None, policy.key)]
    ranges: set[PortRange] = set()
    for p in port_objs:
        if (r := _numeric_ports(p)) is not None:
            ranges.add(r)
        elif (named := _named(p)) is not None and named in target.ports:
            n = target.ports[named]
            ranges.add(PortRange(named[1].lower(), n, n))
    return [Clause(peers, tuple(sorted(ranges)), policy.key)] if ranges else []


def _egress_clauses(world: _World, policy: _Policy, index: int) -> list[Clause]:
    rule = policy.rules["Egress"][index]
    peers = world.rule_peers(policy, "Egress", index)
    port_objs = rule.get("ports") or ()
    if not port_objs:
        return [Clause(peers, None, policy.key)]
    out: list[Clause] = []
    ranges = {r for p in port_objs if (r := _numeric_ports(p)) is not None}
    if ranges:
        out.append(Clause(peers, tuple(sorted(ranges)), policy.key))
    # Named ports resolve per destination pod: group destinations by the resolved port.
    by_port: dict[PortRange, set[str]] = {}
    for p in port_objs:
        if (named := _named(p)) is None:
            continue
        for ep in world.endpoints:
            n = ep.ports.get(named)
            if n is not None and (peers is None or peers.contains(ep.ip)):
                by_port.setdefault(PortRange(named[1].lower(), n, n), set()).add(ep.ip)
    for r, ips in sorted(by_port.items()):
        out.append(Clause(Peers(frozenset(ips)), (r,), policy.key))
    return out


def compute(
    *,
    policies: Iterable[Obj],
    pods: Iterable[Obj],
    namespaces: Iterable[Obj],
    node_name: str,
) -> Ruleset:
    """What every pod of ``node_name`` may send and receive, from the cluster's objects."""
    endpoints = [ep for pod in pods for ep in endpoints_of(pod)]
    world = _World(endpoints, namespaces)
    parsed: list[_Policy] = []
    warnings: list[str] = []
    for obj in sorted(policies, key=_object_key):
        try:
            parsed.append(_Policy(obj))
        except ls.SelectorError as e:
            meta = obj.get("metadata") or {}
            warnings.append(f"{meta.get('namespace')}/{meta.get('name')}: {e}")
    by_ns: dict[str, list[_Policy]] = {}
    for pol in parsed:
        by_ns.setdefault(pol.namespace, []).append(pol)

    local: dict[str, Endpoint] = {}
    for ep in endpoints:
        if ep.node == node_name and (ep.ip not in local or ep.key < local[ep.ip].key):
            local[ep.ip] = ep
    result: dict[str, PodRules] = {}
    for ip, ep in sorted(local.items(), key=lambda kv: ipaddress.ip_address(kv[0])):
        ingress: list[Clause] | None = None
        egress: list[Clause] | None = None
        for pol in by_ns.get(ep.namespace, ()):
            if not pol.selects(ep):
                continue
            if "Ingress" in pol.types:
                ingress = ingress if ingress is not None else []
                for i in range(len(pol.rules["Ingress"])):
                    ingress.extend(_ingress_clauses(world, pol, i, ep))
            if "Egress" in pol.types:
                egress = egress if egress is not None else []
                for i in range(len(pol.rules["Egress"])):
                    egress.extend(world.egress_clauses(pol, i))
        if ingress is not None or egress is not None:
            result[ip] = PodRules(
                ip=ip,
                pod=ep.key,
                ingress=None if ingress is None else tuple(ingress),
                egress=None if egress is None else tuple(egress),
            )
    return Ruleset(result, tuple(warnings))


def _object_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


# -- the evaluator -------------------------------------------------------------------------------


def allowed(
    ruleset: Ruleset,
    *,
    src: str,
    dst: str,
    port: int | None = None,
    protocol: str = "TCP",
    node_ips: Iterable[str] = (),
) -> bool:
    """Whether a new connection ``src`` → ``dst:port/protocol`` passes, as the rendered
    ruleset decides it (``node_ips``: the node's own addresses, which never cross the
    ``forward`` hook). Only the node's pods are judged: the other end's own node judges
    the other direction."""
    node = set(node_ips)
    if src == dst or src in node or dst in node:
        return True
    proto = protocol.lower()
    out = ruleset.pods.get(src)
    if (
        out is not None
        and out.egress is not None
        and not any(c.matches(dst, proto, port) for c in out.egress)
    ):
        return False
    into = ruleset.pods.get(dst)
    if into is not None and into.ingress is not None:
        return any(c.matches(src, proto, port) for c in into.ingress)
    return True


# -- the renderer --------------------------------------------------------------------------------


def render_delete(table: str = DEFAULT_TABLE) -> str:
    """A transaction that removes the table whether or not it exists."""
    return f"table inet {table}\ndelete table inet {table}\n"


def render(ruleset: Ruleset, *, table: str = DEFAULT_TABLE) -> str:
    """One ``nft -f`` transaction replacing ``table`` with the ruleset (atomically)."""
    lines = [*render_delete(table).splitlines(), f"table inet {table} {{"]
    for direction, chains in (("ingress", ruleset.ingress), ("egress", ruleset.egress)):
        lines += [f"\tmap {direction}-pods {{", "\t\ttype ipv4_addr : verdict"]
        if chains:
            elements = ", ".join(f"{ip} : jump {direction}-{ip}" for ip in chains)
            lines.append(f"\t\telements = {{ {elements} }}")
        lines.append("\t}")
    lines += [
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        "\t\tct state established,related accept",
        "\t\tip saddr vmap @egress-pods",
        "\t\tip daddr vmap @ingress-pods",
        "\t}",
    ]
    for ip, pod in ruleset.pods.items():
        for direction, clauses, remote in (
            ("ingress", pod.ingress, "saddr"),
            ("egress", pod.egress, "daddr"),
        ):
            if clauses is None:
                continue
            lines += [f"\tchain {direction}-{ip} {{", f"\t\tcomment {_quote(pod.pod)}"]
            lines.append(f"\t\tip {remote} {ip} return")
            seen: set[str] = set()
            for clause in clauses:
                for rule in _clause_rules(clause, remote):
                    if rule not in seen:
                        seen.add(rule)
                        lines.append(f"\t\t{rule}")
            lines += ["\t\tdrop", "\t}"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _clause_rules(clause: Clause, remote: str) -> list[str]:
    addrs: list[str]
    if clause.peers is None:
        addrs = [""]
    else:
        addrs = []
        if clause.peers.ips:
            addrs.append(f"ip {remote} {_set(sorted(clause.peers.ips, key=ipaddress.ip_address))}")
        for b in clause.peers.blocks:
            if ipaddress.ip_network(b.cidr).version != 4:
                continue
            match = f"ip {remote} {b.cidr}"
            v4_excepts = [e for e in b.excepts if ipaddress.ip_network(e).version == 4]
            if v4_excepts:
                match += f" ip {remote} != {_set(v4_excepts)}"
            addrs.append(match)
    ports: list[str]
    if clause.ports is None:
        ports = [""]
    else:
        ports = []
        for proto in sorted({r.protocol for r in clause.ports}):
            ranges = [r for r in clause.ports if r.protocol == proto]
            if any(r.first is None for r in ranges):
                ports.append(f"meta l4proto {proto}")
                continue
            items = _merge((r.first or 0, r.last or r.first or 0) for r in ranges)
            shown = [str(a) if a == b else f"{a}-{b}" for a, b in items]
            ports.append(f"{proto} dport {_set(shown)}")
    comment = f" comment {_quote(clause.origin)}" if clause.origin else ""
    return [
        " ".join(part for part in (a, p, "return") if part) + comment for a in addrs for p in ports
    ]


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or adjacent inclusive ranges joined (nft rejects overlaps in some sets)."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _quote(text: str) -> str:
    return '"' + text.replace('"', "").replace("\\", "")[:127] + '"'
