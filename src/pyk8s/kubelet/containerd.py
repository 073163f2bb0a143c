"""A supervised containerd for one node agent (DESIGN §2, §7).

``Containerd(data_dir)`` owns everything under ``<data_dir>/agent/containerd/``: its config
(``config.toml``, rendered by the pure ``render_config``), ``root/``, ``state/``, the CRI
socket ``containerd.sock``, the ``opt/`` plugin dir, a ``containerd.pid`` file and, unless
``log=`` says otherwise, ``containerd.log``. CNI network configs are read from
``<data_dir>/agent/cni/net.d`` and the plugins from Debian's ``/usr/lib/cni``.

Lifecycle:
- ``start()`` writes the config, stops a containerd left over from an earlier run of the
  same data dir (found through the pid file, and only if that process really is a
  containerd with this config), starts ``containerd`` as a child process and returns once
  the socket exists and CRI ``Version`` answers (``start_timeout``; progress is logged).
  A child that exits during start fails ``start()`` with the tail of its log.
- After ``start()`` a monitor task restarts containerd whenever it dies (back-off 0.5 s
  doubling to 10 s, reset after a minute of uptime). Pods keep running meanwhile: their
  shims are not containerd's children, and a restarted containerd adopts them.
- ``stop()`` sends SIGTERM to the PID it started and SIGKILL after ``stop_timeout``; pods
  keep running (a later ``start()`` adopts them).

The child gets PR_SET_PDEATHSIG=SIGTERM, so a crashed agent does not leave a containerd
behind. Settings that this machine needs (ENVIRONMENT.md): ``restrict_oom_score_adj`` (no
CAP_SYS_RESOURCE), cgroupfs (``SystemdCgroup = false``), netns under the state dir, runc's
root under the state dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from pyk8s.kubelet.cri.client import CRIClient, CRIError

__all__ = [
    "CNI_BIN_DIR",
    "SANDBOX_IMAGE",
    "Containerd",
    "ContainerdError",
    "ContainerdLayout",
    "layout",
    "render_config",
]

log = logging.getLogger("pyk8s.kubelet.containerd")

SANDBOX_IMAGE = "pyk8s.local/pause:3.10"
CNI_BIN_DIR = Path("/usr/lib/cni")

_PR_SET_PDEATHSIG = 1


class ContainerdError(Exception):
    """containerd did not start, or exited while starting."""


@dataclass(frozen=True)
class ContainerdLayout:
    """Where one agent's containerd keeps its files (all derived from the data dir)."""

    base: Path
    config: Path
    root: Path
    state: Path
    socket: Path
    opt: Path
    runc_root: Path
    pid_file: Path
    log: Path
    cni_conf_dir: Path
    cni_data_dir: Path
    registry_config_dir: Path


def layout(data_dir: Path) -> ContainerdLayout:
    agent = Path(data_dir).absolute() / "agent"
    base = agent / "containerd"
    state = base / "state"
    return ContainerdLayout(
        base=base,
        config=base / "config.toml",
        root=base / "root",
        state=state,
        socket=base / "containerd.sock",
        opt=base / "opt",
        runc_root=state / "runc",
        pid_file=base / "containerd.pid",
        log=base / "containerd.log",
        cni_conf_dir=agent / "cni" / "net.d",
        cni_data_dir=agent / "cni" / "networks",
        registry_config_dir=base / "certs.d",
    )


def _q(value: str | Path) -> str:
    # A JSON string is a valid TOML basic string (same escapes, and json never emits "\/").
    return json.dumps(str(value))


def render_config(
    paths: ContainerdLayout,
    *,
    sandbox_image: str = SANDBOX_IMAGE,
    cni_bin_dir: Path = CNI_BIN_DIR,
    log_level: str = "info",
) -> str:
    """containerd 1.6's config (version 2) for one agent: CRI plugin on, overlayfs, runc v2
    on cgroupfs, our pause image, Debian's CNI plugins with the agent's conf dir."""
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    runc = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
    lines = [
        "version = 2",
        f"root = {_q(paths.root)}",
        f"state = {_q(paths.state)}",
        "oom_score = 0",
        # Snapshotters that cannot work here only add start-up noise.
        'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", '
        '"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", '
        '"io.containerd.snapshotter.v1.devmapper"]',
        "",
        "[grpc]",
        f"  address = {_q(paths.socket)}",
        "",
        "[ttrpc]",
        f"  address = {_q(str(paths.socket) + '.ttrpc')}",
        "",
        "[debug]",
        f"  level = {_q(log_level)}",
        "",
        "[timeouts]",
        # The default (0s) waits forever for another containerd's lock on meta.db.
        '  "io.containerd.timeout.bolt.open" = "10s"',
        "",
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_q(paths.opt)}",
        "",
        cri,
        f"  sandbox_image = {_q(sandbox_image)}",
        "  restrict_oom_score_adj = true",
        "  netns_mounts_under_state_dir = true",
        "  enable_selinux = false",
        "  disable_tcp_service = true",
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        "  enable_tls_streaming = false",
        "  max_container_log_line_size = 16384",
        "",
        f"{cri[:-1]}.containerd]",
        '  snapshotter = "overlayfs"',
        '  default_runtime_name = "runc"',
        "",
        runc,
        '  runtime_type = "io.containerd.runc.v2"',
        "",
        f"{runc[:-1]}.options]",
        "  SystemdCgroup = false",
        f"  Root = {_q(paths.runc_root)}",
        "",
        f"{cri[:-1]}.cni]",
        f"  bin_dir = {_q(cni_bin_dir)}",
        f"  conf_dir = {_q(paths.cni_conf_dir)}",
        "  max_conf_num = 1",
        "",
        f"{cri[:-1]}.registry]",
        f"  config_path = {_q(paths.registry_config_dir)}",
        "",
    ]
    return "\n".join(lines)


