"""``pyk8s agent``: run a node agent that joins a cluster (DESIGN §2, §7).

``--runtime cri`` (the default) runs a real node: the kubelet on a supervised containerd
(``pyk8s.cli.kubelet_cmd``, which also serves ``pyk8s kubelet``); ``--runtime sim --nodes
N`` plays N simulated nodes in this one process (``pyk8s.kubelet.sim``). The cluster is
found through ``--kubeconfig`` or through ``--server``/``--token`` (with
``--certificate-authority``). Flags carry the kubelet's names where the kubelet has one
(``--node-labels``, ``--register-with-taints``, ``--node-status-update-frequency``). The
agent runs until SIGINT/SIGTERM; the nodes stay registered (and go NotReady once their
Leases expire), as when a kubelet stops.

``add_parser(subparsers)`` adds the subcommand to the ``pyk8s`` parser.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_agent", "main", "sim_config"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from pyk8s.cli import kubelet_cmd, node_services

    p: argparse.ArgumentParser = subparsers.add_parser(
        "agent",
        help="run a node agent that joins a cluster",
        description="Run a node agent that joins a cluster. With --runtime cri (the default) "
        "it is a real node: the kubelet runs pods as containers on containerd. With "
        "--runtime sim, one process plays --nodes simulated nodes (like KWOK): registered, "
        "heartbeating, and moving the pods bound to them through their lifecycle without "
        "running containers.",
    )
    conn = p.add_argument_group("cluster")
    conn.add_argument("--kubeconfig", type=Path, help="kubeconfig of the cluster to join")
    conn.add_argument("--context", help="kubeconfig context (default: the current one)")
    conn.add_argument("--server", help="apiserver URL (instead of --kubeconfig)")
    conn.add_argument("--token", help="bearer token (with --server)")
    conn.add_argument("--certificate-authority", type=Path, help="CA bundle (with --server)")
    conn.add_argument("--insecure-skip-tls-verify", action="store_true")
    conn.add_argument("--kube-api-qps", type=float, default=2000.0, help="default 2000")
    conn.add_argument("--kube-api-burst", type=int, default=4000, help="default 4000")

    p.add_argument("--runtime", choices=("cri", "sim"), default="cri")
    p.add_argument("--nodes", type=int, default=1, help="simulated nodes (default 1)")
    p.add_argument("--node-name-prefix", default="sim-node-", help="default sim-node-")
    p.add_argument("--node-index-start", type=int, default=0, help="first node's index")
    p.add_argument("--cpu", default="32")
    p.add_argument("--memory", default="256Gi")
    p.add_argument("--pods", default="110", help="pods per node (capacity)")
    p.add_argument("--ephemeral-storage", default="100Gi")
    p.add_argument(
        "--capacity",
        action="append",
        default=[],
        metavar="NAME=QTY",
        help="extra capacity, e.g. nvidia.com/gpu=8 (repeatable)",
    )
    p.add_argument("--zones", default="zone-a,zone-b,zone-c", help="spread round-robin")
    p.add_argument("--region", default=None)
    p.add_argument("--instance-type", default="pyk8s-sim")
    p.add_argument("--arch", default="amd64")
    p.add_argument("--node-labels", default="", help="k=v,k2=v2")
    p.add_argument("--register-with-taints", default="", help="key=value:Effect,…")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16")
    p.add_argument("--node-cidr-mask-size", type=int, default=24)
    p.add_argument(
        "--pod-cidr-wait",
        type=float,
        default=2.0,
        help="seconds to wait for node IPAM before a node takes its own podCIDR (0: at once)",
    )
    p.add_argument(
        "--node-ip-range", default="10.255.0.0/16", help="made-up InternalIPs (never contacted)"
    )

    p.add_argument("--node-lease-duration-seconds", type=int, default=40)
    p.add_argument(
        "--node-status-update-frequency", type=float, default=10.0, help="seconds (default 10)"
    )
    p.add_argument(
        "--node-status-report-frequency", type=float, default=300.0, help="seconds (default 300)"
    )

    t = p.add_argument_group("simulated pod timings (seconds, multiplied by --time-scale)")
    t.add_argument("--time-scale", type=float, default=1.0, help="0.1 plays 10 s in 1 s")
    t.add_argument("--sandbox-delay", type=float, default=0.0)
    t.add_argument("--container-start-delay", type=float, default=0.0)
    t.add_argument("--init-container-duration", type=float, default=0.0)
    t.add_argument("--job-duration", type=float, default=5.0, help="Job pods' run time")
    t.add_argument("--crash-duration", type=float, default=1.0, help="crash-injected run time")
    t.add_argument(
        "--pod-stop-seconds",
        type=float,
        default=None,
        help="containers' stop time on deletion (default: the whole grace period)",
    )

    kubelet_cmd.add_cri_flags(p, standalone=False)
    node_services.add_flags(p)
    p.set_defaults(node_services=True)  # the agent runs proxy, NetworkPolicy and DNS too

    p.add_argument("--pod-workers", type=int, default=64, help="pod writes in flight")
    p.add_argument("--node-workers", type=int, default=32, help="node writes in flight")
    p.add_argument("--metrics-address", default=None, help="serve /metrics on HOST:PORT")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=cmd_agent)
    return p


def sim_config(args: argparse.Namespace) -> Any:
    """The ``SimConfig`` the flags describe (``ValueError`` for bad values)."""
    from pyk8s.kubelet.sim import config

    extra: dict[str, str] = {}
    for item in args.capacity:
        name, sep, qty = item.partition("=")
        if not sep or not name or not qty:
            raise ValueError(f"--capacity {item!r}: want NAME=QUANTITY")
        extra[name] = qty
    nodes = config.NodeTemplate(
        count=args.nodes,
        prefix=args.node_name_prefix,
        start_index=args.node_index_start,
        cpu=args.cpu,
        memory=args.memory,
        pods=args.pods,
        ephemeral_storage=args.ephemeral_storage,
        extra_capacity=extra,
        zones=tuple(z.strip() for z in args.zones.split(",") if z.strip()),
        region=args.region,
        instance_type=args.instance_type,
        arch=args.arch,
        labels=config.parse_labels(args.node_labels),
        taints=config.parse_taints(args.register_with_taints),
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
        node_ip_range=args.node_ip_range,
    )
    pods = config.PodTimings(
        time_scale=args.time_scale,
        sandbox_seconds=args.sandbox_delay,
        container_start_seconds=args.container_start_delay,
        init_container_seconds=args.init_container_duration,
        job_seconds=args.job_duration,
        crash_seconds=args.crash_duration,
        stop_seconds=args.pod_stop_seconds,
    )
    heartbeat = config.Heartbeat(
        lease_duration_seconds=args.node_lease_duration_seconds,
        lease_renew_seconds=args.node_lease_duration_seconds * 0.25,
        status_update_seconds=args.node_status_update_frequency,
        status_report_seconds=args.node_status_report_frequency,
        pod_cidr_wait_seconds=args.pod_cidr_wait,
    )
    return config.SimConfig(
        nodes=nodes,
        pods=pods,
        heartbeat=heartbeat,
        pod_workers=args.pod_workers,
        node_workers=args.node_workers,
    )


def _client_config(args: argparse.Namespace) -> Any:
    from pyk8s.client import config

    if args.server:
        ca = args.certificate_authority.read_bytes() if args.certificate_authority else None
        return config.Config(
            server=args.server.rstrip("/"),
            ca_data=ca,
            token=args.token,
            insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        )
    return config.load(kubeconfig_path=args.kubeconfig, context=args.context)


async def _run(args: argparse.Namespace, sim: Any, cfg: Any) -> int:
    from pyk8s.client import rest
    from pyk8s.kubelet.sim import runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with rest.RESTClient(
        cfg,
        qps=args.kube_api_qps,
        burst=args.kube_api_burst,
        user_agent="pyk8s-agent/sim",
    ) as client:
        sim_runtime = runtime.SimRuntime(client, sim, metrics_address=args.metrics_address)
        print(
            f"pyk8s agent: {sim.nodes.count} simulated nodes "
            f"({sim.nodes.name(sim.nodes.start_index)}…) joining {cfg.server}",
            flush=True,
        )
        await sim_runtime.run(stop)
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from pyk8s.cli import running

    running.configure_logging(args.verbose)
    if args.runtime == "cri":
        from pyk8s.cli import kubelet_cmd

        return kubelet_cmd.run(args)
    from pyk8s.client import config as client_config

    try:
        sim = sim_config(args)
        cfg = _client_config(args)
    except (ValueError, OSError, client_config.ConfigError) as exc:
        print(f"pyk8s agent: error: {exc}", file=sys.stderr)
        return 2
    import uvloop

    from pyk8s.cli import running

    running.tune_gc()
    uvloop.install()
    return asyncio.run(_run(args, sim, cfg))


def main(argv: list[str] | None = None) -> int:
    """``python -m pyk8s.cli.agent_cmd …``: the subcommand alone (same flags)."""
    parser = argparse.ArgumentParser(prog="pyk8s")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["agent", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
