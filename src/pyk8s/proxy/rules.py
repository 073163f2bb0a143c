"""The proxy's whole nftables table, computed from cached objects: ``render(services,
slices, node, config)`` is the ``nft -f`` script that atomically replaces the table;
``build(...)`` is the same table as a ``nft.Ruleset`` (for incremental updates). Pure: no
I/O, same input → same text.

The layout is kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go), in our own table
(``ip pyk8s-proxy``):

- Base chains ``filter-{prerouting,input,forward,output}`` at priority dstnat-10 (-110),
  ``filter-output-post-dnat`` at dstnat+10 (-90), ``nat-{prerouting,output}`` at dstnat
  (-100) and ``nat-postrouting`` at srcnat (100).
- Dispatch: chain ``services`` (from nat-prerouting: pods and off-node clients; from
  nat-output: host processes) looks ``daddr . l4proto . dport`` up in the verdict map
  ``service-ips`` (ClusterIPs, externalIPs, load-balancer IPs) and ``l4proto . dport`` in
  ``service-nodeports`` for local destination addresses.
- Per service port: ``service-<hash>-ns/name/proto/port`` (policy Cluster) and
  ``local-…`` (policy Local) pick an endpoint with ``numgen random mod N vmap { … }``,
  after ClientIP affinity rules (``ip saddr @affinity-… goto endpoint-…``); ``external-…``
  handles NodePort/externalIP/LB traffic (masquerade, Local-policy short-circuits);
  ``endpoint-…`` chains masquerade hairpin traffic (source = the endpoint), record
  affinity (``update @affinity-… { ip saddr }``; sets with ``flags dynamic,timeout``) and
  DNAT.
- Masquerade is mark based: ``mark-for-masquerade`` sets the mark bit, ``masquerading``
  (nat-postrouting) clears it and masquerades. Marked: ClusterIP traffic from outside the
  cluster CIDR, external traffic with policy Cluster, host traffic to external addresses,
  hairpin traffic.
- No endpoints: ``no-endpoint-services`` / ``no-endpoint-nodeports`` send new connections
  to ``reject-chain`` (ICMP port unreachable) from filter input/forward/output, or
  ``drop`` where only Local endpoints would do and there are none. ``cluster-ips-check``
  rejects undefined ports of ClusterIPs and drops unallocated service-CIDR addresses.

Deviations (see the config module): localhost NodePorts are served (upstream's nftables
mode does not); ``cluster-ips-check`` also runs from filter-input because our service
CIDR has a ``local`` route; endpoints outside ``allowed_endpoint_cidrs`` and the node's
addresses are not programmed (safety). healthCheckNodePort is not served.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from pyk8s.proxy import model, nft
from pyk8s.proxy.config import ProxyConfig

__all__ = ["build", "chain_base", "endpoint_chain_base", "render"]

NAME_MAX = 230  # nft allows 255; room for prefixes and the affinity timeout

SERVICES = "services"
SERVICE_IPS = "service-ips"
SERVICE_NODEPORTS = "service-nodeports"
NODEPORT_IPS = "nodeport-ips"
CLUSTER_IPS = "cluster-ips"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
SERVICE_ENDPOINTS_CHECK = "service-endpoints-check"
NODEPORT_ENDPOINTS_CHECK = "nodeport-endpoints-check"
CLUSTER_IPS_CHECK = "cluster-ips-check"
REJECT_CHAIN = "reject-chain"
FIREWALL_IPS = "firewall-ips"
FIREWALL_CHECK = "firewall-check"
MARK_MASQ = "mark-for-masquerade"
MASQUERADING = "masquerading"

_BASE_CHAINS = (
    ("filter-prerouting", "type filter hook prerouting priority -110"),
    ("filter-input", "type filter hook input priority -110"),
    ("filter-forward", "type filter hook forward priority -110"),
    ("filter-output", "type filter hook output priority -110"),
    ("filter-output-post-dnat", "type filter hook output priority -90"),
    ("nat-prerouting", "type nat hook prerouting priority -100"),
    ("nat-output", "type nat hook output priority -100"),
    ("nat-postrouting", "type nat hook postrouting priority 100"),
)

_JUMPS = (
    ("filter-input", NODEPORT_ENDPOINTS_CHECK, "ct state new "),
    ("filter-input", SERVICE_ENDPOINTS_CHECK, "ct state new "),
    ("filter-forward", SERVICE_ENDPOINTS_CHECK, "ct state new "),
    ("filter-output", SERVICE_ENDPOINTS_CHECK, "ct state new "),
    ("filter-prerouting", FIREWALL_CHECK, "ct state new "),
    ("filter-output", FIREWALL_CHECK, "ct state new "),
    ("nat-output", SERVICES, ""),
    ("nat-prerouting", SERVICES, ""),
    ("nat-postrouting", MASQUERADING, ""),
    ("filter-forward", CLUSTER_IPS_CHECK, "ct state new "),
    ("filter-output-post-dnat", CLUSTER_IPS_CHECK, "ct state new "),
    ("filter-input", CLUSTER_IPS_CHECK, "ct state new "),
)


@functools.lru_cache(maxsize=1 << 16)
def _hashed(name: str) -> str:
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:8]
    full = f"{digest}-{name}"
    return full if len(full) <= NAME_MAX else full[: NAME_MAX - 3] + "..."


def chain_base(name: model.ServicePortName) -> str:
    """``HASH-ns/name/proto/port``, the shared part of a service port's chain names."""
    return _hashed(f"{name.namespace}/{name.name}/{name.protocol.lower()}/{name.port}")


