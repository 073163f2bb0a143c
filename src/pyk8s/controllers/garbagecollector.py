"""Garbage collector: deletes objects whose owners are gone, and carries out foreground and
orphan deletion (upstream's pkg/controller/garbagecollector), over every resource the
apiserver can list, watch and delete — custom resources included.

How it sees the world: discovery (re-read every ``discovery_period``) names the
resources; each gets the shared informer from the factory (so pods, ReplicaSets … are not
watched twice) and three handlers that keep a uid → object index and enqueue work items
(``Item``: resource, namespace, name, uid). Events (core and events.k8s.io) are ignored,
as upstream does. Dependents of a uid are found through every informer's owner-uid index.
(Upstream uses metadata-only informers of its own; sharing the full-object informers the
other controllers already run costs memory only for resources no one else watches, and
the client's watch has no PartialObjectMetadata mode yet.)

What enqueues an item:
- an object with ownerReferences appears, or its references change;
- an object enters deletion with the ``orphan`` or ``foregroundDeletion`` finalizer
  (and then every dependent of it is enqueued too);
- an object disappears: its dependents are enqueued, and so are its owners that wait for
  their dependents (one fewer to wait for).

``sync(item)`` is level-triggered:
- **orphan** (deleting, ``orphan`` finalizer): strip the references to it from every
  dependent, then remove the finalizer;
- **foreground** (deleting, ``foregroundDeletion``): once no dependent with
  ``blockOwnerDeletion`` is left, remove the finalizer (the apiserver then deletes it);
  until then make sure every dependent is being worked on;
- **background / dangling**: classify each owner (cache first; an owner missing from the
  cache is confirmed with a live GET, and remembered as absent), ``gc_decisions.decide``,
  then re-read the item live and act on what it says now: patch references out, or
  DELETE it with a uid precondition and the chosen propagation.
Deleting an owner with the default (Background) policy is the last case: the owner is
simply gone, so every dependent's only owner is dangling.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import OWNER_UID_INDEX, ObjectKey
from pyk8s.controllers import discovery, meta, metrics
from pyk8s.controllers import gc_decisions as gcd
from pyk8s.controllers.context import ControllerContext

__all__ = ["IGNORED", "GarbageCollector", "Item", "new_garbage_collector"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ResourceKey = tuple[str, str]  # (group, plural)

IGNORED: frozenset[ResourceKey] = frozenset({("", "events"), ("events.k8s.io", "events")})
COMPONENT = "garbage-collector-controller"


@dataclass(frozen=True, slots=True)
class Item:
    group: str
    plural: str
    namespace: str
    name: str
    uid: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.namespace, self.name)

    def __str__(self) -> str:
        kind = f"{self.plural}.{self.group}" if self.group else self.plural
        return f"[{kind}, namespace: {self.namespace}, name: {self.name}, uid: {self.uid}]"


class _Monitor:
    def __init__(
        self,
        resource: resources.Resource,
        inf: informer.SharedInformer[Obj],
        reg: informer.Registration[Obj],
    ) -> None:
        self.resource = resource
        self.informer = inf
        self.registration = reg


class _AbsentOwners:
    """Owner uids a live GET found missing (upstream's absentOwnerCache, LRU)."""

    def __init__(self, size: int = 500) -> None:
        self._size = size
        self._uids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def add(self, uid: str) -> None:
        self._uids[uid] = None
        self._uids.move_to_end(uid)
        while len(self._uids) > self._size:
            self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids


class GarbageCollector:
    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        workers: int = 20,
        discovery_period: float = 30.0,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.name = COMPONENT
        self.client = client
        self.informers = informers
        self.recorder = recorder
        self.workers = workers
        self.discovery_period = discovery_period
        self._clock = clock
        self.queue: workqueue.WorkQueue[Item] = workqueue.WorkQueue(name=COMPONENT, clock=clock)
        self.monitors: dict[ResourceKey, _Monitor] = {}
        self.discovery = discovery.Discovery()
        self._uids: dict[str, tuple[ResourceKey, ObjectKey]] = {}
        self._absent = _AbsentOwners()

    # -------------------------------------------------------------- monitors

    async def sync_monitors(self) -> None:
        """Re-read discovery; watch new deletable resources, stop following removed ones."""
        found = await discovery.discover(self.client)
        self.discovery = found
        wanted = {
            r.key: r for r in found.with_verbs("list", "watch", "delete") if r.key not in IGNORED
        }
        for key, res in wanted.items():
            if key not in self.monitors:
                inf = self.informers.informer(res)
                self.monitors[key] = _Monitor(res, inf, self._watch(key, inf))
        for key in [k for k in self.monitors if k not in wanted]:
            self.monitors.pop(key).registration.remove()

    def _watch(
        self, key: ResourceKey, inf: informer.SharedInformer[Obj]
    ) -> informer.Registration[Obj]:
        def added(obj: Obj) -> None:
            self._added(key, obj)

        def updated(old: Obj, new: Obj) -> None:
            self._updated(key, old, new)

        def deleted(obj: Obj) -> None:
            self._deleted(key, obj)

        return inf.add_handler(on_add=added, on_update=updated, on_delete=deleted)

    def _item(self, key: ResourceKey, obj: Mapping[str, Any]) -> Item:
        return Item(key[0], key[1], meta.namespace(obj), meta.name(obj), meta.uid(obj))

    def _enqueue_dependents(self, uid: str) -> None:
        for key, dep in self.dependents(uid):
            self.queue.add(self._item(key, dep))

    def _enqueue_waiting_owners(self, obj: Mapping[str, Any]) -> None:
        for ref in meta.owner_references(obj):
            found = self._cached_by_uid(str(ref.get("uid") or ""))
            if found is not None:
                key, owner = found
                if gcd.owner_state(owner, ref) is gcd.OwnerState.WAITING:
                    self.queue.add(self._item(key, owner))

    @staticmethod
    def _gc_state(obj: Mapping[str, Any]) -> tuple[bool, bool]:
        fins = meta.finalizers(obj)
        deleting = meta.deletion_timestamp(obj) is not None
        return deleting and gcd.ORPHAN in fins, deleting and gcd.FOREGROUND in fins

    def _added(self, key: ResourceKey, obj: Obj) -> None:
        self._uids[meta.uid(obj)] = (key, ObjectKey.of(obj))
        orphaning, waiting = self._gc_state(obj)
        if meta.owner_references(obj) or orphaning or waiting:
            self.queue.add(self._item(key, obj))
        if waiting:
            self._enqueue_dependents(meta.uid(obj))

    def _updated(self, key: ResourceKey, old: Obj, new: Obj) -> None:
        self._uids[meta.uid(new)] = (key, ObjectKey.of(new))
        if meta.uid(old) != meta.uid(new):
            self._deleted(key, old)
            self._added(key, new)
            return
        old_refs, new_refs = meta.owner_references(old), meta.owner_references(new)
        old_state, new_state = self._gc_state(old), self._gc_state(new)
        if old_refs != new_refs or old_state != new_state:
            self.queue.add(self._item(key, new))
        if new_state[1] and not old_state[1]:
            self._enqueue_dependents(meta.uid(new))
        if old_refs != new_refs:
            self._enqueue_waiting_owners(old)

    def _deleted(self, key: ResourceKey, obj: Obj) -> None:
        uid = meta.uid(obj)
        if self._uids.get(uid, (None, None))[0] == key:
            del self._uids[uid]
        self._enqueue_dependents(uid)
        self._enqueue_waiting_owners(obj)

    # -------------------------------------------------------------- cache reads

    def _cached(self, item: Item) -> Obj | None:
        mon = self.monitors.get((item.group, item.plural))
        obj = mon.informer.get(item.key) if mon is not None else None
        return obj if obj is not None and meta.uid(obj) == item.uid else None

    def _cached_by_uid(self, uid: str) -> tuple[ResourceKey, Obj] | None:
        where = self._uids.get(uid)
        if where is None:
            return None
        mon = self.monitors.get(where[0])
        obj = mon.informer.get(where[1]) if mon is not None else None
        return (where[0], obj) if obj is not None and meta.uid(obj) == uid else None

    def dependents(self, uid: str) -> list[tuple[ResourceKey, Obj]]:
        return [
            (key, dep)
            for key, mon in list(self.monitors.items())
            for dep in mon.informer.by_index(OWNER_UID_INDEX, uid)
        ]

    # -------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> None:
        await self.sync_monitors()
        try:
            async with asyncio.timeout(60):
                for mon in list(self.monitors.values()):
                    await mon.informer.wait_synced()
        except TimeoutError:
            log.warning("garbage collector: not every resource monitor synced; starting anyway")
        sync = metrics.instrument(self.name, self.sync)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(workqueue.run_workers(self.queue, sync, self.workers))
            tg.create_task(clock_mod.run_until_stopped(self._rediscover(), stop))
            await stop.wait()
            self.queue.shutdown()

    async def _rediscover(self) -> None:
        while True:
            await self._clock.sleep(self.discovery_period)
            try:
                await self.sync_monitors()
            except (errors.ApiError, errors.TransportError) as exc:
                log.warning("garbage collector: discovery failed: %s", exc)

    def _resource(self, item: Item) -> resources.Resource:
        mon = self.monitors.get((item.group, item.plural))
        if mon is None:
            raise LookupError(f"no longer watching {item.plural}.{item.group}")
        return mon.resource

    async def sync(self, item: Item) -> None:
        obj = self._cached(item)
        if obj is None:
            return
        orphaning, waiting = self._gc_state(obj)
        if orphaning:
            await self._orphan_dependents(item, obj)
            return
        if waiting:
            await self._process_waiting(item, obj)
            return
        if meta.deletion_timestamp(obj) or not meta.owner_references(obj):
            return
        action = await self._decide(item, obj)
        if action.kind is gcd.ActionKind.NONE:
            return
        res = self._resource(item)
        try:
            latest = await self.client.get(res, item.name, namespace=item.namespace or None)
        except errors.NotFound:
            return
        if meta.uid(latest) != item.uid or meta.deletion_timestamp(latest):
            return
        action = await self._decide(item, latest)
        await self._act(item, res, latest, action)

    async def _decide(self, item: Item, obj: Mapping[str, Any]) -> gcd.Action:
        states = {}
        for ref in meta.owner_references(obj):
            owner = await self._owner(item, ref)
            states[str(ref.get("uid") or "")] = gcd.owner_state(owner, ref)
        deps = self.dependents(item.uid)
        return gcd.decide(
            obj,
            states,
            has_dependents=bool(deps),
            a_dependent_waits=any(self._gc_state(d)[1] for _, d in deps),
        )

    async def _owner(self, item: Item, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
        uid = str(ref.get("uid") or "")
        cached = self._cached_by_uid(uid)
        if cached is not None:
            return cached[1]
        if uid in self._absent:
            return None
        res = self.discovery.for_kind(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        if res is None:
            raise LookupError(
                f"{item}: cannot resolve the owner kind {ref.get('apiVersion')}/{ref.get('kind')}"
            )
        if res.namespaced and not item.namespace:
            self.recorder.record(
                {"kind": "", "name": item.name, "uid": item.uid, "apiVersion": ""},
                reason="OwnerRefInvalidNamespace",
                message=f"ownerRef [{ref.get('apiVersion')}/{ref.get('kind')}, namespace: , "
                f'name: {ref.get("name")}, uid: {uid}] does not exist in namespace ""',
                event_type=events.EventType.WARNING,
            )
            return None
        try:
            owner = await self.client.get(
                res,
                str(ref.get("name") or ""),
                namespace=item.namespace if res.namespaced else None,
            )
        except errors.NotFound:
            self._absent.add(uid)
            return None
        if meta.uid(owner) != uid:
            self._absent.add(uid)
            return None
        return owner

    async def _act(
        self, item: Item, res: resources.Resource, obj: Mapping[str, Any], action: gcd.Action
    ) -> None:
        ns = item.namespace or None
        try:
            if action.kind is gcd.ActionKind.REMOVE_REFERENCES:
                log.info("garbage collector: removing references %s from %s", action.uids, item)
                await self.client.patch(
                    res,
                    item.name,
                    gcd.remove_references_patch(obj, action.uids),
                    namespace=ns,
                    patch_type=rest.PatchType.STRATEGIC,
                )
            elif action.kind in (gcd.ActionKind.DELETE, gcd.ActionKind.UNBLOCK_AND_DELETE):
                if action.kind is gcd.ActionKind.UNBLOCK_AND_DELETE:
                    await self.client.patch(
                        res,
                        item.name,
                        gcd.unblock_references_patch(obj),
                        namespace=ns,
                        patch_type=rest.PatchType.STRATEGIC,
                    )
                log.info(
                    "garbage collector: deleting %s (propagation %s)", item, action.propagation
                )
                await self.client.delete(
                    res,
                    item.name,
                    namespace=ns,
                    propagation_policy=action.propagation,
                    preconditions=paths.Preconditions(uid=item.uid),
                )
        except errors.NotFound:
            return
        except errors.Conflict:
            if action.kind is gcd.ActionKind.REMOVE_REFERENCES:
                raise
            return  # the uid precondition failed: that object is gone already

    async def _process_waiting(self, item: Item, owner: Mapping[str, Any]) -> None:
        deps = self.dependents(item.uid)
        if not gcd.blocking_dependents(item.uid, [d for _, d in deps]):
            await self._remove_finalizer(item, owner, gcd.FOREGROUND)
            return
        for key, dep in deps:
            if meta.deletion_timestamp(dep) is None or self._gc_state(dep)[1]:
                self.queue.add(self._item(key, dep))

    async def _orphan_dependents(self, item: Item, owner: Mapping[str, Any]) -> None:
        for key, dep in self.dependents(item.uid):
            dep_item = self._item(key, dep)
            log.info("garbage collector: orphaning %s from %s", dep_item, item)
            try:
                await self.client.patch(
                    self._resource(dep_item),
                    dep_item.name,
                    gcd.remove_references_patch(dep, [item.uid]),
                    namespace=dep_item.namespace or None,
                    patch_type=rest.PatchType.STRATEGIC,
                )
            except errors.NotFound:
                continue
        await self._remove_finalizer(item, owner, gcd.ORPHAN)

    async def _remove_finalizer(self, item: Item, obj: Mapping[str, Any], finalizer: str) -> None:
        res = self._resource(item)
        current: Mapping[str, Any] = obj
        for attempt in range(5):
            if attempt:
                try:
                    current = await self.client.get(
                        res, item.name, namespace=item.namespace or None
                    )
                except errors.NotFound:
                    return
                if meta.uid(current) != item.uid:
                    return
            patch = gcd.remove_finalizer_patch(current, finalizer)
            if patch is None:
                return
            try:
                await self.client.patch(res, item.name, patch, namespace=item.namespace or None)
                log.info("garbage collector: removed the %s finalizer from %s", finalizer, item)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                continue
        raise RuntimeError(f"{item}: could not remove the {finalizer} finalizer")


def new_garbage_collector(ctx: ControllerContext) -> GarbageCollector:
    return GarbageCollector(
        client=ctx.client, informers=ctx.informers, recorder=ctx.recorder, clock=ctx.clock
    )