class Containerd:
    """One containerd child process, kept alive until ``stop()``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        log: Path | None = None,
        binary: str = "containerd",
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.paths = layout(data_dir)
        self.data_dir = Path(data_dir)
        self.log_path = log if log is not None else self.paths.log
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def socket(self) -> Path:
        return self.paths.socket

    @property
    def config_path(self) -> Path:
        return self.paths.config

    @property
    def cni_conf_dir(self) -> Path:
        return self.paths.cni_conf_dir

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def start(self) -> None:
        """Start containerd and wait until its CRI service answers."""
        if self._monitor is not None:
            raise RuntimeError("containerd supervisor already started")
        self._stopping = False
        self._prepare()
        await _stop_leftover(self.paths, self.stop_timeout)
        await self._spawn_and_wait()
        self._monitor = asyncio.create_task(self._keep_alive(), name="containerd-monitor")

    async def stop(self) -> None:
        """SIGTERM the containerd we started (SIGKILL after ``stop_timeout``)."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        proc, self._proc = self._proc, None
        if proc is not None:
            await _terminate(proc, self.stop_timeout)
            log.info("containerd (pid %d) stopped", proc.pid)
        with contextlib.suppress(FileNotFoundError):
            self.paths.pid_file.unlink()

    async def __aenter__(self) -> Containerd:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- internals ----------------------------------------------------------------------

    def _prepare(self) -> None:
        p = self.paths
        for d in (p.base, p.root, p.state, p.opt, p.cni_conf_dir, p.registry_config_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        p.config.write_text(render_config(p))

    async def _spawn_and_wait(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.paths.socket.unlink()  # stale from a killed containerd
        with open(self.log_path, "ab") as out:
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                "--config",
                str(self.paths.config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # a Ctrl-C to the agent's group is the agent's to handle
                preexec_fn=_die_with_parent,
            )
        self._proc = proc
        self.paths.pid_file.write_text(f"{proc.pid}\n")
        log.info("containerd started (pid %d, socket %s)", proc.pid, self.paths.socket)
        try:
            await self._wait_ready(proc)
        except BaseException:
            self._proc = None
            await _terminate(proc, self.stop_timeout)
            raise

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        started = time.monotonic()
        deadline = started + self.start_timeout
        next_report = started + 5.0
        exited = asyncio.ensure_future(proc.wait())
        try:
            async with CRIClient(self.paths.socket) as cri:
                while True:
                    now = time.monotonic()
                    if now >= deadline:
                        raise ContainerdError(
                            f"containerd (pid {proc.pid}) not ready after "
                            f"{self.start_timeout:g}s; log {self.log_path}:\n{self._log_tail()}"
                        )
                    if now >= next_report:
                        log.info(
                            "waiting for containerd (pid %d): socket %s, %.0fs",
                            proc.pid,
                            "present" if self.paths.socket.exists() else "absent",
                            now - started,
                        )
                        next_report = now + 5.0
                    ready = asyncio.ensure_future(cri.wait_ready(timeout=min(1.0, deadline - now)))
                    done, _ = await asyncio.wait(
                        {ready, exited}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if exited in done:
                        ready.cancel()
                        with contextlib.suppress(asyncio.CancelledError, CRIError):
                            await ready
                        raise ContainerdError(
                            f"containerd exited with {proc.returncode} while starting; "
                            f"log {self.log_path}:\n{self._log_tail()}"
                        )
                    try:
                        version = ready.result()
                    except CRIError as exc:
                        # "server is not initialized yet": the CRI plugin still restores
                        # the sandboxes it had (after a restart with pods): not ready yet
                        restoring = "not initialized" in exc.details
                        if not (exc.unavailable or restoring):
                            raise ContainerdError(f"containerd CRI not usable: {exc}") from None
                        if restoring:
                            await asyncio.sleep(0.2)
                        continue
                    log.info(
                        "containerd ready in %.2fs: %s %s (CRI %s)",
                        time.monotonic() - started,
                        version.runtime_name,
                        version.runtime_version,
                        version.runtime_api_version,
                    )
                    return
        finally:
            if not exited.done():
                exited.cancel()

    async def _keep_alive(self) -> None:
        backoff = 0.5
        while not self._stopping:
            proc = self._proc
            if proc is not None:
                started = time.monotonic()
                code = await proc.wait()
                if self._stopping:
                    return
                self.restarts += 1
                if time.monotonic() - started > 60:
                    backoff = 0.5
                log.warning(
                    "containerd (pid %d) exited with %s; restarting in %.1fs",
                    proc.pid,
                    code,
                    backoff,
                )
            await asyncio.sleep(backoff)  # restart back-off, not synchronisation
            backoff = min(backoff * 2, 10.0)
            try:
                await self._spawn_and_wait()
            except (ContainerdError, OSError) as exc:
                log.error("containerd restart failed: %s", exc)
                self._proc = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


async def _terminate(proc: asyncio.subprocess.Process, timeout: float) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        log.warning("containerd (pid %d) ignored SIGTERM for %.0fs; killing it", proc.pid, timeout)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def _leftover_pid(paths: ContainerdLayout) -> int | None:
    """The pid in the pid file, if that process is a containerd using our config."""
    try:
        pid = int(paths.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if not cmdline or not cmdline[0].endswith(b"containerd"):
        return None
    return pid if str(paths.config).encode() in cmdline else None


async def _stop_leftover(paths: ContainerdLayout, timeout: float) -> None:
    pid = _leftover_pid(paths)
    if pid is None:
        return
    log.warning("stopping containerd left over from an earlier run (pid %d)", pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _leftover_pid(paths) == pid:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        await asyncio.sleep(0.05)  # not our child: polling /proc is the only way to wait
