"""Test helpers: a real apiserver subprocess on a free loopback port in a temp dir, and the
real kubectl pointed at it (its own discovery cache per cluster)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")


def kubectl_binary(version: str = "1.33") -> str:
    p = KUBECTL_DIR / f"kubectl.{version}"
    return str(p) if p.exists() else "kubectl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def ca(self) -> Path:
        return self.data_dir / "tls" / "ca.crt"

    def start(
        self, *extra: str, timeout: float = 30.0, control_plane: bool = False, agent: bool = False
    ) -> None:
        """Start ``pyk8s server``: the apiserver alone unless ``control_plane``, which adds
        the controller-manager and the scheduler; a local agent (real node) with ``agent``."""
        components = [] if control_plane else ["--disable-controllers", "--disable-scheduler"]
        if not agent:
            components.append("--disable-agent")
        cmd = [
            sys.executable,
            "-m",
            "pyk8s.cli.main",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *components,
            *extra,
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"apiserver exited {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}"
                )
            if self.kubeconfig.exists() and self.ca.exists():
                try:
                    self.request("GET", "/readyz")
                    return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.05)
        raise RuntimeError(
            f"apiserver not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}"
        )

    def stop(self, sig_kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if sig_kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        tls = self.data_dir / "tls"
        ctx.load_cert_chain(tls / "admin.crt", tls / "admin.key")
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, decoded JSON body or text, headers) — errors are returned, not raised."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=30) as r:
                payload = r.read()
                status = r.status
                hdrs = dict(r.headers)
        except urllib.error.HTTPError as e:
            with e:
                payload = e.read()
                status = e.code
                hdrs = dict(e.headers)
        try:
            return status, json.loads(payload), hdrs
        except ValueError:
            return status, payload.decode(errors="replace"), hdrs

    def kubectl(
        self,
        *args: str,
        version: str = "1.33",
        input: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            kubectl_binary(version),
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.data_dir / f"kubecache-{version}"),
            *args,
        ]
        full_env = {**os.environ, **(env or {})}
        cp = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, env=full_env
        )
        if check and cp.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}"
            )
        return cp
