"""apiserver benchmark: a real ``pyk8s server`` on SQLite, driven over HTTPS like a client.

Prints ONE JSON line. The server runs as a subprocess (``--disable-agent
--disable-controllers --disable-scheduler``, SQLite in a temp dir, loopback only), so the
load generator and the server each get a core. Requests use aiohttp with real TLS and the
admin client certificate, keep-alive connections and orjson, as clients do. The pod is a
Deployment-style pod (one container, labels, annotations, an owner reference, resources,
env vars, ports, probes, a volume; ~1.5 KB of JSON as sent). Phases, in order:

- ``creates_per_s_1``/``create_p50_ms_1``/``create_p99_ms_1``: pod creates from 1 client;
- ``creates_per_s_50``/…: the same from 50 concurrent clients, until ``list_pods`` pods
  are stored in one namespace;
- ``rss_<list_pods>_pods_mb``: the server's VmRSS with those pods stored (and
  ``rss_empty_mb`` before any); ``stored_pod_json_bytes``: a stored pod's JSON as GET
  serves it (defaults and managedFields make it bigger than ``pod_json_bytes`` as sent);
- ``rss_<fill_pods>_pods_mb``: VmRSS once ``fill_clients`` concurrent clients have filled
  the store up to ``fill_pods`` pods (``fill_creates_per_s``), and
  ``rss_per_pod_beyond_json_bytes`` = (RSS after fill - RSS at ``list_pods``) / pods
  added - ``stored_pod_json_bytes``. Skipped with ``--skip-fill``. The fill runs right
  after the creates so that no other phase's garbage sits in either RSS figure; the
  phases below then run against the full store;
- ``gets_per_s``/``get_p50_ms``/``get_p99_ms``: GETs of random existing pods from 50
  concurrent clients for ``get_seconds``;
- ``list_<n>_json_ms``/``list_<n>_table_ms``: one list of the first namespace (median of
  ``list_repeats``), as JSON and as ``application/json;as=Table;v=v1;g=meta.k8s.io``,
  timed until the whole body is read;
- ``watch_p50_ms``/``watch_p99_ms``: ``watchers`` watch connections on another
  namespace's pods; then pod creates and merge patches, alternately, one at a time at
  ``watch_rate`` per second; latency from just before each write to the receipt of its
  event at each watcher (every delivery is a sample; ``watch_last_watcher_p50_ms`` is the
  median over writes of the slowest delivery; ``watch_missing`` counts deliveries that
  never came);
- ``rss_end_mb``: VmRSS at the end.

``cpu`` gives, per phase, the server's and this process' CPU time over wall time (1.0 =
one core busy; when ``bench`` nears 1.0 the load generator is a limit too), ``other``:
every other process on the machine (noise), ``irq``: interrupt and softirq time (mostly
loopback TCP, charged to no process), and ``steal``: time the hypervisor gave elsewhere. ``*_server_cpu_us*`` is server CPU per request.
``server_stop`` says whether the server exited on SIGTERM within 5 s or had to be killed.
``goals`` checks the targets. ``--profile-dir DIR`` samples the server with py-spy during
each phase (collapsed stacks, one file per phase; py-spy must be installed). ``--quick``
shrinks every phase for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson


@dataclass(frozen=True)
class Params:
    seq_creates: int = 1000
    clients: int = 50
    list_pods: int = 10_000
    get_seconds: float = 5.0
    list_repeats: int = 5
    watchers: int = 1000
    watch_writes: int = 200
    watch_rate: float = 10.0
    fill_pods: int = 100_000
    fill_clients: int = 64


QUICK = Params(
    seq_creates=200,
    list_pods=2000,
    get_seconds=2.0,
    list_repeats=3,
    watchers=200,
    watch_writes=60,
    watch_rate=20.0,
    fill_pods=8000,
)

GOALS = {
    # result key: (comparison, target)
    "creates_per_s_50": (">=", 2000),
    "gets_per_s": (">=", 8000),
    "create_p99_ms_50": ("<=", 50),
    "watch_p99_ms": ("<=", 50),
    "rss_per_pod_beyond_json_bytes": ("<=", 2048),
}

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
USER_AGENT = "pyk8s-bench/apiserver"
MB = 1024 * 1024

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "",
        "generateName": "web-7d4b9c8f6d-",
        "labels": {
            "app.kubernetes.io/name": "web",
            "app.kubernetes.io/instance": "web-prod",
            "app.kubernetes.io/version": "1.4.2",
            "pod-template-hash": "7d4b9c8f6d",
            "tier": "frontend",
        },
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9090",
            "kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z",
        },
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c8f6d",
                "uid": "6f1c2a3b-4d5e-4f60-8a1b-2c3d4e5f6a7b",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": {
        "serviceAccountName": "default",
        "containers": [
            {
                "name": "web",
                "image": "registry.local/team/web:1.4.2",
                "imagePullPolicy": "IfNotPresent",
                "args": ["--listen=:8080", "--metrics=:9090"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                ],
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http"},
                    "periodSeconds": 5,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/livez", "port": "http"},
                    "initialDelaySeconds": 10,
                    "periodSeconds": 10,
                },
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
        "terminationGracePeriodSeconds": 30,
    },
}


def pod_body(name: str) -> bytes:
    POD["metadata"]["name"] = name  # one event loop: no await between set and dump
    return orjson.dumps(POD)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class BenchError(Exception):
    """The server failed or misbehaved; the message says how."""


# -- the server process ----------------------------------------------------------------


class ServerProcess:
    """``pyk8s server`` in a temp dir on a port of its choosing; stopped by PID."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def ssl_context(self) -> ssl.SSLContext:
        tls = self.data_dir / "tls"
        ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        ctx.load_cert_chain(tls / "admin.crt", tls / "admin.key")
        return ctx

    async def start(self, timeout: float = 60.0) -> None:
        cmd = [
            sys.executable, "-m", "pyk8s.cli.main", "server",
            "--data-dir", str(self.data_dir), "--port", "0",
            "--disable-agent", "--disable-controllers", "--disable-scheduler",
        ]  # fmt: skip
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        kubeconfig = self.data_dir / "admin.kubeconfig"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if kubeconfig.exists() and (self.data_dir / "tls" / "ca.crt").exists():
                found = re.search(r"server:\s*(https://\S+)", kubeconfig.read_text())
                if found:
                    self.url = found.group(1).strip("'\"")
                    if await self._ready():
                        return
            await asyncio.sleep(0.05)
        raise BenchError(f"apiserver not ready in {timeout}s\n{self.log_tail()}")

    async def _ready(self) -> bool:
        try:
            connector = aiohttp.TCPConnector(ssl=self.ssl_context())
            async with (
                aiohttp.ClientSession(connector=connector) as s,
                s.get(self.url + "/readyz") as r,
            ):
                return r.status == 200
        except (aiohttp.ClientError, OSError):
            return False

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"apiserver exited with {self.proc.returncode}\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return "server log tail:\n" + self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def status(self) -> dict[str, int]:
        """VmRSS, RssAnon, RssFile in bytes, from /proc/PID/status."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[name] = int(value.split()[0]) * 1024
        return out

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, grace: float = 5.0) -> str:
        """SIGTERM, then SIGKILL after ``grace`` seconds; says which ended it."""
        if self.proc is None or self.proc.poll() is not None:
            return "exited before stop"
        self.proc.terminate()
        try:
            self.proc.wait(grace)
            return f"exited {self.proc.returncode} on SIGTERM"
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return f"killed: still running {grace:g}s after SIGTERM"


class Profiler:
    """py-spy attached to the server for one phase at a time (collapsed stacks)."""

    def __init__(self, out_dir: Path | None, pid: int) -> None:
        self.out_dir = out_dir
        self.pid = pid
        self.binary = None
        if out_dir is not None:
            here = Path(sys.executable).parent / "py-spy"
            self.binary = str(here) if here.exists() else shutil.which("py-spy")
            if self.binary is None:
                raise BenchError("--profile-dir needs py-spy (pip install py-spy)")
            out_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def phase(self, name: str) -> AsyncIterator[None]:
        if self.binary is None or self.out_dir is None:
            yield
            return
        out = self.out_dir / f"{name}.txt"
        with open(self.out_dir / f"{name}.log", "wb") as log:
            spy = subprocess.Popen(
                [self.binary, "record", "--pid", str(self.pid), "--rate", "200", "--threads", "--nonblocking",
                 "--format", "raw", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        await asyncio.sleep(0.5)  # attach
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(spy.wait, 30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(5)


# -- the load generator ----------------------------------------------------------------


@dataclass
class Failures:
    count: int = 0
    first: dict[str, Any] = field(default_factory=dict)

    def add(self, method: str, url: str, status: int | str, body: bytes | str) -> None:
        self.count += 1
        if not self.first:
            text = body.decode(errors="replace") if isinstance(body, bytes) else body
            self.first = {"request": f"{method} {url}", "status": status, "body": text[:600]}


class Client:
    """One keep-alive connection pool over TLS; counts failures instead of raising."""

    def __init__(self, server: ServerProcess, *, connections: int) -> None:
        self.server = server
        self.base = server.url
        connector = aiohttp.TCPConnector(ssl=server.ssl_context(), limit=connections)
        self.session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=120),
            skip_auto_headers=("Accept-Encoding",),
        )
        self.failures = Failures()

    async def close(self) -> None:
        await self.session.close()

    async def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> tuple[bytes | None, float]:
        """(response body or None on failure, seconds from send to the body's last byte)."""
        hdrs = dict(headers or {})
        if body is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            async with self.session.request(method, self.base + path, data=body, headers=hdrs) as r:
                data = await r.read()
                status = r.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.failures.add(method, path, type(exc).__name__, str(exc))
            self.server.check_alive()
            if self.failures.count > 100:
                raise BenchError(f"too many failed requests; first: {self.failures.first}")
            return None, time.perf_counter() - start
        elapsed = time.perf_counter() - start
        if status >= 300:
            self.failures.add(method, path, status, data)
            if self.failures.count > 100:
                raise BenchError(f"too many failed requests; first: {self.failures.first}")
            return None, elapsed
        return data, elapsed


def machine_cpu_seconds() -> tuple[float, float, float]:
    """(processes, interrupts, stolen) CPU seconds of this machine, all cores, from
    /proc/stat: user + nice + system; irq + softirq (loopback TCP is mostly softirq, which
    no process is charged for); time a hypervisor gave to other guests."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system) / tick, (irq + softirq) / tick, steal / tick


@dataclass
class Usage:
    """CPU over wall time of the server, of this process, and of everything else on the
    machine (noise from other work) during one phase."""

    server: ServerProcess
    wall: float = 0.0
    server_cpu: float = 0.0
    bench_cpu: float = 0.0
    other_cpu: float = 0.0
    irq: float = 0.0
    steal: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        w, s, b = time.perf_counter(), self.server.cpu_seconds(), time.process_time()
        procs, irq, stolen = machine_cpu_seconds()
        yield
        self.wall = time.perf_counter() - w
        server = self.server.cpu_seconds() - s
        bench = time.process_time() - b
        procs2, irq2, stolen2 = machine_cpu_seconds()
        self.server_cpu = server / self.wall
        self.bench_cpu = bench / self.wall
        self.other_cpu = max(0.0, procs2 - procs - server - bench) / self.wall
        self.irq = (irq2 - irq) / self.wall
        self.steal = (stolen2 - stolen) / self.wall

    def summary(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall, 2),
            "server": round(self.server_cpu, 2),
            "bench": round(self.bench_cpu, 2),
            "other": round(self.other_cpu, 2),
            "irq": round(self.irq, 2),
            "steal": round(self.steal, 2),
        }


@dataclass
class Bench:
    p: Params
    server: ServerProcess
    client: Client
    profiler: Profiler
    results: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    stored: int = 0  # pods created so far
    names: list[str] = field(default_factory=list)  # pods in namespace "bench"
    verbose: bool = False
    rss_10k: int = 0  # VmRSS with list_pods pods stored, right after creating them
    started: float = field(default_factory=time.perf_counter)

    def log(self, what: str) -> None:
        if self.verbose:
            print(f"{time.perf_counter() - self.started:7.1f}s {what}", file=sys.stderr)

    @contextlib.asynccontextmanager
    async def phase(self, name: str) -> AsyncIterator[None]:
        self.server.check_alive()
        usage = Usage(self.server)
        async with self.profiler.phase(name):
            with usage.measure():
                yield
        self.cpu[name] = usage.summary()
        self.server.check_alive()

    def server_us(self, phase: str, requests: list[float]) -> float:
        """Server CPU time per request in a phase, in microseconds."""
        c = self.cpu[phase]
        return round(c["server"] * c["wall_s"] / max(1, len(requests)) * 1e6)

    async def namespace(self, name: str) -> None:
        body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        if (await self.client.call("POST", "/api/v1/namespaces", body))[0] is None:
            raise BenchError(f"cannot create namespace {name}: {self.client.failures.first}")

    async def create_pods(
        self, ns: str, names: list[str], clients: int
    ) -> tuple[float, list[float]]:
        """Creates ``names`` from ``clients`` concurrent tasks; (creates/s, latencies)."""
        todo = iter(names)
        latencies: list[float] = []
        path = f"/api/v1/namespaces/{ns}/pods"

        async def worker() -> None:
            for name in todo:
                data, elapsed = await self.client.call("POST", path, pod_body(name))
                if data is not None:
                    latencies.append(elapsed)

        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(clients):
                group.create_task(worker())
        rate = len(latencies) / (time.perf_counter() - start)
        self.stored += len(latencies)
        return rate, latencies

    # -- phases --------------------------------------------------------------------------

    async def creates(self) -> None:
        p = self.p
        await self.namespace("bench")
        self.results["pod_json_bytes"] = len(pod_body("web-7d4b9c8f6d-000000"))
        self.results["rss_empty_mb"] = round(self.server.status()["VmRSS"] / MB, 1)
        names = [f"web-7d4b9c8f6d-{i:06d}" for i in range(p.list_pods)]
        for label, batch, clients in (
            ("1", names[: p.seq_creates], 1),
            (str(p.clients), names[p.seq_creates :], p.clients),
        ):
            async with self.phase(f"creates_{label}"):
                rate, lat = await self.create_pods("bench", batch, clients)
            self.results[f"creates_per_s_{label}"] = round(rate)
            self.results[f"create_p50_ms_{label}"] = ms(percentile(lat, 0.50))
            self.results[f"create_p99_ms_{label}"] = ms(percentile(lat, 0.99))
            self.results[f"create_server_cpu_us_{label}"] = self.server_us(f"creates_{label}", lat)
        self.names = names
        await asyncio.sleep(1.0)
        self.rss_10k = self.server.status()["VmRSS"]
        self.results[f"rss_{self.stored}_pods_mb"] = round(self.rss_10k / MB, 1)
        await self.stored_json_bytes()

    async def gets(self) -> None:
        p = self.p
        latencies: list[float] = []
        names = self.names
        end = 0.0

        async def worker(seed: int) -> None:
            rnd = random.Random(seed)
            while time.perf_counter() < end:
                name = names[rnd.randrange(len(names))]
                data, elapsed = await self.client.call(
                    "GET", f"/api/v1/namespaces/bench/pods/{name}"
                )
                if data is not None:
                    latencies.append(elapsed)

        async with self.phase("gets"):
            start = time.perf_counter()
            end = start + p.get_seconds
            async with asyncio.TaskGroup() as group:
                for seed in range(p.clients):
                    group.create_task(worker(seed))
            wall = time.perf_counter() - start
        self.results["gets_per_s"] = round(len(latencies) / wall)
        self.results["get_p50_ms"] = ms(percentile(latencies, 0.50))
        self.results["get_p99_ms"] = ms(percentile(latencies, 0.99))
        self.results["get_server_cpu_us"] = self.server_us("gets", latencies)

    async def lists(self) -> None:
        p = self.p
        n = len(self.names)
        for form, accept in (("json", "application/json"), ("table", TABLE)):
            timings: list[float] = []
            body = b""
            async with self.phase(f"list_{form}"):
                for _ in range(p.list_repeats):
                    data, elapsed = await self.client.call(
                        "GET", "/api/v1/namespaces/bench/pods", headers={"Accept": accept}
                    )
                    if data is None:
                        raise BenchError(f"list failed: {self.client.failures.first}")
                    timings.append(elapsed)
                    body = data
            doc = orjson.loads(body)
            got = len(doc.get("rows" if form == "table" else "items") or [])
            if got != n:
                raise BenchError(f"list as {form} returned {got} of {n} pods")
            self.results[f"list_{n}_{form}_ms"] = ms(percentile(timings, 0.5))
            self.results[f"list_{n}_{form}_bytes"] = len(body)

    async def watch(self) -> None:
        p = self.p
        await self.namespace("watch")
        path = "/api/v1/namespaces/watch/pods"
        data, _ = await self.client.call("GET", path)
        if data is None:
            raise BenchError(f"list before watch failed: {self.client.failures.first}")
        rv = orjson.loads(data)["metadata"]["resourceVersion"]
        sent: dict[int, float] = {}
        arrivals: list[list[tuple[int, float]]] = [[] for _ in range(p.watchers)]
        received = 0
        all_in = asyncio.Event()
        expected = p.watchers * p.watch_writes
        marker = b'"resourceVersion":"'
        connector = aiohttp.TCPConnector(ssl=self.server.ssl_context(), limit=0)
        session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=60),
        )
        query = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "false"}

        async def open_watch(sem: asyncio.Semaphore) -> aiohttp.ClientResponse:
            async with sem:
                r = await session.get(self.server.url + path, params=query)
                if r.status != 200:
                    body = await r.read()
                    raise BenchError(f"watch GET {path} {query} -> {r.status}: {body[:600]!r}")
                return r

        async def consume(i: int, r: aiohttp.ClientResponse) -> None:
            nonlocal received
            got = arrivals[i]
            pending = b""
            # Chunks, not lines: the cheapest way through aiohttp, since one client process
            # reads every watcher and its own cost adds to the latency it measures. An
            # event counts as received with the chunk that completes its line.
            async for chunk in r.content.iter_any():
                t = time.perf_counter()
                data = pending + chunk if pending else chunk
                start = 0
                while (end := data.find(b"\n", start)) >= 0:
                    at = data.find(marker, start, end) + len(marker)
                    got.append((int(data[at : data.index(b'"', at)]), t))
                    received += 1
                    start = end + 1
                pending = data[start:]
                if received >= expected:
                    all_in.set()

        write_lat: list[float] = []
        tasks: list[asyncio.Task[None]] = []
        responses: list[aiohttp.ClientResponse] = []
        try:
            sem = asyncio.Semaphore(64)
            t0 = time.perf_counter()
            responses = list(await asyncio.gather(*(open_watch(sem) for _ in range(p.watchers))))
            self.results["watch_connect_s"] = round(time.perf_counter() - t0, 2)
            tasks = [asyncio.create_task(consume(i, r)) for i, r in enumerate(responses)]
            await asyncio.sleep(0.5)
            async with self.phase("watch"):
                start = time.perf_counter()
                for i in range(p.watch_writes):
                    delay = start + i / p.watch_rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    name = f"w-{i // 2:05d}"
                    if i % 2 == 0:
                        before = time.perf_counter()
                        data, elapsed = await self.client.call("POST", path, pod_body(name))
                        self.stored += 0 if data is None else 1
                    else:
                        patch = orjson.dumps({"metadata": {"annotations": {"bench/write": str(i)}}})
                        before = time.perf_counter()
                        data, elapsed = await self.client.call(
                            "PATCH",
                            f"{path}/{name}",
                            patch,
                            headers={"Content-Type": "application/merge-patch+json"},
                        )
                    if data is not None:
                        sent[int(orjson.loads(data)["metadata"]["resourceVersion"])] = before
                        write_lat.append(elapsed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_in.wait(), 30)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for r in responses:
                r.close()
            await session.close()
        samples: list[float] = []
        last: dict[int, float] = {}  # per write: its slowest delivery
        for got in arrivals:
            for rev, t in got:
                if rev in sent:
                    samples.append(t - sent[rev])
                    last[rev] = max(last.get(rev, 0.0), t - sent[rev])
        self.results["watchers"] = p.watchers
        self.results["watch_writes"] = len(sent)
        self.results["watch_p50_ms"] = ms(percentile(samples, 0.50))
        self.results["watch_p99_ms"] = ms(percentile(samples, 0.99))
        self.results["watch_max_ms"] = ms(max(samples, default=float("nan")))
        self.results["watch_last_watcher_p50_ms"] = ms(percentile(list(last.values()), 0.50))
        self.results["watch_missing"] = p.watchers * len(sent) - len(samples)
        c = self.cpu["watch"]
        for side in ("server", "bench"):
            per = c[side] * c["wall_s"] / max(1, len(samples)) * 1e6
            self.results[f"watch_{side}_cpu_us_per_delivery"] = round(per, 1)
        self.results["watch_write_p50_ms"] = ms(percentile(write_lat, 0.50))

    async def fill(self) -> None:
        p = self.p
        target = p.fill_pods - self.stored
        if target <= 0:
            return
        await self.namespace("fill")
        before_pods = self.stored
        before = self.rss_10k
        names = [f"web-fill-{i:06d}" for i in range(target)]
        async with self.phase("fill"):
            rate, _ = await self.create_pods("fill", names, p.fill_clients)
        self.results["fill_creates_per_s"] = round(rate)
        await asyncio.sleep(1.0)
        st = self.server.status()
        self.results[f"rss_{self.stored}_pods_mb"] = round(st["VmRSS"] / MB, 1)
        self.results["rss_anon_after_fill_mb"] = round(st["RssAnon"] / MB, 1)
        per_pod = (st["VmRSS"] - before) / max(1, self.stored - before_pods)
        self.results["rss_per_pod_bytes"] = round(per_pod)
        self.results["rss_per_pod_beyond_json_bytes"] = round(
            per_pod - self.results["stored_pod_json_bytes"]
        )

    async def stored_json_bytes(self) -> None:
        """The average size of a stored pod's JSON, as GET serves it (a sample of 100)."""
        sizes = []
        for name in random.Random(0).sample(self.names, min(100, len(self.names))):
            data, _ = await self.client.call("GET", f"/api/v1/namespaces/bench/pods/{name}")
            if data is not None:
                sizes.append(len(data))
        self.results["stored_pod_json_bytes"] = round(sum(sizes) / max(1, len(sizes)))


def check_goals(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, (op, target) in GOALS.items():
        value = results.get(key)
        ok = None
        if isinstance(value, (int, float)) and value == value:  # not NaN
            ok = value >= target if op == ">=" else value <= target
        out[key] = {"value": value, "goal": f"{op} {target}", "pass": ok}
    return out


async def main_async(
    p: Params, *, fill: bool, profile_dir: Path | None, verbose: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "apiserver",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "aiohttp": aiohttp.__version__,
        },
        "params": asdict(p) | {"fill": fill, "profiled": profile_dir is not None},
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-apiserver-") as tmp:
        server = ServerProcess(Path(tmp) / "server")
        client: Client | None = None
        try:
            t0 = time.perf_counter()
            await server.start()
            out["server_start_s"] = round(time.perf_counter() - t0, 2)
            client = Client(server, connections=max(p.clients, p.fill_clients))
            bench = Bench(p, server, client, Profiler(profile_dir, server.pid), verbose=verbose)
            for step in (
                bench.creates,
                bench.fill if fill else None,
                bench.gets,
                bench.lists,
                bench.watch,
            ):
                if step is not None:
                    bench.log(f"phase {step.__name__}")
                    await step()
            bench.results["rss_end_mb"] = round(server.status()["VmRSS"] / MB, 1)
            bench.log("done")
            out["results"] = bench.results
            out["cpu"] = bench.cpu
            out["goals"] = check_goals(bench.results)
            if client.failures.count:
                out["failures"] = asdict(client.failures)
                print(server.log_tail(), file=sys.stderr)
        except BaseException:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            if client is not None:
                await client.close()
            t0 = time.perf_counter()
            out["server_stop"] = server.stop()
            out["server_stop_s"] = round(time.perf_counter() - t0, 2)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return out


def _bench_error(exc: BaseException) -> BenchError | None:
    """The BenchError in ``exc``, which a task group may have wrapped."""
    if isinstance(exc, BenchError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _bench_error(inner)) is not None:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Prints one JSON line on stdout.",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (< 40 s)")
    parser.add_argument(
        "--skip-fill",
        "--skip-100k",
        action="store_true",
        help="skip filling the store to fill_pods (100,000) pods and the per-pod RSS figure",
    )
    parser.add_argument("--watchers", type=int, help="override the number of watchers")
    parser.add_argument("--watch-rate", type=float, help="override writes/s in the watch phase")
    parser.add_argument(
        "--profile-dir", type=Path, help="sample the server with py-spy per phase into DIR"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    args = parser.parse_args(argv)
    p = QUICK if args.quick else Params()
    overrides = {
        k: v
        for k, v in (("watchers", args.watchers), ("watch_rate", args.watch_rate))
        if v is not None
    }
    if overrides:
        p = Params(**(asdict(p) | overrides))
    try:
        out = asyncio.run(
            main_async(
                p, fill=not args.skip_fill, profile_dir=args.profile_dir, verbose=args.verbose
            )
        )
    except BaseException as exc:
        error = _bench_error(exc)
        if error is None:
            raise
        print(f"bench/apiserver.py: {error}", file=sys.stderr)
        return 1
    print(json.dumps(out, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
