"""The ``pyk8s`` command (DESIGN §2): ``server`` runs the control plane in the foreground;
``up``/``down``/``status`` manage an all-in-one cluster in the background; ``kubectl``
runs the real kubectl against it."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path

import uvloop

from pyk8s import __version__
from pyk8s.cli.supervisor import Child, Supervisor

__all__ = ["main"]


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/pyk8s")
    return Path.home() / ".local" / "share" / "pyk8s"


def _add_server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="state, TLS and kubeconfig directory (default /var/lib/pyk8s as root, else ~/.local/share/pyk8s)",
    )
    p.add_argument(
        "--bind-address",
        default="0.0.0.0",
        help="address to serve the API on (default 0.0.0.0: pods reach it through the "
        "kubernetes Service)",
    )
    p.add_argument(
        "--advertise-address",
        default="",
        help="address published in the kubernetes Service's endpoints (default: the bind "
        "address, or this host's address toward the default route)",
    )
    p.add_argument(
        "--port", type=int, default=6443, help="HTTPS port (default 6443; 0 picks a free one)"
    )
    p.add_argument(
        "--storage",
        choices=("sqlite", "etcd"),
        default="sqlite",
        help="storage backend (default sqlite, embedded)",
    )
    p.add_argument(
        "--etcd-endpoints",
        default="http://127.0.0.1:2379",
        help="comma-separated etcd client URLs (with --storage etcd)",
    )
    p.add_argument(
        "--sqlite-sync",
        choices=("normal", "full"),
        default="normal",
        help="'full' also survives power loss (slower writes)",
    )
    p.add_argument(
        "--service-cluster-ip-range", default="10.96.0.0/12", help="CIDR for Service ClusterIPs"
    )
    p.add_argument("--service-node-port-range", default="30000-32767", help="range for NodePorts")
    p.add_argument(
        "--token-auth-file",
        type=Path,
        default=None,
        help='static bearer tokens: token,user,uid,"group1,group2"',
    )
    p.add_argument(
        "--write-kubeconfig", type=Path, default=None, help="also write the admin kubeconfig here"
    )
    p.add_argument(
        "--tls-san",
        action="append",
        default=[],
        help="extra name or IP for the serving certificate",
    )
    p.add_argument(
        "--cluster-cidr", default="10.244.0.0/16", help="CIDR for pod addresses (a /24 per node)"
    )
    p.add_argument(
        "--disable-agent",
        action="store_true",
        help="do not run a local node (the kubelet on a supervised containerd, as 'pyk8s "
        "agent --runtime cri' with this data dir)",
    )
    p.add_argument(
        "--disable-ingress",
        action="store_true",
        help="do not run the ingress controller (nginx; runs with the local agent)",
    )
    p.add_argument("--ingress-http-port", type=int, default=80, help="default 80")
    p.add_argument("--ingress-https-port", type=int, default=443, help="default 443")
    p.add_argument(
        "--kubelet-arg",
        action="append",
        default=[],
        metavar="FLAG=VALUE",
        help="extra flag for the local node agent, e.g. node-ip=127.0.0.2 (repeatable)",
    )
    p.add_argument(
        "--disable-controllers", action="store_true", help="do not run the controller-manager"
    )
    p.add_argument("--disable-scheduler", action="store_true", help="do not run the scheduler")
    p.add_argument(
        "--kube-controller-manager-arg",
        action="append",
        default=[],
        metavar="FLAG=VALUE",
        help="extra flag for the controller-manager, e.g. node-monitor-grace-period=10s",
    )
    p.add_argument(
        "--kube-scheduler-arg",
        action="append",
        default=[],
        metavar="FLAG=VALUE",
        help="extra flag for the scheduler (repeatable)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _server_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pyk8s.apiserver.server import ServerConfig

    low, _, high = args.service_node_port_range.partition("-")
    return ServerConfig(
        data_dir=args.data_dir or default_data_dir(),
        bind_address=args.bind_address,
        port=args.port,
        storage=args.storage,
        etcd_endpoints=[e.strip() for e in args.etcd_endpoints.split(",") if e.strip()],
        sqlite_sync=args.sqlite_sync,
        service_cidr=args.service_cluster_ip_range,
        node_port_range=(int(low), int(high)),
        token_auth_file=args.token_auth_file,
        write_kubeconfig=args.write_kubeconfig,
        tls_sans=args.tls_san,
        advertise_address=args.advertise_address or None,
    )


async def _serve(args: argparse.Namespace) -> int:
    from pyk8s.apiserver.server import Server
    from pyk8s.storage import errors as storage_errors

    server = Server(_server_config(args))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except storage_errors.Unavailable as exc:
        print(f"pyk8s: error: {exc}", file=sys.stderr)
        await server.stop()
        return 1
    except OSError as exc:
        print(
            f"pyk8s: error: cannot serve on {args.bind_address}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        await server.stop()
        return 1
    # the watch cache and schemas are long-lived: keep them out of the collector's way
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    kubeconfig = server.cfg.data_dir / "admin.kubeconfig"
    print(
        f"pyk8s {__version__}: apiserver ready at {server.url}; kubeconfig {kubeconfig}", flush=True
    )
    supervisor = Supervisor(_children(args, kubeconfig))
    supervisor.start()
    await stop.wait()
    logging.getLogger("pyk8s").info("shutting down")
    await supervisor.stop()
    await server.stop()
    return 0


def _children(args: argparse.Namespace, kubeconfig: Path) -> list[Child]:
    """The control-plane components ``pyk8s server`` runs beside the apiserver (one
    process each, so they use more than one core); ``pyk8s apiserver`` runs none."""
    if args.command != "server":
        return []
    base = [sys.executable, "-m", "pyk8s.cli.main"]
    out: list[Child] = []
    if not args.disable_controllers:
        out.append(
            Child(
                "controller-manager",
                [
                    *base,
                    "controller-manager",
                    "--kubeconfig",
                    str(kubeconfig),
                    "--cluster-cidr",
                    args.cluster_cidr,
                    "--service-cluster-ip-range",
                    args.service_cluster_ip_range,
                    *_passed_flags(args.kube_controller_manager_arg),
                ],
            )
        )
    if not args.disable_scheduler:
        out.append(
            Child(
                "scheduler",
                [
                    *base,
                    "scheduler",
                    "--kubeconfig",
                    str(kubeconfig),
                    *_passed_flags(args.kube_scheduler_arg),
                ],
            )
        )
    if not args.disable_agent and os.geteuid() != 0:
        logging.getLogger("pyk8s.server").warning(
            "not running as root: no local node (the kubelet needs root to run containers); "
            "pass --disable-agent to silence this"
        )
    elif not args.disable_agent:
        out.append(
            Child(
                "agent",
                [
                    *base,
                    "agent",
                    "--runtime",
                    "cri",
                    "--kubeconfig",
                    str(kubeconfig),
                    "--data-dir",
                    str(args.data_dir or default_data_dir()),
                    "--cluster-cidr",
                    args.cluster_cidr,
                    "--service-cluster-ip-range",
                    args.service_cluster_ip_range,
                    *_passed_flags(args.kubelet_arg),
                ],
            )
        )
        if not args.disable_ingress:
            from pyk8s.client.hostaddr import detect_host_ip

            data_dir = args.data_dir or default_data_dir()
            out.append(
                Child(
                    "ingress-controller",
                    [
                        *base,
                        "ingress-controller",
                        "--kubeconfig",
                        str(kubeconfig),
                        "--data-dir",
                        str(Path(data_dir).absolute() / "ingress"),
                        "--http-port",
                        str(args.ingress_http_port),
                        "--https-port",
                        str(args.ingress_https_port),
                        "--publish-address",
                        detect_host_ip(),
                        "--metrics-bind",
                        "",
                    ],
                )
            )
    return out


def _passed_flags(values: list[str]) -> list[str]:
    """k3s-style ``--kube-…-arg name=value`` → ``--name=value`` for the child."""
    return [v if v.startswith("--") else f"--{v}" for v in values]


def cmd_server(args: argparse.Namespace) -> int:
    from pyk8s.cli import running

    running.configure_logging(args.verbose)
    # uvloop: a libuv event loop with C TLS plumbing, roughly a third less CPU per request
    return int(uvloop.run(_serve(args)))


def build_parser() -> argparse.ArgumentParser:
    from pyk8s.cli import (
        agent_cmd,
        controller_manager_cmd,
        dns_cmd,
        image_cmd,
        ingress_cmd,
        kubelet_cmd,
        lifecycle,
        proxy_cmd,
        scheduler_cmd,
    )

    parser = argparse.ArgumentParser(prog="pyk8s", description="Kubernetes, implemented in Python.")
    parser.add_argument("--version", action="version", version=f"pyk8s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "server",
        help="run the control plane in the foreground",
        description="Run the cluster in the foreground: the apiserver, with the "
        "controller-manager and the scheduler as supervised child processes, and (as root) a "
        "local node — kubelet on containerd, proxy, DNS — and the ingress controller.",
    )
    _add_server_args(p)
    p.set_defaults(func=cmd_server)
    p = sub.add_parser(
        "apiserver",
        help="run only the apiserver in the foreground",
        description="Run only the apiserver in the foreground.",
    )
    _add_server_args(p)
    p.set_defaults(func=cmd_server)

    scheduler_cmd.add_parser(sub)
    controller_manager_cmd.add_parser(sub)
    agent_cmd.add_parser(sub)
    kubelet_cmd.add_parser(sub)
    proxy_cmd.add_parser(sub)
    dns_cmd.add_parser(sub)
    image_cmd.add_parser(sub)
    ingress_cmd.add_parser(sub)

    p = sub.add_parser(
        "up",
        help="start the all-in-one cluster in the background and wait until it is ready",
        description="Start the cluster in the background, wait until it is ready, write the kubeconfig and merge a 'pyk8s' context into ~/.kube/config.",
    )
    _add_server_args(p)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    p.add_argument("--no-merge-kubeconfig", action="store_true", help="leave ~/.kube/config alone")
    p.set_defaults(func=lifecycle.cmd_up)

    p = sub.add_parser(
        "down",
        help="stop the cluster started by 'pyk8s up'",
        description="Stop the cluster started by 'pyk8s up' (its data stays), then stop and "
        "remove the local node's pods, cgroups, pod network and rules (like k3s-killall.sh).",
    )
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument(
        "--keep-pods",
        action="store_true",
        help="leave the local node's containers running (a later 'up' adopts them)",
    )
    p.set_defaults(func=lifecycle.cmd_down)

    p = sub.add_parser(
        "status",
        help="show whether the cluster runs and answers",
        description="Show whether the cluster started by 'pyk8s up' runs and answers.",
    )
    p.add_argument("--data-dir", type=Path, default=None)
    p.set_defaults(func=lifecycle.cmd_status)

    p = sub.add_parser(
        "kubectl",
        help="run kubectl against this cluster",
        description="Run the real kubectl with the cluster's admin kubeconfig.",
        add_help=False,
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=lifecycle.cmd_kubectl)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
