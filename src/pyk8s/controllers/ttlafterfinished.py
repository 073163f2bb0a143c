"""TTL-after-finished controller: deletes finished Jobs ``ttlSecondsAfterFinished`` after
they finished (upstream's pkg/controller/ttlafterfinished).

Pipeline: Job adds and updates enqueue Jobs that have a TTL and are finished (Complete or
Failed condition True) and are not being deleted. ``sync(key)`` computes the expiry from
the finishing condition's ``lastTransitionTime``; before it, the Job is re-queued for the
remaining time on the injected clock; after it, the Job is read fresh from the API (the
TTL may have been changed or removed meanwhile) and, if it still expired, deleted with
``propagationPolicy: Foreground`` and a UID precondition — as upstream does, so the Job
object goes only after the garbage collector has removed its pods.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.job_sync import is_finished
from pyk8s.controllers.workload_pods import JOBS, meta
from pyk8s.controllers.workload_time import Wall, anchored_wall, parse_time

__all__ = ["PROPAGATION", "TTLAfterFinishedController", "expires_at", "needs_cleanup", "new"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PROPAGATION = "Foreground"


def new(ctx: ControllerContext) -> Controller:
    return TTLAfterFinishedController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


def needs_cleanup(job: Mapping[str, Any]) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and is_finished(job)


def expires_at(job: Mapping[str, Any]) -> datetime | None:
    """When the Job's TTL runs out, or None if it has no TTL, is not finished or has no
    finishing time recorded."""
    if not needs_cleanup(job):
        return None
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            finished = parse_time(c.get("lastTransitionTime"))
            if finished is None:
                return None
            return finished + timedelta(seconds=int(job["spec"]["ttlSecondsAfterFinished"]))
    return None


class TTLAfterFinishedController:
    name = "ttl-after-finished"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: Wall | None = None,
        workers: int = 5,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.wall = wall or anchored_wall(clock)
        self.workers = workers
        self.jobs = informers.informer(JOBS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.jobs.add_handler(
            on_add=self._maybe_enqueue, on_update=lambda _o, n: self._maybe_enqueue(n)
        )

    def _maybe_enqueue(self, job: Mapping[str, Any]) -> None:
        if not meta(job).get("deletionTimestamp") and needs_cleanup(job):
            self.queue.add(ObjectKey.of(job))

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        await self.jobs.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    def _expired(self, key: ObjectKey, job: Mapping[str, Any]) -> bool:
        """True if the TTL ran out; otherwise re-queue for when it will."""
        if meta(job).get("deletionTimestamp"):
            return False
        expiry = expires_at(job)
        if expiry is None:
            return False
        left = (expiry - self.wall()).total_seconds()
        if left > 0:
            self.queue.add_after(key, left)
            return False
        return True

    async def sync(self, key: ObjectKey) -> None:
        job = self.jobs.get(key)
        if job is None or not self._expired(key, job):
            return
        try:
            fresh = await self.client.get(JOBS, key.name, namespace=key.namespace)
        except errors.NotFound:
            return
        if not self._expired(key, fresh):
            return
        try:
            await self.client.delete(
                JOBS,
                key.name,
                namespace=key.namespace,
                propagation_policy=PROPAGATION,
                preconditions=paths.Preconditions(uid=str(meta(fresh).get("uid") or "")),
            )
        except errors.NotFound:
            return
        log.info("ttl-after-finished: deleted job %s", key)
