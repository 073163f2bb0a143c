"""Shared informers: one reflector and one cache per (resource, namespace, selectors),
shared by every controller in the process that needs them.

``SharedInformer`` = ``Reflector`` + ``Store`` + a list of handlers. ``SharedInformerFactory``
hands out one informer per (resource, namespace, label selector, field selector) and runs
them all.

Contract (what handlers may rely on):
- Handlers are plain functions called on the event loop, in registration order, each
  with the store already showing the state it is told about. They should only enqueue
  keys (``queue.add(ObjectKey.of(obj))``); they must not block or mutate the objects.
  An exception in one handler is logged and does not affect the others.
- All handlers see the same ordered stream, with the reflector's guarantees: an object
  never goes back to an older resourceVersion; after reconnects and relists the stream
  still adds up to the server's state (a deletion missed while disconnected arrives as
  ``on_delete`` with the last state known).
- A handler added to an informer that already has objects (started, or added after
  start) first receives a synthetic ``on_add`` for every cached object. The replay and
  the switch to live events happen together on the next turn of the event loop, so
  nothing is delivered twice or missed in between.
- ``on_change(fn)`` is the level-triggered shorthand: ``fn(obj)`` for adds and updates,
  ``fn(last known state)`` for deletes.
- ``resync_period`` (optional) re-delivers every cached object as ``on_update(obj, obj)``
  that often — a safety net for controllers whose external state can drift.
- ``has_synced`` turns true once the first list is in the cache; ``wait_synced()`` waits
  for it.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import ratelimit, reflector, rest
from pyk8s.client import store as store_mod

__all__ = ["Registration", "SharedInformer", "SharedInformerFactory"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
T = TypeVar("T", bound=Mapping[str, Any])
U = TypeVar("U", bound=Mapping[str, Any])


class Registration(Generic[T]):
    """One set of handlers on an informer; ``remove()`` stops delivery."""

    def __init__(
        self,
        informer: SharedInformer[T],
        on_add: Callable[[T], None] | None,
        on_update: Callable[[T, T], None] | None,
        on_delete: Callable[[T], None] | None,
    ) -> None:
        self._informer = informer
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete
        self.active = False

    def remove(self) -> None:
        self._informer._remove(self)


class SharedInformer(Generic[T]):
    def __init__(
        self,
        lister_watcher: reflector.ListerWatcher,
        *,
        indexers: Mapping[str, store_mod.IndexFunc] | None = None,
        name: str = "",
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        backoff: ratelimit.Backoff | None = None,
        resync_period: float | None = None,
    ) -> None:
        all_indexers: dict[str, store_mod.IndexFunc] = {
            store_mod.OWNER_UID_INDEX: store_mod.owner_uid_index
        }
        all_indexers.update(indexers or {})
        self.store: store_mod.Store[T] = store_mod.Store(all_indexers)
        self.name = name or str(lister_watcher)
        self._registrations: list[Registration[T]] = []
        self._clock = clock
        self._resync_period = resync_period
        self._reflector: reflector.Reflector[T] = reflector.Reflector(
            lister_watcher,
            self.store,
            handler=_FanOut(self),
            name=self.name,
            clock=clock,
            backoff=backoff,
        )
        self.started = False

    # ------------------------------------------------------------------ handlers

    def add_handler(
        self,
        *,
        on_add: Callable[[T], None] | None = None,
        on_update: Callable[[T, T], None] | None = None,
        on_delete: Callable[[T], None] | None = None,
    ) -> Registration[T]:
        reg = Registration(self, on_add, on_update, on_delete)
        self._registrations.append(reg)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._activate(reg)
        else:
            loop.call_soon(self._activate, reg)
        return reg

    def on_change(self, fn: Callable[[T], None]) -> Registration[T]:
        return self.add_handler(on_add=fn, on_update=lambda _old, new: fn(new), on_delete=fn)

    def _activate(self, reg: Registration[T]) -> None:
        if reg not in self._registrations or reg.active:
            return
        reg.active = True
        if reg.on_add is not None:
            for obj in self.store.list():
                self._call(reg.on_add, obj)

    def _remove(self, reg: Registration[T]) -> None:
        if reg in self._registrations:
            self._registrations.remove(reg)
        reg.active = False

    def _call(self, fn: Callable[..., None], *objs: T) -> None:
        try:
            fn(*objs)
        except Exception:
            log.exception(
                "%s: handler %r failed for %s", self.name, fn, store_mod.ObjectKey.of(objs[-1])
            )

    # ------------------------------------------------------------------ cache reads

    def get(self, key: store_mod.ObjectKey) -> T | None:
        return self.store.get(key)

    def list(self, namespace: str | None = None) -> list[T]:
        return self.store.list(namespace)

    def by_index(self, index: str, value: str) -> builtins.list[T]:
        return self.store.by_index(index, value)

    def by_owner(self, owner: Mapping[str, Any]) -> builtins.list[T]:
        """Cached objects with an ownerReference to ``owner`` (by UID)."""
        uid = (owner.get("metadata") or {}).get("uid")
        return self.store.by_index(store_mod.OWNER_UID_INDEX, uid) if uid else []

    @property
    def has_synced(self) -> bool:
        return self._reflector.synced.is_set()

    @property
    def last_resource_version(self) -> str:
        return self._reflector.last_resource_version

    @property
    def relists(self) -> int:
        return self._reflector.relists

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait for the first list (``TimeoutError`` after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            await self._reflector.synced.wait()

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        if self.started:
            raise RuntimeError(f"{self.name}: informer already started")
        self.started = True
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._reflector.run(stop), name=f"reflector {self.name}")
            if self._resync_period:
                tg.create_task(
                    clock_mod.run_until_stopped(self._resync(self._resync_period), stop),
                    name=f"resync {self.name}",
                )

    async def _resync(self, period: float) -> None:
        await self._reflector.synced.wait()
        while True:
            await self._clock.sleep(period)
            fan_out = _FanOut(self)
            for obj in self.store.list():
                fan_out.on_update(obj, obj)


class _FanOut(Generic[T]):
    """The reflector's handler: delivers each change to every active registration."""

    def __init__(self, informer: SharedInformer[T]) -> None:
        self._informer = informer

    def on_add(self, obj: T) -> None:
        for reg in list(self._informer._registrations):
            if reg.active and reg.on_add is not None:
                self._informer._call(reg.on_add, obj)

    def on_update(self, old: T, new: T) -> None:
        for reg in list(self._informer._registrations):
            if reg.active and reg.on_update is not None:
                self._informer._call(reg.on_update, old, new)

    def on_delete(self, obj: T) -> None:
        for reg in list(self._informer._registrations):
            if reg.active and reg.on_delete is not None:
                self._informer._call(reg.on_delete, obj)


