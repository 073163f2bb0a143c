"""The service proxy's control loop: informers → coalesced syncs → one nft transaction.

``Proxier`` watches Services and EndpointSlices (kube-proxy's label selector: not
``service.kubernetes.io/service-proxy-name``, not ``service.kubernetes.io/headless``; see
``ProxyConfig.label_selector``) and its own Node. Handlers only note that something relevant changed (a change that does not
alter the rules — a new resourceVersion, an annotation — is ignored) and set a dirty flag.

Sync contract (kube-proxy's BoundedFrequencyRunner, simplified):
- Nothing is written until Services and EndpointSlices have been listed once.
- A change after a quiet period is applied at once; changes that arrive while a sync runs,
  or within ``min_sync_period`` of the previous sync start, are coalesced into the next
  one. Without changes, a full resync runs every ``sync_period``.
- Each sync recomputes the whole table from the caches (``rules.build``, pure) and applies
  the difference to what the kernel holds in one transaction (``nft.Ruleset.diff_script``;
  session-affinity entries stay). The first sync, and any sync after a failure, replaces
  the table; the periodic resync rewrites every chain and map (repairing drift). A failed
  transaction leaves the previous rules in force; it is retried at once as a replace,
  then after a back-off.
- Listeners (``add_sync_listener``) see every applied ``nft.Ruleset``; ``/healthz`` turns
  503 when a change waits longer than twice ``sync_period``.
- Network programming latency (``kubeproxy_network_programming_duration_seconds``) is
  measured from EndpointSlices' ``endpoints.kubernetes.io/last-change-trigger-time``.

``run_proxy`` is what the agent and ``pyk8s proxy`` run: the proxier, the built-in
LoadBalancer (``servicelb``, behind a Lease when ``leader_elect``), and the metrics server.
Rules stay in place when the proxy stops (traffic keeps flowing across restarts), as
upstream; ``cleanup`` removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import events, informer, leaderelection, paths, rest
from pyk8s.client.store import ObjectKey
from pyk8s.proxy import metrics, model, nft, nftables, rules, servicelb, sysctl
from pyk8s.proxy.config import ProxyConfig

__all__ = [
    "ENDPOINTSLICES",
    "NODES",
    "SERVICES",
    "TRIGGER_TIME_ANNOTATION",
    "Proxier",
    "cleanup",
    "run_proxy",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SERVICES = paths.resource_for("", "v1", "services", kind="Service")
ENDPOINTSLICES = paths.resource_for(
    "discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice"
)
NODES = paths.resource_for("", "v1", "nodes", namespaced=False, kind="Node")
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
LEASE_NAME = "pyk8s-servicelb"
LEASE_NAMESPACE = "kube-system"
RETRY_MIN, RETRY_MAX = 0.5, 30.0
NODE_SYNC_WAIT = 10.0


def _slice_view(es: Mapping[str, Any] | None) -> Any:
    if es is None:
        return None
    labels = (es.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(model.SERVICE_NAME_LABEL),
        es.get("addressType"),
        es.get("ports"),
        es.get("endpoints"),
    )


def _trigger_time(es: Mapping[str, Any]) -> datetime | None:
    text = ((es.get("metadata") or {}).get("annotations") or {}).get(TRIGGER_TIME_ANNOTATION)
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


class Proxier:
    def __init__(
        self,
        client: rest.RESTClient,
        *,
        node_name: str,
        config: ProxyConfig,
        applier: nftables.Applier | None = None,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.config = config
        self.applier: nftables.Applier = applier or nftables.Nft()
        self.clock = clock
        self.factory = informer.SharedInformerFactory(client, clock=clock)
        self.services = self.factory.informer(SERVICES, label_selector=config.label_selector)
        self.slices = self.factory.informer(ENDPOINTSLICES, label_selector=config.label_selector)
        self.nodes = self.factory.informer(NODES, field_selector=f"metadata.name={node_name}")
        self.health = metrics.Health(2 * config.sync_period, clock=clock)
        self.ruleset: nft.Ruleset | None = None  # what the kernel holds; None: unknown
        self.node_info = model.NodeInfo(node_name)
        self.syncs = 0
        self.failures = 0
        self.last_error = ""
        self.metrics_url = ""
        self._dirty = asyncio.Event()
        self._listeners: list[Callable[[nft.Ruleset], None]] = []
        self._trigger_times: list[datetime] = []
        self.services.add_handler(
            on_add=lambda svc: self._service_changed(None, svc),
            on_update=self._service_changed,
            on_delete=lambda svc: self._service_changed(svc, None),
        )
        self.slices.add_handler(
            on_add=lambda es: self._slice_changed(None, es),
            on_update=self._slice_changed,
            on_delete=lambda es: self._slice_changed(es, None),
        )
        self.nodes.on_change(self._node_changed)

    # ------------------------------------------------------------------ handlers

    def add_sync_listener(self, fn: Callable[[nft.Ruleset], None]) -> None:
        self._listeners.append(fn)

    def mark_dirty(self) -> None:
        if not self._dirty.is_set():
            metrics.SYNC_LAST_QUEUED.set_to_current_time()
        self.health.queued()
        self._dirty.set()

    def _service_changed(self, old: Obj | None, new: Obj | None) -> None:
        ipv6 = self.config.ipv6
        before = model.service_ports(old, ipv6=ipv6) if old is not None else []
        after = model.service_ports(new, ipv6=ipv6) if new is not None else []
        if before != after:
            metrics.SERVICE_CHANGES.inc()
            self.mark_dirty()

    def _slice_changed(self, old: Obj | None, new: Obj | None) -> None:
        if _slice_view(old) == _slice_view(new):
            return
        metrics.ENDPOINT_CHANGES.inc()
        if new is not None:
            when = _trigger_time(new)
            if when is not None:
                self._trigger_times.append(when)
        self.mark_dirty()

    def _node_changed(self, _node: Obj) -> None:
        self._refresh_node()

    def _refresh_node(self) -> None:
        current = self.nodes.get(ObjectKey("", self.node_name))
        info = model.node_info(self.node_name, current)
        if info != self.node_info:
            self.node_info = info
            self.mark_dirty()

    # ------------------------------------------------------------------ syncing

    def build(self) -> nft.Ruleset:
        """The table the current caches call for (pure computation)."""
        return rules.build(self.services.list(), self.slices.list(), self.node_info, self.config)

    async def sync_once(self, *, full: bool = False) -> bool:
        """Recompute the table and apply what changed (everything when ``full``, or when
        the kernel's state is unknown); True when the kernel took it."""
        start = self.clock.now()
        triggers, self._trigger_times = self._trigger_times, []
        pending = self.health.take_pending()
        ruleset = self.build()
        try:
            if self.ruleset is not None:
                script = None if full else ruleset.diff_script(self.ruleset)
                if script is None:
                    script = ruleset.update_script(self.ruleset)
                try:
                    if script:
                        await self.applier.apply(script)
                except nftables.NftError as exc:
                    log.warning("nftables update failed (%s); replacing the table", exc)
                    self.ruleset = None
            if self.ruleset is None:
                await self.applier.apply(ruleset.replace_script())
        except (nftables.NftError, OSError) as exc:
            self.ruleset = None
            self.failures += 1
            self.last_error = str(exc)
            metrics.SYNC_FAILURES.inc()
            log.error("nftables sync failed: %s", exc)
            self._trigger_times = triggers + self._trigger_times
            self.health.restore_pending(pending)
            return False
        finally:
            metrics.SYNC_SECONDS.observe(self.clock.now() - start)
        self.ruleset = ruleset
        self.syncs += 1
        self.last_error = ""
        metrics.SYNC_LAST_TIMESTAMP.set_to_current_time()
        now = datetime.now(UTC)
        for when in triggers:
            metrics.NETWORK_PROGRAMMING_SECONDS.observe(max(0.0, (now - when).total_seconds()))
        self.health.updated()
        for fn in list(self._listeners):
            try:
                fn(ruleset)
            except Exception:
                log.exception("sync listener failed")
        return True

    async def _sync_loop(self) -> None:
        await self.services.wait_synced()
        await self.slices.wait_synced()
        with contextlib.suppress(TimeoutError):  # the Node is nice to have, not required
            await self.nodes.wait_synced(NODE_SYNC_WAIT)
        self._refresh_node()
        last_start = -float("inf")
        retry = RETRY_MIN
        self._dirty.set()
        while True:
            periodic = False
            try:
                async with asyncio.timeout(self.config.sync_period):
                    await self._dirty.wait()
            except TimeoutError:
                periodic = True  # nothing changed: rewrite everything, repairing drift
            wait = last_start + self.config.min_sync_period - self.clock.now()
            if wait > 0:
                await self.clock.sleep(wait)
            self._dirty.clear()
            last_start = self.clock.now()
            if await self.sync_once(full=periodic):
                retry = RETRY_MIN
                continue
            await self.clock.sleep(retry)
            retry = min(retry * 2, RETRY_MAX)
            self._dirty.set()

    async def run(self, stop: asyncio.Event) -> None:
        settings = sysctl.desired(self.config)
        if settings:
            await asyncio.to_thread(sysctl.ensure, settings)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.factory.run(stop), name="proxy informers")
            tg.create_task(clock_mod.run_until_stopped(self._sync_loop(), stop), name="proxy sync")


