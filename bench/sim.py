"""Throughput of the simulated node agent.

    .venv/bin/python bench/sim.py --nodes 100 --pods 10000

Starts an apiserver (SQLite, temp dir), creates ``--pods`` pods already bound to the
agent's nodes (round robin; no scheduler), then starts ``pyk8s agent --runtime sim`` as a
separate process and times, from the agent's start: its nodes registered, and every pod
reported Running (the agent's ``pyk8s_sim_pods_started`` counter, read from its
``/metrics``). ``--concurrent`` creates the pods while the agent runs instead. Prints one
JSON line: pods/s to Running, seconds, and CPU seconds used by the apiserver and the agent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cluster import Cluster, free_port
from pyk8s.client import config, rest
from pyk8s.kubelet.sim.pods import PODS


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def counter(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def create_pods(kubeconfig: Path, n: int, nodes: int, prefix: str) -> float:
    cfg = config.from_kubeconfig(kubeconfig)
    async with rest.RESTClient(cfg, qps=0, burst=0) as c:
        gate = asyncio.Semaphore(64)
        start = time.perf_counter()

        async def one(i: int) -> None:
            body = {
                "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "bench"}},
                "spec": {
                    "nodeName": f"{prefix}{i % nodes}",
                    "containers": [
                        {
                            "name": "c",
                            "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ],
                },
            }
            async with gate:
                await c.create(PODS, body)

        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("--pod-workers", type=int, default=64)
    ap.add_argument("--idle-seconds", type=float, default=20.0, help="heartbeat-only window")
    args = ap.parse_args()
    prefix = "sim-node-"
    with tempfile.TemporaryDirectory(prefix="pyk8s-simbench-") as d:
        cluster = Cluster(Path(d) / "cluster", free_port())
        cluster.start()
        assert cluster.proc is not None
        agent: subprocess.Popen[bytes] | None = None
        try:
            create_s = 0.0
            if not args.concurrent:
                create_s = asyncio.run(
                    create_pods(cluster.kubeconfig, args.pods, args.nodes, prefix)
                )
            api_cpu0 = cpu_seconds(cluster.proc.pid)
            mport = free_port()
            metrics = f"http://127.0.0.1:{mport}/metrics"
            t0 = time.perf_counter()
            agent_log = (Path(d) / "agent.log").open("wb")
            agent = subprocess.Popen(
                [sys.executable, "-m", "pyk8s.cli.agent_cmd", "--runtime", "sim",
                 "--nodes", str(args.nodes), "--kubeconfig", str(cluster.kubeconfig),
                 "--pod-cidr-wait", "0", "--metrics-address", f"127.0.0.1:{mport}",
                 "--pod-workers", str(args.pod_workers), "--cluster-cidr", "10.64.0.0/11"],
                stdout=subprocess.DEVNULL, stderr=agent_log,
            )  # fmt: skip
            registered = None
            creator = None
            if args.concurrent:
                import threading

                result: list[float] = []
                creator = threading.Thread(
                    target=lambda: result.append(
                        asyncio.run(create_pods(cluster.kubeconfig, args.pods, args.nodes, prefix))
                    )
                )
            while True:
                try:
                    nodes = counter(metrics, "pyk8s_sim_nodes")
                    started = counter(metrics, "pyk8s_sim_pods_started_total")
                except OSError:
                    nodes = started = 0.0
                now = time.perf_counter()
                if registered is None and nodes >= args.nodes:
                    registered = now - t0
                    if creator is not None:
                        creator.start()
                if started >= args.pods:
                    break
                if agent.poll() is not None:
                    tail = (Path(d) / "agent.log").read_text()[-4000:]
                    raise SystemExit(f"agent exited {agent.returncode}:\n{tail}")
                time.sleep(0.2)
            total = time.perf_counter() - t0
            assert registered is not None
            running_s = total - registered
            agent_cpu = cpu_seconds(agent.pid)
            api_cpu = cpu_seconds(cluster.proc.pid) - api_cpu0
            renewals0 = counter(metrics, "pyk8s_sim_node_lease_renewals_total")
            # steady state: heartbeats only
            idle0 = (cpu_seconds(cluster.proc.pid), cpu_seconds(agent.pid), time.perf_counter())
            time.sleep(args.idle_seconds)
            idle1 = (cpu_seconds(cluster.proc.pid), cpu_seconds(agent.pid), time.perf_counter())
            span = idle1[2] - idle0[2]
            renewals = counter(metrics, "pyk8s_sim_node_lease_renewals_total") - renewals0
            print(
                json.dumps(
                    {
                        "bench": "sim-agent",
                        "nodes": args.nodes,
                        "pods": args.pods,
                        "mode": "concurrent-create" if args.concurrent else "pre-created",
                        "create_s": round(create_s, 2),
                        "register_s": round(registered, 2),
                        "to_running_s": round(running_s, 2),
                        "pods_per_s": round(args.pods / running_s, 1),
                        "apiserver_cpu_s": round(api_cpu, 1),
                        "agent_cpu_s": round(agent_cpu, 1),
                        "status_writes": counter(metrics, "pyk8s_sim_pod_status_updates_total"),
                        "write_errors": sum(
                            counter(metrics, f'pyk8s_sim_write_errors_total{{kind="{k}"}}')
                            for k in ("lease", "status", "pod-status", "pod-delete")
                        ),
                        "agent_rss_mb": rss_mb(agent.pid),
                        "apiserver_rss_mb": rss_mb(cluster.proc.pid),
                        "idle_lease_renewals_per_s": round(renewals / span, 1),
                        "idle_apiserver_cpu_pct": round(100 * (idle1[0] - idle0[0]) / span),
                        "idle_agent_cpu_pct": round(100 * (idle1[1] - idle0[1]) / span),
                    }
                )
            )
        finally:
            if agent is not None:
                agent.terminate()
                agent.wait(30)
                agent_log.close()
            cluster.stop()


if __name__ == "__main__":
    main()
