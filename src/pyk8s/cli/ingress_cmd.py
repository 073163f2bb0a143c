"""``pyk8s ingress-controller``: the ingress controller with Debian's nginx as the data
plane (DESIGN §8), in the foreground.

``add_parser(subparsers)`` registers the subcommand (``cli/main.py`` wires it in);
``python -m pyk8s.cli.ingress_cmd ARGS`` runs it directly. Flags follow ingress-nginx's
where it has one (``--http-port``, ``--https-port``, ``--publish-status-address`` as
``--publish-address``, ``--default-backend-service``, ``--watch-namespace``,
``--ingress-class``); ``--metrics-bind HOST:PORT`` serves ``/metrics`` and ``/healthz``
(ingress-nginx's port 10254).

Exit codes: 0 after SIGTERM/SIGINT (nginx stopped first), 1 when the nginx binary is
missing, 2 for bad flags or an unusable kubeconfig. Failures to test, start or reload
nginx are logged and retried with back-off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from pyk8s.cli import running

__all__ = ["add_parser", "main", "run"]


def _default_data_dir() -> Path:
    base = Path("/var/lib/pyk8s") if os.geteuid() == 0 else Path.home() / ".local/share/pyk8s"
    return base / "ingress"


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig of the apiserver")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="nginx.conf, certificates, temp files and logs (default /var/lib/pyk8s/ingress "
        "as root, else ~/.local/share/pyk8s/ingress)",
    )
    p.add_argument("--http-port", type=int, default=80, help="HTTP port (default 80)")
    p.add_argument("--https-port", type=int, default=443, help="HTTPS port (default 443)")
    p.add_argument(
        "--listen-address", default="", help="address nginx listens on (default: all IPv4)"
    )
    p.add_argument(
        "--publish-address",
        default="127.0.0.1",
        help="address(es) written to status.loadBalancer of Ingresses, comma-separated",
    )
    p.add_argument(
        "--metrics-bind",
        default="127.0.0.1:10254",
        help="HOST:PORT for /metrics and /healthz ('' for none; port 0 picks one)",
    )
    p.add_argument("--nginx-binary", default="/usr/sbin/nginx")
    p.add_argument(
        "--nginx-user", default=None, help="user of nginx's workers when run as root (nobody)"
    )
    p.add_argument("--access-log", type=Path, default=None, help="nginx access log (default off)")
    p.add_argument(
        "--ingress-class",
        action="append",
        default=None,
        help="IngressClass name to serve (repeatable; default pyk8s and nginx)",
    )
    p.add_argument(
        "--default-backend-service",
        default=None,
        help="namespace/name of the Service that answers unmatched requests (default 404)",
    )
    p.add_argument("--watch-namespace", default=None, help="only this namespace (default all)")
    p.add_argument(
        "--no-create-ingress-class",
        action="store_true",
        help="do not create the default IngressClass 'pyk8s' when it is missing",
    )
    p.add_argument(
        "--no-update-status", action="store_true", help="leave status.loadBalancer alone"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "ingress-controller",
        help="run the ingress controller (nginx) in the foreground",
        description="Serve the Ingresses of class pyk8s/nginx with Debian's nginx, "
        "configured from Ingresses, Services, EndpointSlices and TLS Secrets.",
    )
    _configure(p)
    p.set_defaults(func=run)
    return p


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pyk8s.ingress import classes
    from pyk8s.ingress.config import IngressControllerConfig

    return IngressControllerConfig(
        data_dir=args.data_dir or _default_data_dir(),
        http_port=args.http_port,
        https_port=args.https_port,
        listen_address=args.listen_address,
        publish_address=args.publish_address,
        metrics_bind=args.metrics_bind or None,
        nginx_binary=args.nginx_binary,
        nginx_user=args.nginx_user,
        access_log=args.access_log,
        class_names=tuple(args.ingress_class or classes.DEFAULT_CLASS_NAMES),
        default_backend_service=args.default_backend_service,
        watch_namespace=args.watch_namespace,
        create_ingress_class=not args.no_create_ingress_class,
        update_status=not args.no_update_status,
    )


async def _serve(args: argparse.Namespace) -> int:
    from pyk8s.client import config as config_mod
    from pyk8s.client import rest
    from pyk8s.ingress import controller

    try:
        rest_config = config_mod.load(kubeconfig_path=args.kubeconfig)
    except (config_mod.ConfigError, OSError) as exc:
        print(f"pyk8s ingress-controller: error: {exc}", file=sys.stderr)
        return 2
    if not os.access(args.nginx_binary, os.X_OK):
        print(
            f"pyk8s ingress-controller: error: {args.nginx_binary} is not executable",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with rest.RESTClient(rest_config, user_agent="pyk8s-ingress-controller") as client:
        await controller.run_ingress_controller(client=client, config=_config(args), stop=stop)
    return 0


def run(args: argparse.Namespace) -> int:
    return running.serve(args, _serve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyk8s ingress-controller")
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
