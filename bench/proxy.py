"""Service proxy benchmark. Prints one JSON line.

Two parts (``--skip-latency`` / ``--skip-throughput`` leave one out):

- **Programming latency** (goal: p99 ≤ 1 s): a real apiserver (SQLite, temp dir), the proxy
  (``run_proxy``, in this process, its own nftables table) and ``--services`` Services
  with two endpoints each. Then ``--changes`` times: replace the endpoint of one
  EndpointSlice through the API and time until the proxy has applied a ruleset with the
  new endpoint (``nft`` returned); changes are ``--gap`` s apart (a trickle, each one its
  own sync). Also a burst: ``--burst`` slices changed at once, time until all are applied
  and how many syncs that took (coalescing).
- **Throughput**: requests/s of ``GET /id`` (new TCP connection per request, as a browser
  without keep-alive) for ``--duration`` s each at ``--concurrency`` from the host,
  straight to a pod (busybox httpd in a network namespace) and through a ClusterIP DNATed
  to it, in alternating one-second rounds (the machine is shared: both see the same noise).

Safety: traffic goes only to the pod address in a namespace this script creates and to a
ClusterIP DNATed to it; the safety routes (service CIDR local, cluster CIDR blackhole) are
ensured first; endpoints of the latency part are addresses in the cluster CIDR no route
leads to (never contacted). The proxy handles only Services labelled for it (it leaves
other Services on this machine alone). Everything started is stopped by PID; the tables,
namespace and bridge are removed.

    python bench/proxy.py [--services 200] [--changes 100] [--duration 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pyk8s.client import config as config_mod  # noqa: E402
from pyk8s.client import errors, rest  # noqa: E402
from pyk8s.kubelet import netsafety  # noqa: E402
from pyk8s.proxy import metrics, nftables, rules  # noqa: E402
from pyk8s.proxy import proxier as proxier_mod  # noqa: E402
from pyk8s.proxy.config import ProxyConfig  # noqa: E402

Obj = dict[str, Any]
PROXY_NAME = f"pyk8s-bench-{os.getpid()}"
LABELS = {"service.kubernetes.io/service-proxy-name": PROXY_NAME}
NS = "bench"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cp = subprocess.run(cmd, capture_output=True, text=True)
    if check and cp.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {cp.stderr.strip()}")
    return cp


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------- latency


def start_apiserver(data: Path) -> tuple[subprocess.Popen[bytes], Path]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "pyk8s.cli.main", "server", "--data-dir", str(data)]
    cmd += ["--port", str(port), "--disable-agent", "--disable-controllers", "--disable-scheduler"]
    out = open(data / "server.log", "ab")  # noqa: SIM115 (lives as long as the process)
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    kubeconfig = data / "admin.kubeconfig"
    deadline = time.monotonic() + 60
    while not kubeconfig.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                f"apiserver did not start: {(data / 'server.log').read_text()[-2000:]}"
            )
        time.sleep(0.1)
    return proc, kubeconfig


def service(name: str, cluster_ip: str | None = None) -> Obj:
    spec: Obj = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "labels": LABELS},
        "spec": spec,
    }


def endpoint_slice(name: str, ips: list[str], node: str) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-slice",
            "namespace": NS,
            "labels": {"kubernetes.io/service-name": name, **LABELS},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [ip], "conditions": {"ready": True}, "nodeName": node} for ip in ips
        ],
    }


def fake_ip(i: int) -> str:
    """Endpoint addresses in 10.244.240.0/20: cluster CIDR, no route, never contacted."""
    return f"10.244.{240 + (i // 250) % 16}.{i % 250 + 2}"


class TimedApplier:
    def __init__(self) -> None:
        self.nft = nftables.Nft()
        self.seconds: list[float] = []

    async def apply(self, script: str) -> None:
        start = time.perf_counter()
        await self.nft.apply(script)
        self.seconds.append(time.perf_counter() - start)


async def latency(args: argparse.Namespace) -> Obj:
    data = Path(tempfile.mkdtemp(prefix="pyk8s-bench-proxy-"))
    server, kubeconfig = start_apiserver(data)
    cfg = ProxyConfig(
        table=f"pyk8s-proxy-bench-{os.getpid()}",
        service_proxy_name=PROXY_NAME,
        drop_unallocated_cluster_ips=False,
        manage_sysctls=False,
        servicelb=False,
    )
    node = "bench-node"
    try:
        rest_config = config_mod.load(kubeconfig_path=kubeconfig)
        # the writer must not be what limits the burst: no client-side rate limit to speak of
        async with (
            rest.RESTClient(rest_config, qps=5000, burst=10000) as client,
            rest.RESTClient(rest_config, user_agent="pyk8s-proxy") as proxy_client,
        ):
            from pyk8s.client import paths

            nodes = paths.resource_for("", "v1", "nodes", namespaced=False, kind="Node")
            namespaces = paths.resource_for("", "v1", "namespaces", namespaced=False)
            await client.create(
                namespaces, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
            )
            await client.create(
                nodes, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}
            )
            sem = asyncio.Semaphore(32)
            counter = iter(range(10**9))

            async def make(i: int) -> None:
                async with sem:
                    await client.create(proxier_mod.SERVICES, service(f"svc-{i}"), namespace=NS)
                    ips = [fake_ip(next(counter)), fake_ip(next(counter))]
                    await client.create(
                        proxier_mod.ENDPOINTSLICES,
                        endpoint_slice(f"svc-{i}", ips, node),
                        namespace=NS,
                    )

            log(f"creating {args.services} services")
            await asyncio.gather(*(make(i) for i in range(args.services)))

            applier = TimedApplier()
            waiters: list[tuple[str, asyncio.Future[float]]] = []

            def on_sync(rs: Any) -> None:
                now = time.perf_counter()
                names = "\n".join(rs.chains)
                for marker, fut in list(waiters):
                    if marker in names and not fut.done():
                        fut.set_result(now)
                        waiters.remove((marker, fut))

            ready: asyncio.Future[proxier_mod.Proxier] = asyncio.get_running_loop().create_future()
            stop = asyncio.Event()
            task = asyncio.create_task(
                proxier_mod.run_proxy(
                    client=proxy_client,
                    node_name=node,
                    config=cfg,
                    stop=stop,
                    applier=applier,
                    on_ready=lambda p: ready.done() or ready.set_result(p),
                )
            )
            proxy = await asyncio.wait_for(ready, 60)
            proxy.add_sync_listener(on_sync)
            lines = len(proxy.ruleset.text().splitlines()) if proxy.ruleset else 0

            async def change(i: int, ip: str) -> float:
                fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                waiters.append((f"__{ip}/8080", fut))
                name = f"svc-{i}"
                body = endpoint_slice(name, [ip, fake_ip(next(counter))], node)
                start = time.perf_counter()
                current = await client.get(
                    proxier_mod.ENDPOINTSLICES, f"{name}-slice", namespace=NS
                )
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await client.update(proxier_mod.ENDPOINTSLICES, body, namespace=NS)
                return await asyncio.wait_for(fut, 30) - start

            log(f"{args.changes} single changes, {args.gap}s apart")
            applier.seconds.clear()
            trickle: list[float] = []
            for n in range(args.changes):
                trickle.append(await change(n % args.services, fake_ip(next(counter))))
                await asyncio.sleep(args.gap)
            apply_seconds = list(applier.seconds)

            log(f"burst of {args.burst} changes")
            syncs_before = proxy.syncs
            start = time.perf_counter()
            burst = await asyncio.gather(
                *(change(n % args.services, fake_ip(next(counter))) for n in range(args.burst))
            )
            burst_total = time.perf_counter() - start
            burst_syncs = proxy.syncs - syncs_before
            sync_hist = metrics.SYNC_SECONDS.collect()[0].samples
            stop.set()
            await task
            ms = 1000.0
            return {
                "services": args.services,
                "ruleset_lines": lines,
                "changes": len(trickle),
                "latency_ms_p50": round(pct(trickle, 0.5) * ms, 1),
                "latency_ms_p99": round(pct(trickle, 0.99) * ms, 1),
                "latency_ms_max": round(max(trickle) * ms, 1),
                "nft_apply_ms_p50": round(statistics.median(apply_seconds) * ms, 1),
                "nft_apply_ms_p99": round(pct(apply_seconds, 0.99) * ms, 1),
                "sync_ms_mean": round(
                    _hist_mean(sync_hist) * ms,
                    1,
                ),
                "burst_changes": args.burst,
                "burst_all_applied_ms": round(burst_total * ms, 1),
                "burst_latency_ms_p99": round(pct(list(burst), 0.99) * ms, 1),
                "burst_syncs": burst_syncs,
            }
    finally:
        await proxier_mod.cleanup(cfg)
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        shutil.rmtree(data, ignore_errors=True)


def _hist_mean(samples: Any) -> float:
    total = next((s.value for s in samples if s.name.endswith("_sum")), 0.0)
    count = next((s.value for s in samples if s.name.endswith("_count")), 0.0)
    return float(total / count) if count else 0.0


# ---------------------------------------------------------------------- throughput


class PodNet:
    """One network namespace with busybox httpd on a test bridge (10.244.N.0/24)."""

    def __init__(self) -> None:
        self.prefix = f"kpb{secrets.token_hex(3)}"
        used = (
            sh("ip", "-4", "route", "show", "table", "all").stdout + sh("ip", "-4", "addr").stdout
        )
        self.n = next(n for n in range(150, 250) if f"10.244.{n}." not in used)
        self.bridge, self.veth, self.netns = (
            f"{self.prefix}br",
            f"{self.prefix}0",
            f"{self.prefix}-pod",
        )
        self.gateway, self.ip = f"10.244.{self.n}.1", f"10.244.{self.n}.10"
        self.root = Path(tempfile.mkdtemp(prefix="kpb-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def open(self, server: str) -> None:
        netsafety.ensure_routes_blocking()
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        sh("ip", "netns", "add", self.netns)
        sh(
            "ip",
            "link",
            "add",
            self.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.netns,
        )
        sh("ip", "link", "set", self.veth, "master", self.bridge, "up")
        ns = ("ip", "-n", self.netns)
        sh(*ns, "link", "set", "lo", "up")
        sh(*ns, "addr", "add", f"{self.ip}/24", "dev", "eth0")
        sh(*ns, "link", "set", "eth0", "up")
        sh(*ns, "route", "add", "10.96.0.0/12", "via", self.gateway)  # no default route
        (self.root / "id").write_text("pod")
        exec_ = ["ip", "netns", "exec", self.netns]
        if server == "python":
            cmd = [*exec_, sys.executable, "-m", "http.server", "8080", "-d", str(self.root)]
        else:
            cmd = [*exec_, "busybox", "httpd", "-f", "-p", "0.0.0.0:8080", "-h", str(self.root)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        sh("ip", "netns", "del", self.netns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


async def one_request(host: str, port: int) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /id HTTP/1.0\r\n\r\n")
        data = await reader.read()
    finally:
        writer.close()
    return data.startswith(b"HTTP/1.") and data.endswith(b"pod")


async def load(host: str, port: int, *, seconds: float, concurrency: int) -> tuple[float, int]:
    done = errors_ = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors_
        while time.perf_counter() < deadline:
            try:
                async with asyncio.timeout(5):
                    ok = await one_request(host, port)
            except (OSError, TimeoutError):
                ok = False
            if ok:
                done += 1
            else:
                errors_ += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start), errors_


async def throughput(args: argparse.Namespace) -> Obj:
    net = PodNet()
    cluster_ip = (
        f"10.{96 + secrets.randbelow(16)}.{secrets.randbelow(256)}.{2 + secrets.randbelow(250)}"
    )
    cfg = ProxyConfig(
        table=f"pyk8s-proxy-tput-{os.getpid()}",
        drop_unallocated_cluster_ips=False,
        manage_sysctls=False,
        localhost_nodeports=False,
    )
    svc = service("tput", cluster_ip)
    svc["spec"]["clusterIPs"] = [cluster_ip]
    es = endpoint_slice("tput", [net.ip], "bench-node")
    try:
        net.open(args.server)
        await nftables.Nft().apply(rules.render([svc], [es], None, cfg))
        deadline = time.monotonic() + 10
        while True:
            try:
                if await one_request(net.ip, 8080):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the pod's httpd did not answer")
            await asyncio.sleep(0.05)
        assert await one_request(cluster_ip, 80), "ClusterIP does not reach the pod"
        rounds = max(1, round(args.duration))
        log(f"throughput: {rounds} alternating rounds of {args.duration / rounds:.1f}s per target")
        totals = {"pod": [0.0, 0], "cluster": [0.0, 0]}  # requests, errors
        targets = {"pod": (net.ip, 8080), "cluster": (cluster_ip, 80)}
        for r in range(rounds):  # alternate, so load from elsewhere hits both alike
            order = ("pod", "cluster") if r % 2 == 0 else ("cluster", "pod")
            for name in order:
                rps, errs = await load(
                    *targets[name], seconds=args.duration / rounds, concurrency=args.concurrency
                )
                totals[name][0] += rps / rounds
                totals[name][1] += errs
        direct, via = totals["pod"][0], totals["cluster"][0]
        direct_err, via_err = int(totals["pod"][1]), int(totals["cluster"][1])
        return {
            "server": args.server,
            "concurrency": args.concurrency,
            "seconds": args.duration,
            "pod_ip_rps": round(direct),
            "cluster_ip_rps": round(via),
            "cluster_ip_vs_pod_ip": round(via / direct, 3) if direct else None,
            "errors": direct_err + via_err,
        }
    finally:
        try:
            await nftables.Nft().delete_table(cfg.family, cfg.table)
        finally:
            net.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--services", type=int, default=200, help="Services in the table (default 200)")
    p.add_argument("--changes", type=int, default=100, help="single EndpointSlice changes")
    p.add_argument("--gap", type=float, default=0.2, help="seconds between single changes")
    p.add_argument("--burst", type=int, default=100, help="slices changed at once")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per throughput run")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    p.add_argument("--server", choices=("busybox", "python"), default="busybox")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/proxy.py needs root (nftables, network namespaces)")
    out: Obj = {"bench": "proxy", "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()}
    if not args.skip_latency:
        out["latency"] = asyncio.run(latency(args))
    if not args.skip_throughput:
        out["throughput"] = asyncio.run(throughput(args))
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except errors.ApiError as exc:
        raise SystemExit(f"API error: {exc}") from None
