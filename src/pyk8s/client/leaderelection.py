"""Leader election over a ``coordination.k8s.io/v1`` Lease, with client-go's semantics
(k8s.io/client-go/tools/leaderelection), so pyk8s components and upstream ones can
share a lock.

The lease spec is the lock: ``holderIdentity``, ``leaseDurationSeconds``,
``acquireTime``/``renewTime`` (MicroTime, ``2006-01-02T15:04:05.000000Z``) and
``leaseTransitions``. Writes are optimistic: the PUT carries the resourceVersion that was
read, so of two candidates racing for one lease exactly one write wins (409 for the
other).

Contract:
- **Acquire:** every ``retry_period`` (jittered by up to 1.2x more) read the lease. It is
  free when it does not exist (create it), when ``holderIdentity`` is empty (released),
  or when its record has not changed for ``leaseDurationSeconds`` *as observed locally* —
  expiry is judged by when this process last saw the record change, never by comparing
  clocks across machines. Taking over from another holder increments
  ``leaseTransitions``; renewing our own lease keeps ``acquireTime`` and the count.
- **Lead:** once acquired, ``on_started_leading()`` runs as a task and the lease is renewed
  every ``retry_period``. If no renewal succeeds within ``renew_deadline`` the leadership is
  lost: the task is cancelled, ``on_stopped_leading()`` is called and ``run`` returns (the
  caller usually exits: another process may already be leading).
- **Release:** when ``stop`` is set while leading (and ``release_on_cancel``), the lease is
  written back with an empty holder and a 1 s duration, so a successor need not wait for
  expiry. ``on_stopped_leading()`` is then called.
- ``on_new_leader(identity)`` fires whenever the observed holder changes.
Defaults are upstream's: 15 s lease, 10 s renew deadline, 2 s retry period.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, paths, rest

__all__ = [
    "LEASES",
    "LeaderElectionRecord",
    "LeaderElector",
    "format_micro_time",
    "next_record",
    "parse_micro_time",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

LEASES = paths.resource_for("coordination.k8s.io", "v1", "leases", kind="Lease")
JITTER_FACTOR = 1.2


def format_micro_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class LeaderElectionRecord:
    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    lease_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LeaderElectionRecord:
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime") or "",
            renew_time=spec.get("renewTime") or "",
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> Obj:
        spec: Obj = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


def next_record(
    current: LeaderElectionRecord | None,
    *,
    identity: str,
    lease_duration: int,
    now_wall: str,
    held_by_other_and_valid: bool,
) -> LeaderElectionRecord | None:
    """tryAcquireOrRenew's decision: the record to write, or None to stand back.

    ``held_by_other_and_valid``: someone else's name is on the lease and it was seen to
    change less than its duration ago (the caller tracks that observation).
    """
    desired = LeaderElectionRecord(
        holder_identity=identity,
        lease_duration_seconds=lease_duration,
        acquire_time=now_wall,
        renew_time=now_wall,
        lease_transitions=0,
    )
    if current is None:
        return desired
    if held_by_other_and_valid:
        return None
    if current.holder_identity == identity:
        return replace(
            desired,
            acquire_time=current.acquire_time or now_wall,
            lease_transitions=current.lease_transitions,
        )
    return replace(desired, lease_transitions=current.lease_transitions + 1)


class LeaderElector:
    def __init__(
        self,
        client: rest.RESTClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[], Awaitable[None]] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        release_on_cancel: bool = True,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: clock_mod.Wall = clock_mod.utc_now,
    ) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError("renew_deadline must be greater than 1.2 * retry_period")
        if not identity:
            raise ValueError("identity may not be empty")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = max(1, round(lease_duration))
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.release_on_cancel = release_on_cancel
        self._clock = clock
        self._wall = wall
        self._lease: Obj | None = None  # the lease as last read or written
        self._observed: LeaderElectionRecord | None = None
        self._observed_at = 0.0
        self._reported_leader: str | None = None

    @property
    def leader(self) -> str:
        """The holder as last observed ("" if none)."""
        return self._observed.holder_identity if self._observed else ""

    @property
    def is_leader(self) -> bool:
        return self.leader == self.identity

    def __str__(self) -> str:
        return f"lease {self.namespace}/{self.name} ({self.identity})"

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        """Acquire, lead until lost or stopped, release; see the module docstring.

        If ``on_started_leading`` raises, leadership is given up (released) and the
        exception propagates once ``on_stopped_leading`` has run.
        """
        acquired = await clock_mod.run_until_stopped(self._acquire(), stop)
        if not acquired:
            return
        log.info("%s: became leader", self)
        work = (
            asyncio.ensure_future(self.on_started_leading())
            if self.on_started_leading is not None
            else None
        )
        renewing = asyncio.ensure_future(self._renew_until_lost())
        stopper = asyncio.ensure_future(stop.wait())
        failure: BaseException | None = None
        try:
            waiting: set[asyncio.Future[Any]] = {renewing, stopper}
            if work is not None:
                waiting.add(work)
            while True:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if work is None or work not in done or renewing in done or stopper in done:
                    break
                failure = work.exception()
                if failure is not None:
                    log.error("%s: leader work failed: %r; stepping down", self, failure)
                    break
                waiting.discard(work)  # finished on its own: keep the lease until stopped
            lost = renewing.done()
        finally:
            renewing.cancel()
            stopper.cancel()
            if work is not None and not work.done():
                work.cancel()
                try:
                    await work
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("%s: leader work failed while stopping", self)
        if lost:
            log.warning("%s: leadership lost (no renewal within %ss)", self, self.renew_deadline)
        elif self.release_on_cancel or failure is not None:
            await self.release()
        if self.on_stopped_leading is not None:
            self.on_stopped_leading()
        if failure is not None:
            raise failure

    async def _acquire(self) -> bool:
        while True:
            if await self._attempt(self.renew_deadline):
                return True
            await self._clock.sleep(self.retry_period * (1 + random.random() * JITTER_FACTOR))

    async def _renew_until_lost(self) -> None:
        while True:
            await self._clock.sleep(self.retry_period)
            deadline = self._clock.now() + self.renew_deadline
            while not await self._attempt(deadline - self._clock.now()):
                if self._clock.now() + self.retry_period >= deadline:
                    return
                await self._clock.sleep(self.retry_period)

    async def _attempt(self, budget: float) -> bool:
        try:
            async with asyncio.timeout(max(budget, 0.001)):
                return await self.try_acquire_or_renew()
        except TimeoutError:
            log.warning("%s: lease request timed out", self)
            return False

    # ------------------------------------------------------------------ one round

    async def try_acquire_or_renew(self) -> bool:
        now_wall = format_micro_time(self._wall())
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        except errors.NotFound:
            return await self._create(now_wall)
        except (errors.ApiError, errors.TransportError) as exc:
            log.warning("%s: reading the lease failed: %s", self, exc)
            return False
        current = LeaderElectionRecord.from_spec(lease.get("spec") or {})
        self._observe(current, lease)
        valid = (
            bool(current.holder_identity)
            and current.holder_identity != self.identity
            and self._observed_at + current.lease_duration_seconds > self._clock.now()
        )
        desired = next_record(
            current,
            identity=self.identity,
            lease_duration=self.lease_duration,
            now_wall=now_wall,
            held_by_other_and_valid=valid,
        )
        if desired is None:
            return False
        return await self._write(lease, desired)

    async def _create(self, now_wall: str) -> bool:
        record = next_record(
            None,
            identity=self.identity,
            lease_duration=self.lease_duration,
            now_wall=now_wall,
            held_by_other_and_valid=False,
        )
        assert record is not None
        body: Obj = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.to_spec(),
        }
        try:
            created = await self.client.create(LEASES, body, namespace=self.namespace)
        except (errors.ApiError, errors.TransportError) as exc:
            if not errors.is_already_exists(exc):
                log.warning("%s: creating the lease failed: %s", self, exc)
            return False
        self._observe(record, created)
        return True

    async def _write(self, lease: Obj, record: LeaderElectionRecord) -> bool:
        body = {**lease, "spec": {**(lease.get("spec") or {}), **record.to_spec()}}
        try:
            written = await self.client.update(LEASES, body, namespace=self.namespace)
        except (errors.ApiError, errors.TransportError) as exc:
            if not errors.is_conflict(exc):
                log.warning("%s: writing the lease failed: %s", self, exc)
            return False
        self._observe(record, written)
        return True

    def _observe(self, record: LeaderElectionRecord, lease: Obj) -> None:
        self._lease = lease
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock.now()
        if record.holder_identity != self._reported_leader:
            self._reported_leader = record.holder_identity
            if self.on_new_leader is not None and record.holder_identity:
                try:
                    self.on_new_leader(record.holder_identity)
                except Exception:
                    log.exception("%s: on_new_leader failed", self)

    async def release(self) -> bool:
        """Give the lease up (empty holder, 1 s duration) if we hold it."""
        if not self.is_leader or self._lease is None or self._observed is None:
            return True
        now_wall = format_micro_time(self._wall())
        record = LeaderElectionRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=now_wall,
            renew_time=now_wall,
            lease_transitions=self._observed.lease_transitions,
        )
        try:
            async with asyncio.timeout(self.renew_deadline):
                ok = await self._write(self._lease, record)
        except TimeoutError:
            ok = False
        if not ok:
            log.warning("%s: releasing the lease failed; it will expire", self)
        return ok
