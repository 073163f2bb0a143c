"""The scheduling queue: which pending pod the scheduler tries next, and when a pod that
did not fit is tried again.

Three places a pod can wait (upstream's PriorityQueue):
- ``activeQ``: ready to schedule, a heap ordered by the profile's QueueSort (priority,
  then the time the pod entered the queue). ``pop()`` takes the head.
- ``backoffQ``: failed recently; leaves for activeQ when its back-off expires — 1 s after
  the first failure, doubling per attempt up to 10 s.
- ``unschedulable``: rejected by some plugins; stays until a cluster event that one of
  those plugins cares about (``PLUGIN_EVENTS``, upstream's QueueingHints reduced to event
  kinds) moves it back (to backoffQ while its back-off lasts, else to activeQ), or until
  it has waited 5 minutes (``flush_unschedulable``).
Pods held back by PreEnqueue (scheduling gates) wait in ``gated`` until an update lets
them in. An event that arrives while a pod is being scheduled (between ``pop`` and
``add_unschedulable``) sends that pod to back-off instead of unschedulable, so the move is
never lost. Time comes from an injectable clock: tests run in virtual time.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pyk8s.client.clock import REAL_CLOCK, Clock
from pyk8s.scheduler.framework import QueuedPodInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["PLUGIN_EVENTS", "Event", "SchedulingQueue"]


class Event(StrEnum):
    NODE_ADD = "NodeAdd"
    NODE_UPDATE = "NodeUpdate"
    NODE_DELETE = "NodeDelete"
    ASSIGNED_POD_ADD = "AssignedPodAdd"
    ASSIGNED_POD_UPDATE = "AssignedPodUpdate"
    ASSIGNED_POD_DELETE = "AssignedPodDelete"
    PV_CHANGE = "PersistentVolumeChange"
    PVC_CHANGE = "PersistentVolumeClaimChange"
    STORAGE_CLASS_CHANGE = "StorageClassChange"
    NAMESPACE_CHANGE = "NamespaceChange"
    WORKLOAD_CHANGE = "WorkloadChange"


_NODE = frozenset({Event.NODE_ADD, Event.NODE_UPDATE})
_PODS = frozenset({Event.ASSIGNED_POD_ADD, Event.ASSIGNED_POD_UPDATE, Event.ASSIGNED_POD_DELETE})
PLUGIN_EVENTS: Mapping[str, frozenset[Event]] = {
    "NodeUnschedulable": _NODE,
    "NodeName": _NODE,
    "TaintToleration": _NODE,
    "NodeAffinity": _NODE,
    "NodePorts": _NODE | {Event.ASSIGNED_POD_DELETE},
    "NodeResourcesFit": _NODE | {Event.ASSIGNED_POD_DELETE, Event.ASSIGNED_POD_UPDATE},
    "VolumeBinding": _NODE | {Event.PV_CHANGE, Event.PVC_CHANGE, Event.STORAGE_CLASS_CHANGE},
    "PodTopologySpread": _NODE | _PODS | {Event.NODE_DELETE},
    "InterPodAffinity": _NODE | _PODS | {Event.NAMESPACE_CHANGE},
    "DefaultPreemption": frozenset(),
}

DEFAULT_MAX_IN_UNSCHEDULABLE = 300.0


@dataclass(order=False)
class _Entry:
    qpi: QueuedPodInfo
    less: Callable[[QueuedPodInfo, QueuedPodInfo], bool]
    live: bool = True

    def __lt__(self, other: _Entry) -> bool:
        return self.less(self.qpi, other.qpi)


@dataclass(order=True)
class _Backoff:
    expiry: float
    seq: int
    qpi: QueuedPodInfo = field(compare=False)
    live: bool = field(default=True, compare=False)


class SchedulingQueue:
    def __init__(
        self,
        *,
        less: Callable[[QueuedPodInfo, QueuedPodInfo], bool],
        pre_enqueue: Callable[[PodInfo], Status] = lambda _: Status.success(),
        clock: Clock = REAL_CLOCK,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
        plugin_events: Mapping[str, frozenset[Event]] = PLUGIN_EVENTS,
    ) -> None:
        self._less = less
        self._pre_enqueue = pre_enqueue
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.plugin_events = plugin_events
        self._active: list[_Entry] = []
        self._active_by_uid: dict[str, _Entry] = {}
        self._backoff: list[_Backoff] = []
        self._backoff_by_uid: dict[str, _Backoff] = {}
        self._unschedulable: dict[str, tuple[QueuedPodInfo, float]] = {}
        self.gated: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._seq = 0
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._wakeup = asyncio.Event()

    # ---- sizes (metrics) -------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {
            "active": len(self._active_by_uid),
            "backoff": len(self._backoff_by_uid),
            "unschedulable": len(self._unschedulable),
            "gated": len(self.gated),
        }

    def __contains__(self, uid: str) -> bool:
        return (
            uid in self._active_by_uid
            or uid in self._backoff_by_uid
            or uid in self._unschedulable
            or uid in self.gated
            or uid in self._in_flight
        )

    # ---- adding ----------------------------------------------------------------------
    def add(self, pod: PodInfo) -> None:
        """A new pending pod (informer add)."""
        if pod.uid in self:
            self.update(pod)
            return
        self._enqueue(QueuedPodInfo(pod=pod, timestamp=self.clock.now()))

    def _enqueue(self, qpi: QueuedPodInfo) -> None:
        st = self._pre_enqueue(qpi.pod)
        if not st.is_success:
            qpi.gated = True
            if st.plugin:
                qpi.unschedulable_plugins = {st.plugin}
            self.gated[qpi.pod.uid] = qpi
            return
        qpi.gated = False
        self._push_active(qpi)

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        entry = _Entry(qpi, self._less)
        self._active_by_uid[qpi.pod.uid] = entry
        heapq.heappush(self._active, entry)
        self._wakeup.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        self._seq += 1
        b = _Backoff(qpi.backoff_expiry, self._seq, qpi)
        self._backoff_by_uid[qpi.pod.uid] = b
        heapq.heappush(self._backoff, b)
        self._wakeup.set()

    def backoff_duration(self, attempts: int) -> float:
        d = self.initial_backoff
        for _ in range(1, attempts):
            d *= 2
            if d >= self.max_backoff:
                return self.max_backoff
        return min(d, self.max_backoff)

    def _take(self, uid: str) -> QueuedPodInfo | None:
        """Remove a pod from wherever it waits."""
        entry = self._active_by_uid.pop(uid, None)
        if entry is not None:
            entry.live = False
            return entry.qpi
        b = self._backoff_by_uid.pop(uid, None)
        if b is not None:
            b.live = False
            return b.qpi
        if uid in self._unschedulable:
            return self._unschedulable.pop(uid)[0]
        return self.gated.pop(uid, None)

    def update(self, pod: PodInfo) -> None:
        """The pending pod changed: it may now pass PreEnqueue or fit somewhere."""
        if pod.uid in self._in_flight:
            self._in_flight[pod.uid].pod = pod
            return
        qpi = self._take(pod.uid)
        if qpi is None:
            self.add(pod)
            return
        qpi.pod = pod
        if qpi.gated or qpi.pod.uid not in self._backoff_by_uid:
            self._requeue(qpi)
        else:
            self._push_backoff(qpi)

    def delete(self, uid: str) -> None:
        self._take(uid)
        self._in_flight.pop(uid, None)

    # ---- popping ---------------------------------------------------------------------
    def pop_nowait(self) -> QueuedPodInfo | None:
        self.flush_backoff()
        while self._active:
            entry = heapq.heappop(self._active)
            if not entry.live:
                continue
            qpi = entry.qpi
            del self._active_by_uid[qpi.pod.uid]
            self.scheduling_cycle += 1
            qpi.attempts += 1
            qpi.cycle = self.scheduling_cycle
            if qpi.initial_attempt_timestamp is None:
                qpi.initial_attempt_timestamp = self.clock.now()
            self._in_flight[qpi.pod.uid] = qpi
            return qpi
        return None

    def next_backoff_expiry(self) -> float | None:
        while self._backoff and not self._backoff[0].live:
            heapq.heappop(self._backoff)
        return self._backoff[0].expiry if self._backoff else None

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule, waiting for one if need be."""
        while True:
            qpi = self.pop_nowait()
            if qpi is not None:
                return qpi
            self._wakeup.clear()
            expiry = self.next_backoff_expiry()
            waiter = asyncio.ensure_future(self._wakeup.wait())
            sleeper = (
                asyncio.ensure_future(self.clock.sleep(expiry - self.clock.now()))
                if expiry is not None
                else None
            )
            try:
                await asyncio.wait(
                    {waiter} if sleeper is None else {waiter, sleeper},
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()
                if sleeper is not None:
                    sleeper.cancel()

    # ---- after a cycle ---------------------------------------------------------------
    def done(self, uid: str) -> None:
        """The pod's cycle ended (bound, or handed back with add_unschedulable)."""
        self._in_flight.pop(uid, None)

    def add_unschedulable(self, qpi: QueuedPodInfo, *, error: bool = False) -> None:
        """Hand back a pod that did not fit (``error``: a plugin failed, retry soon)."""
        self._in_flight.pop(qpi.pod.uid, None)
        now = self.clock.now()
        qpi.timestamp = now
        qpi.backoff_expiry = now + self.backoff_duration(qpi.attempts)
        if error or self.move_request_cycle >= qpi.cycle:
            self._push_backoff(qpi)
        else:
            self._unschedulable[qpi.pod.uid] = (qpi, now)

    def flush_backoff(self) -> None:
        now = self.clock.now()
        while self._backoff and (not self._backoff[0].live or self._backoff[0].expiry <= now):
            b = heapq.heappop(self._backoff)
            if b.live:
                del self._backoff_by_uid[b.qpi.pod.uid]
                self._push_active(b.qpi)

    def flush_unschedulable(self) -> None:
        """Move back pods that waited longer than ``max_in_unschedulable`` (5 min)."""
        now = self.clock.now()
        stale = [
            qpi
            for qpi, since in self._unschedulable.values()
            if now - since > self.max_in_unschedulable
        ]
        self._move(stale)

    def _requeue(self, qpi: QueuedPodInfo) -> None:
        if qpi.gated:
            self._enqueue(qpi)
        elif qpi.backoff_expiry > self.clock.now():
            self._push_backoff(qpi)
        else:
            self._push_active(qpi)

    def _move(self, pods: Iterable[QueuedPodInfo]) -> int:
        n = 0
        for qpi in list(pods):
            self._unschedulable.pop(qpi.pod.uid, None)
            self._requeue(qpi)
            n += 1
        return n

    def on_event(self, event: Event) -> int:
        """A cluster event: move back the unschedulable pods it may help. Returns how
        many moved."""
        self.move_request_cycle = self.scheduling_cycle
        movable = [
            qpi
            for qpi, _ in self._unschedulable.values()
            if not qpi.unschedulable_plugins
            or any(
                event in self.plugin_events.get(p, frozenset({event}))
                for p in qpi.unschedulable_plugins | qpi.pending_plugins
            )
        ]
        return self._move(movable)

    def pending_pods(self) -> list[PodInfo]:
        out = [e.qpi.pod for e in self._active_by_uid.values()]
        out += [b.qpi.pod for b in self._backoff_by_uid.values()]
        out += [q.pod for q, _ in self._unschedulable.values()]
        out += [q.pod for q in self.gated.values()]
        return out
