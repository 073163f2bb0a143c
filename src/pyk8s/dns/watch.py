"""Keeps ``ZoneData`` equal to what the informers show: Services, EndpointSlices and
Namespaces, watched through ``pyk8s.client.informer``.

Level-triggered, like a controller whose "apply" is an in-memory write: every event only
names a Service key; ``sync(key)`` re-reads the Service and its slices (through an index on
``kubernetes.io/service-name``) from the caches and puts the recomputed entry — so it may
run any number of times, in any order, with the same result. The tags each write returns
go to ``on_change`` (the answer cache's ``invalidate``). Handlers run on the event loop
between queries, so a query never sees a half-applied change.

``synced`` turns true — and ``on_synced`` fires, for the cache to drop the SERVFAILs it
never stored and /ready to pass — once all three informers have listed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pyk8s.client import informer, paths
from pyk8s.client.store import ObjectKey
from pyk8s.dns import zone as zone_mod
from pyk8s.dns.zone import Tag, ZoneData

__all__ = [
    "ENDPOINTSLICES",
    "NAMESPACES",
    "SERVICES",
    "SERVICE_INDEX",
    "ZoneWatcher",
    "service_index",
]

SERVICES = paths.resource_for("", "v1", "services", kind="Service")
ENDPOINTSLICES = paths.resource_for(
    "discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice"
)
NAMESPACES = paths.resource_for("", "v1", "namespaces", namespaced=False, kind="Namespace")
SERVICE_INDEX = "dns-service"

Obj = Mapping[str, Any]


def service_index(obj: Obj) -> Iterable[str]:
    """EndpointSlices by ``<namespace>/<service>`` (their service-name label)."""
    meta = obj.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(zone_mod.SERVICE_NAME_LABEL)
    return (f"{meta.get('namespace') or ''}/{svc}",) if svc else ()


class ZoneWatcher:
    def __init__(
        self,
        *,
        zone: ZoneData,
        informers: informer.SharedInformerFactory,
        on_change: Callable[[set[Tag]], None] = lambda tags: None,
        on_synced: Callable[[], None] = lambda: None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.zone = zone
        self.on_change = on_change
        self.on_synced = on_synced
        self._now = now
        self.services = informers.informer(SERVICES)
        self.slices = informers.informer(ENDPOINTSLICES, indexers={SERVICE_INDEX: service_index})
        self.namespaces = informers.informer(NAMESPACES)
        self.services.on_change(self._on_service)
        self.slices.on_change(self._on_slice)
        self.namespaces.add_handler(
            on_add=self._on_namespace,
            on_update=lambda _old, new: self._on_namespace(new),
            on_delete=self._on_namespace_gone,
        )
        self.syncs = 0

    # ------------------------------------------------------------------ handlers

    def _on_service(self, svc: Obj) -> None:
        meta = svc.get("metadata") or {}
        self.sync(ObjectKey(meta.get("namespace") or "", meta.get("name") or ""))

    def _on_slice(self, sl: Obj) -> None:
        for value in service_index(sl):
            self.sync(ObjectKey.parse(value))

    def _on_namespace(self, ns: Obj) -> None:
        name = (ns.get("metadata") or {}).get("name") or ""
        self._changed(self.zone.set_namespace(name, True, now=self._stamp()))

    def _on_namespace_gone(self, ns: Obj) -> None:
        name = (ns.get("metadata") or {}).get("name") or ""
        self._changed(self.zone.set_namespace(name, False, now=self._stamp()))

    # ------------------------------------------------------------------ sync

    def sync(self, key: ObjectKey) -> None:
        """Recompute the entry of one Service from the caches."""
        self.syncs += 1
        svc = self.services.get(key)
        if svc is None:
            tags = self.zone.remove((key.namespace, key.name), now=self._stamp())
        else:
            slices = self.slices.by_index(SERVICE_INDEX, f"{key.namespace}/{key.name}")
            entry = zone_mod.service_entry(svc, slices)
            tags = self.zone.put(entry, now=self._stamp())
        self._changed(tags)

    def _changed(self, tags: set[Tag]) -> None:
        if tags:
            self.on_change(tags)

    def _stamp(self) -> int:
        return int(self._now())

    async def wait_synced(self) -> None:
        for inf in (self.namespaces, self.services, self.slices):
            await inf.wait_synced()
        if not self.zone.synced:
            self.zone.synced = True
            self.zone.serial = max(self.zone.serial, self._stamp())
            self.on_synced()

    async def run(self, stop: asyncio.Event) -> None:
        """Mark the zone synced once the informers have listed (the informers themselves
        run in their factory)."""
        waiter = asyncio.ensure_future(self.wait_synced())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)
