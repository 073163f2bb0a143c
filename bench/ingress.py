"""Ingress benchmark: requests per second and latency through the ingress controller's
nginx versus straight to the backend, in the same run.

Sets up a real apiserver (SQLite, temp dir), `pyk8s ingress-controller` (nginx on
127.0.0.1 high ports), and one backend — a small aiohttp server in its own process
answering "ok" — behind a selector-less Service with an EndpointSlice and an Ingress.
Then one aiohttp client with a fixed number of concurrent keep-alive requests runs for a
bounded time against the backend directly, then through nginx (Host header routing),
after a short warm-up of each, alternating for a few rounds (medians are reported, so
a burst of other load on the machine hits both sides). Also reports the CPU time nginx
(master + workers) and the client spend per request. Prints one JSON line. Goal: through
the Ingress at least 50% of direct requests/s.

Only loopback; every process it starts is stopped by PID; temp dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cluster import Cluster, free_port  # noqa: E402


def listen_port() -> int:
    """A free port below the ephemeral range, so no client connection of this machine
    can take it between our check and nginx's bind."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def serve_backend(port: int) -> None:
    from aiohttp import web

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def wait_http(url: str, host: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(url, headers={"Host": host}) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} (Host {host}) not answering 200 within {timeout}s")


async def load(
    url: str, host: str, *, concurrency: int, seconds: float, cap: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as s:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at and len(latencies) < cap:
                t0 = time.perf_counter()
                try:
                    async with s.get(url, headers={"Host": host}) as r:
                        await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 3)

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (0 for ones that are gone)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the rounds (requests and errors: the totals)."""
    out: dict[str, Any] = {
        "requests": sum(r["requests"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }
    for key in ("rps", "p50_ms", "p99_ms", "nginx_cpu_us_per_request", "client_cpu_us_per_request"):
        out[key] = statistics.median(r[key] for r in results)
    return out


def create(cluster: Cluster, path: str, body: dict[str, Any]) -> None:
    status, answer, _ = cluster.request("POST", path, body)
    if status != 201:
        raise RuntimeError(f"POST {path}: {status} {answer}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pyk8s-bench-ingress-"))
    os.chmod(work, 0o755)  # nginx workers (nobody) use temp dirs below
    cluster = Cluster(work / "cluster", free_port())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cluster.start()
        backend_port, http_port, https_port = listen_port(), listen_port(), listen_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--serve-backend", str(backend_port)],
                stdin=subprocess.DEVNULL,
            )
        )
        log = open(work / "ingress-controller.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pyk8s.cli.main",
                    "ingress-controller",
                    "--kubeconfig",
                    str(cluster.kubeconfig),
                    "--data-dir",
                    str(work / "ingress"),
                    "--http-port",
                    str(http_port),
                    "--https-port",
                    str(https_port),
                    "--listen-address",
                    "127.0.0.1",
                    "--metrics-bind",
                    "127.0.0.1:0",
                    "--watch-namespace",
                    "bench",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        create(cluster, "/api/v1/namespaces", {"metadata": {"name": "bench"}})
        create(
            cluster,
            "/api/v1/namespaces/bench/services",
            {"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80}]}},
        )
        create(
            cluster,
            "/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices",
            {
                "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": backend_port, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            },
        )
        rule = {
            "host": "bench.example",
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                    }
                ]
            },
        }
        create(
            cluster,
            "/apis/networking.k8s.io/v1/namespaces/bench/ingresses",
            {"metadata": {"name": "bench"}, "spec": {"ingressClassName": "pyk8s", "rules": [rule]}},
        )
        direct = f"http://127.0.0.1:{backend_port}/hello"
        via = f"http://127.0.0.1:{http_port}/hello"
        await wait_http(direct, "bench.example")
        await wait_http(via, "bench.example")
        opts = {"concurrency": args.concurrency, "cap": args.max_requests}
        await load(direct, "bench.example", seconds=args.warmup, **opts)
        await load(via, "bench.example", seconds=args.warmup, **opts)
        nginx_master = int((work / "ingress" / "nginx.pid").read_text())
        nginx_pids = [nginx_master, *children(nginx_master)]
        rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "ingress": []}
        # alternate the two in rounds, so a burst of other load on the machine hits both
        for _ in range(args.rounds):
            for name, url in (("direct", direct), ("ingress", via)):
                before = cpu_seconds(nginx_pids), cpu_seconds([os.getpid()])
                res = await load(url, "bench.example", seconds=args.seconds, **opts)
                after = cpu_seconds(nginx_pids), cpu_seconds([os.getpid()])
                n = max(res["requests"], 1)
                res["nginx_cpu_us_per_request"] = round((after[0] - before[0]) / n * 1e6, 1)
                res["client_cpu_us_per_request"] = round((after[1] - before[1]) / n * 1e6, 1)
                rounds[name].append(res)
        summary = {name: median_of(rs) for name, rs in rounds.items()}
        d, i = summary["direct"]["rps"], summary["ingress"]["rps"]
        ratio = round(i / d, 3) if d else 0.0
        return {
            "bench": "ingress",
            "machine": f"{platform.machine()} {os.cpu_count()} cpus",
            "nginx": subprocess.run(
                ["/usr/sbin/nginx", "-v"], capture_output=True, text=True, check=False
            ).stderr.strip(),
            "concurrency": args.concurrency,
            "seconds_per_phase": args.seconds,
            "rounds": args.rounds,
            "direct": summary["direct"],
            "ingress": summary["ingress"],
            "ingress_vs_direct_rps": ratio,
            "goal_ratio": 0.5,
            "meets_goal": ratio >= 0.5,
            "rps_per_round": {name: [r["rps"] for r in rs] for name, rs in rounds.items()},
        }
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0, help="per measured phase")
    parser.add_argument("--rounds", type=int, default=3, help="direct/ingress alternations")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--max-requests", type=int, default=500_000, help="cap per phase")
    parser.add_argument("--serve-backend", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_backend is not None:
        serve_backend(args.serve_backend)
        return
    print(json.dumps(uvloop.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
