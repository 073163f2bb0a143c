"""Time as a seam: every piece of the client that waits (work-queue delays, retry back-off,
reflector reconnects, rate limits, leader-election renewals) takes a ``Clock``.

Contract: ``now()`` is a monotonic reading in seconds — only differences between two
readings mean anything; ``sleep(seconds)`` returns once ``now()`` has advanced by at least
that much (at once for ``seconds <= 0``) and is cancellable. Wall-clock timestamps that go
on the wire (Lease renewTime, Event lastTimestamp) are not the clock's business: the
modules that write them take a separate ``wall`` callable.

``RealClock`` is the event loop's clock. ``pyk8s.client.testing.FakeClock`` is virtual
time for tests: nothing moves until the test advances it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

__all__ = ["REAL_CLOCK", "Clock", "RealClock", "Wall", "run_until_stopped", "utc_now"]

T = TypeVar("T")

Wall = Callable[[], datetime]


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


REAL_CLOCK = RealClock()


def utc_now() -> datetime:
    return datetime.now(UTC)


async def run_until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """Run ``work`` until it finishes (its result) or ``stop`` is set (cancel it, None).

    The shape of every ``run(self, stop)`` in this package: cancellation of the caller
    cancels the work too; an exception from the work propagates.
    """
    task = asyncio.ensure_future(work)
    if stop.is_set():
        task.cancel()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
    if task.cancelled():
        return None
    return task.result()
