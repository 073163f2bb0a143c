"""The work queue between event handlers and ``sync(key)``: client-go's workqueue with its
guarantees, for asyncio.

Contract (client-go/util/workqueue):
- **Collapse:** an item added any number of times before a worker takes it is handed out
  once. Items are handed out in the order they were first added.
- **Exclusive:** an item is never held by two workers at once. ``get()`` moves it to the
  *processing* set; adding it again while it is processing marks it *dirty* without
  queueing it; ``done(item)`` then queues it again, so the change that arrived during the
  sync is not lost and is processed after — never concurrently with — the running sync.
- **Delays:** ``add_after(item, delay)`` adds it once the delay has passed on the queue's
  ``Clock``; of several pending delays for one item the earliest wins.
- **Retries:** ``add_rate_limited(item)`` is ``add_after(item, limiter.when(item))`` —
  per-item exponential back-off (5 ms, 10 ms, … capped at 1000 s) by default;
  ``forget(item)`` clears the failure count after a success.
- **Shutdown:** after ``shutdown()`` adds are ignored, workers drain what is already
  queued and then ``get()`` raises ``ShutDown``; ``shutdown_with_drain()`` also waits for
  items in processing to be marked done.

``run_workers(queue, sync, n)`` is the whole worker loop: get → sync → forget (or
requeue with back-off, logging the failure with the key) → done.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from pyk8s.client import clock as clock_mod
from pyk8s.client import ratelimit

__all__ = ["ShutDown", "WorkQueue", "run_workers"]

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue is shut down and drained: the worker should exit."""


class WorkQueue(Generic[T]):
    def __init__(
        self,
        *,
        name: str = "",
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        rate_limiter: ratelimit.RateLimiter[T] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._limiter: ratelimit.RateLimiter[T] = (
            rate_limiter if rate_limiter is not None else ratelimit.ItemExponentialBackoff()
        )
        self._queue: collections.deque[T] = collections.deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None
        # delayed adds: heap of (ready_at, seq, item); the earliest deadline per item wins
        self._waiting: list[tuple[float, int, T]] = []
        self._ready_at: dict[T, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._timer_wake: asyncio.Event | None = None

    # ------------------------------------------------------------------ adding

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_getter()

    def add_after(self, item: T, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self._clock.now() + delay
        current = self._ready_at.get(item)
        if current is not None and current <= ready_at:
            return
        self._ready_at[item] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._seq), item))
        self._ensure_timer()

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self._limiter.when(item))

    def forget(self, item: T) -> None:
        self._limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self._limiter.num_requeues(item)

    # ------------------------------------------------------------------ taking

    async def get(self) -> T:
        """The next item, now in processing; the caller must call ``done(item)``."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._getters:
                    self._getters.remove(fut)
                elif fut.done() and not fut.cancelled():
                    self._wake_getter()  # we were handed a wake-up we will not use
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        if self._queue:
            self._wake_getter()
        return item

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_getter()
        elif not self._processing and self._drained is not None:
            self._drained.set()

    # ------------------------------------------------------------------ state

    def __len__(self) -> int:
        """Items queued and not yet handed out (not counting delayed or processing)."""
        return len(self._queue)

    @property
    def processing(self) -> frozenset[T]:
        return frozenset(self._processing)

    @property
    def waiting(self) -> int:
        """Items waiting for a delay (``add_after``/``add_rate_limited``) to pass."""
        return len(self._ready_at)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        self._shutting_down = True
        self._waiting.clear()
        self._ready_at.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every item handed out has been marked done."""
        self.shutdown()
        if self._processing:
            self._drained = asyncio.Event()
            await self._drained.wait()

    # ------------------------------------------------------------------ internals

    def _wake_getter(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _ensure_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer_wake = asyncio.Event()
            self._timer = asyncio.get_running_loop().create_task(
                self._run_timer(self._timer_wake), name=f"workqueue-{self.name}-delays"
            )
        elif self._timer_wake is not None:
            self._timer_wake.set()  # a new, possibly earlier, deadline

    async def _run_timer(self, wake: asyncio.Event) -> None:
        while self._waiting and not self._shutting_down:
            now = self._clock.now()
            while self._waiting and self._waiting[0][0] <= now:
                ready_at, _, item = heapq.heappop(self._waiting)
                if self._ready_at.get(item) == ready_at:
                    del self._ready_at[item]
                    self.add(item)
            if not self._waiting:
                break
            wake.clear()
            sleeper = asyncio.ensure_future(self._clock.sleep(self._waiting[0][0] - now))
            waker = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()


async def run_workers(
    queue: WorkQueue[T],
    sync: Callable[[T], Awaitable[None]],
    n: int = 1,
    *,
    max_retries: int | None = None,
) -> None:
    """Run ``n`` workers until the queue is shut down and drained.

    A sync that raises is retried with the queue's back-off (after ``max_retries``
    failures the item is dropped, forgotten and logged); one that returns is forgotten.
    """

    async def worker() -> None:
        while True:
            try:
                item = await queue.get()
            except ShutDown:
                return
            try:
                await sync(item)
            except asyncio.CancelledError:
                queue.done(item)
                raise
            except Exception as exc:
                retries = queue.num_requeues(item)
                if max_retries is not None and retries >= max_retries:
                    log.error(
                        "%s: dropping %s after %d retries: %s",
                        queue.name or "workqueue",
                        item,
                        retries,
                        exc,
                        exc_info=exc,
                    )
                    queue.forget(item)
                else:
                    log.warning(
                        "%s: sync %s failed (retry %d): %s",
                        queue.name or "workqueue",
                        item,
                        retries + 1,
                        exc,
                        exc_info=exc,
                    )
                    queue.add_rate_limited(item)
            else:
                queue.forget(item)
            queue.done(item)

    async with asyncio.TaskGroup() as tg:
        for i in range(n):
            tg.create_task(worker(), name=f"{queue.name or 'workqueue'}-worker-{i}")
