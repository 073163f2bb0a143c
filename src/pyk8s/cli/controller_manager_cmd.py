"""``pyk8s controller-manager``: the controller-manager process on its own (DESIGN §2).

``add_parser(subparsers)`` registers the subcommand (``cli/main.py`` wires it in);
``python -m pyk8s.cli.controller_manager_cmd ARGS`` runs it directly. Flags follow
kube-controller-manager's: ``--kubeconfig``, ``--controllers=*,-foo,bar``,
``--leader-elect=false``, ``--leader-elect-lease-duration=15s`` (Go durations),
``--cluster-cidr``, ``--kube-api-qps``/``--kube-api-burst``, ``--concurrent-syncs``, and
``--metrics-port`` (0 picks a free port, the default serves none).

Exit codes: 0 after SIGTERM/SIGINT, 1 when the lease was lost (another instance may be
leading; a supervisor restarts us), 2 for bad flags or an unusable kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import sys
from pathlib import Path

from pyk8s.cli import running

__all__ = ["add_parser", "main", "parse_duration", "run"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration ("15s", "1m30s", "500ms") or plain seconds, in seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return total


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "t"):
        return True
    if value in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig of the apiserver")
    p.add_argument(
        "--controllers",
        default="*",
        help="controllers to run: '*' for all on by default, 'foo' to enable, '-foo' to disable",
    )
    p.add_argument(
        "--leader-elect",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="hold the kube-system/kube-controller-manager Lease while running (default true)",
    )
    p.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0)
    p.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16")
    p.add_argument("--node-cidr-mask-size", type=int, default=24)
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=12500)
    p.add_argument(
        "--node-monitor-grace-period",
        type=parse_duration,
        default=40.0,
        help="silence after which a node is Unknown (default 40s)",
    )
    p.add_argument("--node-monitor-period", type=parse_duration, default=5.0)
    p.add_argument("--node-eviction-rate", type=float, default=0.1, help="nodes/s tainted per zone")
    p.add_argument("--secondary-node-eviction-rate", type=float, default=0.01)
    p.add_argument("--unhealthy-zone-threshold", type=float, default=0.55)
    p.add_argument("--large-cluster-size-threshold", type=int, default=50)
    p.add_argument("--root-ca-file", type=Path, default=None)
    p.add_argument("--concurrent-syncs", type=int, default=5)
    p.add_argument("--kube-api-qps", type=float, default=200.0)
    p.add_argument("--kube-api-burst", type=int, default=400)
    p.add_argument("--metrics-port", type=int, default=None)
    p.add_argument("--metrics-bind-address", default="127.0.0.1")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "controller-manager",
        help="run the controller-manager in the foreground",
        description="Run the controller-manager (deployments, replica sets, garbage collector, "
        "namespaces, …) against an apiserver, with leader election.",
    )
    _configure(p)
    p.set_defaults(func=run)
    return p


async def _serve(args: argparse.Namespace) -> int:
    from pyk8s.client import config as config_mod
    from pyk8s.controllers import manager
    from pyk8s.controllers.context import Options

    try:
        rest_config = config_mod.load(kubeconfig_path=args.kubeconfig)
    except (config_mod.ConfigError, OSError) as exc:
        print(f"pyk8s controller-manager: error: {exc}", file=sys.stderr)
        return 2
    root_ca = ""
    if args.root_ca_file is not None:
        root_ca = args.root_ca_file.read_text()
    elif rest_config.ca_data:
        root_ca = rest_config.ca_data.decode()
    options = Options(
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
        service_cluster_ip_range=args.service_cluster_ip_range,
        terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_monitor_period=args.node_monitor_period,
        node_eviction_rate=args.node_eviction_rate,
        secondary_node_eviction_rate=args.secondary_node_eviction_rate,
        unhealthy_zone_threshold=args.unhealthy_zone_threshold,
        large_cluster_size_threshold=args.large_cluster_size_threshold,
        concurrent_syncs=args.concurrent_syncs,
        root_ca_pem=root_ca,
    )
    cfg = manager.ManagerConfig(
        controllers=[c for c in args.controllers.split(",") if c.strip()],
        leader_elect=args.leader_elect,
        lease_name=args.leader_elect_resource_name,
        lease_namespace=args.leader_elect_resource_namespace,
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
        qps=args.kube_api_qps,
        burst=args.kube_api_burst,
        metrics_port=args.metrics_port,
        metrics_address=args.metrics_bind_address,
        options=options,
    )
    try:
        cm = manager.ControllerManager(rest_config, cfg)
    except (manager.UnknownController, ValueError) as exc:
        print(f"pyk8s controller-manager: error: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await cm.run(stop)
    except manager.LeadershipLost as exc:
        logging.getLogger("pyk8s.controller-manager").error("%s; exiting", exc)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    return running.serve(args, _serve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyk8s controller-manager")
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