InformerKey = tuple[str, str, str, str | None, str | None, str | None]


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors); ``run`` starts them all —
    including ones asked for after it started."""

    def __init__(
        self,
        client: rest.RESTClient,
        *,
        namespace: str | None = None,
        resync_period: float | None = None,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.resync_period = resync_period
        self._clock = clock
        self._informers: dict[InformerKey, SharedInformer[Any]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._stop: asyncio.Event | None = None

    @overload
    def informer(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, store_mod.IndexFunc] | None = None,
    ) -> SharedInformer[Obj]: ...

    @overload
    def informer(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, store_mod.IndexFunc] | None = None,
        of: type[U],
    ) -> SharedInformer[U]: ...

    def informer(
        self,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, store_mod.IndexFunc] | None = None,
        of: type[Any] | None = None,
    ) -> SharedInformer[Any]:
        """The shared informer for these parameters (``of`` only types the result)."""
        ns = namespace if namespace is not None else self.namespace
        if not resource.namespaced:
            ns = None
        key: InformerKey = (
            resource.group,
            resource.version,
            resource.plural,
            ns or None,
            label_selector or None,
            field_selector or None,
        )
        inf = self._informers.get(key)
        if inf is None:
            lw = reflector.ResourceListerWatcher(
                self.client,
                resource,
                namespace=ns,
                label_selector=label_selector,
                field_selector=field_selector,
            )
            inf = SharedInformer(
                lw, indexers=indexers, clock=self._clock, resync_period=self.resync_period
            )
            self._informers[key] = inf
            if self._tg is not None and self._stop is not None:
                self._tg.create_task(inf.run(self._stop), name=f"informer {inf.name}")
        elif indexers:
            missing = {k: v for k, v in indexers.items() if k not in inf.store.index_names}
            if missing:
                inf.store.add_indexers(missing)
        return inf

    @property
    def informers(self) -> list[SharedInformer[Any]]:
        return list(self._informers.values())

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                for inf in self._informers.values():
                    if not inf.started:
                        tg.create_task(inf.run(stop), name=f"informer {inf.name}")
                await stop.wait()
        finally:
            self._tg = None
            self._stop = None

    async def wait_synced(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            for inf in list(self._informers.values()):
                await inf.wait_synced()
