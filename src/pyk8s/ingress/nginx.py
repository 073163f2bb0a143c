"""Debian's nginx as the data plane: test, swap in, start, reload and stop (the I/O half
of the controller; the text comes from ``nginxconf``).

Contract:
- Everything lives under ``opts.data_dir``: ``nginx.conf`` (the active configuration),
  ``certs/`` (0700; one ``<name>.pem`` per certificate, mode 0600, written atomically
  and named by content, so a file in use never changes; unused ones are removed after a
  successful apply), ``temp/``, ``logs/error.log`` and ``logs/nginx.out`` (nginx's own
  stdout/stderr), ``nginx.pid``.
- ``test(text, certs)`` writes the certificates and the text to a scratch file and runs
  ``nginx -t -c FILE -p PREFIX``; a refusal raises ``ConfigInvalid`` with nginx's
  message. ``apply(text, certs)`` tests (unless told it already did), then replaces
  ``nginx.conf`` atomically and starts nginx or reloads it. An invalid text never
  reaches ``nginx.conf``.
- nginx runs as our child, in the foreground (``-g 'daemon off;'``) in its own session,
  and gets SIGTERM if this process dies (``PR_SET_PDEATHSIG``). ``start`` returns once
  the master wrote its pid file; ``reload`` sends SIGHUP to the master and returns once
  new worker processes exist and the old ones are shutting down (new connections get
  the new configuration; a request already on an old keep-alive connection may still
  be answered by an old worker, as with any nginx reload); ``stop`` asks for a
  graceful stop (SIGQUIT), then SIGTERM, then SIGKILL, then kills what is left of the
  master's process group (workers that outlived a killed master) — every signal goes to
  the PID this class started or to its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import logging
import os
import re
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pyk8s.ingress import nginxconf, tlscerts

__all__ = ["ConfigInvalid", "DataPlane", "Nginx", "NginxError"]

log = logging.getLogger(__name__)

DEFAULT_BINARY = "/usr/sbin/nginx"
_PR_SET_PDEATHSIG = 1


class NginxError(Exception):
    """nginx could not be started, reloaded or run."""


class ConfigInvalid(NginxError):
    """``nginx -t`` refused a configuration; ``str(exc)`` is nginx's complaint."""


class DataPlane(Protocol):
    """What the controller needs from nginx (``Nginx``; tests pass a fake)."""

    @property
    def running(self) -> bool: ...

    def prepare(self) -> None: ...

    async def test(self, text: str, certs: Iterable[tlscerts.Certificate] = ()) -> None: ...

    async def apply(
        self, text: str, certs: Iterable[tlscerts.Certificate] = (), *, tested: bool = False
    ) -> None: ...

    async def stop(self) -> None: ...


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _complaint(output: str) -> str:
    """nginx's error lines without the "test failed" trailer and the timestamps."""
    lines = []
    for line in output.splitlines():
        m = re.search(r"\[(emerg|alert|crit)\] (?:\d+#\d+: )?(.*)", line)
        if m:
            lines.append(f"[{m.group(1)}] {m.group(2)}")
    return "; ".join(dict.fromkeys(lines)) or output.strip()