async def cleanup(config: ProxyConfig, *, nft_binary: str = "nft") -> None:
    """Remove our table (``pyk8s proxy --cleanup``, tests)."""
    await nftables.Nft(nft_binary).delete_table(config.family, config.table)


def _lb_pool(proxier: Proxier) -> list[str]:
    if proxier.config.lb_pool:
        return list(proxier.config.lb_pool)
    return list(proxier.node_info.addresses[:1])


async def _run_servicelb(
    client: rest.RESTClient, proxier: Proxier, node_name: str, stop: asyncio.Event
) -> None:
    cfg = proxier.config
    recorder = events.EventRecorder(client, component="pyk8s-servicelb", host=node_name)
    lb = servicelb.ServiceLB(
        client,
        services=proxier.services,
        pool=lambda: _lb_pool(proxier),
        require_local=cfg.lb_require_local,
        recorder=recorder,
    )
    proxier.nodes.on_change(lambda _node: lb.trigger())

    async def lead(leader_stop: asyncio.Event) -> None:
        metrics.LB_LEADER.set(1)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(recorder.run(leader_stop))
                tg.create_task(lb.run(leader_stop))
        finally:
            metrics.LB_LEADER.set(0)

    if not cfg.leader_elect:
        await lead(stop)
        return
    identity = f"{node_name}_{uuid.uuid4().hex[:12]}"
    while not stop.is_set():  # a proxy that loses the lease campaigns again
        elector = leaderelection.LeaderElector(
            client,
            name=LEASE_NAME,
            namespace=LEASE_NAMESPACE,
            identity=identity,
            lease_duration=cfg.lease_duration,
            renew_deadline=cfg.renew_deadline,
            retry_period=cfg.retry_period,
            on_started_leading=lambda: lead(stop),
        )
        try:
            await elector.run(stop)
        except Exception:
            log.exception("servicelb failed; campaigning again")
            await clock_mod.run_until_stopped(asyncio.sleep(cfg.retry_period), stop)


