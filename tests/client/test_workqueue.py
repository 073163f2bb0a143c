"""WorkQueue: collapse, exclusivity, delays, rate-limited retries, shutdown — on virtual
time, synchronised on conditions rather than sleeps."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging

import pytest

from pyk8s.client import ratelimit, testing, workqueue
from pyk8s.client.store import ObjectKey


def make_queue(clock: testing.FakeClock | None = None) -> workqueue.WorkQueue[str]:
    return workqueue.WorkQueue(name="test", clock=clock or testing.FakeClock())


async def drain(q: workqueue.WorkQueue[str]) -> list[str]:
    out = []
    while len(q):
        item = await q.get()
        out.append(item)
        q.done(item)
    return out


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        pytest.param(["a", "a", "a"], ["a"], id="repeats-collapse"),
        pytest.param(["a", "b", "a", "c", "b"], ["a", "b", "c"], id="first-add-order"),
        pytest.param([], [], id="empty"),
    ],
)
async def test_adds_collapse_in_first_add_order(adds: list[str], expected: list[str]) -> None:
    q = make_queue()
    for a in adds:
        q.add(a)
    assert await drain(q) == expected


async def test_add_while_processing_requeues_after_done_not_before() -> None:
    q = make_queue()
    q.add("a")
    item = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0, "a processing item must not be handed out again"
    assert q.processing == {"a"}
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_concurrent_workers_never_share_a_key() -> None:
    q = make_queue()
    running: collections.Counter[str] = collections.Counter()
    syncs: collections.Counter[str] = collections.Counter()
    overlap: list[str] = []
    release = asyncio.Event()
    started = asyncio.Event()

    async def sync(key: str) -> None:
        running[key] += 1
        if running[key] > 1:
            overlap.append(key)
        syncs[key] += 1
        started.set()
        await release.wait()
        running[key] -= 1

    workers = asyncio.ensure_future(workqueue.run_workers(q, sync, 4))
    q.add("hot")
    await started.wait()
    # re-added many times while its sync is blocked: must wait, and collapse into one
    for _ in range(10):
        q.add("hot")
    q.add("cold")
    await testing.wait_until(lambda: syncs["cold"] == 1)
    assert syncs["hot"] == 1 and running["hot"] == 1
    release.set()
    await testing.wait_until(lambda: syncs["hot"] == 2 and not q.processing)
    q.shutdown()
    await asyncio.wait_for(workers, 5)
    assert overlap == []
    assert syncs == {"hot": 2, "cold": 1}


async def test_add_after_uses_the_clock_and_earliest_deadline_wins() -> None:
    clock = testing.FakeClock()
    q = make_queue(clock)
    q.add_after("a", 10.0)
    q.add_after("a", 2.0)
    q.add_after("a", 5.0)  # later than the pending 2 s: ignored
    assert q.waiting == 1
    await clock.advance(1.9)
    assert len(q) == 0
    await clock.advance(0.1)
    assert len(q) == 1 and q.waiting == 0
    assert await drain(q) == ["a"]
    await clock.advance(20.0)
    assert len(q) == 0, "the superseded 10 s deadline must not add it again"


async def test_add_after_zero_is_immediate_and_delays_order_by_deadline() -> None:
    clock = testing.FakeClock()
    q = make_queue(clock)
    q.add_after("now", 0)
    q.add_after("late", 3.0)
    q.add_after("early", 1.0)
    assert await drain(q) == ["now"]
    await clock.advance(5.0)
    assert await drain(q) == ["early", "late"]


async def test_rate_limited_retries_back_off_exponentially_until_forgotten() -> None:
    clock = testing.FakeClock()
    q = make_queue(clock)
    delays = []
    for _ in range(4):
        start = clock.now()
        q.add_rate_limited("k")
        await clock.wait_for_sleepers(1)
        deadline = clock.next_deadline()
        assert deadline is not None
        await clock.advance(deadline - clock.now())
        assert len(q) == 1
        delays.append(round(clock.now() - start, 6))
        assert await drain(q) == ["k"]
    assert delays == [0.005, 0.01, 0.02, 0.04]
    assert q.num_requeues("k") == 4
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_shutdown_drains_queued_items_then_raises() -> None:
    q = make_queue()
    q.add("a")
    q.add("b")
    q.shutdown()
    q.add("c")  # ignored
    assert await q.get() == "a"
    assert await q.get() == "b"
    with pytest.raises(workqueue.ShutDown):
        await q.get()


async def test_shutdown_wakes_blocked_getters() -> None:
    q = make_queue()
    getters = [asyncio.ensure_future(q.get()) for _ in range(3)]
    await testing.settle()
    q.shutdown()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, workqueue.ShutDown) for r in results)


async def test_shutdown_with_drain_waits_for_processing() -> None:
    q = make_queue()
    q.add("a")
    item = await q.get()
    drained = asyncio.ensure_future(q.shutdown_with_drain())
    await testing.settle()
    assert not drained.done()
    q.done(item)
    await asyncio.wait_for(drained, 5)


async def test_cancelled_getter_does_not_swallow_a_wakeup() -> None:
    q = make_queue()
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await testing.settle()
    q.add("a")  # wakes `first`…
    first.cancel()  # …which is cancelled before it can take the item
    assert await asyncio.wait_for(second, 5) == "a"


async def test_run_workers_retries_with_backoff_then_forgets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = testing.FakeClock()
    q: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(name="pods", clock=clock)
    key = ObjectKey("ns", "web-0")
    attempts: list[float] = []

    async def sync(k: ObjectKey) -> None:
        attempts.append(clock.now())
        if len(attempts) < 3:
            raise RuntimeError("boom")

    workers = asyncio.ensure_future(workqueue.run_workers(q, sync, 2))
    with caplog.at_level(logging.WARNING, logger="pyk8s.client.workqueue"):
        q.add(key)
        await testing.wait_until(lambda: len(attempts) == 1 and q.waiting == 1)
        await clock.advance(0.005)
        await testing.wait_until(lambda: len(attempts) == 2 and q.waiting == 1)
        await clock.advance(0.010)
        await testing.wait_until(lambda: len(attempts) == 3 and not q.processing)
    assert [round(b - a, 6) for a, b in itertools.pairwise(attempts)] == [0.005, 0.01]
    assert q.num_requeues(key) == 0, "a successful sync forgets the failures"
    assert "ns/web-0" in caplog.text and "boom" in caplog.text
    q.shutdown()
    await asyncio.wait_for(workers, 5)


async def test_run_workers_drops_after_max_retries(caplog: pytest.LogCaptureFixture) -> None:
    clock = testing.FakeClock()
    q: workqueue.WorkQueue[str] = workqueue.WorkQueue(
        clock=clock, rate_limiter=ratelimit.ItemExponentialBackoff(1.0, 1.0)
    )
    calls = 0

    async def sync(k: str) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("always")

    workers = asyncio.ensure_future(workqueue.run_workers(q, sync, 1, max_retries=2))
    q.add("x")
    for expected in (1, 2):
        await testing.wait_until(lambda e=expected: calls == e and q.waiting == 1)  # type: ignore[misc]
        await clock.advance(1.0)
    await testing.wait_until(lambda: calls == 3 and not q.processing)
    assert q.waiting == 0 and len(q) == 0
    assert "dropping x after 2 retries" in caplog.text
    q.shutdown()
    await asyncio.wait_for(workers, 5)
