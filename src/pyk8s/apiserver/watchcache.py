"""The watch cache: every stored object in memory, fed by one storage watch (DESIGN §5).

One ``CacheSet`` per apiserver lists ``/registry/`` once at revision R, then watches it
from R, and routes each event to the ``ResourceCache`` owning the key's prefix. Invariants:

- ``CacheSet.revision`` is the newest storage revision applied to *every* cache: after
  ``wait_for(R)`` returns, every cache reflects all writes up to R. A consistent read
  (resourceVersion "") is ``wait_for(storage.current_revision())`` then a read from memory.
- Each cache keeps the current objects as encoded JSON (``Entry.raw``, with
  ``metadata.resourceVersion`` set) plus labels; objects are decoded only when a caller needs
  them (tables, field selectors, updates). List responses splice the stored bytes.
- Each cache keeps a ring of its recent events. A watch from revision X is served from the
  ring when X >= ``floor`` (the revision before the oldest event the ring still holds, or
  the initial list revision); older X raises ``TooOld`` (→ 410 Gone).
- Every event is encoded once (``CacheEvent.line``) and the same bytes go to every watcher
  whose filter passes it unchanged. Filters follow upstream's cacheWatcher: an object that
  stops matching is delivered as DELETED, one that starts matching as ADDED.
- A watcher whose queue overflows is closed (the client re-lists), as upstream does.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.storage import errors as storage_errors
from pyk8s.storage import interface as storage

__all__ = ["CacheEvent", "CacheSet", "Entry", "Filter", "ResourceCache", "TooOld", "Watcher"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
FieldsFn = Callable[[Obj], dict[str, str]]

RING_SIZE = 10_000
WATCHER_QUEUE_LIMIT = 20_000


class TooOld(Exception):
    def __init__(self, requested: int, floor: int) -> None:
        super().__init__(f"too old resource version: {requested} ({floor})")
        self.requested = requested
        self.floor = floor


@dataclass(slots=True, eq=False)
class Entry:
    key: str
    namespace: str
    name: str
    revision: int
    raw: bytes
    _labels: dict[str, str] | None = None
    _fields: dict[str, str] | None = None

    def decode(self) -> Obj:
        obj: Obj = orjson.loads(self.raw)
        return obj

    @property
    def labels(self) -> dict[str, str]:
        """Decoded on first use (label selectors), then kept."""
        if self._labels is None:
            labels = (self.decode().get("metadata") or {}).get("labels") or {}
            self._labels = labels if labels else _NO_LABELS
        return self._labels

    def fields(self, fields_of: FieldsFn) -> dict[str, str]:
        if self._fields is None:
            self._fields = fields_of(self.decode())
        return self._fields


_NO_LABELS: dict[str, str] = {}
_PLACEHOLDER = b'"metadata":{"resourceVersion":""'


def make_entry(key: str, value: bytes, revision: int, prefix: str) -> Entry:
    """The cached form of a stored value, with its resourceVersion stamped in.

    Values the registry wrote open their metadata with an empty resourceVersion
    (registry._encode), so stamping is a byte replacement of that first occurrence —
    nothing is decoded. Anything else is decoded and re-encoded once. Namespace and name
    come from the key: ``<prefix><ns>/<name>`` or ``<prefix><name>``.
    """
    rest = key[len(prefix) :] if key.startswith(prefix) else key.rsplit("/", 1)[-1]
    ns, _, name = rest.rpartition("/")
    idx = value.find(_PLACEHOLDER, 0, 256)
    if idx >= 0:
        stamp = b'"metadata":{"resourceVersion":"' + str(revision).encode() + b'"'
        raw = b"".join((value[:idx], stamp, value[idx + len(_PLACEHOLDER) :]))
    else:
        obj = orjson.loads(value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        raw = orjson.dumps(obj)
    return Entry(key=key, namespace=ns, name=name, revision=revision, raw=raw)


@dataclass(slots=True, eq=False)
class CacheEvent:
    type: str  # ADDED | MODIFIED | DELETED
    entry: Entry
    prev: Entry | None
    revision: int
    _line: bytes | None = None

    @property
    def line(self) -> bytes:
        """The watch event as one JSON line, encoded once for every watcher."""
        if self._line is None:
            self._line = event_line(self.type, self.entry.raw)
        return self._line


def event_line(type_: str, raw: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + raw + b"}\n"


@dataclass(slots=True)
class Filter:
    """What a list or watch asks for: a namespace, and label/field predicates."""

    namespace: str | None = None
    labels: Callable[[dict[str, str]], bool] | None = None
    fields: Callable[[dict[str, str]], bool] | None = None
    fields_of: FieldsFn | None = None
    name: str | None = None  # exact metadata.name, the common kubectl case

    @property
    def everything(self) -> bool:
        return self.labels is None and self.fields is None and self.name is None

    def matches(self, e: Entry) -> bool:
        if self.namespace and e.namespace != self.namespace:
            return False
        if self.name is not None and e.name != self.name:
            return False
        if self.labels is not None and not self.labels(e.labels):
            return False
        if self.fields is not None:
            assert self.fields_of is not None
            if not self.fields(e.fields(self.fields_of)):
                return False
        return True


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Watcher:
    def __init__(self, cache: ResourceCache, flt: Filter) -> None:
        self.cache = cache
        self.filter = flt
        self.queue: collections.deque[tuple[str, bytes, int]] = collections.deque()
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, ev: CacheEvent) -> None:
        if self.closed:
            return
        flt = self.filter
        if flt.namespace and ev.entry.namespace != flt.namespace:
            return
        if flt.everything:
            self._push(ev.type, ev.line, ev.revision)
            return
        cur = flt.matches(ev.entry)
        if ev.type == "DELETED":
            if cur:
                self._push("DELETED", ev.line, ev.revision)
            return
        old = ev.prev is not None and flt.matches(ev.prev)
        if cur and (old or ev.type == "ADDED"):
            self._push(ev.type, ev.line, ev.revision)
        elif cur:
            self._push("ADDED", event_line("ADDED", ev.entry.raw), ev.revision)
        elif old:
            assert ev.prev is not None
            self._push("DELETED", event_line("DELETED", ev.entry.raw), ev.revision)

    def _push(self, type_: str, line: bytes, revision: int) -> None:
        self.queue.append((type_, line, revision))
        if len(self.queue) > WATCHER_QUEUE_LIMIT:
            log.warning(
                "closing slow watcher on %s (%d events queued)", self.cache.prefix, len(self.queue)
            )
            self.close()
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.cache.watchers.discard(self)
            self._wake()

    async def next_batch(self, timeout: float | None) -> list[tuple[str, bytes, int]] | None:
        """Queued events (possibly empty on timeout); None once closed and drained.

        One plain future per wait, resolved by the next event: no task or Event per
        watcher per event, which matters with thousands of watchers."""
        if not self.queue and not self.closed:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter = fut
            timer = None if timeout is None else loop.call_later(timeout, _expire, fut)
            try:
                await fut
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        if not self.queue:
            return None if self.closed else []
        batch = list(self.queue)
        self.queue.clear()
        return batch


class ResourceCache:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.objects: dict[str, Entry] = {}
        self.ring: collections.deque[CacheEvent] = collections.deque(maxlen=RING_SIZE)
        self.floor = 0
        self.watchers: set[Watcher] = set()
        self._sorted: list[str] | None = None
        # events that arrive while the cache is being filled (see CacheSet.add_filled)
        self.pending: list[storage.Event] | None = None

    def apply(self, ev: storage.Event) -> None:
        if self.pending is not None:
            self.pending.append(ev)
            return
        prev = self.objects.get(ev.key)
        entry = make_entry(ev.key, ev.value, ev.revision, self.prefix)
        if ev.type == storage.EventType.DELETED:
            self.objects.pop(ev.key, None)
            self._sorted = None
            type_ = "DELETED"
        else:
            if prev is None:
                self._sorted = None
            self.objects[ev.key] = entry
            type_ = "ADDED" if prev is None else "MODIFIED"
        cev = CacheEvent(type_, entry, prev, ev.revision)
        if len(self.ring) == self.ring.maxlen:
            self.floor = self.ring[0].revision
        self.ring.append(cev)
        for w in list(self.watchers):
            w.offer(cev)

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def scan(self, flt: Filter, *, start: str = "") -> Iterator[Entry]:
        """Matching entries in key order, starting at key ``start`` (inclusive)."""
        keys = self.sorted_keys()
        lo = 0
        if flt.namespace:
            ns_prefix = self.prefix + flt.namespace + "/"
            lo = bisect.bisect_left(keys, max(ns_prefix, start))
            for k in keys[lo:]:
                if not k.startswith(ns_prefix):
                    break
                e = self.objects[k]
                if flt.matches(e):
                    yield e
            return
        if start:
            lo = bisect.bisect_left(keys, start)
        objects = self.objects
        if flt.everything:
            for k in keys[lo:]:
                yield objects[k]
        else:
            for k in keys[lo:]:
                e = objects[k]
                if flt.matches(e):
                    yield e

    def watch(self, flt: Filter, *, after: int | None, initial: bool) -> Watcher:
        """A watcher fed with events after revision ``after`` (None = from now on), plus
        synthetic ADDED events for every current matching object when ``initial``."""
        w = Watcher(self, flt)
        if initial:
            for e in self.scan(flt):
                w.queue.append(("ADDED", event_line("ADDED", e.raw), e.revision))
        elif after is not None:
            if after < self.floor:
                raise TooOld(after, self.floor)
            idx = len(self.ring)
            while idx > 0 and self.ring[idx - 1].revision > after:
                idx -= 1
            for i in range(idx, len(self.ring)):
                w.offer(self.ring[i])
        self.watchers.add(w)
        return w

    def close_watchers(self) -> None:
        for w in list(self.watchers):
            w.close()


@dataclass
class CacheSet:
    """All resource caches, fed by one storage watch on ``/registry/``."""

    store: storage.Interface
    prefixes: Iterable[str]
    caches: dict[str, ResourceCache] = field(default_factory=dict)
    revision: int = 0
    _waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        for p in self.prefixes:
            self.add(p)

    def add(self, prefix: str) -> ResourceCache:
        cache = self.caches.get(prefix)
        if cache is None:
            cache = ResourceCache(prefix)
            cache.floor = self.revision
            self.caches[prefix] = cache
        return cache

    async def add_filled(self, prefix: str) -> ResourceCache:
        """A cache for a prefix that appears at run time (a new CRD's resources), filled
        from storage at the current revision. Events routed to it meanwhile are held and
        applied after the fill, so it misses nothing and never goes back in time."""
        existing = self.caches.get(prefix)
        if existing is not None:
            return existing
        cache = ResourceCache(prefix)
        cache.pending = []
        rev = self.revision
        cache.floor = rev
        self.caches[prefix] = cache
        try:
            cont: str | None = None
            while True:
                page = await self.store.list(prefix, revision=rev, limit=5000, continue_=cont)
                for kv in page.items:
                    cache.objects[kv.key] = make_entry(kv.key, kv.value, kv.mod_revision, prefix)
                cont = page.continue_
                if cont is None:
                    break
        except BaseException:
            del self.caches[prefix]
            raise
        held, cache.pending = cache.pending, None
        for ev in held:
            cache.apply(ev)
        return cache

    def remove(self, prefix: str) -> None:
        cache = self.caches.pop(prefix, None)
        if cache is not None:
            cache.close_watchers()

    def route(self, key: str) -> ResourceCache | None:
        # /registry/<a>/… or /registry/<a>/<b>/… (services/specs, CRD groups)
        rest = key[len("/registry/") :]
        first = rest.find("/")
        if first < 0:
            return None
        p1 = key[: len("/registry/") + first + 1]
        second = rest.find("/", first + 1)
        if second >= 0:
            c = self.caches.get(key[: len("/registry/") + second + 1])
            if c is not None:
                return c
        return self.caches.get(p1)

    async def start(self) -> None:
        await self._load()
        self._task = asyncio.create_task(self._run(), name="watchcache")
        self._ready.set()

    async def _load(self) -> int:
        """List everything at one revision; returns it. Replaces cache contents."""
        fresh: dict[str, dict[str, Entry]] = {p: {} for p in self.caches}
        cont: str | None = None
        rev = 0
        while True:
            page = await self.store.list("/registry/", revision=rev, limit=5000, continue_=cont)
            rev = page.revision
            for kv in page.items:
                cache = self.route(kv.key)
                if cache is not None:
                    fresh[cache.prefix][kv.key] = make_entry(
                        kv.key, kv.value, kv.mod_revision, cache.prefix
                    )
            cont = page.continue_
            if cont is None:
                break
        for prefix, objects in fresh.items():
            cache = self.caches[prefix]
            cache.objects = objects
            cache._sorted = None
            cache.ring.clear()
            cache.floor = rev
            cache.close_watchers()
        self.revision = rev
        self._wake()
        return rev

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                async for ev in self.store.watch("/registry/", from_revision=self.revision):
                    cache = self.route(ev.key)
                    if cache is not None:
                        cache.apply(ev)
                    self.revision = ev.revision
                    if self._waiters:
                        self._wake()
                    backoff = 0.1
                return
            except asyncio.CancelledError:
                raise
            except storage_errors.Compacted:
                log.warning("watch cache fell behind a compaction; re-listing")
                await self._load()
            except storage_errors.StorageError as exc:
                log.warning("storage watch failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _wake(self) -> None:
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for rev, fut in self._waiters:
            if rev <= self.revision:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((rev, fut))
        self._waiters = keep

    async def wait_for(self, revision: int, timeout: float = 3.0) -> bool:
        """Wait until every cache has applied ``revision``; False on timeout."""
        if self.revision >= revision:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, fut))
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False

    async def consistent(self) -> int:
        """Wait for the cache to reach the store's current revision; returns it."""
        rev = await self.store.current_revision()
        await self.wait_for(rev)
        return self.revision

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for c in self.caches.values():
            c.close_watchers()
