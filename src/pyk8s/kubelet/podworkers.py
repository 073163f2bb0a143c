"""Pod workers: one asyncio task per pod (by uid) that drives the pod through its life,
with upstream's pod_workers.go semantics.

Lifecycle of a worker: **syncing** (``sync_pod`` runs whenever something changed, at the
time the last sync asked for, or every ``resync`` seconds) → **terminating** (requested
by a kill, a pod with a ``deletionTimestamp``, a pod whose phase is already terminal, or a
sync that found the pod finished; ``sync_terminating_pod`` stops everything with the
grace period) → **terminated** (``sync_terminated_pod`` releases what the pod held and
writes its final status; it runs again on every later update, so a deletion that comes
after termination is still finished) → **cleaned** once the pod is also gone from the
API (``remove_pod``): the task ends and the uid is forgotten.

Contract:
- ``update_pod`` never blocks: it records the update and wakes the worker. Only the
  newest pending update is kept, but a pending kill is never overwritten by a plain
  update (the newer pod object is taken, the kill stays). Termination, once requested,
  is never undone.
- The grace period only ever shrinks: the first kill's (or the pod's
  ``deletionGracePeriodSeconds``, else ``spec.terminationGracePeriodSeconds``, else 30)
  and then the smallest asked for; at least 1 s. A shorter one that arrives while the pod
  is terminating starts the termination over with it (a forced deletion after a graceful
  one); a pod that leaves the API without a graceful deletion gets 1 s.
- A kill that arrives while ``sync_pod`` runs cancels that sync (like upstream's context
  cancellation); a termination in progress is cancelled only to restart it quicker.
- A failed round is retried after 1 s doubling to 10 s (``retry``); the worker never
  dies of an error.
- Work for different pods runs concurrently; one pod's work is strictly sequential.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "PodSyncer",
    "PodWorkers",
    "SyncResult",
    "UpdateType",
    "WorkerState",
    "effective_grace_period",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")


class UpdateType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SYNC = "sync"
    KILL = "kill"


class WorkerState(StrEnum):
    SYNCING = "syncing"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class SyncResult:
    terminal: bool = False  # the pod is finished: terminate it
    resync_after: float | None = None  # look again this soon (back-off expiry, probes)


class PodSyncer(Protocol):
    async def sync_pod(self, pod: Obj) -> SyncResult: ...

    async def sync_terminating_pod(self, pod: Obj, grace_period: int) -> None: ...

    async def sync_terminated_pod(self, pod: Obj) -> None: ...


def effective_grace_period(pod: Mapping[str, Any], override: int | None = None) -> int:
    """The grace period a kill of ``pod`` gets: the override, else the deletion's, else
    the spec's, else 30; never below 1."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    value: Any = override
    if value is None and meta.get("deletionTimestamp"):
        value = meta.get("deletionGracePeriodSeconds")
    if value is None:
        value = spec.get("terminationGracePeriodSeconds")
    if value is None:
        value = 30
    return max(1, int(value))


def _wants_termination(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) or (
        (pod.get("status") or {}).get("phase") in TERMINAL
    )


@dataclass(eq=False)
class _Worker:
    uid: str
    pod: Obj
    state: WorkerState = WorkerState.SYNCING
    pending: UpdateType | None = None
    terminate: bool = False
    grace: int | None = None
    removed: bool = False
    terminated_synced: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    kill_now: asyncio.Event = field(default_factory=asyncio.Event)
    shorter: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None
    failures: int = 0


