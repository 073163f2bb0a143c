"""The reflector: keeps a ``Store`` equal to the server's view of one resource (with its
namespace and selectors) and tells a handler what changed, in order.

Lifecycle (client-go's Reflector.ListAndWatch, with a resumable watch):
1. **List** every object (a consistent, paginated list) and its resourceVersion RV. The
   first list fills the store; a later one (a *relist*) is diffed against the store so the
   handler sees one consistent stream: objects new to the store → ``on_add``; changed ones
   (different resourceVersion) → ``on_update(old, new)``; ones missing from the list →
   ``on_delete(last known state)``; unchanged ones → nothing.
2. **Watch** from RV with ``allowWatchBookmarks``. Every event (bookmarks included) advances
   the last-seen resourceVersion, so a broken connection **resumes** from there after an
   exponential back-off (``ratelimit.Backoff``; reset once a watch delivers). A watch that
   the server ends cleanly (its ``timeoutSeconds``) is reopened at once.
3. **410 Gone** (the version fell out of the server's history) → relist at once. Any other
   API error (the list or watch refused) → back off, then relist.

Contract:
- The store is changed before the handler is called, so a handler reading the store sees
  the state it is being told about. Handler exceptions are logged and swallowed: one bad
  handler cannot wedge the reflector.
- **Never backwards:** an object is never replaced by an older version of itself —
  resourceVersions are storage revisions (decimal), so they are compared as integers.
  A list older than what has already been seen (a lagging server) is retried rather than
  applied; after ``stale_list_limit`` such lists in a row it is accepted, with an error
  logged, because the server's history must have been reset.
- An object found on a relist under a known name but with a new uid was deleted and
  re-created while we were away: it is reported as ``on_delete(old)`` then ``on_add``.
- ``synced`` is set once the first list is in the store; ``last_resource_version`` is the
  newest version applied.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar, cast

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, ratelimit, rest, watching
from pyk8s.client import store as store_mod

__all__ = [
    "Handler",
    "ListerWatcher",
    "Reflector",
    "ResourceListerWatcher",
    "newer",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
T = TypeVar("T", bound=Mapping[str, Any])
T_contra = TypeVar("T_contra", bound=Mapping[str, Any], contravariant=True)


class ListerWatcher(Protocol):
    async def list(self) -> tuple[list[Obj], str]:
        """Every object, and the resourceVersion the list was read at."""
        ...

    def watch(self, resource_version: str) -> AsyncIterator[tuple[str, Obj]]:
        """Events after ``resource_version``; closed with ``aclose()`` if it has one."""
        ...


class Handler(Protocol[T_contra]):
    def on_add(self, obj: T_contra) -> None: ...

    def on_update(self, old: T_contra, new: T_contra) -> None: ...

    def on_delete(self, obj: T_contra) -> None: ...


class ResourceListerWatcher:
    """``ListerWatcher`` for one resource through a ``RESTClient``."""

    def __init__(
        self,
        client: rest.RESTClient,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout: tuple[int, int] = (300, 600),
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout

    def __str__(self) -> str:
        out = self.resource.plural + (f".{self.resource.group}" if self.resource.group else "")
        if self.namespace:
            out += f" in {self.namespace}"
        for sel in (self.label_selector, self.field_selector):
            if sel:
                out += f" [{sel}]"
        return out

    async def list(self) -> tuple[list[Obj], str]:
        return await self.client.list_all(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size,
        )

    def watch(self, resource_version: str) -> watching.Watch:
        return self.client.watch(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=resource_version,
            allow_bookmarks=True,
            # spread reconnects out, as client-go does (5 to 10 minutes)
            timeout_seconds=random.randint(*self.watch_timeout),
        )


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def newer(candidate: str, current: str) -> bool | None:
    """Is ``candidate`` a later resourceVersion than ``current``? None if incomparable."""
    try:
        return int(candidate) > int(current)
    except ValueError:
        return None


class Reflector(Generic[T]):
    def __init__(
        self,
        lister_watcher: ListerWatcher,
        store: store_mod.Store[T],
        *,
        handler: Handler[T] | None = None,
        name: str = "",
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        backoff: ratelimit.Backoff | None = None,
        stale_list_limit: int = 5,
    ) -> None:
        self.lister_watcher = lister_watcher
        self.store = store
        self.handler = handler
        self.name = name or str(lister_watcher)
        self._clock = clock
        self._backoff = backoff if backoff is not None else ratelimit.Backoff()
        self._stale_list_limit = stale_list_limit
        self.last_resource_version = ""
        self.synced = asyncio.Event()
        self.relists = 0  # lists after the first: for tests and metrics

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)

    async def _run(self) -> None:
        need_list = True
        stale_lists = 0
        while True:
            if need_list:
                try:
                    items, rv = await self.lister_watcher.list()
                except (errors.ApiError, errors.TransportError) as exc:
                    await self._back_off(f"list failed: {exc}")
                    continue
                if (
                    self.last_resource_version
                    and newer(self.last_resource_version, rv)
                    and stale_lists < self._stale_list_limit
                ):
                    stale_lists += 1
                    await self._back_off(
                        f"list at {rv} is older than {self.last_resource_version} seen; retrying"
                    )
                    continue
                if stale_lists >= self._stale_list_limit:
                    log.error(
                        "%s: the server's history went back to %s from %s; starting over",
                        self.name,
                        rv,
                        self.last_resource_version,
                    )
                    self.last_resource_version = ""
                stale_lists = 0
                self._apply_list(items, rv)
                need_list = False
            need_list = await self._watch()

    async def _watch(self) -> bool:
        """Watch until the stream ends; True if a relist is needed next."""
        stream = self.lister_watcher.watch(self.last_resource_version)
        try:
            async for etype, obj in stream:
                self._backoff.reset()
                self._apply_event(etype, obj)
        except errors.Gone as exc:
            log.info(
                "%s: watch from %s expired (%s); relisting",
                self.name,
                self.last_resource_version,
                exc.message,
            )
            return True
        except errors.TransportError as exc:
            await self._back_off(f"watch from {self.last_resource_version} broke: {exc}")
            return False
        except errors.ApiError as exc:
            await self._back_off(f"watch refused: {exc}; relisting")
            return True
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return False

    async def _back_off(self, why: str) -> None:
        delay = self._backoff.next_delay()
        log.warning("%s: %s (retrying in %.2fs)", self.name, why, delay)
        await self._clock.sleep(delay)

    # ------------------------------------------------------------------ applying

    def _advance(self, rv: str) -> None:
        if rv and newer(rv, self.last_resource_version) is not False:
            self.last_resource_version = rv

    def _apply_list(self, items: list[Obj], rv: str) -> None:
        first = not self.synced.is_set()
        if not first:
            self.relists += 1
        seen: set[store_mod.ObjectKey] = set()
        for raw in items:
            obj = cast(T, raw)
            key = store_mod.ObjectKey.of(obj)
            seen.add(key)
            self._upsert(key, obj)
        for key in self.store:  # iterates over a copy: deleting is fine
            if key not in seen:
                old = self.store.delete(key)
                if old is not None:
                    self._notify_delete(old)
        self.last_resource_version = rv
        if first:
            self.synced.set()

    def _apply_event(self, etype: str, raw: Obj) -> None:
        rv = _rv(raw)
        if etype == watching.EventType.BOOKMARK:
            self._advance(rv)
            return
        obj = cast(T, raw)
        key = store_mod.ObjectKey.of(obj)
        if etype in (watching.EventType.ADDED, watching.EventType.MODIFIED):
            self._upsert(key, obj)
        elif etype == watching.EventType.DELETED:
            old = self.store.get(key)
            if old is not None and newer(_rv(old), rv) is not True:
                self.store.delete(key)
                self._notify_delete(obj)
        else:
            log.warning("%s: ignoring a watch event of type %r", self.name, etype)
        self._advance(rv)

    def _upsert(self, key: store_mod.ObjectKey, obj: T) -> None:
        old = self.store.get(key)
        if old is None:
            self.store.upsert(obj)
            self._notify_add(obj)
            return
        old_rv, new_rv = _rv(old), _rv(obj)
        if old_rv == new_rv or newer(new_rv, old_rv) is False:
            return  # the same version again, or an older one: never go backwards
        if _uid(old) and _uid(obj) and _uid(old) != _uid(obj):
            # deleted and re-created while we were not watching: say so
            self.store.delete(key)
            self._notify_delete(old)
            self.store.upsert(obj)
            self._notify_add(obj)
            return
        self.store.upsert(obj)
        self._notify_update(old, obj)

    def _notify_add(self, obj: T) -> None:
        if self.handler is not None:
            self._safely(self.handler.on_add, obj)

    def _notify_update(self, old: T, new: T) -> None:
        if self.handler is not None:
            self._safely(self.handler.on_update, old, new)

    def _notify_delete(self, obj: T) -> None:
        if self.handler is not None:
            self._safely(self.handler.on_delete, obj)

    def _safely(self, fn: Callable[..., None], *objs: T) -> None:
        try:
            fn(*objs)
        except Exception:
            log.exception(
                "%s: %s failed for %s", self.name, fn.__name__, store_mod.ObjectKey.of(objs[-1])
            )
