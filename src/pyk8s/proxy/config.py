"""How the service proxy is set up: ``ProxyConfig``, a plain frozen value (the CLI and the
agent build one; nothing here does I/O).

Names follow kube-proxy's configuration where it has one (``clusterCIDR``,
``minSyncPeriod``, ``syncPeriod``, ``masqueradeBit``, ``masqueradeAll``,
``nodePortAddresses``); the rest is ours:

- ``table``: our nftables table (``pyk8s-proxy``), in ``family`` ``ip`` (IPv4) or ``ip6``.
  The whole table is ours: every sync rewrites it in one transaction.
- ``localhost_nodeports``: NodePorts also answer on 127.0.0.0/8 (kube-proxy's iptables
  mode does this; its nftables mode does not). It needs ``route_localnet=1`` on the
  interfaces that lead to endpoints; with ``manage_sysctls`` the proxy sets it on
  ``all``, as kube-proxy's iptables mode does, and installs the CVE-2020-8558 guard rule.
- ``endpoint_cidrs`` (safety, see DESIGN §8): endpoints outside these ranges, the node's
  own addresses and loopback are not programmed, so a hand-written EndpointSlice can
  never make the proxy send traffic off this machine. Empty means "allow any", as
  upstream.
- ``service_proxy_name``: empty, the proxy handles every Service without the
  ``service.kubernetes.io/service-proxy-name`` label (as kube-proxy); set, only the
  Services (and EndpointSlices) labelled with that name — upstream's convention for
  alternative proxies, and how tests share a machine without touching other Services.
- ``servicelb`` / ``lb_pool``: the built-in LoadBalancer (``servicelb.py``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["DEFAULT_TABLE", "LB_CLASS", "SERVICE_PROXY_NAME_LABEL", "ProxyConfig"]

DEFAULT_TABLE = "pyk8s-proxy"
LB_CLASS = "pyk8s.io/servicelb"
SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
HEADLESS_LABEL = "service.kubernetes.io/headless"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    cluster_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    family: str = "ip"  # "ip" (IPv4) or "ip6"
    table: str = DEFAULT_TABLE
    service_proxy_name: str = ""
    drop_unallocated_cluster_ips: bool = True  # service_cidr addresses no Service owns
    masquerade_bit: int = 14
    masquerade_all: bool = False
    node_port_addresses: tuple[str, ...] = ()  # CIDRs; empty = every local address
    localhost_nodeports: bool = True
    manage_sysctls: bool = True
    endpoint_cidrs: tuple[str, ...] | None = None  # None = (cluster_cidr,)
    min_sync_period: float = 0.1  # seconds between two syncs at most this often
    sync_period: float = 30.0  # full resync even without changes
    servicelb: bool = True
    lb_pool: tuple[str, ...] = ()  # addresses or CIDRs; empty = the node's InternalIP
    lb_require_local: bool = True  # only hand out pool addresses this machine owns
    leader_elect: bool = True  # servicelb behind the kube-system/pyk8s-servicelb Lease
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if self.family not in ("ip", "ip6"):
            raise ValueError(f"family must be 'ip' or 'ip6', not {self.family!r}")
        if not 0 <= self.masquerade_bit <= 31:
            raise ValueError("masquerade_bit must be within 0..31")
        for cidr in (self.cluster_cidr, self.service_cidr, *self.node_port_addresses):
            if cidr:
                ipaddress.ip_network(cidr, strict=False)
        for cidr in self.allowed_endpoint_cidrs:
            ipaddress.ip_network(cidr, strict=False)
        if self.min_sync_period < 0 or self.sync_period <= 0:
            raise ValueError("sync periods must be positive")

    @property
    def ipv6(self) -> bool:
        return self.family == "ip6"

    @property
    def masquerade_mark(self) -> str:
        return f"{1 << self.masquerade_bit:#08x}"  # kube-proxy's spelling: 0x004000

    @property
    def label_selector(self) -> str:
        """kube-proxy's selector for Services and EndpointSlices (or an alternative
        proxy's, with ``service_proxy_name``)."""
        if self.service_proxy_name:
            return f"{SERVICE_PROXY_NAME_LABEL}={self.service_proxy_name},!{HEADLESS_LABEL}"
        return f"!{SERVICE_PROXY_NAME_LABEL},!{HEADLESS_LABEL}"

    @property
    def allowed_endpoint_cidrs(self) -> tuple[str, ...]:
        if self.endpoint_cidrs is None:
            return (self.cluster_cidr,) if self.cluster_cidr else ()
        return self.endpoint_cidrs
