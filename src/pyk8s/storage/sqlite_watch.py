"""Watch fan-out for the SQLite store: subscribe, then replay, then live.

The hub lives on the event loop. The writer hands it each committed batch (in revision
order, one callback per batch) and the hub appends the matching events to every
subscriber's buffer. A watch from revision R:

1. registers its subscription and notes P, the newest published revision, in the same
   loop step, so every event with revision > P reaches the buffer;
2. replays (R, P] from the database in pages, each page read in one snapshot that also
   checks the compact revision (R + 1 older than it raises Compacted, like etcd);
3. then yields buffered live events, skipping any with revision <= max(R, P).

Every change after R is therefore yielded exactly once and in order. A compaction that
overtakes a long replay raises Compacted from the ``__anext__`` that needs the lost page
(etcd cancels such a watcher too); the consumer relists, as after any 410. Buffers are
unbounded: a consumer that stops reading holds memory until it closes the iterator (or it
is garbage collected, which also unsubscribes). Closing the store ends every watch after
the events already buffered.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from pyk8s.storage import errors
from pyk8s.storage.interface import Event

__all__ = ["Hub", "ReadEvents", "Subscription", "Watch"]

# (prefix, after, upto, limit) -> up to ``limit`` events with after < revision <= upto,
# oldest first. Raises Compacted when after + 1 is older than the compact revision.
ReadEvents = Callable[[str, int, int, int], Awaitable[list[Event]]]

_REPLAY_PAGE = 1000


class Subscription:
    __slots__ = ("__weakref__", "closed", "pending", "prefix", "waiter")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.pending: deque[Event] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Hub:
    """Loop-side state shared by all watches: subscribers, the newest published revision
    and the compact revision (both as the writer last reported them)."""

    def __init__(self, *, revision: int, compact_revision: int) -> None:
        self.revision = revision
        self.compact_revision = compact_revision
        self.closed = False
        self._subs: set[Subscription] = set()

    def subscribe(self, prefix: str) -> Subscription:
        sub = Subscription(prefix)
        if self.closed:
            sub.closed = True
        else:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.forget(sub)
        sub.wake()

    def forget(self, sub: Subscription) -> None:
        """Drop a subscriber whose watch was garbage collected. Safe from any thread (GC
        runs wherever it is triggered), so it touches no future."""
        sub.closed = True
        self._subs.discard(sub)

    def publish(self, events: Sequence[Event], *, revision: int, compact_revision: int) -> None:
        self.revision = max(self.revision, revision)
        self.compact_revision = max(self.compact_revision, compact_revision)
        if not events:
            return
        # A snapshot: a collected watch may be forgotten (from GC) while we iterate.
        for sub in tuple(self._subs):
            prefix = sub.prefix
            if prefix:
                matched = [e for e in events if e.key.startswith(prefix)]
                if not matched:
                    continue
                sub.pending.extend(matched)
            else:
                sub.pending.extend(events)
            sub.wake()

    def close(self) -> None:
        self.closed = True
        subs, self._subs = self._subs, set()
        for sub in subs:
            sub.closed = True
            sub.wake()

    @property
    def watchers(self) -> int:
        return len(self._subs)


class Watch:
    """The async iterator ``SQLiteStorage.watch`` returns. Nothing happens until the first
    ``__anext__``; ``aclose()`` unsubscribes."""

    def __init__(self, *, hub: Hub, read_events: ReadEvents, prefix: str, after: int) -> None:
        self._hub = hub
        self._read_events = read_events
        self._prefix = prefix
        self._after = after  # the newest revision yielded so far (or the start)
        self._sub: Subscription | None = None
        self._forget: weakref.finalize[[Subscription], Watch] | None = None
        self._cursor = after  # replay has read everything up to here
        self._replay_upto = 0
        self._replay: deque[Event] = deque()
        self._done = False

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> Event:
        if self._done:
            raise StopAsyncIteration
        try:
            sub = self._sub or self._subscribe()
            while True:
                if self._replay:
                    event = self._replay.popleft()
                    self._after = event.revision
                    return event
                if self._cursor < self._replay_upto:
                    await self._read_page()
                    continue
                while sub.pending:
                    event = sub.pending.popleft()
                    if event.revision > self._after:
                        self._after = event.revision
                        return event
                if sub.closed:
                    raise StopAsyncIteration
                sub.waiter = asyncio.get_running_loop().create_future()
                await sub.waiter
        except (StopAsyncIteration, errors.StorageError):
            await self.aclose()
            raise

    def _subscribe(self) -> Subscription:
        hub = self._hub
        if self._after + 1 < hub.compact_revision:
            raise errors.Compacted(self._after, hub.compact_revision)
        sub = self._sub = hub.subscribe(self._prefix)
        self._forget = weakref.finalize(self, hub.forget, sub)
        self._forget.atexit = False
        # No await between subscribing and reading the revision: whatever is published
        # later lands in the buffer, whatever was published before is in the database.
        self._replay_upto = hub.revision
        return sub

    async def _read_page(self) -> None:
        try:
            events = await self._read_events(
                self._prefix, self._cursor, self._replay_upto, _REPLAY_PAGE
            )
        except errors.Unavailable:
            if self._hub.closed:
                raise StopAsyncIteration from None
            raise
        self._replay.extend(events)
        if len(events) < _REPLAY_PAGE:
            self._cursor = self._replay_upto
        else:
            self._cursor = events[-1].revision

    async def aclose(self) -> None:
        self._done = True
        self._replay.clear()
        if self._forget is not None:
            self._forget.detach()
        if self._sub is not None:
            self._hub.unsubscribe(self._sub)