def endpoint_chain_base(name: model.ServicePortName, ep: model.Endpoint) -> str:
    ip = ep.ip.replace(":", ".")
    return _hashed(
        f"{name.namespace}/{name.name}/{name.protocol.lower()}/{name.port}__{ip}/{ep.port}"
    )


class _Family:
    def __init__(self, cfg: ProxyConfig) -> None:
        self.ip = "ip6" if cfg.ipv6 else "ip"
        self.addr = "ipv6_addr" if cfg.ipv6 else "ipv4_addr"
        self.localhost = "::1" if cfg.ipv6 else "127.0.0.0/8"


def render(
    services: Iterable[Mapping[str, Any]],
    slices: Iterable[Mapping[str, Any]],
    node: Mapping[str, Any] | model.NodeInfo | None,
    config: ProxyConfig,
) -> str:
    """The ``nft -f -`` script that replaces our table with the rules for these objects."""
    return build(services, slices, node, config).replace_script()


def build(
    services: Iterable[Mapping[str, Any]],
    slices: Iterable[Mapping[str, Any]],
    node: Mapping[str, Any] | model.NodeInfo | None,
    config: ProxyConfig,
) -> nft.Ruleset:
    if isinstance(node, model.NodeInfo):
        info = node
    else:
        name = ((node or {}).get("metadata") or {}).get("name") or ""
        info = model.node_info(name, node)
    fam = _Family(config)
    rs = nft.Ruleset(config.family, config.table, comment="rules for pyk8s proxy")
    _skeleton(rs, fam, info, config)
    ports: list[model.ServicePort] = []
    for svc in services:
        ports.extend(model.service_ports(svc, ipv6=config.ipv6))
    ports.sort(key=lambda p: p.name)
    endpoints = model.endpoints_by_port(slices, node_name=info.name, ipv6=config.ipv6)
    allowed = _allowed_networks(config, info)
    for port in ports:
        eps = endpoints.get(port.name, [])
        if allowed is not None:
            eps = [ep for ep in eps if _allowed(ep.ip, allowed)]
        _service_port(rs, fam, port, model.categorize(eps, port, info), config)
    return rs


Ranges = list[tuple[int, int, int]]  # (version, first, last) as integers


