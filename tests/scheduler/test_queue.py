from __future__ import annotations

import asyncio

import pytest

from pyk8s.client.testing import FakeClock
from pyk8s.scheduler.plugins.priority_sort import less
from pyk8s.scheduler.plugins.scheduling_gates import SchedulingGates
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.queue import Event, SchedulingQueue
from pyk8s.scheduler.testing import make_pod


def pi(name: str, **kw: object) -> PodInfo:
    return PodInfo.of(make_pod(name, uid=name, **kw))  # type: ignore[arg-type]


def new_queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(less=less, clock=clock, pre_enqueue=SchedulingGates().pre_enqueue)


async def test_priority_then_fifo() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("low1", priority=1))
    await clock.advance(1)
    q.add(pi("high", priority=10))
    await clock.advance(1)
    q.add(pi("low0", priority=1))
    order = []
    while (qpi := q.pop_nowait()) is not None:
        order.append(qpi.pod.name)
    assert order == ["high", "low1", "low0"]


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        pytest.param(1, 1.0, id="first"),
        pytest.param(2, 2.0, id="doubles"),
        pytest.param(4, 8.0, id="fourth"),
        pytest.param(5, 10.0, id="capped"),
        pytest.param(30, 10.0, id="stays-capped"),
    ],
)
def test_backoff_duration(attempts: int, expected: float) -> None:
    assert new_queue(FakeClock()).backoff_duration(attempts) == expected


async def test_unschedulable_waits_for_relevant_event() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qpi)
    assert q.counts()["unschedulable"] == 1
    assert q.on_event(Event.NAMESPACE_CHANGE) == 0  # Fit does not care
    assert q.on_event(Event.ASSIGNED_POD_DELETE) == 1
    # still backing off (1 s): goes to backoffQ, then active after expiry
    assert q.counts()["backoff"] == 1 and q.pop_nowait() is None
    await clock.advance(1.0)
    popped = q.pop_nowait()
    assert popped is not None and popped.attempts == 2


def test_event_during_cycle_sends_pod_to_backoff() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    q.on_event(Event.NODE_ADD)  # arrives while the pod is in flight
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qpi)
    assert q.counts() == {"active": 0, "backoff": 1, "unschedulable": 0, "gated": 0}


def test_error_goes_to_backoff() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    q.add_unschedulable(qpi, error=True)
    assert q.counts()["backoff"] == 1


async def test_flush_after_five_minutes() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    qpi.unschedulable_plugins = {"NodeAffinity"}
    q.add_unschedulable(qpi)
    await clock.advance(299)
    q.flush_unschedulable()
    assert q.counts()["unschedulable"] == 1
    await clock.advance(2)
    q.flush_unschedulable()
    assert q.pop_nowait() is not None


def test_gated_pod_enters_when_gates_removed() -> None:
    q = new_queue(FakeClock())
    q.add(pi("g", spec={"schedulingGates": [{"name": "example.com/wait"}]}))
    assert q.counts()["gated"] == 1 and q.pop_nowait() is None
    q.update(pi("g"))
    popped = q.pop_nowait()
    assert popped is not None and popped.pod.name == "g"


def test_delete_removes_everywhere() -> None:
    q = new_queue(FakeClock())
    q.add(pi("a"))
    q.delete("a")
    assert q.pop_nowait() is None and "a" not in q


async def test_pop_waits_for_backoff_in_virtual_time() -> None:
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = q.pop_nowait()
    assert qpi is not None
    q.add_unschedulable(qpi, error=True)
    task = asyncio.create_task(q.pop())
    await clock.wait_for_sleepers(1)
    assert not task.done()
    await clock.advance(1.0)
    popped = await asyncio.wait_for(task, 5)
    assert popped.pod.name == "p"


async def test_pop_wakes_on_add() -> None:
    q = new_queue(FakeClock())
    task = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    q.add(pi("p"))
    assert (await asyncio.wait_for(task, 5)).pod.name == "p"
