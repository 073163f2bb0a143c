"""``pyk8s dns``: the cluster DNS server on its own (DESIGN §8).

``add_parser(subparsers)`` registers the subcommand (``cli/main.py`` wires it in);
``python -m pyk8s.cli.dns_cmd ARGS`` runs it directly. Flags: ``--kubeconfig``,
``--bind`` (UDP and TCP, default 0.0.0.0:53), ``--zone`` (cluster.local), ``--upstream``
(repeatable or comma-separated ``ip[:port]``; default: the nameservers of
/etc/resolv.conf), ``--ttl`` (30, kubeadm's Corefile), ``--pods`` (insecure|disabled),
``--metrics-bind`` (/metrics, /health, /ready; default 127.0.0.1:9153, "" for none).

Exit codes: 0 after SIGTERM/SIGINT, 2 for bad flags or an unusable kubeconfig, 1 when the
sockets cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from pathlib import Path

__all__ = ["add_parser", "main", "run"]


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig of the apiserver")
    p.add_argument("--bind", default="0.0.0.0:53", help="UDP and TCP address (default 0.0.0.0:53)")
    p.add_argument("--zone", default="cluster.local", help="cluster domain (default cluster.local)")
    p.add_argument(
        "--upstream",
        action="append",
        default=None,
        help="resolver for names outside the zone, ip[:port] (repeatable, comma-separated); "
        "default: the nameservers in /etc/resolv.conf",
    )
    p.add_argument("--ttl", type=int, default=30, help="TTL of cluster records (default 30)")
    p.add_argument(
        "--pods",
        choices=("insecure", "disabled"),
        default="insecure",
        help="a-b-c-d.<ns>.pod.<zone> records (CoreDNS 'pods' mode; default insecure)",
    )
    p.add_argument(
        "--metrics-bind",
        default="127.0.0.1:9153",
        help="address for /metrics, /health and /ready (default 127.0.0.1:9153; '' for none)",
    )
    p.add_argument("--kube-api-qps", type=float, default=50.0)
    p.add_argument("--kube-api-burst", type=int, default=100)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "dns",
        help="run the cluster DNS server in the foreground",
        description="Serve the Kubernetes DNS schema (Services, EndpointSlices) over UDP and "
        "TCP and forward other names upstream, like CoreDNS with kubeadm's Corefile.",
    )
    _configure(p)
    p.set_defaults(func=run)
    return p


def _upstreams(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


async def _serve(args: argparse.Namespace) -> int:
    from pyk8s.client import config as config_mod
    from pyk8s.client import rest
    from pyk8s.dns import forward, server

    try:
        rest_config = config_mod.load(kubeconfig_path=args.kubeconfig)
    except (config_mod.ConfigError, OSError) as exc:
        print(f"pyk8s dns: error: {exc}", file=sys.stderr)
        return 2
    upstreams = _upstreams(args.upstream)
    try:
        for u in upstreams or ():
            forward.parse_upstream(u)
        server.parse_hostport(args.bind, 53)
    except ValueError as exc:
        print(f"pyk8s dns: error: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with rest.RESTClient(
        rest_config, qps=args.kube_api_qps, burst=args.kube_api_burst, user_agent="pyk8s-dns"
    ) as client:
        dns = server.DnsServer(
            client=client,
            config=server.DnsConfig(
                bind=args.bind,
                zone=args.zone,
                upstreams=upstreams,
                ttl=args.ttl,
                pods_insecure=args.pods == "insecure",
                metrics_bind=args.metrics_bind or None,
            ),
        )
        try:
            await dns.start()
        except OSError as exc:
            print(
                f"pyk8s dns: error: cannot serve on {args.bind}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            await dns.close()
            return 1
        print(
            f"pyk8s dns: serving {args.zone} on {dns.udp_address[0]}:{dns.udp_address[1]}"
            + (f"; metrics {dns.metrics_url}" if dns.metrics_url else ""),
            flush=True,
        )
        await dns.run(stop)
    return 0


def run(args: argparse.Namespace) -> int:
    import uvloop

    from pyk8s.cli import running

    running.configure_logging(args.verbose)
    # the caches are long-lived and the hot path allocates little: keep the collector quiet
    gc.set_threshold(50_000, 20, 100)
    return int(uvloop.run(_serve(args)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyk8s dns")
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
