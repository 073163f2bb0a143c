"""The simulated node agent process: ``SimRuntime(client, sim_config).run(stop)``.

Wiring: a Node informer (every node; the agent picks out its own by name; without
``managedFields``) and a Pod informer (``spec.nodeName!=``, indexed by node) that keeps
only what the agent reads of each pod (``pods.slim_pod``) — at 150,000 pods the cache is
most of the agent's memory. ``nodes.NodeManager``
registers the nodes and heartbeats; ``pods.PodWorkers`` moves pods. Pods are not synced
before the nodes are registered (a sync would skip them anyway; the registration's
``on_change`` enqueues them).

``run`` returns when ``stop`` is set; nothing is torn down in the API (the nodes stay, as
they do when a kubelet stops). ``stop_heartbeat``/``resume_heartbeat`` make a node go
silent or come back (the same as the ``pyk8s.io/sim-stop-heartbeat`` label). With
``metrics_address`` (``host:port``, loopback in practice) ``/metrics`` is served in
Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from pyk8s.client import clock as clock_mod
from pyk8s.client import informer, reflector, rest
from pyk8s.kubelet.sim import config, nodes, pods
from pyk8s.kubelet.sim.metrics import SimMetrics

__all__ = ["SimRuntime", "TransformingListerWatcher"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _strip(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        del meta["managedFields"]
    return obj


class TransformingListerWatcher:
    """A ``reflector.ListerWatcher`` that hands on ``transform(obj)`` instead of each
    object (client-go's informer transform): what the cache need not keep never gets in."""

    def __init__(
        self, inner: reflector.ResourceListerWatcher, transform: Callable[[Obj], Obj] = _strip
    ) -> None:
        self.inner = inner
        self.transform = transform

    def __str__(self) -> str:
        return str(self.inner)

    async def list(self) -> tuple[list[Obj], str]:
        items, rv = await self.inner.list()
        return [self.transform(o) for o in items], rv

    async def watch(self, resource_version: str) -> AsyncIterator[tuple[str, Obj]]:
        stream = self.inner.watch(resource_version)
        try:
            async for etype, obj in stream:
                yield etype, self.transform(obj) if etype != "BOOKMARK" else obj
        finally:
            await stream.aclose()


class SimRuntime:
    def __init__(
        self,
        client: rest.RESTClient,
        sim: config.SimConfig,
        *,
        metrics_address: str | None = None,
        wall: Callable[[], float] = time.time,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.client = client
        self.sim = sim
        self.metrics = SimMetrics()
        self.metrics_address = metrics_address
        node_res = nodes.NODES
        self.node_informer: informer.SharedInformer[Obj] = informer.SharedInformer(
            TransformingListerWatcher(reflector.ResourceListerWatcher(client, node_res)),
            name="sim nodes",
            clock=clock,
        )
        self.pod_informer: informer.SharedInformer[Obj] = informer.SharedInformer(
            TransformingListerWatcher(
                reflector.ResourceListerWatcher(
                    client, pods.PODS, field_selector="spec.nodeName!=", page_size=1000
                ),
                pods.slim_pod,
            ),
            indexers={pods.NODE_INDEX: pods.node_index},
            name="sim pods",
            clock=clock,
        )
        self.nodes = nodes.NodeManager(
            client=client,
            nodes=self.node_informer,
            sim=sim,
            metrics=self.metrics,
            on_change=self._node_changed,
            wall=wall,
            clock=clock,
        )
        self.pods = pods.PodWorkers(
            client=client,
            pods=self.pod_informer,
            nodes=self.nodes,
            sim=sim,
            metrics=self.metrics,
            wall=wall,
            clock=clock,
        )

    def _node_changed(self, name: str) -> None:
        self.pods.node_changed(name)

    def stop_heartbeat(self, name: str) -> None:
        self.nodes.stop_heartbeat(name)

    def resume_heartbeat(self, name: str) -> None:
        self.nodes.resume_heartbeat(name)

    async def run(self, stop: asyncio.Event) -> None:
        runner = await self._serve_metrics()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.node_informer.run(stop), name="sim node informer")
                await clock_mod.run_until_stopped(self.node_informer.wait_synced(), stop)
                tg.create_task(self.nodes.run(stop), name="sim nodes")
                await clock_mod.run_until_stopped(self.nodes.registered.wait(), stop)
                tg.create_task(self.pod_informer.run(stop), name="sim pod informer")
                tg.create_task(self.pods.run(stop), name="sim pods")
                await stop.wait()
        finally:
            if runner is not None:
                await runner.cleanup()

    async def _serve_metrics(self) -> web.AppRunner | None:
        if not self.metrics_address:
            return None
        host, _, port = self.metrics_address.rpartition(":")

        async def handle(request: web.Request) -> web.Response:
            return web.Response(
                body=self.metrics.render(),
                headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
            )

        app = web.Application()
        app.router.add_get("/metrics", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
        log.info("metrics on http://%s/metrics", self.metrics_address)
        return runner
