"""Cluster networking benchmark on a real node (issue 8). Prints one JSON line.

Starts a whole cluster with a real node (``tests/realnode.py``: ``pyk8s server`` with the
controller-manager, scheduler, ingress controller and local agent — containerd pods, the
nftables proxy, cluster DNS), then in one run:

- **HTTP throughput and latency** to one busybox httpd pod (``GET /id``, a new TCP
  connection per request: busybox httpd closes after each answer), from the host at
  ``--concurrency``, three ways: straight to the pod IP (the floor), through the Service's
  ClusterIP (nftables DNAT) and through the Ingress (nginx on 127.0.0.1, Host header). The
  three alternate in ``--rounds`` rounds so noise from elsewhere hits all alike; requests/s
  the median over rounds, p50/p99 taken over all requests of a path.
- **DNS** queries/s and p50/p99 through the kube-dns ClusterIP from the host (UDP, closed
  loop, ``--dns-clients`` processes x ``--dns-outstanding`` queries in flight): A of
  ClusterIP Services, SRV of their named port, A of a headless Service.
- **Programming latency**: ``--changes`` EndpointSlice updates (each to a fresh endpoint
  address), ``--gap`` s apart; the time from sending the update to the apiserver until the
  node's proxy has committed an nftables ruleset containing the new endpoint (seen on
  ``nft monitor``, read by a thread that timestamps every line).

Goals: ClusterIP ≥ 90 % of direct, Ingress ≥ 50 % of direct, programming p99 ≤ 1 s,
DNS ≥ 10,000 q/s.

Safety: traffic goes only to the pod (on this node's bridge), ClusterIPs DNATed to it or to
the node's DNS, and loopback; the endpoint addresses of the programming part are unused
addresses of the node's pod range and are never contacted. The cluster is stopped
and the node reset (containers, bridge, tables) at the end.

    python bench/network.py [--seconds 2] [--rounds 3] [--concurrency 8] [--changes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

Obj = dict[str, Any]
NS = "bench"
HOST = "tput.bench.test"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _bench_module(name: str) -> Any:
    """bench/<name>.py under another module name (``dns`` would shadow dnspython)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# ---------------------------------------------------------------------- HTTP load

COUNTERS = ("TCPSynRetrans", "PAWSEstab", "TCPChallengeACK", "TW", "TCPTimeWaitOverflow")


def netstat(pid: int | str) -> dict[str, int]:
    """TcpExt counters of the network namespace of process ``pid``."""
    lines = Path(f"/proc/{pid}/net/netstat").read_text().splitlines()
    out: dict[str, int] = {}
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if head.startswith("TcpExt:"):
            out.update(zip(head.split()[1:], map(int, values.split()[1:]), strict=False))
    return out


