"""Pod workers: one task per pod, newest update wins, kills are never lost, the lifecycle
syncing → terminating → terminated → cleaned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.client.testing import wait_until
from pyk8s.kubelet.podworkers import PodWorkers, SyncResult, UpdateType, WorkerState

Obj = dict[str, Any]


def pod(uid: str = "u1", version: int = 0, **meta: Any) -> Obj:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": uid, "v": version, **meta},
        "spec": {"terminationGracePeriodSeconds": 30},
    }


class FakeSyncer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.gate: asyncio.Event | None = None  # sync_pod waits on it when set
        self.result = SyncResult()
        self.fail = 0

    async def sync_pod(self, pod: Obj) -> SyncResult:
        self.calls.append(("sync", pod["metadata"]["v"], None))
        if self.fail:
            self.fail -= 1
            raise RuntimeError("boom")
        if self.gate is not None:
            await self.gate.wait()
        return self.result

    async def sync_terminating_pod(self, pod: Obj, grace_period: int) -> None:
        self.calls.append(("terminating", pod["metadata"]["v"], grace_period))

    async def sync_terminated_pod(self, pod: Obj) -> None:
        self.calls.append(("terminated", pod["metadata"]["v"], None))

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
async def workers() -> AsyncIterator[tuple[PodWorkers, FakeSyncer]]:
    syncer = FakeSyncer()
    w = PodWorkers(syncer, resync=3600, retry=(0.01, 0.05))
    try:
        yield w, syncer
    finally:
        await w.close()


async def test_updates_while_syncing_collapse_to_the_newest(
    workers: tuple[PodWorkers, FakeSyncer],
) -> None:
    w, s = workers
    s.gate = asyncio.Event()
    w.update_pod(pod(version=1), UpdateType.CREATE)
    await wait_until(lambda: len(s.calls) == 1)
    for v in (2, 3, 4):
        w.update_pod(pod(version=v))
    s.gate.set()
    await wait_until(lambda: len(s.calls) == 2)
    await asyncio.sleep(0)
    assert s.calls == [("sync", 1, None), ("sync", 4, None)]
    assert w.state("u1") == WorkerState.SYNCING


async def test_kill_cancels_a_running_sync_and_terminates(
    workers: tuple[PodWorkers, FakeSyncer],
) -> None:
    w, s = workers
    s.gate = asyncio.Event()  # never set: the sync would hang
    w.update_pod(pod(version=1))
    await wait_until(lambda: len(s.calls) == 1)
    w.update_pod(pod(version=2), UpdateType.KILL, grace_period=5)
    await wait_until(lambda: w.state("u1") == WorkerState.TERMINATED)
    assert s.calls == [("sync", 1, None), ("terminating", 2, 5), ("terminated", 2, None)]
    w.remove_pod(pod(version=3))
    await wait_until(lambda: "u1" not in w)
    assert s.calls[-1] == ("terminated", 3, None)


async def test_a_pending_kill_survives_later_updates(
    workers: tuple[PodWorkers, FakeSyncer],
) -> None:
    w, s = workers
    s.gate = asyncio.Event()
    w.update_pod(pod(version=1))
    await wait_until(lambda: len(s.calls) == 1)
    s.gate.set()
    w.update_pod(pod(version=2), UpdateType.KILL, grace_period=7)
    w.update_pod(pod(version=3), UpdateType.UPDATE)
    await wait_until(lambda: w.state("u1") == WorkerState.TERMINATED)
    assert ("terminating", 3, 7) in s.calls
    assert not [c for c in s.calls if c[0] == "sync" and c[1] != 1]


async def test_grace_period_only_shrinks(workers: tuple[PodWorkers, FakeSyncer]) -> None:
    w, s = workers
    s.gate = asyncio.Event()
    w.update_pod(pod(version=1))
    await wait_until(lambda: len(s.calls) == 1)
    w.update_pod(pod(version=2), UpdateType.KILL, grace_period=10)
    w.update_pod(pod(version=3), UpdateType.KILL, grace_period=20)
    w.update_pod(pod(version=4), UpdateType.KILL, grace_period=4)
    await wait_until(lambda: w.state("u1") == WorkerState.TERMINATED)
    assert [c[2] for c in s.calls if c[0] == "terminating"] == [4]


async def test_deletion_timestamp_terminates_with_its_grace(
    workers: tuple[PodWorkers, FakeSyncer],
) -> None:
    w, s = workers
    deleting = pod(
        version=1, deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=0
    )
    w.update_pod(deleting)
    await wait_until(lambda: w.state("u1") == WorkerState.TERMINATED)
    assert s.kinds() == ["terminating", "terminated"]
    assert s.calls[0][2] == 1  # at least a second


async def test_finished_pod_terminates_and_waits_for_removal(
    workers: tuple[PodWorkers, FakeSyncer],
) -> None:
    w, s = workers
    s.result = SyncResult(terminal=True)
    w.update_pod(pod(version=1))
    await wait_until(lambda: w.state("u1") == WorkerState.TERMINATED)
    assert s.kinds() == ["sync", "terminating", "terminated"]
    assert s.calls[1][2] == 30  # the spec's grace period
    w.update_pod(pod(version=2))  # a later update re-runs only the terminated step
    await wait_until(lambda: len(s.calls) == 4)
    assert s.calls[-1] == ("terminated", 2, None)
    assert "u1" in w


async def test_errors_are_retried(workers: tuple[PodWorkers, FakeSyncer]) -> None:
    w, s = workers
    s.fail = 2
    w.update_pod(pod(version=1))
    await wait_until(lambda: len(s.calls) == 3)
    assert s.kinds() == ["sync", "sync", "sync"]


async def test_pods_run_concurrently(workers: tuple[PodWorkers, FakeSyncer]) -> None:
    w, s = workers
    s.gate = asyncio.Event()
    w.update_pod(pod("a"))
    w.update_pod(pod("b"))
    await wait_until(lambda: len(s.calls) == 2)  # both syncing at once
    s.gate.set()
    assert sorted(w.uids()) == ["a", "b"]


async def test_resync_after(workers: tuple[PodWorkers, FakeSyncer]) -> None:
    w, s = workers
    s.result = SyncResult(resync_after=0.01)
    w.update_pod(pod(version=1))
    await wait_until(lambda: len(s.calls) >= 3)


async def test_a_shorter_grace_restarts_termination(workers: tuple[PodWorkers, FakeSyncer]) -> None:
    w, s = workers
    hold = asyncio.Event()
    original = s.sync_terminating_pod

    async def slow(pod: Obj, grace_period: int) -> None:
        await original(pod, grace_period)
        if grace_period > 1:
            await hold.wait()  # a long graceful stop

    s.sync_terminating_pod = slow  # type: ignore[method-assign]
    w.update_pod(pod(version=1), UpdateType.KILL, grace_period=300)
    await wait_until(lambda: ("terminating", 1, 300) in s.calls)
    gone = pod(version=2)  # left the API without a graceful deletion: forced
    w.remove_pod(gone)
    await wait_until(lambda: "u1" not in w)
    assert [c for c in s.calls if c[0] == "terminating"] == [
        ("terminating", 1, 300),
        ("terminating", 2, 1),
    ]
