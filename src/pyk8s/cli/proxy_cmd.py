"""``pyk8s proxy``: the service proxy on its own (DESIGN §2, §8), like kube-proxy in
nftables mode, plus the built-in LoadBalancer.

``add_parser(subparsers)`` registers the subcommand (``cli/main.py`` wires it in);
``python -m pyk8s.cli.proxy_cmd ARGS`` runs it directly. Flags carry kube-proxy's names
where it has one (``--hostname-override``, ``--cluster-cidr``, ``--nodeport-addresses``,
``--masquerade-all``, ``--cleanup``, ``--metrics-bind-address``); ``--metrics-bind`` is
the short spelling. ``--cleanup`` removes the proxy's nftables table and exits.

Exit codes: 0 after SIGTERM/SIGINT (or a successful ``--cleanup``), 1 when nftables
cannot be used, 2 for bad flags or an unusable kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from pyk8s.cli import running

__all__ = ["add_parser", "main", "proxy_config", "run"]


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "t"):
        return True
    if value in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig of the apiserver")
    p.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    p.add_argument(
        "--hostname-override",
        "--node-name",
        dest="node_name",
        default=None,
        help="the Node this proxy runs for (default: the host name)",
    )
    p.add_argument("--cluster-cidr", default="10.244.0.0/16", help="pod addresses (masquerade)")
    p.add_argument(
        "--service-cluster-ip-range",
        default="10.96.0.0/12",
        help="ClusterIP range: unallocated addresses in it are dropped",
    )
    p.add_argument(
        "--drop-unallocated-cluster-ips",
        type=_bool,
        default=True,
        help="drop traffic to service-range addresses no Service owns (default true)",
    )
    p.add_argument(
        "--nodeport-addresses",
        type=_list,
        default=(),
        help="CIDRs of node addresses that accept NodePorts (default: every local address)",
    )
    p.add_argument(
        "--localhost-nodeports",
        type=_bool,
        default=True,
        help="NodePorts also on 127.0.0.1 (sets route_localnet; default true)",
    )
    p.add_argument("--masquerade-all", action="store_true", help="SNAT all Service traffic")
    p.add_argument("--masquerade-bit", type=int, default=14, help="fwmark bit (default 14)")
    p.add_argument(
        "--endpoint-cidrs",
        type=_list,
        default=None,
        help="only program endpoints in these CIDRs or on the node (default: the cluster CIDR)",
    )
    p.add_argument("--min-sync-period", type=float, default=0.1, help="seconds (default 0.1)")
    p.add_argument("--sync-period", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument(
        "--metrics-bind",
        "--metrics-bind-address",
        dest="metrics_bind",
        default="127.0.0.1:10249",
        help="HOST:PORT for /metrics and /healthz ('' to disable; default 127.0.0.1:10249)",
    )
    p.add_argument("--disable-servicelb", action="store_true", help="no built-in LoadBalancer")
    p.add_argument(
        "--lb-pool",
        type=_list,
        default=(),
        help="LoadBalancer addresses/CIDRs, comma-separated (default: the node's InternalIP)",
    )
    p.add_argument(
        "--leader-elect",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="run the LoadBalancer behind the kube-system/pyk8s-servicelb Lease (default true)",
    )
    p.add_argument("--table", default="pyk8s-proxy", help="nftables table (default pyk8s-proxy)")
    p.add_argument(
        "--service-proxy-name",
        default="",
        help="handle only Services labelled service.kubernetes.io/service-proxy-name=NAME",
    )
    p.add_argument("--cleanup", action="store_true", help="remove the nftables table and exit")
    p.add_argument("--kube-api-qps", type=float, default=50.0)
    p.add_argument("--kube-api-burst", type=int, default=100)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "proxy",
        help="run the service proxy (nftables) in the foreground",
        description="Run the service proxy: nftables rules for Services (ClusterIP, NodePort, "
        "externalIPs, LoadBalancer) from EndpointSlices, like kube-proxy in nftables mode, "
        "and the built-in LoadBalancer that hands out addresses from a pool.",
    )
    _configure(p)
    p.set_defaults(func=run)
    return p


def proxy_config(args: argparse.Namespace) -> Any:
    """The ``ProxyConfig`` the flags describe (``ValueError`` for bad values)."""
    from pyk8s.proxy.config import ProxyConfig

    return ProxyConfig(
        table=args.table,
        service_proxy_name=args.service_proxy_name,
        cluster_cidr=args.cluster_cidr,
        service_cidr=args.service_cluster_ip_range,
        drop_unallocated_cluster_ips=args.drop_unallocated_cluster_ips,
        node_port_addresses=tuple(args.nodeport_addresses),
        localhost_nodeports=args.localhost_nodeports,
        masquerade_all=args.masquerade_all,
        masquerade_bit=args.masquerade_bit,
        endpoint_cidrs=tuple(args.endpoint_cidrs) if args.endpoint_cidrs is not None else None,
        min_sync_period=args.min_sync_period,
        sync_period=args.sync_period,
        servicelb=not args.disable_servicelb,
        lb_pool=tuple(args.lb_pool),
        leader_elect=args.leader_elect,
    )


async def _serve(args: argparse.Namespace) -> int:
    from pyk8s.client import config as config_mod
    from pyk8s.client import rest
    from pyk8s.kubelet import netsafety
    from pyk8s.proxy import nftables, proxier

    try:
        cfg = proxy_config(args)
    except ValueError as exc:
        print(f"pyk8s proxy: error: {exc}", file=sys.stderr)
        return 2
    if args.cleanup:
        try:
            await proxier.cleanup(cfg)
        except (nftables.NftError, OSError) as exc:
            print(f"pyk8s proxy: error: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        rest_config = config_mod.load(kubeconfig_path=args.kubeconfig, context=args.context)
    except (config_mod.ConfigError, OSError) as exc:
        print(f"pyk8s proxy: error: {exc}", file=sys.stderr)
        return 2
    try:  # before any rule exists, keep cluster addresses on this machine (DESIGN §8)
        if not cfg.ipv6:
            await netsafety.ensure_routes(cfg.service_cidr, cfg.cluster_cidr)
    except (netsafety.RouteError, OSError) as exc:
        print(f"pyk8s proxy: error: cannot install the safety routes: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node_name = args.node_name or socket.gethostname().lower()
    async with rest.RESTClient(
        rest_config, qps=args.kube_api_qps, burst=args.kube_api_burst, user_agent="pyk8s-proxy"
    ) as client:
        await proxier.run_proxy(
            client=client,
            node_name=node_name,
            config=cfg,
            stop=stop,
            metrics_bind=args.metrics_bind or None,
        )
    return 0


def run(args: argparse.Namespace) -> int:
    return running.serve(args, _serve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyk8s proxy")
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
