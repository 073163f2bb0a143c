"""Pod startup benchmark on one real node: ``pyk8s server`` with its local agent (kubelet
on containerd through CRI), started as ``tests/realnode.py``'s ``RealCluster``.

Measures, in the same run:

- ``single``: one pod at a time (``--repeat`` times): latency from just before the
  pod's POST to the first watch event showing it ``Running`` with ``Ready=True``; p50.
- ``batch``: ``--batch`` pods POSTed at once (concurrently); each pod's latency measured
  the same way; p50 and p99.
- ``ctr_floor``: the same image started straight through containerd, ``ctr run -d``
  on the node's containerd socket (no sandbox, no CNI, no API): the floor; p50 of
  ``--repeat`` runs, each container removed again.
- ``cri_batch_floor``: the same batch started straight through CRI (sandbox with CNI,
  create, start) on a containerd of its own, without any Kubernetes component
  (``bench/cri_floor.py``): what the runtime itself needs for the batch on this machine.
- The agent process (the kubelet's Python process, the server's child with ``agent`` in
  its command line) with the batch's pods idle: RSS and CPU over ``--idle-window`` s;
  containerd's RSS beside it.

Goals: batch p99 ≤ 2 s, single p50 within 300 ms of the ctr floor, agent RSS ≤ 100 MiB.
Prints one JSON line. Every process, pod and container it starts is removed; the node is
reset when done.

    .venv/bin/python bench/podstartup.py [--repeat 10] [--batch 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from benchutil import cpu_seconds, rss_mb  # noqa: E402
from realnode import TESTBOX, RealCluster  # noqa: E402

NS = "bench"
IDLE = "trap 'exit 0' TERM; while true; do sleep 5 & wait $!; done"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "podstartup"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "c",
                    "image": TESTBOX,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", IDLE],
                }
            ],
        },
    }


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


class Watcher:
    """A pod watch on the bench namespace in a thread: the monotonic time each pod was
    first seen Running and Ready, and each pod's deletion."""

    def __init__(self, rc: RealCluster) -> None:
        self.rc = rc
        self.ready_at: dict[str, float] = {}
        self.deleted: set[str] = set()
        self.cond = threading.Condition()
        self._resp: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        ctx: ssl.SSLContext = self.rc.cluster.ssl_context()
        url = f"{self.rc.cluster.url}/api/v1/namespaces/{NS}/pods?watch=1&timeoutSeconds=3600"
        self._resp = urllib.request.urlopen(url, context=ctx, timeout=3600)
        self._thread.start()

    def _run(self) -> None:
        try:
            for line in self._resp:
                now = time.monotonic()
                ev = json.loads(line)
                name = ev["object"]["metadata"]["name"]
                with self.cond:
                    if ev["type"] == "DELETED":
                        self.deleted.add(name)
                    elif ready(ev["object"]):
                        self.ready_at.setdefault(name, now)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass

    def wait(self, names: list[str], what: str, timeout: float = 120.0) -> None:
        target = self.deleted if what == "deleted" else self.ready_at
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(n in target for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [n for n in names if n not in target]
                    raise SystemExit(f"timed out waiting for {what}: {missing[:5]}")
                self.cond.wait(left)

    def close(self) -> None:
        """After the server has stopped (which ends the stream): closing the response
        while the thread still reads it would block on the reader's lock."""
        self._thread.join(10)
        if self._resp is not None and not self._thread.is_alive():
            self._resp.close()


def create(rc: RealCluster, name: str) -> float:
    started = time.monotonic()
    status, body, _ = rc.cluster.request("POST", f"/api/v1/namespaces/{NS}/pods", pod(name))
    if status != 201:
        raise SystemExit(f"creating {name}: {status} {body}")
    return started


def delete(rc: RealCluster, names: list[str]) -> None:
    """Graceful deletion: the API object goes only once the kubelet has stopped the pod."""
    for name in names:
        rc.cluster.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{name}")


def ctr(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ctr", "--address", str(sock), "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def ctr_floor(sock: Path, runs: int) -> list[float]:
    """Seconds ``ctr run -d`` takes to create and start the testbox container."""
    out: list[float] = []
    for i in range(runs):
        cid = f"podstartup-floor-{os.getpid()}-{i}"
        started = time.monotonic()
        cp = ctr(sock, "run", "-d", TESTBOX, cid, "sh", "-c", IDLE)
        took = time.monotonic() - started
        try:
            if cp.returncode != 0:
                raise SystemExit(f"ctr run failed: {cp.stderr}")
            out.append(took)
        finally:
            ctr(sock, "task", "kill", "-s", "KILL", cid)
            deadline = time.monotonic() + 10
            while ctr(sock, "task", "rm", cid).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            ctr(sock, "container", "rm", cid)
    return out


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(p) for p in text)
    return out


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def agent_pid(server_pid: int) -> int:
    for pid in children(server_pid):
        if " agent" in cmdline(pid):
            return pid
    raise SystemExit("no agent process under the server")


def containerd_pid(pid: int) -> int | None:
    for child in children(pid):
        if "containerd" in cmdline(child).split()[0]:
            return child
    return None


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"signal {signum}")  # so the finally below stops and resets the node


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--batch", type=int, default=30)
    ap.add_argument("--floor-runs", type=int, default=5)
    ap.add_argument("--idle-window", type=float, default=10.0)
    ap.add_argument("--py-spy", metavar="FILE", help="profile the agent during the batch")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="podstartup-")
    rc = RealCluster(Path(tmp))
    watcher = Watcher(rc)
    problems: list[str] = []
    try:
        rc.start()
        sock = rc.cluster.data_dir / "agent" / "containerd" / "containerd.sock"
        rc.kubectl("create", "namespace", NS)
        watcher.start()

        # Warm-up: the first pod pays for one-off work (image unpack, CNI bridge).
        create(rc, "warm")
        watcher.wait(["warm"], "ready")
        delete(rc, ["warm"])
        watcher.wait(["warm"], "deleted")

        floor = ctr_floor(sock, args.floor_runs)

        single = []
        for i in range(args.repeat):
            name = f"single-{i}"
            started = create(rc, name)
            watcher.wait([name], "ready")
            single.append(watcher.ready_at[name] - started)
            delete(rc, [name])
            watcher.wait([name], "deleted")

        assert rc.cluster.proc is not None
        agent = agent_pid(rc.cluster.proc.pid)
        spy = None
        if args.py_spy:
            spy = subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/py-spy"),
                    "record",
                    "-p",
                    str(agent),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    args.py_spy,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attaching (not part of any measurement)
        names = [f"batch-{i}" for i in range(args.batch)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            starts = dict(zip(names, pool.map(lambda n: create(rc, n), names), strict=True))
        watcher.wait(names, "ready", timeout=300)
        batch = [watcher.ready_at[n] - starts[n] for n in names]
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        cd = containerd_pid(agent)
        cpu0, t0 = cpu_seconds(agent), time.monotonic()
        time.sleep(args.idle_window)  # measuring window, not synchronisation
        cpu1, t1 = cpu_seconds(agent), time.monotonic()
        idle_rss = rss_mb(agent)
        containerd_rss = rss_mb(cd) if cd else None

        delete(rc, names)
        watcher.wait(names, "deleted", timeout=120)
        deadline = time.monotonic() + 60
        while ctr(sock, "tasks", "ls", "-q").stdout.strip():
            if time.monotonic() > deadline:
                raise SystemExit("containers still running after the pods were deleted")
            time.sleep(0.2)
    finally:
        problems = rc.stop()
        watcher.close()
        if not problems:  # otherwise kept for a look (and a manual node reset)
            shutil.rmtree(tmp, ignore_errors=True)

    import asyncio

    import cri_floor

    floor_batch = asyncio.run(cri_floor.measure(args.batch))
    single_p50 = statistics.median(single)
    floor_p50 = statistics.median(floor)
    result = {
        "bench": "podstartup",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "single_runs": args.repeat,
        "single_p50_s": round(single_p50, 3),
        "single_max_s": round(max(single), 3),
        "ctr_floor_p50_s": round(floor_p50, 3),
        "single_over_floor_ms": round((single_p50 - floor_p50) * 1000),
        "batch": args.batch,
        "batch_p50_s": round(pct(batch, 50), 3),
        "batch_p99_s": round(pct(batch, 99), 3),
        "cri_batch_floor_p50_s": floor_batch["p50_s"],
        "cri_batch_floor_p99_s": floor_batch["p99_s"],
        "agent_rss_mib_idle": idle_rss,
        "agent_cpu_pct_idle": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "containerd_rss_mib_idle": containerd_rss,
        "goals": {
            "batch_p99_le_2s": pct(batch, 99) <= 2.0,
            "single_within_300ms_of_floor": single_p50 - floor_p50 <= 0.3,
            "agent_rss_le_100mib": idle_rss <= 100,
        },
        "cleanup_problems": problems,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
