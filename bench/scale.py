"""The control plane at upstream's documented limits: 5,000 nodes, 150,000 pods.

    .venv/bin/python bench/scale.py                     # 5,000 nodes, 150,000 pods
    .venv/bin/python bench/scale.py --nodes 500 --pods 10000 --namespaces 10

Starts ``pyk8s server`` (apiserver on SQLite + scheduler; no controller-manager, whose
work is measured in bench/controllers.py) and ``pyk8s agent --runtime sim --nodes N``,
creates ``--pods`` pods (requests cpu 10m, memory 16Mi) across ``--namespaces``
namespaces with 64 concurrent clients while the scheduler binds them and the agent runs
them, and waits until the agent reports every pod Running. Then, with the cluster at
size and its nodes heartbeating, it measures upstream's API latency SLIs from a separate
client: ``GET pod`` (single object), ``PATCH pod`` (a label), ``LIST pods`` in a namespace.

Prints one JSON line: seconds to all Running, pods/s, RSS of every process, and the
p50/p99 of each call. Upstream's SLOs: p99 ≤ 1 s for single-object calls, ≤ 30 s for
lists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import cpu_seconds, rss_mb, scrape, wait_for
from cluster import Cluster, free_port
from pyk8s.client import config, paths, rest

PODS = paths.resource_for("", "v1", "pods", kind="Pod")
NAMESPACES = paths.resource_for("", "v1", "namespaces", namespaced=False, kind="Namespace")


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def pod(i: int, namespaces: int) -> dict[str, object]:
    return {
        "metadata": {
            "name": f"pod-{i}",
            "namespace": f"ns-{i % namespaces}",
            "labels": {"app": "scale"},
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ]
        },
    }


async def create_all(kubeconfig: Path, n: int, namespaces: int) -> float:
    cfg = config.from_kubeconfig(kubeconfig)
    async with rest.RESTClient(cfg, qps=0, burst=0) as c:
        for k in range(namespaces):
            await c.create(NAMESPACES, {"metadata": {"name": f"ns-{k}"}})
        gate = asyncio.Semaphore(64)
        start = time.perf_counter()
        done = 0

        async def one(i: int) -> None:
            nonlocal done
            async with gate:
                await c.create(PODS, pod(i, namespaces))
                done += 1
                if done % 10000 == 0:
                    print(f"… {done} pods created", file=sys.stderr)

        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


async def slis(kubeconfig: Path, n: int, namespaces: int, samples: int) -> dict[str, object]:
    cfg = config.from_kubeconfig(kubeconfig)
    rng = random.Random(7)
    out: dict[str, object] = {}
    async with rest.RESTClient(cfg, qps=0, burst=0) as c:
        for name, call, count in (
            ("get_pod", lambda i: c.get(PODS, f"pod-{i}", namespace=f"ns-{i % namespaces}"), samples),
            (
                "patch_pod",
                lambda i: c.patch(
                    PODS, f"pod-{i}", {"metadata": {"labels": {"touched": "yes"}}},
                    namespace=f"ns-{i % namespaces}",
                ),
                samples,
            ),
            ("list_pods_namespace", lambda i: c.list(PODS, namespace=f"ns-{i % namespaces}"), max(5, samples // 20)),
        ):  # fmt: skip
            lat: list[float] = []
            for _ in range(count):
                i = rng.randrange(n)
                t = time.perf_counter()
                await call(i)
                lat.append(time.perf_counter() - t)
            out[f"{name}_p50_ms"] = pct(lat, 0.5)
            out[f"{name}_p99_ms"] = pct(lat, 0.99)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=150000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--samples", type=int, default=300, help="calls per single-object SLI")
    ap.add_argument("--timeout", type=float, default=3600.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pyk8s-scalebench-") as d:
        cluster = Cluster(Path(d) / "cluster", free_port())
        cluster.start("--disable-controllers", control_plane=True)
        assert cluster.proc is not None
        agent = None
        try:
            mport = free_port()
            metrics = f"http://127.0.0.1:{mport}/metrics"
            agent = subprocess.Popen(
                [sys.executable, "-m", "pyk8s.cli.main", "agent", "--runtime", "sim",
                 "--nodes", str(args.nodes), "--kubeconfig", str(cluster.kubeconfig),
                 "--pods", "110", "--pod-cidr-wait", "0", "--cluster-cidr", "10.64.0.0/11",
                 "--metrics-address", f"127.0.0.1:{mport}"],
                stdout=subprocess.DEVNULL, stderr=(Path(d) / "agent.log").open("wb"),
            )  # fmt: skip
            wait_for(
                "nodes registered",
                lambda: scrape(metrics).get("pyk8s_sim_nodes", 0) >= args.nodes,
                args.timeout,
                agent,
            )
            t0 = time.perf_counter()
            create_s = asyncio.run(create_all(cluster.kubeconfig, args.pods, args.namespaces))
            wait_for(
                "every pod Running",
                lambda: scrape(metrics).get("pyk8s_sim_pods_started_total", 0) >= args.pods,
                args.timeout,
                agent,
            )
            running_s = time.perf_counter() - t0
            result: dict[str, object] = {
                "bench": "scale",
                "nodes": args.nodes,
                "pods": args.pods,
                "namespaces": args.namespaces,
                "create_s": round(create_s, 1),
                "all_running_s": round(running_s, 1),
                "pods_per_s": round(args.pods / running_s, 1),
            }
            result.update(
                asyncio.run(slis(cluster.kubeconfig, args.pods, args.namespaces, args.samples))
            )
            procs = {"apiserver": cluster.proc.pid, "agent": agent.pid}
            for child in children_of(cluster.proc.pid):
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                if b"scheduler" in cmd:
                    procs["scheduler"] = child
            result["rss_mb"] = {k: rss_mb(p) for k, p in procs.items()}
            result["rss_total_mb"] = sum(result["rss_mb"].values())  # type: ignore[attr-defined]
            result["cpu_s"] = {k: round(cpu_seconds(p), 1) for k, p in procs.items()}
            db = Path(d) / "cluster" / "state.db"
            result["db_mb"] = round(db.stat().st_size / 2**20) if db.exists() else None
            print(json.dumps(result))
        finally:
            if agent is not None:
                agent.terminate()
                agent.wait(60)
            cluster.stop()


if __name__ == "__main__":
    main()