def _allowed_networks(cfg: ProxyConfig, info: model.NodeInfo) -> Ranges | None:
    if not cfg.allowed_endpoint_cidrs:
        return None
    nets = [ipaddress.ip_network(c, strict=False) for c in cfg.allowed_endpoint_cidrs]
    nets += [ipaddress.ip_network(a) for a in info.addresses]
    return [(n.version, int(n.network_address), int(n.broadcast_address)) for n in nets]


def _allowed(ip: str, ranges: Ranges) -> bool:
    parsed = model.parse_ip(ip)
    if parsed is None:
        return False
    version, value, _ = parsed
    return any(v == version and first <= value <= last for v, first, last in ranges)


def _nodeport_ips(cfg: ProxyConfig, info: model.NodeInfo) -> list[str]:
    nets = [ipaddress.ip_network(c, strict=False) for c in cfg.node_port_addresses]
    candidates = list(info.addresses)
    if cfg.localhost_nodeports and not cfg.ipv6:
        candidates.append("127.0.0.1")
    return [a for a in candidates if any(ipaddress.ip_address(a) in n for n in nets)]


def _skeleton(rs: nft.Ruleset, fam: _Family, info: model.NodeInfo, cfg: ProxyConfig) -> None:
    """The fixed part of the table: base chains, jumps, dispatch, masquerade, rejects."""
    ip = fam.ip
    for name, hook in _BASE_CHAINS:
        rs.chain(name, hook=hook)
    if cfg.localhost_nodeports and not cfg.ipv6:
        rs.chain("filter-input").add(
            "ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status & dnat == 0 drop "
            'comment "block incoming localnet connections"'
        )
    for src, dst, cond in _JUMPS:
        rs.chain(dst)
        rs.chain(src).add(f"{cond}jump {dst}")
    mark = cfg.masquerade_mark
    rs.chain(MARK_MASQ).add(f"mark set mark or {mark}")
    masq = rs.chain(MASQUERADING)
    masq.add(f"mark and {mark} == 0 return")
    masq.add(f"mark set mark xor {mark}")
    masq.add("masquerade fully-random")

    rs.set(CLUSTER_IPS, spec=f"type {fam.addr}", comment="Active ClusterIPs")
    check = rs.chain(CLUSTER_IPS_CHECK)
    check.add(
        f'{ip} daddr @{CLUSTER_IPS} reject comment "Reject traffic to invalid ports of ClusterIPs"'
    )
    if cfg.service_cidr and cfg.drop_unallocated_cluster_ips:
        check.add(
            f'{ip} daddr {{ {cfg.service_cidr} }} drop comment "Drop traffic to unallocated ClusterIPs"'
        )

    if cfg.node_port_addresses:
        ips = rs.set(
            NODEPORT_IPS, spec=f"type {fam.addr}", comment="IPs that accept NodePort traffic"
        )
        for addr in _nodeport_ips(cfg, info):
            ips.add(addr)
        nodeport_match = f"{ip} daddr @{NODEPORT_IPS} "
        check_match = nodeport_match
    else:
        local_only = "" if cfg.localhost_nodeports else f"{ip} daddr != {fam.localhost} "
        nodeport_match = f"fib daddr type local {local_only}"
        check_match = local_only

    verdict_key = f"type {fam.addr} . inet_proto . inet_service : verdict"
    rs.set(
        NO_ENDPOINT_SERVICES,
        kind="map",
        spec=verdict_key,
        comment="vmap to drop or reject packets to services with no endpoints",
    )
    rs.set(
        NO_ENDPOINT_NODEPORTS,
        kind="map",
        spec="type inet_proto . inet_service : verdict",
        comment="vmap to drop or reject packets to service nodeports with no endpoints",
    )
    rs.chain(REJECT_CHAIN, comment="helper for @no-endpoint-services / @no-endpoint-nodeports").add(
        "reject"
    )
    rs.chain(SERVICE_ENDPOINTS_CHECK).add(
        f"{ip} daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"
    )
    rs.chain(NODEPORT_ENDPOINTS_CHECK).add(
        f"{check_match}meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"
    )

    rs.set(
        FIREWALL_IPS,
        kind="map",
        spec=verdict_key,
        comment="destinations that are subject to LoadBalancerSourceRanges",
    )
    rs.chain(FIREWALL_CHECK).add(f"{ip} daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}")

    rs.set(
        SERVICE_IPS,
        kind="map",
        spec=verdict_key,
        comment="ClusterIP, ExternalIP and LoadBalancer IP traffic",
    )
    rs.set(
        SERVICE_NODEPORTS,
        kind="map",
        spec="type inet_proto . inet_service : verdict",
        comment="NodePort traffic",
    )
    services = rs.chain(SERVICES)
    services.add(f"{ip} daddr . meta l4proto . th dport vmap @{SERVICE_IPS}")
    services.add(f"{nodeport_match}meta l4proto . th dport vmap @{SERVICE_NODEPORTS}")