def pod_pid(pod_ip: str) -> int | None:
    """The busybox httpd whose network namespace holds ``pod_ip``."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if not (d / "cmdline").read_bytes().startswith(b"httpd\0-f\0-p\08080"):
                continue
            if f"|-- {pod_ip}\n" in (d / "net" / "fib_trie").read_text():
                return int(d.name)
        except OSError:
            continue
    return None


async def one_request(ip: str, port: int, request: bytes) -> bool:
    reader, writer = await asyncio.open_connection(ip, port)
    try:
        writer.write(request)
        data = await reader.read()
    finally:
        writer.close()
    return data.startswith(b"HTTP/1.") and b" 200 " in data[:16] and data.endswith(b"pod")


async def http_load(
    ip: str, port: int, host: str | None, *, seconds: float, concurrency: int
) -> tuple[float, list[float], int]:
    """(requests/s, per-request seconds, errors) for ``seconds`` of closed-loop load."""
    request = b"GET /id HTTP/1.0\r\n" + (f"Host: {host}\r\n".encode() if host else b"") + b"\r\n"
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(5):
                    ok = await one_request(ip, port, request)
            except (OSError, TimeoutError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies, errors


async def throughput(targets: dict[str, tuple[str, int, str | None]], args: Any) -> Obj:
    for name, (ip, port, host) in targets.items():  # warm-up, and proof each path works
        rps, _, errs = await http_load(ip, port, host, seconds=0.5, concurrency=2)
        if rps == 0:
            raise SystemExit(f"{name} ({ip}:{port}) answers nothing ({errs} errors)")
    rps: dict[str, list[float]] = {n: [] for n in targets}
    lat: dict[str, list[float]] = {n: [] for n in targets}
    errors = dict.fromkeys(targets, 0)
    names = list(targets)
    pid = pod_pid(targets["pod_ip"][0])
    deltas: dict[str, dict[str, int]] = {n: dict.fromkeys(COUNTERS, 0) for n in targets}
    cpu0 = time.process_time()
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            ip, port, host = targets[name]
            before = netstat("self"), netstat(pid) if pid else {}
            x, ls, e = await http_load(
                ip, port, host, seconds=args.seconds, concurrency=args.concurrency
            )
            after = netstat("self"), netstat(pid) if pid else {}
            for c in COUNTERS:  # SYN retransmits on the client side, the rest on the pod's
                side = 0 if c == "TCPSynRetrans" else 1
                deltas[name][c] += after[side].get(c, 0) - before[side].get(c, 0)
            rps[name].append(x)
            lat[name].extend(ls)
            errors[name] += e
    client_cpu = time.process_time() - cpu0
    out: Obj = {}
    for name in names:
        out[name] = {
            "rps": round(statistics.median(rps[name])),
            "p50_ms": ms(pct(lat[name], 0.5)),
            "p99_ms": ms(pct(lat[name], 0.99)),
            "over_500ms": sum(1 for x in lat[name] if x > 0.5),
            "errors": errors[name],
            "tcp": deltas[name],
            "rps_per_round": [round(x) for x in rps[name]],
        }
    total = sum(len(v) for v in lat.values())
    out["client_cpu_us_per_request"] = round(client_cpu / max(total, 1) * 1e6, 1)
    return out


# ---------------------------------------------------------------------- DNS load


def dns_client(
    addr: tuple[str, int],
    bodies: list[bytes],
    outstanding: int,
    duration: float,
    seed: int,
    out: Any,
) -> None:
    """A closed-loop UDP client (own process): ``outstanding`` queries in flight, the slot
    number as query id; a query unanswered for 1 s counts as lost and is replaced."""
    import random

    import uvloop

    rng = random.Random(seed)
    order = [rng.randrange(len(bodies)) for _ in range(65536)]

    async def run() -> Obj:
        loop = asyncio.get_running_loop()
        sent_at = [0.0] * outstanding
        latencies: list[float] = []
        st = {"i": 0, "sent": 0, "received": 0, "rcode_errors": 0, "lost": 0}
        end = time.perf_counter() + duration
        transport: Any = None

        def send(slot: int, now: float) -> None:
            if now >= end:
                sent_at[slot] = 0.0
                return
            st["i"] = (st["i"] + 1) & 0xFFFF
            sent_at[slot] = now
            st["sent"] += 1
            transport.sendto(slot.to_bytes(2, "big") + bodies[order[st["i"]]])

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _: Any) -> None:
                now = time.perf_counter()
                slot = int.from_bytes(data[:2], "big")
                if slot >= outstanding or not sent_at[slot]:
                    return
                latencies.append(now - sent_at[slot])
                st["received"] += 1
                if data[3] & 0x0F:
                    st["rcode_errors"] += 1
                send(slot, now)

        transport, _ = await loop.create_datagram_endpoint(Proto, remote_addr=addr)
        start = time.perf_counter()
        for slot in range(outstanding):
            send(slot, time.perf_counter())
        while any(sent_at) and time.perf_counter() < end + 2:
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            for slot, t0 in enumerate(sent_at):
                if t0 and now - t0 > 1.0:
                    st["lost"] += 1
                    send(slot, now)
        transport.close()
        return {**st, "elapsed": min(time.perf_counter(), end) - start, "latencies": latencies}

    out.put(uvloop.run(run()))


def dns_load(addr: tuple[str, int], bodies: list[bytes], args: Any) -> Obj:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [
        ctx.Process(
            target=dns_client,
            args=(addr, bodies, args.dns_outstanding, args.seconds * 2, 100 + i, q),
        )
        for i in range(args.dns_clients)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=args.seconds * 2 + 60) for _ in procs]
    for p in procs:
        p.join(30)
    lat = [x for r in results for x in r["latencies"]]
    elapsed = max(r["elapsed"] for r in results)
    received = sum(r["received"] for r in results)
    return {
        "qps": round(received / elapsed) if elapsed else 0,
        "p50_ms": ms(pct(lat, 0.5)),
        "p99_ms": ms(pct(lat, 0.99)),
        "received": received,
        "lost": sum(r["lost"] for r in results),
        "rcode_errors": sum(r["rcode_errors"] for r in results),
        "clients": args.dns_clients,
        "outstanding_per_client": args.dns_outstanding,
    }


# ---------------------------------------------------------------------- programming latency


class NftMonitor:
    """``nft monitor`` in a thread: every line with its arrival time; waiters for text."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["nft", "monitor"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line))

    def wait_for(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"nft never showed {text!r}")
            try:
                at, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if text in line:
                return at

    def drain(self) -> None:
        while not self.lines.empty():
            self.lines.get_nowait()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def endpoint_ip(cluster_cidr: str, i: int) -> str:
    """Endpoint addresses .150-.249 of the node's pod range: host-local IPAM hands out
    addresses from .2 up and this run has a handful of pods, so none is a pod; the proxy
    programs only endpoints inside the cluster CIDR. Never contacted."""
    return cluster_cidr.rsplit(".", 1)[0] + f".{150 + i % 100}"