class PodWorkers:
    def __init__(
        self, syncer: PodSyncer, *, resync: float = 10.0, retry: tuple[float, float] = (1.0, 10.0)
    ) -> None:
        self.syncer = syncer
        self.resync = resync
        self.retry = retry
        self._workers: dict[str, _Worker] = {}
        self._closed = False

    # ------------------------------------------------------------------ reads

    def __contains__(self, uid: object) -> bool:
        return uid in self._workers

    def uids(self) -> list[str]:
        return list(self._workers)

    def state(self, uid: str) -> WorkerState | None:
        w = self._workers.get(uid)
        return w.state if w is not None else None

    def is_terminating_or_terminated(self, uid: str) -> bool:
        w = self._workers.get(uid)
        return w is not None and (w.terminate or w.state != WorkerState.SYNCING)

    def pod(self, uid: str) -> Obj | None:
        w = self._workers.get(uid)
        return w.pod if w is not None else None

    # ------------------------------------------------------------------ updates

    def update_pod(
        self, pod: Obj, kind: UpdateType = UpdateType.UPDATE, *, grace_period: int | None = None
    ) -> None:
        if self._closed:
            return
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if not uid:
            return
        w = self._workers.get(uid)
        if w is None:
            w = _Worker(uid=uid, pod=pod)
            self._workers[uid] = w
            w.task = asyncio.create_task(self._run(w), name=f"pod-worker {uid}")
        else:
            w.pod = pod
        if kind == UpdateType.KILL or _wants_termination(pod):
            grace = effective_grace_period(pod, grace_period)
            if w.grace is not None and grace < w.grace and w.state == WorkerState.TERMINATING:
                w.shorter.set()  # the termination in progress starts over, quicker
            w.grace = grace if w.grace is None else min(w.grace, grace)
            if not w.terminate:
                w.terminate = True
            w.kill_now.set()
            w.pending = UpdateType.KILL
        elif w.pending != UpdateType.KILL:
            w.pending = kind
        w.wake.set()

    def remove_pod(self, pod: Obj, *, grace_period: int | None = None) -> None:
        """The pod is gone from its source: finish it (kill if still running) and forget
        it. Without ``grace_period``, a pod that left the API without a graceful deletion
        (a forced one) gets 1 s."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        w = self._workers.get(uid)
        if w is None:
            return
        w.removed = True
        if grace_period is None:
            meta = pod.get("metadata") or {}
            if not meta.get("deletionTimestamp") or not meta.get("deletionGracePeriodSeconds"):
                grace_period = 1
        self.update_pod(pod, UpdateType.KILL, grace_period=grace_period)

    def wake(self, uid: str) -> None:
        w = self._workers.get(uid)
        if w is not None:
            if w.pending is None:
                w.pending = UpdateType.SYNC
            w.wake.set()

    def wake_all(self) -> None:
        for uid in list(self._workers):
            self.wake(uid)

    def _wake_after(self, w: _Worker, delay: float) -> None:
        if w.timer is not None:
            w.timer.cancel()
        loop = asyncio.get_running_loop()
        w.timer = loop.call_later(max(0.0, delay), self.wake, w.uid)

    # ------------------------------------------------------------------ the worker

    async def _run(self, w: _Worker) -> None:
        while True:
            await w.wake.wait()
            w.wake.clear()
            w.pending = None
            try:
                done = await self._step(w)
            except asyncio.CancelledError:
                raise
            except Exception:
                w.failures += 1
                first, cap = self.retry
                delay = min(first * 2.0 ** (w.failures - 1), cap)
                log.exception(
                    "pod %s (%s): %s failed; retry in %.0fs", _name(w.pod), w.uid, w.state, delay
                )
                self._wake_after(w, delay)
                continue
            w.failures = 0
            if done:
                if w.timer is not None:
                    w.timer.cancel()
                self._workers.pop(w.uid, None)
                return

    async def _step(self, w: _Worker) -> bool:
        """One round of work; True when the worker is finished for good."""
        if w.state == WorkerState.SYNCING and not w.terminate:
            result = await self._sync(w)
            if result is None:  # cancelled by a kill: go on terminating
                pass
            elif result.terminal:
                w.terminate = True
                if w.grace is None:
                    w.grace = effective_grace_period(w.pod)
            else:
                after = result.resync_after
                self._wake_after(w, self.resync if after is None else min(after, self.resync))
                return False
        if w.state == WorkerState.SYNCING:
            w.state = WorkerState.TERMINATING
            # this round now acts on the newest pod object: updates so far are served
            w.wake.clear()
            w.pending = None
        if w.state == WorkerState.TERMINATING:
            await self._terminate(w)
            w.state = WorkerState.TERMINATED
        await self.syncer.sync_terminated_pod(w.pod)
        w.terminated_synced = True
        return w.removed

    async def _terminate(self, w: _Worker) -> None:
        """``sync_terminating_pod``, started over whenever the grace period shrinks."""
        while True:
            w.shorter.clear()
            grace = w.grace if w.grace is not None else effective_grace_period(w.pod)
            work = asyncio.create_task(
                self.syncer.sync_terminating_pod(w.pod, grace), name=f"terminate-pod {w.uid}"
            )
            shorter = asyncio.create_task(w.shorter.wait())
            try:
                await asyncio.wait({work, shorter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                shorter.cancel()
            if work.done():
                work.result()
                return
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            log.info("pod %s: grace period shortened to %ss", _name(w.pod), w.grace)

    async def _sync(self, w: _Worker) -> SyncResult | None:
        w.kill_now.clear()
        sync = asyncio.create_task(self.syncer.sync_pod(w.pod), name=f"sync-pod {w.uid}")
        killed = asyncio.create_task(w.kill_now.wait())
        try:
            await asyncio.wait({sync, killed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            killed.cancel()
        if sync.done():
            return sync.result()
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sync
        log.info("pod %s: sync cancelled to terminate it", _name(w.pod))
        return None

    # ------------------------------------------------------------------ shutdown

    async def close(self) -> None:
        """Stop every worker task (the pods keep running; nothing is killed)."""
        self._closed = True
        tasks = []
        for w in self._workers.values():
            if w.timer is not None:
                w.timer.cancel()
            if w.task is not None:
                w.task.cancel()
                tasks.append(w.task)
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._workers.clear()


def _name(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