def _key(addr: str, proto: str, port: int) -> str:
    return f"{addr} . {proto} . {port}"


def _service_port(
    rs: nft.Ruleset,
    fam: _Family,
    sp: model.ServicePort,
    cat: model.Categorized,
    cfg: ProxyConfig,
) -> None:
    """Everything one service port contributes (upstream's syncProxyRules loop body)."""
    ip = fam.ip
    proto = sp.protocol.lower()
    label = str(sp.name)
    base = chain_base(sp.name)
    cluster_chain = f"service-{base}"
    local_chain = f"local-{base}"
    external_chain = f"external-{base}"
    fw_chain = f"firewall-{base}"

    ep_chains = {str(ep): f"endpoint-{endpoint_chain_base(sp.name, ep)}" for ep in cat.reachable}
    for chain in ep_chains.values():
        rs.chain(chain)
    uses_cluster = bool(cat.cluster) and sp.uses_cluster_endpoints
    if uses_cluster:
        rs.chain(cluster_chain)
    uses_local = bool(cat.local) and sp.uses_local_endpoints
    if uses_local:
        rs.chain(local_chain)

    internal_chain, has_internal = cluster_chain, cat.has_any
    if sp.internal_policy_local:
        internal_chain, has_internal = local_chain, bool(cat.local)
    external_policy_chain, has_external = cluster_chain, cat.has_any
    if sp.external_policy_local:
        external_policy_chain, has_external = local_chain, bool(cat.local)
    uses_external = cat.has_any and sp.externally_accessible
    if uses_external:
        rs.chain(external_chain)

    if not cat.has_any:
        internal_verdict = external_verdict = f"goto {REJECT_CHAIN}"
    else:
        internal_verdict = "" if has_internal else "drop"
        external_verdict = "" if has_external else "drop"

    rs.element(CLUSTER_IPS, sp.cluster_ip)
    cluster_key = _key(sp.cluster_ip, proto, sp.port)
    if has_internal:
        rs.element(SERVICE_IPS, cluster_key, f"goto {internal_chain}")
    else:
        rs.element(NO_ENDPOINT_SERVICES, cluster_key, internal_verdict, label)

    for ext_ip in sp.external_ips:
        key = _key(ext_ip, proto, sp.port)
        if cat.has_any:
            rs.element(SERVICE_IPS, key, f"goto {external_chain}")
        if not has_external:
            rs.element(NO_ENDPOINT_SERVICES, key, external_verdict, label)

    uses_firewall = bool(sp.lb_ips) and bool(sp.lb_source_ranges)
    if uses_firewall:
        sources = list(sp.lb_source_ranges)
        rs.chain(fw_chain).add(f"{ip} saddr != {{ {', '.join(sources)} }} drop")
    for lb_ip in sp.lb_ips:
        key = _key(lb_ip, proto, sp.port)
        if cat.has_any:
            rs.element(SERVICE_IPS, key, f"goto {external_chain}")
        if uses_firewall:
            rs.element(FIREWALL_IPS, key, f"goto {fw_chain}", label)
        if not has_external:
            rs.element(NO_ENDPOINT_SERVICES, key, external_verdict, label)

    if sp.node_port:
        key = f"{proto} . {sp.node_port}"
        if cat.has_any:
            rs.element(SERVICE_NODEPORTS, key, f"goto {external_chain}")
        if not has_external:
            rs.element(NO_ENDPOINT_NODEPORTS, key, external_verdict, label)

    if has_internal:
        match = f"{ip} daddr {sp.cluster_ip} {proto} dport {sp.port}"
        if cfg.masquerade_all:
            rs.chain(internal_chain).add(f"{match} jump {MARK_MASQ}")
        elif cfg.cluster_cidr:
            # off-cluster clients reaching a ClusterIP (host processes included): the
            # reply must come back through this node to be un-DNATed
            rs.chain(internal_chain).add(
                f"{match} {ip} saddr != {cfg.cluster_cidr} jump {MARK_MASQ}"
            )

    if uses_external:
        ext = rs.chain(external_chain)
        if not sp.external_policy_local:
            ext.add(f"jump {MARK_MASQ}")
        else:
            if cfg.cluster_cidr:
                ext.add(
                    f'{ip} saddr {cfg.cluster_cidr} goto {cluster_chain} comment "short-circuit pod traffic"'
                )
            ext.add(f'fib saddr type local jump {MARK_MASQ} comment "masquerade local traffic"')
            ext.add(
                f'fib saddr type local goto {cluster_chain} comment "short-circuit local traffic"'
            )
        if has_external:
            ext.add(f"goto {external_policy_chain}")

    if sp.affinity_timeout is not None:
        for ep in cat.reachable:
            rs.set(
                _affinity_set(ep_chains[str(ep)], sp.affinity_timeout),
                spec=f"type {fam.addr} ; flags dynamic,timeout ; timeout {sp.affinity_timeout}s",
            )

    if uses_cluster:
        _dispatch(rs, fam, sp, rs.chain(cluster_chain), cat.cluster, ep_chains)
    if uses_local:
        _dispatch(rs, fam, sp, rs.chain(local_chain), cat.local, ep_chains)

    for ep in cat.reachable:
        ep_chain = rs.chain(ep_chains[str(ep)])
        ep_chain.add(f"{ip} saddr {ep.ip} jump {MARK_MASQ}")
        if sp.affinity_timeout is not None:
            affinity = _affinity_set(ep_chain.name, sp.affinity_timeout)
            ep_chain.add(f"update @{affinity} {{ {ip} saddr }}")
        ep_chain.add(f"meta l4proto {proto} dnat to {ep}")


def _affinity_set(endpoint_chain: str, timeout: int) -> str:
    # the timeout is part of the name: a set's timeout cannot change in place
    return "affinity-" + endpoint_chain.removeprefix("endpoint-") + f"/{timeout}"


def _dispatch(
    rs: nft.Ruleset,
    fam: _Family,
    sp: model.ServicePort,
    chain: nft.Chain,
    endpoints: tuple[model.Endpoint, ...],
    ep_chains: dict[str, str],
) -> None:
    """Affinity lookups first, then a random pick among ``endpoints``."""
    if sp.affinity_timeout is not None:
        for ep in endpoints:
            target = ep_chains[str(ep)]
            chain.add(f"{fam.ip} saddr @{_affinity_set(target, sp.affinity_timeout)} goto {target}")
    choices = ", ".join(f"{i} : goto {ep_chains[str(ep)]}" for i, ep in enumerate(endpoints))
    chain.add(f"numgen random mod {len(endpoints)} vmap {{ {choices} }}")
