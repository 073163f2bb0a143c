"""Test helpers shipped with the client: virtual time and an in-memory lister-watcher.

``FakeClock`` implements ``clock.Clock``. Time stands still until the test calls
``advance``; sleepers whose deadline has passed are woken in deadline order, and
``advance`` yields to the event loop so the woken tasks run before it returns. To avoid
sleeping as synchronisation, tests wait for the code under test to *block* on the clock
(``wait_for_sleepers``) and then move time.

``FakeListerWatcher`` implements ``reflector.ListerWatcher`` over a dict of objects with
a revision counter, so reflector and informer logic can be driven without a server:
``put``/``remove`` change the state and feed open watches; ``expire`` makes the next
watch (and any open one) fail with 410 Gone; ``break_watches`` drops open connections.
"""

from __future__ import annotations

import asyncio
import copy
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

from pyk8s.client import errors

__all__ = ["FakeClock", "FakeListerWatcher", "wait_until"]

Obj = dict[str, Any]


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    @property
    def sleepers(self) -> int:
        """How many tasks are blocked in ``sleep`` right now."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        live = [d for d, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order, letting each run."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            if fut.done():
                continue
            self._now = max(self._now, deadline)
            fut.set_result(None)
            await settle()
        self._now = max(self._now, target)
        await settle()

    async def wait_for_sleepers(self, n: int, *, timeout: float = 5.0) -> None:
        await wait_until(lambda: self.sleepers >= n, timeout=timeout)


async def settle(rounds: int = 20) -> None:
    """Yield to the event loop until ready callbacks have had their turn."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def wait_until(
    condition: Callable[[], bool], *, timeout: float = 30.0, message: str = ""
) -> None:
    """Poll ``condition`` (cheaply, on every loop turn) until true; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(0.005)


class FakeListerWatcher:
    """An in-memory collection with resourceVersions, serving ``list`` and ``watch``."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Obj] = {}
        self.revision = 0
        self.lists = 0
        self.watches: list[str] = []  # the resourceVersion each watch started from
        self._history: list[tuple[int, str, Obj]] = []
        self._oldest = 0  # watches from before this revision get 410
        self._streams: list[asyncio.Queue[tuple[str, Obj] | Exception | None]] = []
        self.fail_lists = 0  # fail this many lists with a transport error

    def put(self, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        self.revision += 1
        meta["resourceVersion"] = str(self.revision)
        etype = "MODIFIED" if key in self.objects else "ADDED"
        self.objects[key] = copy.deepcopy(obj)
        self._publish(etype, obj)
        return obj

    def remove(self, namespace: str, name: str) -> None:
        obj = self.objects.pop((namespace, name))
        self.revision += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.revision)
        self._publish("DELETED", obj)

    def bookmark(self) -> None:
        for q in self._streams:
            q.put_nowait(("BOOKMARK", {"metadata": {"resourceVersion": str(self.revision)}}))

    def expire(self) -> None:
        """Compact history: resuming from any version seen so far now answers 410."""
        self._oldest = self.revision + 1
        self._history.clear()
        for q in self._streams:
            q.put_nowait(
                errors.Gone(code=410, reason="Expired", message="too old resource version")
            )

    def break_watches(self) -> None:
        for q in self._streams:
            q.put_nowait(errors.TransportError("connection reset"))

    def _publish(self, etype: str, obj: Obj) -> None:
        self._history.append((self.revision, etype, copy.deepcopy(obj)))
        for q in self._streams:
            q.put_nowait((etype, copy.deepcopy(obj)))

    async def list(self) -> tuple[list[Obj], str]:
        self.lists += 1
        if self.fail_lists > 0:
            self.fail_lists -= 1
            raise errors.TransportError("connection refused")
        items = [copy.deepcopy(o) for _, o in sorted(self.objects.items())]
        return items, str(self.revision)

    def watch(self, resource_version: str) -> AsyncIterator[tuple[str, Obj]]:
        self.watches.append(resource_version)
        return self._watch(int(resource_version))

    async def _watch(self, since: int) -> AsyncIterator[tuple[str, Obj]]:
        if since + 1 < self._oldest:
            raise errors.Gone(code=410, reason="Expired", message="too old resource version")
        q: asyncio.Queue[tuple[str, Obj] | Exception | None] = asyncio.Queue()
        for rev, etype, obj in self._history:
            if rev > since:
                q.put_nowait((etype, copy.deepcopy(obj)))
        self._streams.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._streams.remove(q)

    def end_watches(self) -> None:
        """Close open watches cleanly, as a server-side timeout does."""
        for q in self._streams:
            q.put_nowait(None)

    @property
    def open_watches(self) -> int:
        return len(self._streams)
