"""The ingress controller: keeps nginx serving what the Ingresses of our classes say.

Pipeline (level-triggered, one key): informers on IngressClasses, Ingresses, Services,
EndpointSlices and ``kubernetes.io/tls`` Secrets → every relevant change adds the one
key ``SYNC`` to a work queue after ``sync_delay`` (changes inside that window share a
sync; a change during a sync queues exactly one more) → ``sync`` reads the caches,
builds the model, renders nginx.conf, tests it, applies it (start or SIGHUP, skipped
when the text did not change), reports problems as Events and writes
``status.loadBalancer`` of our Ingresses. A failing sync is retried with back-off.

One bad Ingress never breaks the others. When the full configuration fails
``nginx -t``, the Ingresses are tried one by one, oldest first, each on top of the ones
that passed; an Ingress whose addition fails is left out and gets a Warning Event
(reason ``RELOAD``, nginx's complaint in the message). The verdicts are kept while the
set of Ingresses (names, generations, annotations) stays the same, so endpoint changes do not
repeat the search. Problems the model finds (refused annotations, unusable TLS Secrets)
become Events too; each distinct problem is reported once per Ingress content
(generation and annotations).

Changes to Services, EndpointSlices and Secrets that no Ingress of ours refers to do
not cause syncs (after the first one). A watchdog checks every second that nginx still
runs and syncs (so restarts it) when it does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aiohttp import web

from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.ingress import bootstrap, classes, model, nginxconf, status, tlscerts
from pyk8s.ingress import endpoints as eps
from pyk8s.ingress import nginx as nginx_mod
from pyk8s.ingress.config import IngressControllerConfig
from pyk8s.ingress.metrics import IngressMetrics

__all__ = ["SYNC", "IngressController", "run_ingress_controller"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SYNC = "sync"
COMPONENT = "nginx-ingress-controller"
SERVICE_INDEX = "ingress-service"

INGRESSES = paths.resource_for("networking.k8s.io", "v1", "ingresses", kind="Ingress")
SERVICES = paths.resource_for("", "v1", "services", kind="Service")
ENDPOINTSLICES = paths.resource_for(
    "discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice"
)
SECRETS = paths.resource_for("", "v1", "secrets", kind="Secret")


def _service_index(obj: Mapping[str, Any]) -> list[str]:
    meta = obj.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(eps.SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace') or ''}/{svc}"] if svc else []


class _CacheView(Mapping[ObjectKey, Any]):
    """A read-only Mapping over an informer cache (no copy per sync)."""

    def __init__(self, inf: informer.SharedInformer[Obj]) -> None:
        self._inf = inf

    def __getitem__(self, key: ObjectKey) -> Obj:
        obj = self._inf.get(key)
        if obj is None:
            raise KeyError(key)
        return obj

    def __iter__(self) -> Iterator[ObjectKey]:
        return iter(self._inf.store.keys())

    def __len__(self) -> int:
        return len(self._inf.store)


class _SlicesView(Mapping[ObjectKey, Sequence[Obj]]):
    def __init__(self, inf: informer.SharedInformer[Obj]) -> None:
        self._inf = inf

    def __getitem__(self, key: ObjectKey) -> Sequence[Obj]:
        return self._inf.by_index(SERVICE_INDEX, f"{key.namespace}/{key.name}")

    def __iter__(self) -> Iterator[ObjectKey]:
        for v in self._inf.store.index_values(SERVICE_INDEX):
            yield ObjectKey.parse(v)

    def __len__(self) -> int:
        return len(self._inf.store.index_values(SERVICE_INDEX))


class IngressController:
    def __init__(
        self,
        *,
        client: rest.RESTClient,
        config: IngressControllerConfig,
        factory: informer.SharedInformerFactory | None = None,
        data_plane: nginx_mod.DataPlane | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.factory = factory or informer.SharedInformerFactory(
            client, namespace=config.watch_namespace
        )
        f = self.factory
        self.ingresses = f.informer(INGRESSES)
        self.ingress_classes = f.informer(bootstrap.INGRESSCLASSES)
        self.services = f.informer(SERVICES)
        self.slices = f.informer(ENDPOINTSLICES, indexers={SERVICE_INDEX: _service_index})
        self.secrets = f.informer(SECRETS, field_selector=f"type={tlscerts.TLS_SECRET_TYPE}")
        self.queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(name="ingress")
        self.opts = config.render_options()
        self.nginx: nginx_mod.DataPlane = data_plane or nginx_mod.Nginx(
            self.opts, binary=config.nginx_binary
        )
        self.recorder = events.EventRecorder(client, component=COMPONENT, host=config.instance)
        self.metrics = IngressMetrics()
        self.metrics_url = ""
        self.applied: model.Configuration | None = None
        self.applied_text = ""
        self.excluded: dict[ObjectKey, str] = {}  # Ingresses nginx refused → why
        self._verdicts: tuple[frozenset[tuple[ObjectKey, str]], dict[ObjectKey, str]] = (
            frozenset(),
            {},
        )
        self._reported: dict[ObjectKey, tuple[str, set[tuple[str, str]]]] = {}
        self._services_used: set[ObjectKey] | None = None  # None: not synced yet
        self._secrets_used: set[ObjectKey] | None = None
        self._status_set: set[ObjectKey] = set()
        self._wire_handlers()

    # ------------------------------------------------------------------ events in

    def _enqueue(self) -> None:
        self.queue.add_after(SYNC, self.config.sync_delay)

    def _wire_handlers(self) -> None:
        self.ingress_classes.on_change(lambda _: self._enqueue())
        self.ingresses.add_handler(
            on_add=self._ingress_added,
            on_update=self._ingress_updated,
            on_delete=lambda _: self._enqueue(),
        )
        self.services.on_change(lambda o: self._maybe(self._services_used, ObjectKey.of(o)))
        self.slices.on_change(self._slice_changed)
        self.secrets.on_change(lambda o: self._maybe(self._secrets_used, ObjectKey.of(o)))

    def _maybe(self, used: set[ObjectKey] | None, key: ObjectKey) -> None:
        if used is None or key in used:
            self._enqueue()

    def _slice_changed(self, obj: Obj) -> None:
        for v in _service_index(obj):
            self._maybe(self._services_used, ObjectKey.parse(v))

    def _handles(self, ing: Mapping[str, Any], by_name: Mapping[str, Obj] | None = None) -> bool:
        if by_name is None:
            by_name = {ObjectKey.of(c).name: c for c in self.ingress_classes.list()}
        return classes.handles(ing, classes=by_name, names=self.config.class_names)

    def _ingress_added(self, ing: Obj) -> None:
        if self._handles(ing):
            self.recorder.record(ing, reason="Sync", message="Scheduled for sync")
        self._enqueue()

    def _ingress_updated(self, old: Obj, new: Obj) -> None:
        if self._handles(new) and (
            old.get("spec") != new.get("spec")
            or (old.get("metadata") or {}).get("annotations")
            != (new.get("metadata") or {}).get("annotations")
            or not self._handles(old)
        ):
            self.recorder.record(new, reason="Sync", message="Scheduled for sync")
        self._enqueue()

    # ------------------------------------------------------------------ sync

    def snapshot(self, ingresses: Sequence[Obj]) -> model.Snapshot:
        default = self.config.default_backend_service
        return model.Snapshot(
            ingresses=ingresses,
            services=_CacheView(self.services),
            slices=_SlicesView(self.slices),
            secrets=_CacheView(self.secrets),
            default_backend=ObjectKey.parse(default) if default else None,
        )

    def handled(self) -> list[Obj]:
        """The cached Ingresses of our classes, oldest first."""
        by_name = {ObjectKey.of(c).name: c for c in self.ingress_classes.list()}
        ours = (i for i in self.ingresses.list() if self._handles(i, by_name))
        return sorted(ours, key=model.ingress_order)

    async def sync(self, _key: str = SYNC) -> None:
        started = time.perf_counter()
        handled = self.handled()
        cfg, text, refused = await self._validated(handled)
        self.excluded = refused
        problems = list(cfg.problems) + [
            model.Problem(
                key,
                "RELOAD",
                f"Error reloading NGINX: {why}; the Ingress is left out of the configuration",
            )
            for key, why in refused.items()
        ]
        self._report(problems, handled)
        if text != self.applied_text or not self.nginx.running:
            try:
                await self.nginx.apply(text, cfg.certificates, tested=True)
            except nginx_mod.NginxError:
                self.metrics.reload_ok.set(0)
                self.metrics.reload_errors.inc()
                raise
            self.metrics.reloads.inc()
            self.metrics.reload_ok.set(1)
            self.metrics.reload_ok_time.set(time.time())
            self.metrics.config_hash.set(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))
        self.applied, self.applied_text = cfg, text
        self._remember_references(handled, cfg)
        self.metrics.syncs.inc()
        self.metrics.ingresses.set(len(cfg.ingresses))
        self.metrics.excluded.set(len(handled) - len(cfg.ingresses))
        self.metrics.servers.set(len(cfg.servers))
        self.metrics.endpoints.set(sum(len(u.endpoints) for u in cfg.upstreams))
        self.metrics.sync_seconds.observe(time.perf_counter() - started)
        if self.config.update_status:
            await self._update_status(handled)

    def _render(self, ingresses: Sequence[Obj]) -> tuple[model.Configuration, str]:
        cfg = model.build(self.snapshot(ingresses))
        return cfg, nginxconf.render(cfg, self.opts)

    async def _passes(self, cfg: model.Configuration, text: str) -> str | None:
        """None if nginx accepts ``text``, else its complaint."""
        try:
            await self.nginx.test(text, cfg.certificates)
        except nginx_mod.ConfigInvalid as exc:
            return _without_location(str(exc))
        return None

    async def _validated(
        self, handled: list[Obj]
    ) -> tuple[model.Configuration, str, dict[ObjectKey, str]]:
        fingerprint = frozenset((ObjectKey.of(i), _version(i)) for i in handled)
        known_fp, known = self._verdicts
        refused = dict(known) if fingerprint == known_fp else {}
        candidates = [i for i in handled if ObjectKey.of(i) not in refused]
        cfg, text = self._render(candidates)
        if await self._passes(cfg, text) is None:
            self._verdicts = (fingerprint, refused)
            return cfg, text, refused
        base_cfg, base_text = self._render([])
        why = await self._passes(base_cfg, base_text)
        if why is not None:
            raise nginx_mod.NginxError(f"nginx refuses even an empty configuration: {why}")
        good: list[Obj] = []
        for ing in candidates:
            trial_cfg, trial_text = self._render([*good, ing])
            why = await self._passes(trial_cfg, trial_text)
            if why is None:
                good.append(ing)
            else:
                refused[ObjectKey.of(ing)] = why
                log.warning("ingress %s left out: %s", ObjectKey.of(ing), why)
        cfg, text = self._render(good)
        self._verdicts = (fingerprint, refused)
        return cfg, text, refused

    def _report(self, problems: list[model.Problem], handled: list[Obj]) -> None:
        by_key = {ObjectKey.of(i): i for i in handled}
        for key in list(self._reported):
            if key not in by_key:
                del self._reported[key]
        for p in problems:
            ing = by_key.get(p.ingress)
            if ing is None:
                continue
            rv = _version(ing)
            seen_rv, seen = self._reported.get(p.ingress, ("", set()))
            if seen_rv != rv:
                seen = set()
            if (p.reason, p.message) in seen:
                continue
            seen.add((p.reason, p.message))
            self._reported[p.ingress] = (rv, seen)
            log.warning("ingress %s: %s: %s", p.ingress, p.reason, p.message)
            self.recorder.record(ing, reason=p.reason, message=p.message, event_type=p.type)

    def _remember_references(self, handled: list[Obj], cfg: model.Configuration) -> None:
        services: set[ObjectKey] = set()
        secrets: set[ObjectKey] = set()
        if self.config.default_backend_service:
            services.add(ObjectKey.parse(self.config.default_backend_service))
        for ing in handled:
            ns = ObjectKey.of(ing).namespace
            spec = ing.get("spec") or {}
            backends = [spec.get("defaultBackend") or {}]
            for rule in spec.get("rules") or ():
                backends += [
                    p.get("backend") or {} for p in (rule.get("http") or {}).get("paths") or ()
                ]
            for b in backends:
                name = (b.get("service") or {}).get("name")
                if name:
                    services.add(ObjectKey(ns, str(name)))
            for t in spec.get("tls") or ():
                if t.get("secretName"):
                    secrets.add(ObjectKey(ns, str(t["secretName"])))
        self._services_used, self._secrets_used = services, secrets

    async def _update_status(self, handled: list[Obj]) -> None:
        want = status.desired(self.config.publish_address)
        failed: list[str] = []
        for ing in handled:
            key = ObjectKey.of(ing)
            self._status_set.add(key)
            if status.current(ing) == want:
                continue
            try:
                await self.client.patch(
                    INGRESSES,
                    key.name,
                    status.status_patch(want),
                    namespace=key.namespace,
                    subresource="status",
                )
            except errors.NotFound:
                continue
            except (errors.ApiError, errors.TransportError) as exc:
                failed.append(f"{key}: {exc}")
        if failed:
            raise RuntimeError("could not update Ingress status: " + "; ".join(failed))

    async def _clear_status(self) -> None:
        want = status.desired(self.config.publish_address)
        for key in sorted(self._status_set):
            ing = self.ingresses.get(key)
            if ing is None or status.current(ing) != want:
                continue
            try:
                await self.client.patch(
                    INGRESSES,
                    key.name,
                    status.clear_patch(),
                    namespace=key.namespace,
                    subresource="status",
                )
            except (errors.ApiError, errors.TransportError) as exc:
                log.warning("could not clear the status of %s: %s", key, exc)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        self.nginx.prepare()
        if self.config.create_ingress_class:
            try:
                await bootstrap.ensure_ingress_class(self.client)
            except (errors.ApiError, errors.TransportError) as exc:
                log.warning("could not create the IngressClass: %s", exc)
        runner = await self._start_metrics()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.factory.run(stop), name="ingress informers")
                tg.create_task(self.recorder.run(stop), name="ingress events")
                tg.create_task(self._work(stop), name="ingress sync")
        finally:
            self.queue.shutdown()
            try:
                if self.config.update_status and self.config.update_status_on_shutdown:
                    await self._clear_status()
            finally:
                await self.nginx.stop()
                if runner is not None:
                    await runner.cleanup()

    async def _work(self, stop: asyncio.Event) -> None:
        waiter = asyncio.ensure_future(stop.wait())
        synced = asyncio.ensure_future(self.factory.wait_synced())
        try:
            await asyncio.wait({waiter, synced}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            synced.cancel()
        if stop.is_set():
            return
        self.queue.add(SYNC)
        workers = asyncio.ensure_future(workqueue.run_workers(self.queue, self.sync, 1))
        watchdog = asyncio.ensure_future(self._watch_nginx())
        try:
            await waiter
        finally:
            watchdog.cancel()
            self.queue.shutdown()
            await workers

    async def _watch_nginx(self, period: float = 1.0) -> None:
        """A configuration was applied but nginx is gone (killed, crashed): sync again,
        which starts it."""
        while True:
            await asyncio.sleep(period)
            if self.applied_text and not self.nginx.running:
                log.warning("nginx is not running; starting it again")
                self.queue.add(SYNC)

    async def _start_metrics(self) -> web.AppRunner | None:
        bind = self.config.metrics_bind
        if not bind:
            return None
        host, _, port = bind.rpartition(":")

        async def serve_metrics(_: web.Request) -> web.Response:
            return web.Response(body=self.metrics.render(), content_type="text/plain")

        async def healthz(_: web.Request) -> web.Response:
            if self.nginx.running:
                return web.Response(text="ok")
            return web.Response(status=503, text="nginx is not running")

        app = web.Application()
        app.router.add_get("/metrics", serve_metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host or "127.0.0.1", int(port or 0))
        await site.start()
        server = getattr(site, "_server", None)
        actual = server.sockets[0].getsockname()[1] if server and server.sockets else port
        self.metrics_url = f"http://{host or '127.0.0.1'}:{actual}"
        return runner


def _version(ing: Mapping[str, Any]) -> str:
    """What identifies an Ingress's content: its generation (bumped by spec changes) and
    its annotations — not the resourceVersion, which our own status writes move."""
    meta = ing.get("metadata") or {}
    anns = sorted((meta.get("annotations") or {}).items())
    digest = hashlib.sha256(repr(anns).encode()).hexdigest()[:16]
    return f"{meta.get('generation') or meta.get('resourceVersion')}/{digest}"


def _without_location(complaint: str) -> str:
    """nginx's message without " in /path/check-N.conf:LINE" (meaningless to users)."""
    return re.sub(r" in \S+\.conf:\d+", "", complaint)


async def run_ingress_controller(
    *,
    client: rest.RESTClient,
    config: IngressControllerConfig,
    stop: asyncio.Event | None = None,
) -> None:
    """Run an ingress controller until ``stop`` is set (or the task is cancelled); nginx
    is stopped before this returns."""
    controller = IngressController(client=client, config=config)
    await controller.run(stop if stop is not None else asyncio.Event())