class Nginx:
    def __init__(self, opts: nginxconf.RenderOptions, *, binary: str = DEFAULT_BINARY) -> None:
        self.opts = opts
        self.binary = binary
        self.proc: asyncio.subprocess.Process | None = None
        self.reloads = 0
        self._checks = 0

    @property
    def conf_file(self) -> Path:
        return self.opts.data_dir / "nginx.conf"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    # ------------------------------------------------------------------ files

    def prepare(self) -> None:
        """Create the directories and the default certificate (once per data dir)."""
        for d in (self.opts.data_dir, self.opts.data_dir / "temp", self.opts.error_log.parent):
            d.mkdir(parents=True, exist_ok=True)
        self.opts.certs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.opts.certs_dir, 0o700)
        if not self.opts.default_certificate.exists():
            pem = tlscerts.default_certificate(now=datetime.datetime.now(datetime.UTC))
            _write_private(self.opts.default_certificate, pem)
        if (
            os.geteuid() == 0
            and not self.opts.user
            and not _searchable_by_others(self.opts.data_dir)
        ):
            log.warning(
                "nginx workers run as 'nobody' and cannot reach %s: request bodies that need a "
                "temp file (over 8k) will fail; use a data dir others may traverse or set the "
                "nginx user",
                self.opts.data_dir,
            )

    def write_certificates(self, certs: Iterable[tlscerts.Certificate]) -> None:
        for cert in certs:
            path = self.opts.certificate(cert.name)
            if not path.exists():
                _write_private(path, cert.pem)

    def remove_unused_certificates(self, keep: Iterable[tlscerts.Certificate]) -> None:
        wanted = {self.opts.certificate(c.name) for c in keep}
        wanted.add(self.opts.default_certificate)
        for path in self.opts.certs_dir.glob("*.pem"):
            if path not in wanted:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    # ------------------------------------------------------------------ testing

    async def test(self, text: str, certs: Iterable[tlscerts.Certificate] = ()) -> None:
        self.write_certificates(certs)
        self._checks += 1
        scratch = self.opts.data_dir / f"check-{os.getpid()}-{self._checks}.conf"
        scratch.write_text(text)
        try:
            await self._test_file(scratch)
        finally:
            with contextlib.suppress(FileNotFoundError):
                scratch.unlink()

    async def _test_file(self, path: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-t",
            "-q",
            "-c",
            str(path),
            "-p",
            str(self.opts.data_dir) + "/",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise ConfigInvalid(_complaint(out.decode(errors="replace")))

    # ------------------------------------------------------------------ applying

    async def apply(
        self, text: str, certs: Iterable[tlscerts.Certificate] = (), *, tested: bool = False
    ) -> None:
        certs = list(certs)
        if not tested:
            await self.test(text, certs)
        else:
            self.write_certificates(certs)
        staged = self.conf_file.with_suffix(".conf.new")
        staged.write_text(text)
        os.replace(staged, self.conf_file)
        if self.running:
            await self.reload()
        else:
            await self.start()
        self.remove_unused_certificates(certs)

    async def start(self, *, timeout: float = 15.0) -> None:
        if self.running:
            return
        if self.proc is not None:  # it died: its orphaned workers still hold the ports
            await self.stop()
        with contextlib.suppress(FileNotFoundError):
            self.opts.pid_file.unlink()
        out_path = self.opts.error_log.parent / "nginx.out"
        with open(out_path, "ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                self.binary,
                "-c",
                str(self.conf_file),
                "-p",
                str(self.opts.data_dir) + "/",
                "-g",
                "daemon off;",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        proc = self.proc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pid_file() != proc.pid:
            if proc.returncode is not None:
                self.proc = None
                raise NginxError(f"nginx exited {proc.returncode}: {_tail(out_path)}")
            if loop.time() > deadline:
                await self.stop()
                raise NginxError(f"nginx did not start within {timeout}s: {_tail(out_path)}")
            await asyncio.sleep(0.01)
        await self._wait_workers(set(), timeout=timeout)
        log.info("nginx started (pid %d, %s)", proc.pid, self.conf_file)

    def _pid_file(self) -> int | None:
        try:
            return int(self.opts.pid_file.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return None

    def workers(self) -> set[int]:
        """PIDs of the master's children (its worker processes) right now."""
        pid = self.pid
        if pid is None:
            return set()
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return set()
        return {int(p) for p in text.split()}

    async def _wait_workers(self, old: set[int], *, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            current = self.workers()
            if current - old or self.pid is None:
                return
            if loop.time() > deadline:
                raise NginxError(f"nginx started no new workers within {timeout}s")
            await asyncio.sleep(0.01)

    async def reload(self, *, timeout: float = 15.0) -> None:
        pid = self.pid
        if pid is None:
            raise NginxError("nginx is not running")
        old = self.workers()
        os.kill(pid, signal.SIGHUP)
        self.reloads += 1
        await self._wait_workers(old, timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # the old workers no longer take requests once they are shutting down
        while not all(_retired(w) for w in old) and loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def stop(self, *, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is None:
            return
        for sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGKILL):
            if proc.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                continue
        self.proc = None
        # workers that outlived a killed master still hold the ports: they are in the
        # master's process group (its own session), which no other process can join
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        log.info("nginx stopped (pid %d, exit %s)", proc.pid, proc.returncode)


def _retired(pid: int) -> bool:
    """Gone, or an nginx worker shutting down gracefully (its title says so)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"shutting down" in title or not title.startswith(b"nginx: ")


def _searchable_by_others(path: Path) -> bool:
    """Whether every directory on the way to ``path`` lets other users through."""
    for d in (path, *path.parents):
        try:
            if not d.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip()
    except OSError:
        return ""
