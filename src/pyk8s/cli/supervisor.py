"""Child processes of ``pyk8s server`` (controller-manager, scheduler, agent): started after
the apiserver is ready, restarted with back-off when they exit, stopped with SIGTERM
(then SIGKILL after a grace period) when the server stops. Their output goes to the
server's own stdout/stderr, so one log shows the whole control plane."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Child", "Supervisor"]

log = logging.getLogger("pyk8s.supervisor")


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, children: Sequence[Child], *, stop_grace: float = 10.0) -> None:
        self.children = list(children)
        self.stop_grace = stop_grace
        self._stopping = False

    def start(self) -> None:
        for c in self.children:
            c.task = asyncio.create_task(self._keep(c), name=f"supervise-{c.name}")

    async def _keep(self, c: Child) -> None:
        backoff = 1.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            c.proc = await asyncio.create_subprocess_exec(*c.argv)
            log.info("started %s (pid %d)", c.name, c.proc.pid)
            code = await c.proc.wait()
            if self._stopping:
                return
            c.restarts += 1
            if loop.time() - started > 60:
                backoff = 1.0
            log.warning("%s exited with %s; restarting in %.0fs", c.name, code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def stop(self) -> None:
        self._stopping = True
        for c in self.children:
            if c.proc is not None and c.proc.returncode is None:
                c.proc.send_signal(signal.SIGTERM)
        for c in self.children:
            if c.proc is not None and c.proc.returncode is None:
                try:
                    await asyncio.wait_for(c.proc.wait(), self.stop_grace)
                except TimeoutError:
                    log.warning("%s did not stop in %.0fs; killing it", c.name, self.stop_grace)
                    c.proc.kill()
                    await c.proc.wait()
            if c.task is not None:
                c.task.cancel()
