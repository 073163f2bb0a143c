"""``pyk8s scheduler``: the scheduler process on its own (DESIGN §2).

``add_parser(subparsers)`` registers the subcommand (``cli/main.py`` wires it in);
``python -m pyk8s.cli.scheduler_cmd ARGS`` runs it directly. Flags follow
kube-scheduler's: ``--kubeconfig``, ``--config`` (a KubeSchedulerConfiguration file,
kubescheduler.config.k8s.io/v1), ``--leader-elect`` (overrides the file),
``--kube-api-qps``/``--kube-api-burst``, and ``--metrics-port`` (0 picks a free port; by
default none is served).

Exit codes: 0 after SIGTERM/SIGINT, 1 when the lease was lost (another instance may be
leading; a supervisor restarts us), 2 for bad flags, an unusable kubeconfig or an
invalid configuration file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from pyk8s.cli import running

__all__ = ["add_parser", "main", "run"]


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "t"):
        return True
    if value in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig of the apiserver")
    p.add_argument("--config", type=Path, default=None, help="KubeSchedulerConfiguration file")
    p.add_argument(
        "--leader-elect",
        type=_bool,
        nargs="?",
        const=True,
        default=None,
        help="hold the kube-system/kube-scheduler Lease while scheduling (default: the "
        "config file's leaderElection.leaderElect, true)",
    )
    p.add_argument("--kube-api-qps", type=float, default=500.0)
    p.add_argument("--kube-api-burst", type=int, default=1000)
    p.add_argument("--metrics-port", type=int, default=None)
    p.add_argument("--metrics-bind-address", default="127.0.0.1")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "scheduler",
        help="run the scheduler in the foreground",
        description="Run the scheduler (assigns pending pods to nodes) against an apiserver, "
        "with leader election.",
    )
    _configure(p)
    p.set_defaults(func=run)
    return p


async def _serve(args: argparse.Namespace) -> int:
    from pyk8s.client import config as config_mod
    from pyk8s.client import rest
    from pyk8s.scheduler import config as sched_config
    from pyk8s.scheduler import scheduler

    try:
        rest_config = config_mod.load(kubeconfig_path=args.kubeconfig)
    except (config_mod.ConfigError, OSError) as exc:
        print(f"pyk8s scheduler: error: {exc}", file=sys.stderr)
        return 2
    try:
        text = args.config.read_text() if args.config is not None else None
        cfg = sched_config.load_config(text)
    except (sched_config.ConfigError, OSError, ValueError) as exc:
        print(f"pyk8s scheduler: error: {exc}", file=sys.stderr)
        return 2
    if args.leader_elect is not None:
        cfg.leader_election.leader_elect = args.leader_elect
    scheduler.keep_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with rest.RESTClient(
        rest_config, qps=args.kube_api_qps, burst=args.kube_api_burst, user_agent="pyk8s-scheduler"
    ) as client:
        sched = scheduler.Scheduler(
            client,
            cfg,
            metrics_port=args.metrics_port,
            metrics_address=args.metrics_bind_address,
        )
        try:
            await sched.run(stop)
        except scheduler.LeadershipLost as exc:
            logging.getLogger("pyk8s.scheduler").error("%s; exiting", exc)
            return 1
    return 0


def run(args: argparse.Namespace) -> int:
    return running.serve(args, _serve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyk8s scheduler")
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
