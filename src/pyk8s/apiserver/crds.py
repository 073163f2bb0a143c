"""The apiserver's CRD controller (upstream's apiextensions-apiserver controllers, in
process): it follows CustomResourceDefinitions through the watch cache and

- accepts names and sets the NamesAccepted and Established conditions;
- serves an established CRD's versions: resource table entries (routing, discovery),
  strategies (schema defaulting, pruning, validation, printer columns), a watch cache for
  ``/registry/<group>/<plural>/`` filled before the first request, and OpenAPI v3
  documents per group-version;
- on deletion (the ``customresourcecleanup`` finalizer): marks the CRD Terminating,
  deletes every object it defines, then removes the finalizer so the CRD goes away.

Level-triggered: each change of a CRD enqueues its name; ``sync(name)`` recomputes
everything from the cached CRD and is safe to repeat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from typing import Any

import orjson

from pyk8s.api import errors, openapi, resources
from pyk8s.api.crd import naming as crd_naming
from pyk8s.api.crd import openapi as crd_openapi
from pyk8s.api.crd import printing as crd_printing
from pyk8s.api.crd import scale as crd_scale
from pyk8s.api.crd import versions as crd_versions
from pyk8s.api.resources import Resource
from pyk8s.apiserver import strategy
from pyk8s.apiserver.registry import Registry, WriteContext
from pyk8s.apiserver.resourcetable import ResourceTable
from pyk8s.apiserver.watchcache import Filter
from pyk8s.storage import errors as storage_errors

__all__ = ["CRDController"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CTX = WriteContext(manager="apiextensions-apiserver")


def _crd_resource() -> Resource:
    r = resources.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert r is not None
    return r


def _established(crd: Obj) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


class CRDController:
    def __init__(self, *, registry: Registry, table: ResourceTable) -> None:
        self.registry = registry
        self.table = table
        self.res = _crd_resource()
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.documents: dict[str, openapi.Document] = {}  # "apis/<g>/<v>" → document
        self._served: dict[str, tuple[str, str]] = {}  # CRD name → (group, plural)
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        cache = self.registry.cache_for(self.res)
        watcher = cache.watch(Filter(), after=None, initial=True)

        async def feed() -> None:
            while True:
                batch = await watcher.next_batch(None)
                if batch is None:
                    return
                for _, line, _ in batch:
                    name = orjson.loads(line)["object"]["metadata"]["name"]
                    self.queue.put_nowait(name)

        self._watch_task = asyncio.create_task(feed(), name="crd-watch")
        # serve what is already established before the first request
        for entry in list(cache.objects.values()):
            await self._sync(entry.name)
        self._task = asyncio.create_task(self._run(), name="crd-controller")

    async def stop(self) -> None:
        for t in (self._watch_task, self._task):
            if t is not None:
                t.cancel()
                try:
                    await t
                except (asyncio.CancelledError, Exception):
                    pass

    async def _run(self) -> None:
        while True:
            name = await self.queue.get()
            try:
                await self._sync(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("syncing CustomResourceDefinition %s failed; retrying", name)
                await asyncio.sleep(1.0)
                self.queue.put_nowait(name)

    # ------------------------------------------------------------ sync

    def _all_crds(self) -> list[Obj]:
        return [e.decode() for e in self.registry.cache_for(self.res).objects.values()]

    async def _sync(self, name: str) -> None:
        entry = self.registry.cache_for(self.res).objects.get(self.res.storage_key(None, name))
        if entry is None:
            await self._unserve(name)
            return
        crd = entry.decode()
        if (crd.get("metadata") or {}).get("deletionTimestamp"):
            await self._terminate(crd)
            return
        group = (crd.get("spec") or {}).get("group", "")
        claims = crd_naming.claims_of(self._all_crds(), group=group, exclude=name)
        status = crd_naming.crd_status(
            crd, conflicts=claims, now=datetime.datetime.now(datetime.UTC)
        )
        if status != crd.get("status"):
            await self._write_status(name, status)
            return  # the status write comes back as an event
        if _established(crd):
            await self._serve(crd)

    async def _write_status(self, name: str, status: Obj) -> None:
        async def mutate(old: Obj) -> Obj:
            old["status"] = status
            return old

        try:
            await self.registry.update(self.res, None, name, mutate, CTX, subresource="status")
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
            self.queue.put_nowait(name)

    async def _serve(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        served = [dataclasses.replace(r, custom=True) for r in crd_versions.resources_for(crd)]
        if not served:
            await self._unserve(name)
            return
        group, plural = served[0].group, served[0].plural
        storage_version = crd_versions.storage_version(crd)
        for version in {*(r.version for r in served), storage_version}:
            base = next((r for r in served if r.version == version), None)
            if base is None:  # storage version not served: still needs a strategy
                base = dataclasses.replace(served[0], version=version, preferred=False)
            strategy.register(
                strategy.CustomStrategy(
                    base,
                    schema=crd_versions.schema_for(crd, version),
                    table=crd_printing.table_for_version(crd, version),
                    scale=crd_scale.scale_spec_for(crd, version),
                )
            )
        await self.registry.caches.add_filled(served[0].storage_key(None))
        self.table.set_custom(name, served)
        self._served[name] = (group, plural)
        self._rebuild_openapi()

    async def _unserve(self, name: str) -> None:
        gp = self._served.pop(name, None)
        self.table.remove_custom(name)
        if gp is not None:
            strategy.unregister(*gp)
            self.registry.caches.remove(f"/registry/{gp[0]}/{gp[1]}/")
        self._rebuild_openapi()

    def _rebuild_openapi(self) -> None:
        crds = [c for c in self._all_crds() if c["metadata"]["name"] in self._served]
        docs: dict[str, openapi.Document] = {}
        gvs = {(r.group, r.version) for n in self._served for r in self.table.custom(n)}
        for group, version in sorted(gvs):
            doc = crd_openapi.document(crds, group, version)
            docs[doc.path] = doc
        self.documents = docs

    async def _terminate(self, crd: Obj) -> None:
        """Delete every object the CRD defines, then let the CRD go."""
        name = crd["metadata"]["name"]
        spec = crd.get("spec") or {}
        prefix = f"/registry/{spec.get('group')}/{(spec.get('names') or {}).get('plural')}/"
        conditions = [
            c
            for c in (crd.get("status") or {}).get("conditions") or []
            if c.get("type") != "Terminating"
        ]
        conditions.append(
            {
                "type": "Terminating",
                "status": "True",
                "reason": "InstanceDeletionInProgress",
                "message": "CustomResource deletion is in progress",
                "lastTransitionTime": datetime.datetime.now(datetime.UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        )
        if not any(
            c.get("type") == "Terminating"
            for c in (crd.get("status") or {}).get("conditions") or []
        ):
            await self._write_status(name, {**(crd.get("status") or {}), "conditions": conditions})
            return
        await self._unserve(name)
        store = self.registry.store
        while True:
            page = await store.list(prefix, limit=500)
            for kv in page.items:
                try:
                    await store.delete(kv.key)
                except storage_errors.NotFound:
                    pass
            if page.continue_ is None:
                break

        async def drop_finalizer(old: Obj) -> Obj:
            fins = [
                f
                for f in old["metadata"].get("finalizers") or []
                if f != strategy.CRD_CLEANUP_FINALIZER
            ]
            if fins:
                old["metadata"]["finalizers"] = fins
            else:
                old["metadata"].pop("finalizers", None)
            return old

        try:
            await self.registry.update(self.res, None, name, drop_finalizer, CTX)
        except errors.StatusError as exc:
            if exc.code != 404:
                raise
