"""Test helper: run one controller against a real apiserver, the way the
controller-manager does (a shared informer factory, an event recorder, a context), and
wait on conditions over the informer caches with a deadline (never a bare sleep)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cluster import Cluster
from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import config, events, informer, rest, testing
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext, Options

Obj = dict[str, Any]


def _connections_to(port: int) -> set[str]:
    """The socket inodes of this process that are connected to ``port`` on loopback.

    Cancelling a watch or request closes its TLS transport asynchronously; the harness
    waits for the closes of its own connections to finish, so no transport outlives the
    test's event loop (a ResourceWarning under ``-W error``).
    """
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found: set[str] = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.readlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[9] in inodes:
                found.add(fields[9])
    return found


@dataclass
class Harness:
    client: rest.RESTClient
    informers: informer.SharedInformerFactory
    recorder: events.EventRecorder
    controller: Controller
    tasks: list[asyncio.Future[Any]]

    def check_alive(self) -> None:
        """Fail at once if the controller, informers or recorder crashed."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"a controller task crashed: {task.exception()!r}")

    def cache(self, resource: resources.Resource) -> informer.SharedInformer[Obj]:
        return self.informers.informer(resource)

    def get(self, resource: resources.Resource, namespace: str, name: str) -> Obj | None:
        return self.cache(resource).get(ObjectKey(namespace, name))

    async def wait(
        self, condition: Callable[[], bool], *, timeout: float = 20.0, message: str = ""
    ) -> None:
        def check() -> bool:
            self.check_alive()
            return condition()

        await testing.wait_until(check, timeout=timeout, message=message)

    async def wait_synced(self) -> None:
        await self.informers.wait_synced(10)


@asynccontextmanager
async def running(
    cluster: Cluster,
    factory: Callable[[ControllerContext], Controller],
    *,
    clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    options: Options | None = None,
    watch: tuple[resources.Resource, ...] = (),
) -> AsyncIterator[Harness]:
    client = rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig))
    informers = informer.SharedInformerFactory(client)
    recorder = events.EventRecorder(client, component="controller-manager")
    ctx = ControllerContext(
        client=client,
        informers=informers,
        recorder=recorder,
        options=options or Options(),
        clock=clock,
    )
    before = _connections_to(cluster.port)
    controller = factory(ctx)
    for resource in watch:
        informers.informer(resource)
    stop = asyncio.Event()
    tasks = [
        asyncio.ensure_future(informers.run(stop)),
        asyncio.ensure_future(recorder.run(stop)),
        asyncio.ensure_future(controller.run(stop)),
    ]
    harness = Harness(client, informers, recorder, controller, tasks)
    try:
        await informers.wait_synced(10)
        yield harness
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
        await testing.wait_until(lambda: not (_connections_to(cluster.port) - before), timeout=10)