async def run_proxy(
    *,
    client: rest.RESTClient,
    node_name: str,
    config: ProxyConfig,
    stop: asyncio.Event | None = None,
    metrics_bind: str | None = None,
    on_ready: Callable[[Proxier], None] | None = None,
    applier: nftables.Applier | None = None,
) -> None:
    """Run the proxy for ``node_name`` until ``stop`` is set (or the task is cancelled).

    ``metrics_bind`` (``host:port``, port 0 = any) serves /metrics and /healthz;
    ``on_ready(proxier)`` is called once the first sync has been applied.
    """
    stop = stop or asyncio.Event()
    proxier = Proxier(client, node_name=node_name, config=config, applier=applier)
    server: metrics.MetricsServer | None = None
    if metrics_bind:
        host, _, port = metrics_bind.rpartition(":")
        server = metrics.MetricsServer(proxier.health, host=host or "127.0.0.1", port=int(port))
        await server.start()
        proxier.metrics_url = server.url
        log.info("proxy metrics on %s", server.url)
    if on_ready is not None:
        callback = on_ready
        fired = False

        def first_sync(_rs: nft.Ruleset) -> None:
            nonlocal fired
            if not fired:
                fired = True
                callback(proxier)

        proxier.add_sync_listener(first_sync)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(proxier.run(stop), name="proxier")
            if config.servicelb:
                tg.create_task(_run_servicelb(client, proxier, node_name, stop), name="servicelb")
    finally:
        if server is not None:
            await server.stop()
