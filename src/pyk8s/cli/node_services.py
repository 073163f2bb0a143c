"""What a real node runs beside its kubelet (DESIGN §2, §8): the service proxy (with the
built-in LoadBalancer), NetworkPolicy enforcement and the cluster DNS server — plus the
objects that make that DNS server reachable as ``kube-system/kube-dns``.

Contract:
- ``NodeServices`` holds the settings (flags of ``pyk8s agent``); ``add_flags`` declares
  them; ``run_node_services`` runs every enabled service until ``stop`` is set and
  cancels them all when one fails (the failure propagates, so the agent exits non-zero).
- DNS runs on the node, not in a pod (like a node-local DNS cache): it listens on the
  node's address and the agent publishes that address, port 53, in an EndpointSlice
  ``kube-dns-<node>`` of the selector-less ``kube-dns`` Service, which it creates with
  ClusterIP ``--cluster-dns`` (the tenth address of the service CIDR by default) when
  missing. Pods reach it through the proxy's DNAT of that ClusterIP. The slice goes when
  the agent stops cleanly, so no dead node keeps answering for DNS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from pyk8s.client import errors, paths, rest

__all__ = ["NodeServices", "add_flags", "from_args", "run_node_services"]

log = logging.getLogger(__name__)

SERVICES = paths.resource_for("", "v1", "services", kind="Service")
SLICES = paths.resource_for("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")


@dataclass(frozen=True, slots=True)
class NodeServices:
    proxy: bool = True
    network_policy: bool = True
    dns: bool = True
    cluster_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    cluster_dns: str = ""  # "" = the tenth address of service_cidr
    cluster_domain: str = "cluster.local"
    dns_port: int = 53
    dns_upstreams: tuple[str, ...] | None = None  # None = the host's resolv.conf
    proxy_metrics_bind: str | None = None
    servicelb: bool = True
    lb_pool: tuple[str, ...] = ()
    proxy_table: str = "pyk8s-proxy"
    netpol_table: str = "pyk8s-netpol"


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("node services (real nodes)")
    g.add_argument("--disable-proxy", action="store_true", help="do not run the service proxy")
    g.add_argument(
        "--disable-network-policy", action="store_true", help="do not enforce NetworkPolicies"
    )
    g.add_argument("--disable-dns", action="store_true", help="do not run the cluster DNS")
    g.add_argument("--disable-servicelb", action="store_true", help="no built-in LoadBalancer")
    g.add_argument("--lb-pool", default="", help="LoadBalancer addresses (default: node IP)")
    g.add_argument("--dns-port", type=int, default=53, help="port of the node's DNS server")
    g.add_argument(
        "--dns-upstream",
        action="append",
        default=None,
        metavar="IP[:PORT]",
        help="resolver for names outside the cluster (default: the host's resolv.conf)",
    )
    g.add_argument("--proxy-metrics-bind", default=None, metavar="HOST:PORT")
    g.add_argument(
        "--proxy-table", default="pyk8s-proxy", help="the proxy's nftables table (ip family)"
    )
    g.add_argument(
        "--netpol-table", default="pyk8s-netpol", help="NetworkPolicy's nftables table (inet)"
    )


def from_args(args: argparse.Namespace) -> NodeServices:
    return NodeServices(
        proxy=not args.disable_proxy,
        network_policy=not args.disable_network_policy,
        dns=not args.disable_dns,
        cluster_cidr=args.cluster_cidr,
        service_cidr=args.service_cluster_ip_range,
        cluster_dns=(args.cluster_dns or "").split(",")[0],
        cluster_domain=args.cluster_domain,
        dns_port=args.dns_port,
        dns_upstreams=tuple(args.dns_upstream) if args.dns_upstream else None,
        proxy_metrics_bind=args.proxy_metrics_bind,
        servicelb=not args.disable_servicelb,
        lb_pool=tuple(a for a in args.lb_pool.split(",") if a),
        proxy_table=args.proxy_table,
        netpol_table=args.netpol_table,
    )


async def run_node_services(
    *,
    client: rest.RESTClient,
    node_name: str,
    node_ip: str,
    settings: NodeServices,
    stop: asyncio.Event,
) -> None:
    from pyk8s.dns import bootstrap as dns_bootstrap

    tasks: list[asyncio.Task[Any]] = []
    if settings.proxy:
        from pyk8s.proxy import config as proxy_config
        from pyk8s.proxy import proxier

        cfg = proxy_config.ProxyConfig(
            cluster_cidr=settings.cluster_cidr,
            service_cidr=settings.service_cidr,
            servicelb=settings.servicelb,
            lb_pool=settings.lb_pool,
            table=settings.proxy_table,
        )
        tasks.append(
            asyncio.create_task(
                proxier.run_proxy(
                    client=client,
                    node_name=node_name,
                    config=cfg,
                    stop=stop,
                    metrics_bind=settings.proxy_metrics_bind,
                ),
                name="proxy",
            )
        )
    if settings.network_policy:
        from pyk8s.proxy import netpol

        tasks.append(
            asyncio.create_task(
                netpol.run_netpol(
                    client=client,
                    node_name=node_name,
                    config=netpol.NetpolConfig(table=settings.netpol_table),
                    stop=stop,
                ),
                name="netpol",
            )
        )
    slice_name = f"kube-dns-{node_name}"
    if settings.dns:
        from pyk8s.dns import server as dns_server

        cluster_ip = settings.cluster_dns or dns_bootstrap.dns_service_ip(settings.service_cidr)
        await _ensure_kube_dns(
            client, cluster_ip, node_name, node_ip, slice_name, port=settings.dns_port
        )
        tasks.append(
            asyncio.create_task(
                dns_server.run_dns(
                    client=client,
                    bind=f"{node_ip}:{settings.dns_port}",
                    zone=settings.cluster_domain,
                    upstreams=list(settings.dns_upstreams) if settings.dns_upstreams else None,
                    metrics_bind=None,
                    stop=stop,
                ),
                name="dns",
            )
        )
    if not tasks:
        await stop.wait()
        return
    try:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        await stop.wait()
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if settings.dns:
            with contextlib.suppress(errors.ApiError, OSError):
                await client.delete(SLICES, slice_name, namespace="kube-system")


async def _ensure_kube_dns(
    client: rest.RESTClient,
    cluster_ip: str,
    node_name: str,
    node_ip: str,
    slice_name: str,
    *,
    port: int,
) -> None:
    from pyk8s.dns import bootstrap as dns_bootstrap

    try:
        await client.create(SERVICES, dns_bootstrap.kube_dns_service(cluster_ip=cluster_ip))
        log.info("created kube-system/kube-dns with ClusterIP %s", cluster_ip)
    except errors.AlreadyExists:
        pass
    es = dns_bootstrap.kube_dns_endpoint_slice(
        addresses=[node_ip], node_name=node_name, metrics_port=None
    )
    es["metadata"]["name"] = slice_name
    for p in es["ports"]:
        p["port"] = port
    try:
        await client.create(SLICES, es)
    except errors.AlreadyExists:
        current = await client.get(SLICES, slice_name, namespace="kube-system")
        es["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await client.update(SLICES, es)
    log.info("kube-system/%s points kube-dns at %s:%d", slice_name, node_ip, port)
