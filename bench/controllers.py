"""Controller benchmark (issue 5): the whole control plane — `pyk8s server` (apiserver,
controller-manager, scheduler) plus `pyk8s agent --runtime sim` nodes that report pods
Ready at once — and three workloads:

- a Deployment of 1,000 replicas: seconds from creation to 1,000 available;
- a rolling update of it (new image, maxSurge 25%): seconds until the rollout completes;
- a Job of 1,000 completions with parallelism 100 (simulated pods run for 0.1 s).

Reports controller-manager CPU seconds and RSS after each phase. Prints one JSON line.
Only loopback; every process it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.url = f"https://127.0.0.1:{port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def ctx(self) -> ssl.SSLContext:
        c = ssl.create_default_context(cafile=str(self.data / "tls" / "ca.crt"))
        c.load_cert_chain(self.data / "tls" / "admin.crt", self.data / "tls" / "admin.key")
        return c

    def req(self, method: str, path: str, body: Any = None, ctype: str = "application/json") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            r.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(r, context=self.ctx(), timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            with e:
                raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None

    def start(self, nodes: int, log: Path) -> None:
        py = [sys.executable, "-m", "pyk8s.cli.main"]
        out = open(log, "ab")  # noqa: SIM115 (kept for the processes' lifetime)
        self.procs.append(
            subprocess.Popen(
                [
                    *py,
                    "server",
                    "--data-dir",
                    str(self.data),
                    "--port",
                    str(self.port),
                    "--disable-agent",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (self.data / "admin.kubeconfig").exists():
                    self.req("GET", "/api/v1/namespaces/default")
                    break
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("apiserver did not start")
        self.procs.append(
            subprocess.Popen(
                [
                    *py,
                    "agent",
                    "--runtime",
                    "sim",
                    "--nodes",
                    str(nodes),
                    "--kubeconfig",
                    str(self.data / "admin.kubeconfig"),
                    "--job-duration",
                    "0.1",
                    "--pods",
                    "250",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
        self.wait(lambda: len(self.req("GET", "/api/v1/nodes")["items"]) >= nodes, 60, "nodes")

    def wait(self, cond: Any, timeout: float, what: str) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if cond():
                return time.monotonic() - t0
            time.sleep(0.05)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def _controller_manager_pid(server_pid: int) -> int | None:
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat[1]) == server_pid and b"controller-manager" in cmd:
            return int(d.name)
    return None


def _usage(pid: int | None) -> dict[str, float]:
    if pid is None:
        return {}
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024
    return {"cpu_s": round((int(stat[11]) + int(stat[12])) / tick, 2), "rss_mb": rss}


def _deployment(replicas: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "bench"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": image,
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--completions", type=int, default=1000)
    ap.add_argument("--parallelism", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="100 replicas, 100 completions")
    args = ap.parse_args()
    if args.quick:
        args.replicas, args.completions, args.parallelism = 100, 100, 20
    data = Path(tempfile.mkdtemp(prefix="pyk8s-bench-controllers-"))
    c = Cluster(data / "cluster", _free_port())
    results: dict[str, Any] = {}
    try:
        c.start(args.nodes, data / "log")
        cm = _controller_manager_pid(c.procs[0].pid)
        ns = "/apis/apps/v1/namespaces/default/deployments"
        t0 = time.monotonic()
        c.req("POST", ns, _deployment(args.replicas, "nginx:1.25"))

        def available(gen: int | None = None) -> bool:
            d = c.req("GET", f"{ns}/bench")
            st = d.get("status") or {}
            ok = (
                st.get("availableReplicas") == args.replicas
                and st.get("updatedReplicas") == args.replicas
            )
            ok = ok and st.get("replicas") == args.replicas
            return ok and (gen is None or st.get("observedGeneration", 0) >= gen)

        c.wait(available, 300, "deployment available")
        results["deployment_available_s"] = round(time.monotonic() - t0, 2)
        results["after_deployment"] = _usage(cm)
        t0 = time.monotonic()
        d = c.req(
            "PATCH",
            f"{ns}/bench",
            {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.26"}]}}
                }
            },
            "application/strategic-merge-patch+json",
        )
        gen = d["metadata"]["generation"]
        c.wait(lambda: available(gen), 600, "rolling update")
        results["rolling_update_s"] = round(time.monotonic() - t0, 2)
        results["after_rollout"] = _usage(cm)
        t0 = time.monotonic()
        c.req(
            "POST",
            "/apis/batch/v1/namespaces/default/jobs",
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "bench"},
                "spec": {
                    "completions": args.completions,
                    "parallelism": args.parallelism,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    },
                },
            },
        )
        c.wait(
            lambda: (
                (
                    c.req("GET", "/apis/batch/v1/namespaces/default/jobs/bench").get("status") or {}
                ).get("succeeded")
                == args.completions
            ),
            900,
            "job completions",
        )
        results["job_completed_s"] = round(time.monotonic() - t0, 2)
        results["after_job"] = _usage(cm)
    finally:
        c.stop()
    goals = {
        "deployment_available_s": {
            "value": results.get("deployment_available_s"),
            "goal": "<= 10",
            "pass": (results.get("deployment_available_s") or 1e9) <= 10,
        },
        "rolling_update_s": {
            "value": results.get("rolling_update_s"),
            "goal": "<= 30",
            "pass": (results.get("rolling_update_s") or 1e9) <= 30,
        },
    }
    print(
        json.dumps(
            {
                "bench": "controllers",
                "date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "machine": {"cpus": os.cpu_count()},
                "params": vars(args),
                "results": results,
                "goals": goals,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