def slice_body(name: str, ips: list[str], node: str) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-manual",
            "namespace": NS,
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [ip], "conditions": {"ready": True}, "nodeName": node} for ip in ips
        ],
    }


def programming(rc: Any, args: Any) -> Obj:
    cluster = rc.cluster
    base = f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"
    names = [f"prog-{i}" for i in range(10)]
    spare = rc.cluster_cidr.rsplit(".", 1)[0] + ".254"  # every slice's second endpoint
    for n, name in enumerate(names):
        slice_ = slice_body(name, [endpoint_ip(rc.cluster_cidr, 90 + n), spare], rc.node_name)
        status, body, _ = cluster.request("POST", base, slice_)
        if status != 201:
            raise SystemExit(f"create slice {name}: {status} {body}")
    monitor = NftMonitor()
    try:
        seconds: list[float] = []
        for n in range(args.changes):
            name = names[n % len(names)]
            ip = endpoint_ip(rc.cluster_cidr, n)
            body = slice_body(name, [ip, spare], rc.node_name)
            _, current, _ = cluster.request("GET", f"{base}/{name}-manual")
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            monitor.drain()
            start = time.perf_counter()
            status, answer, _ = cluster.request("PUT", f"{base}/{name}-manual", body)
            if status != 200:
                raise SystemExit(f"update slice {name}: {status} {answer}")
            seconds.append(monitor.wait_for(f"dnat to {ip}:", 30) - start)
            time.sleep(args.gap)  # a trickle: each change its own sync (pacing, not a wait)
    finally:
        monitor.close()
    return {
        "changes": len(seconds),
        "p50_ms": ms(pct(seconds, 0.5)),
        "p99_ms": ms(pct(seconds, 0.99)),
        "max_ms": ms(max(seconds)),
    }


# ---------------------------------------------------------------------- the cluster


def _deployment(name: str) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "httpd",
                            "image": "pyk8s.local/testbox:1.0",
                            "imagePullPolicy": "IfNotPresent",
                            "command": [
                                "sh",
                                "-c",
                                "mkdir -p /www && echo -n pod > /www/id && "
                                "exec httpd -f -p 8080 -h /www",
                            ],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    }


def _service(name: str, selector: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"app": selector},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            **spec,
        },
    }


def manifests(services: int) -> list[Obj]:
    """One httpd pod per path (pod IP, ClusterIP, Ingress): busybox httpd closes every
    connection, so each pod keeps ~60 s of TIME_WAIT entries, and connections that reach
    one pod from the same address by two paths (direct, and SNATed by the proxy) carry
    different TCP timestamp offsets — the pod then drops SYNs that reuse a TIME_WAIT
    tuple (PAWS). Separate pods keep the paths from disturbing each other."""
    docs: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        *(_deployment(n) for n in ("tput", "tput-svc", "tput-ing")),
        _service("tput", "tput-svc"),
        _service("tput-ing", "tput-ing"),
        _service("tput-headless", "tput", clusterIP="None"),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "tput", "namespace": NS},
            "spec": {
                "rules": [
                    {
                        "host": HOST,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "tput-ing", "port": {"number": 80}}
                                    },
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ]
    for i in range(services):
        ports = [{"name": "http", "port": 80, "targetPort": 8080}]
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc-{i}", "namespace": NS},
                "spec": {"ports": ports},
            }
        )
    for i in range(10):
        ports = [{"name": "http", "port": 80, "targetPort": 8080}]
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"prog-{i}", "namespace": NS},
                "spec": {"ports": ports},
            }
        )
    return docs


