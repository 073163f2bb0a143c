"""Kernel settings the proxy's rules depend on: ``desired(config)`` says which (pure),
``ensure(settings)`` writes the ones that differ under /proc/sys (the adapter).

Only one today, as kube-proxy's iptables mode: NodePorts on 127.0.0.1 are DNATed from the
``output`` hook to a pod address with source 127.0.0.1, which the kernel refuses to route
off the loopback device unless ``net.ipv4.conf.<out-dev>.route_localnet`` (or ``all``) is
1. The CVE-2020-8558 guard rule in ``rules.py`` (filter-input drops packets to 127.0.0.0/8
from elsewhere that were not DNATed) comes with it. Forwarding (``ip_forward``) and
``bridge-nf-call-iptables`` belong to the node's network setup (CNI), not to the proxy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyk8s.proxy.config import ProxyConfig

__all__ = ["desired", "ensure"]

log = logging.getLogger(__name__)

ROUTE_LOCALNET = "net/ipv4/conf/all/route_localnet"


def desired(config: ProxyConfig) -> dict[str, str]:
    if config.manage_sysctls and config.localhost_nodeports and not config.ipv6:
        return {ROUTE_LOCALNET: "1"}
    return {}


def ensure(settings: dict[str, str], *, root: Path = Path("/proc/sys")) -> dict[str, str]:
    """Write each setting that differs; returns the previous values of those written."""
    changed: dict[str, str] = {}
    for key, value in settings.items():
        path = root / key
        try:
            current = path.read_text().strip()
            if current != value:
                path.write_text(value)
                changed[key] = current
                log.info("set %s=%s (was %s)", key.replace("/", "."), value, current)
        except OSError as exc:
            log.error("cannot set %s=%s: %s", key.replace("/", "."), value, exc)
    return changed
