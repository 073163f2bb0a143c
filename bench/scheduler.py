"""Scheduling throughput, upstream scheduler_perf's "SchedulingBasic" shape, end to end.

    .venv/bin/python bench/scheduler.py                 # 5,000 nodes, 10,000 pods
    .venv/bin/python bench/scheduler.py --nodes 500 --pods 2000

Starts an apiserver (SQLite, temp dir) and ``pyk8s agent --runtime sim`` with ``--nodes``
simulated nodes (heartbeating through their Leases, and running the pods bound to them:
their status writes load the apiserver as real kubelets would), creates ``--pods`` pods
with requests (cpu 100m, memory 500Mi, as upstream's pod-default.yaml) and no node, then
starts ``pyk8s scheduler`` as its own process and samples its
``scheduler_binding_total`` every second until every pod is bound. The scheduler scores
every feasible node (``percentageOfNodesToScore`` 100).

Prints one JSON line: pods/s (average over the measured span, and the p50 of the
per-second samples, as scheduler_perf's SchedulingThroughput), the p50/p99 of the
scheduler's attempt latency (``scheduler_scheduling_attempt_duration_seconds``, from its
histogram buckets) and of the queue-to-bound SLI, and CPU seconds per process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import cpu_seconds, scrape, wait_for
from cluster import Cluster, free_port
from pyk8s.client import config, paths, rest

PODS = paths.resource_for("", "v1", "pods", kind="Pod")
SCHEDULER_CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 100
leaderElection:
  leaderElect: false
"""


def quantile_from_buckets(metrics: dict[str, float], name: str, q: float, match: str) -> float:
    """Upper bound of the bucket holding quantile ``q`` (prometheus histogram)."""
    buckets = sorted(
        (float(k.split('le="')[1].split('"')[0]), v)
        for k, v in metrics.items()
        if k.startswith(name + "_bucket") and match in k and 'le="+Inf"' not in k
    )
    total = sum(v for k, v in metrics.items() if k.startswith(name + "_count") and match in k)
    if not total:
        return 0.0
    for le, count in buckets:
        if count >= q * total:
            return le
    return float("inf")


async def create_pods(kubeconfig: Path, n: int) -> float:
    cfg = config.from_kubeconfig(kubeconfig)
    async with rest.RESTClient(cfg, qps=0, burst=0) as c:
        gate = asyncio.Semaphore(64)
        start = time.perf_counter()

        async def one(i: int) -> None:
            async with gate:
                await c.create(
                    PODS,
                    {
                        "metadata": {"name": f"pod-{i}", "namespace": "default"},
                        "spec": {
                            "containers": [
                                {
                                    "name": "pause",
                                    "image": "registry.k8s.io/pause:3.10",
                                    "resources": {
                                        "requests": {"cpu": "100m", "memory": "500Mi"},
                                        "limits": {"cpu": "100m", "memory": "500Mi"},
                                    },
                                }
                            ]
                        },
                    },
                )

        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=600.0, help="give up after (seconds)")
    args = ap.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="pyk8s-schedbench-") as d:
        cluster = Cluster(Path(d) / "cluster", free_port())
        cluster.start()
        assert cluster.proc is not None
        try:
            agent_port, sched_port = free_port(), free_port()
            agent_metrics = f"http://127.0.0.1:{agent_port}/metrics"
            agent = subprocess.Popen(
                [sys.executable, "-m", "pyk8s.cli.main", "agent", "--runtime", "sim",
                 "--nodes", str(args.nodes), "--kubeconfig", str(cluster.kubeconfig),
                 "--pod-cidr-wait", "0", "--cluster-cidr", "10.64.0.0/11",
                 "--metrics-address", f"127.0.0.1:{agent_port}"],
                stdout=subprocess.DEVNULL, stderr=(Path(d) / "agent.log").open("wb"),
            )  # fmt: skip
            procs.append(agent)
            t_reg = time.perf_counter()
            wait_for(
                "nodes registered",
                lambda: scrape(agent_metrics).get("pyk8s_sim_nodes", 0) >= args.nodes,
                args.timeout,
                agent,
            )
            register_s = time.perf_counter() - t_reg
            create_s = asyncio.run(create_pods(cluster.kubeconfig, args.pods))
            cfg_path = Path(d) / "scheduler.yaml"
            cfg_path.write_text(SCHEDULER_CONFIG)
            cpu0 = {"apiserver": cpu_seconds(cluster.proc.pid), "agent": cpu_seconds(agent.pid)}
            t0 = time.perf_counter()
            sched = subprocess.Popen(
                [sys.executable, "-m", "pyk8s.cli.main", "scheduler",
                 "--kubeconfig", str(cluster.kubeconfig), "--config", str(cfg_path),
                 "--metrics-port", str(sched_port), "--kube-api-qps", "0"],
                stdout=subprocess.DEVNULL, stderr=(Path(d) / "scheduler.log").open("wb"),
            )  # fmt: skip
            procs.append(sched)
            url = f"http://127.0.0.1:{sched_port}/metrics"
            key = 'scheduler_binding_total{result="success"}'
            wait_for("scheduler metrics", lambda: key in scrape(url), args.timeout, sched)
            samples: list[float] = []
            first_bind = None
            last = 0.0
            deadline = time.monotonic() + args.timeout
            next_tick = time.perf_counter()
            while last < args.pods:
                if time.monotonic() > deadline or sched.poll() is not None:
                    raise SystemExit(f"scheduling stopped at {last:.0f} pods")
                next_tick += 1.0
                time.sleep(max(0.0, next_tick - time.perf_counter()))
                now_bound = scrape(url).get(key, 0.0)
                if first_bind is None and now_bound > 0:
                    first_bind = time.perf_counter() - 1.0
                if first_bind is not None:
                    samples.append(now_bound - last)
                last = now_bound
            span = time.perf_counter() - (first_bind or t0)
            m = scrape(url)
            attempt = "scheduler_scheduling_attempt_duration_seconds"
            sli = "scheduler_pod_scheduling_sli_duration_seconds"
            print(
                json.dumps(
                    {
                        "bench": "scheduler-basic",
                        "nodes": args.nodes,
                        "pods": args.pods,
                        "percentage_of_nodes_to_score": 100,
                        "register_s": round(register_s, 1),
                        "create_s": round(create_s, 1),
                        "scheduler_start_to_first_bind_s": round((first_bind or t0) - t0, 1),
                        "schedule_s": round(span, 1),
                        "pods_per_s_avg": round(args.pods / span, 1),
                        "pods_per_s_p50": round(statistics.median(samples), 1),
                        "attempt_p50_s": quantile_from_buckets(
                            m, attempt, 0.5, 'result="scheduled"'
                        ),
                        "attempt_p99_s": quantile_from_buckets(
                            m, attempt, 0.99, 'result="scheduled"'
                        ),
                        "sli_p50_s": quantile_from_buckets(m, sli, 0.5, ""),
                        "sli_p99_s": quantile_from_buckets(m, sli, 0.99, ""),
                        "cpu_s": {
                            "scheduler": round(cpu_seconds(sched.pid), 1),
                            "apiserver": round(
                                cpu_seconds(cluster.proc.pid) - cpu0["apiserver"], 1
                            ),
                            "agent": round(cpu_seconds(agent.pid) - cpu0["agent"], 1),
                        },
                    }
                )
            )
        finally:
            for p in reversed(procs):
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            cluster.stop()


if __name__ == "__main__":
    main()