def dns_bodies(services: int) -> list[bytes]:
    """Query bodies without the id: 80 % A of ClusterIP Services, 10 % SRV, 10 % headless A."""
    packet = _bench_module("dns")._packet
    names: list[tuple[str, str]] = []
    for i in range(services):
        name = f"svc-{i}.{NS}.svc.cluster.local."
        names.append((name.upper() if i % 4 == 0 else name, "A"))
    for i in range(max(1, services // 8)):
        names.append((f"_http._tcp.svc-{i}.{NS}.svc.cluster.local.", "SRV"))
        names.append((f"tput-headless.{NS}.svc.cluster.local.", "A"))
    return [packet(n, t, 0)[2:] for n, t in names]


def dns_answers(addr: tuple[str, int], body: bytes) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(b"\x00\x07" + body, addr)
        data = s.recv(4096)
    return (data[3] & 0x0F) == 0 and int.from_bytes(data[6:8], "big") > 0


def wait(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def run(args: Any) -> Obj:
    from realnode import RealCluster

    work = Path(tempfile.mkdtemp(prefix="pyk8s-bench-network-"))
    rc = RealCluster(work)
    out: Obj = {"bench": "network", "date": time.strftime("%Y-%m-%d")}
    out["machine"] = f"{platform.machine()} {os.cpu_count()} cpus"
    try:
        t0 = time.perf_counter()
        rc.start()
        log(f"node {rc.node_name} Ready in {time.perf_counter() - t0:.1f}s")
        docs = "\n".join(json.dumps(d) for d in manifests(args.services))
        rc.kubectl("apply", "-f", "-", input=docs)
        for d in ("tput", "tput-svc", "tput-ing"):
            rc.kubectl("-n", NS, "rollout", "status", f"deploy/{d}", "--timeout=90s", timeout=100)

        def get(*what: str) -> Any:
            return json.loads(rc.kubectl("-n", NS, "get", *what, "-o", "json").stdout)

        pod = get("pods", "-l", "app=tput")["items"][0]
        pod_ip = pod["status"]["podIP"]
        cluster_ip = get("service", "tput")["spec"]["clusterIP"]
        kube_dns = json.loads(
            rc.kubectl("-n", "kube-system", "get", "service", "kube-dns", "-o", "json").stdout
        )["spec"]["clusterIP"]
        targets: dict[str, tuple[str, int, str | None]] = {
            "pod_ip": (pod_ip, 8080, None),
            "cluster_ip": (cluster_ip, 80, None),
            "ingress": ("127.0.0.1", rc.http_port, HOST),
        }
        for name, (ip, port, host) in targets.items():
            request = b"GET /id HTTP/1.0\r\n" + (f"Host: {host}\r\n".encode() if host else b"")
            wait(
                f"{name} answering",
                lambda ip=ip, port=port, r=request: asyncio.run(one_request(ip, port, r + b"\r\n")),
            )
        log("HTTP load")
        http = asyncio.run(throughput(targets, args))
        direct = http["pod_ip"]["rps"]
        out["http"] = {
            "requests": "GET /id, new TCP connection per request, from the host",
            "concurrency": args.concurrency,
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            **http,
            "cluster_ip_vs_direct": round(http["cluster_ip"]["rps"] / direct, 3),
            "ingress_vs_direct": round(http["ingress"]["rps"] / direct, 3),
        }

        log("DNS load")
        bodies = dns_bodies(args.services)
        addr = (kube_dns, 53)
        wait("DNS answering the last Service", lambda: dns_answers(addr, bodies[args.services - 1]))
        dns_load(addr, bodies, argparse.Namespace(**{**vars(args), "seconds": 0.5}))  # warm-up
        out["dns"] = {"target": f"kube-dns ClusterIP {kube_dns}:53 (UDP) from the host"}
        out["dns"].update(dns_load(addr, bodies, args))

        log(f"programming latency: {args.changes} changes")
        out["programming"] = {
            "what": "EndpointSlice PUT sent → ruleset with the new endpoint committed (nft monitor)",
            "cluster_ip_services": args.services + 13,
            **programming(rc, args),
        }
        out["goals"] = {
            "cluster_ip_ge_90pct_direct": out["http"]["cluster_ip_vs_direct"] >= 0.9,
            "ingress_ge_50pct_direct": out["http"]["ingress_vs_direct"] >= 0.5,
            "programming_p99_le_1s": out["programming"]["p99_ms"] <= 1000,
            "dns_ge_10000_qps": out["dns"]["qps"] >= 10000,
        }
    finally:
        problems = rc.stop()
        if problems:
            log(f"node reset problems: {problems}")
            out["reset_problems"] = problems
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=2.0, help="per HTTP round / DNS run")
    p.add_argument("--rounds", type=int, default=3, help="alternations of the three HTTP paths")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--services", type=int, default=100, help="ClusterIP Services (DNS names)")
    p.add_argument("--dns-clients", type=int, default=2)
    p.add_argument("--dns-outstanding", type=int, default=32)
    p.add_argument("--changes", type=int, default=100)
    p.add_argument("--gap", type=float, default=0.05, help="seconds between changes")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/network.py needs root (a real node)")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
