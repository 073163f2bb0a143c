"""Routes that keep cluster addresses on this machine (DESIGN §8, ENVIRONMENT.md "Network").

The default route leads off the machine, so before any pod or Service traffic a node must
install:

- the service CIDR as a ``local`` route in the ``local`` table
  (``ip route replace local 10.96.0.0/12 dev lo table local``): host → ClusterIP still
  works through nftables DNAT, and an unprogrammed ClusterIP is refused locally;
- a ``blackhole`` route for the cluster (pod) CIDR in the main table
  (``ip route replace blackhole 10.244.0.0/16 metric 4242``): each node's bridge route is
  more specific (or, for the same prefix, has the lower metric) and wins; unknown pod IPs
  are dropped.
A range already inside an existing route of the same kind needs nothing more.

``route_commands`` (pure) decides from ``ip -j route show`` output which ``ip`` commands
are missing; ``ensure_routes`` runs them. Idempotent; the routes are never removed (they
only ever keep traffic in).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
from typing import Any

__all__ = [
    "CLUSTER_CIDR",
    "SERVICE_CIDR",
    "RouteError",
    "ensure_routes",
    "ensure_routes_blocking",
    "route_commands",
]

SERVICE_CIDR = "10.96.0.0/12"
CLUSTER_CIDR = "10.244.0.0/16"


class RouteError(Exception):
    """An ``ip`` command failed."""


# A node's bridge route may cover exactly the cluster CIDR (one node, cluster CIDR = node
# CIDR): the blackhole must then lose to it, so it gets a metric above the kernel's 0.
BLACKHOLE_METRIC = "4242"


def _has_route(routes: list[dict[str, Any]], kind: str, cidr: str) -> bool:
    """Whether a ``kind`` route for ``cidr`` or a range containing it exists."""
    net = ipaddress.ip_network(cidr)
    for r in routes:
        dst = r.get("dst", "")
        if dst == "default" or r.get("type", "unicast") != kind:
            continue
        try:
            if net.subnet_of(ipaddress.ip_network(dst, strict=False)):  # type: ignore[arg-type]
                return True
        except (ValueError, TypeError):
            continue
    return False


def route_commands(
    main_table: str,
    local_table: str,
    *,
    service_cidr: str = SERVICE_CIDR,
    cluster_cidr: str = CLUSTER_CIDR,
) -> list[list[str]]:
    """The ``ip`` argv lists still needed, given ``ip -j route show`` (main table) and
    ``ip -j route show table local`` output."""
    service = str(ipaddress.ip_network(service_cidr))
    cluster = str(ipaddress.ip_network(cluster_cidr))
    commands = []
    if not _has_route(json.loads(local_table or "[]"), "local", service):
        commands.append(["ip", "route", "replace", "local", service, "dev", "lo", "table", "local"])
    if not _has_route(json.loads(main_table or "[]"), "blackhole", cluster):
        commands.append(
            ["ip", "route", "replace", "blackhole", cluster, "metric", BLACKHOLE_METRIC]
        )
    return commands


async def _output(argv: list[str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RouteError(f"{' '.join(argv)}: {err.decode(errors='replace').strip()}")
    return out.decode()


async def ensure_routes(
    service_cidr: str = SERVICE_CIDR, cluster_cidr: str = CLUSTER_CIDR
) -> list[list[str]]:
    """Install the missing safety routes; returns the commands it ran (empty if none)."""
    main = await _output(["ip", "-j", "route", "show"])
    local = await _output(["ip", "-j", "route", "show", "table", "local"])
    commands = route_commands(main, local, service_cidr=service_cidr, cluster_cidr=cluster_cidr)
    for argv in commands:
        await _output(argv)
    return commands


def ensure_routes_blocking(
    service_cidr: str = SERVICE_CIDR, cluster_cidr: str = CLUSTER_CIDR
) -> list[list[str]]:
    """``ensure_routes`` for code without an event loop (CLI start-up, sync fixtures)."""

    def output(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RouteError(f"{' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    main = output(["ip", "-j", "route", "show"])
    local = output(["ip", "-j", "route", "show", "table", "local"])
    commands = route_commands(main, local, service_cidr=service_cidr, cluster_cidr=cluster_cidr)
    for argv in commands:
        output(argv)
    return commands
