"""Launches a single-member etcd (Debian's ``etcd-server``) on loopback for tests and
benchmarks.

``EtcdServer(data_dir).start()`` picks free 127.0.0.1 client and peer ports, runs ``etcd``
with its data under ``data_dir`` and its log in ``data_dir/etcd.log``, and returns once
``/health`` answers, or raises ``EtcdStartError`` with the tail of etcd's log. ``stop()``
terminates the process it started (by PID), kills it if it ignores SIGTERM, and waits for
it. Nothing here listens on or talks to anything but 127.0.0.1.

Free ports are found by binding port 0 and closing the socket, so another process can take
one before etcd binds it; ``start`` retries a few times when etcd reports that.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["EtcdServer", "EtcdStartError"]

_LOOPBACK = "127.0.0.1"
_LOG_TAIL_LINES = 20
_PORT_RETRIES = 3


class EtcdStartError(RuntimeError):
    """etcd did not become healthy; the message ends with the tail of its log."""


class EtcdServer:
    def __init__(
        self,
        data_dir: Path,
        *,
        binary: str = "etcd",
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._client_port = 0

    @property
    def endpoint(self) -> str:
        """The client URL, ``http://127.0.0.1:PORT``; only valid once started."""
        if self._process is None:
            raise RuntimeError("etcd is not running")
        return f"http://{_LOOPBACK}:{self._client_port}"

    @property
    def member_dir(self) -> Path:
        """etcd's ``--data-dir``; its bbolt database is ``member/snap/db`` below it."""
        return self.data_dir / "etcd-data"

    @property
    def db_path(self) -> Path:
        return self.member_dir / "member" / "snap" / "db"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "etcd.log"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("etcd is already running")
        path = shutil.which(self.binary)
        if path is None:
            raise EtcdStartError(
                f"{self.binary!r} not found on PATH (install Debian's etcd-server: make setup)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(_PORT_RETRIES):
            try:
                self._start_once(path)
                return
            except EtcdStartError as exc:
                if attempt + 1 < _PORT_RETRIES and "address already in use" in str(exc):
                    continue
                raise

    def _start_once(self, path: str) -> None:
        client_port, peer_port = _free_port(), _free_port()
        client_url = f"http://{_LOOPBACK}:{client_port}"
        peer_url = f"http://{_LOOPBACK}:{peer_port}"
        args = [
            path,
            "--name=default",
            f"--data-dir={self.member_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            log.close()
            raise EtcdStartError(f"cannot run {path}: {exc}") from exc
        self._process, self._log, self._client_port = process, log, client_port
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = process.poll()
            if code is not None:
                self._reap()
                raise EtcdStartError(f"etcd exited with code {code} on start{self._log_tail()}")
            if _healthy(client_url):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise EtcdStartError(
                    f"etcd not healthy after {self.start_timeout:.0f}s{self._log_tail()}"
                )
            time.sleep(0.05)  # polling a subprocess: there is nothing to wait on

    def stop(self) -> None:
        """Terminate the etcd this object started (SIGTERM, then SIGKILL) and wait for it.
        Safe to call twice or after a failed start."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reap()

    def _reap(self) -> None:
        if self._process is not None:
            self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log_path.read_bytes().decode(errors="replace").splitlines()
            if "Usage:" in lines:  # a flag error: the reason comes before the usage text
                lines = lines[: lines.index("Usage:")]
            if lines:
                tail = "\n".join(lines[-_LOG_TAIL_LINES:])
                return f"; last lines of {self.log_path}:\n{tail}"
        return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


# Loopback only: never let an http_proxy variable send the health check elsewhere.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(client_url: str) -> bool:
    try:
        with _opener.open(f"{client_url}/health", timeout=1.0) as response:
            body = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return isinstance(body, dict) and body.get("health") == "true"
