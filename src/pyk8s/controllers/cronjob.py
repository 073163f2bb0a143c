"""CronJob controller: creates a Job at each schedule time (upstream's cronjob
controller v2).

Pipeline: CronJob events enqueue the CronJob; Job events enqueue the Job's controlling
CronJob. ``sync(key)`` is level-triggered and ends by re-queueing the CronJob for its next
schedule time (measured on the injected clock):
1. reconcile ``status.active`` with the Jobs the CronJob controls: finished ones leave it
   (``SawCompletedJob``), Jobs that no longer exist leave it (``MissingJob``), running Jobs
   it did not create are reported (``UnexpectedJob``); ``lastSuccessfulTime`` follows the
   latest completion;
2. ``decide`` (pure): nothing while suspended or being deleted, or with a bad time zone
   (``UnknownTimeZone``) or schedule (``UnparseableSchedule``/``InvalidSchedule``); else the
   most recent unmet schedule time — after more than 100 missed ones a
   ``TooManyMissedTimes`` warning — unless it is past ``startingDeadlineSeconds``
   (``MissSchedule``), already started, or blocked by concurrencyPolicy Forbid
   (``JobAlreadyActive``); Replace deletes the active Jobs first;
3. create the Job ``<cronjob>-<minutes since epoch>`` (the name is the lock against
   starting one schedule time twice), record it in ``active`` and ``lastScheduleTime``;
4. delete the oldest finished Jobs beyond ``successfulJobsHistoryLimit`` /
   ``failedJobsHistoryLimit`` (background propagation), write status if it changed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import cronjob_schedule as cs
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.job_sync import is_finished
from pyk8s.controllers.workload_ownership import WrittenVersions, controller_of
from pyk8s.controllers.workload_pods import CRONJOBS, JOBS, meta, with_kind
from pyk8s.controllers.workload_time import Wall, anchored_wall, format_time, parse_time

__all__ = ["CronJobController", "Decision", "decide", "jobs_to_clean", "new", "reconcile_active"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Event = tuple[str, str, str]  # (type, reason, message)

API_VERSION = "batch/v1"
KIND = "CronJob"


def new(ctx: ControllerContext) -> Controller:
    return CronJobController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


# ---------------------------------------------------------------------- pure decisions


def _finished_type(job: Mapping[str, Any]) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def job_ref(job: Mapping[str, Any]) -> Obj:
    m = meta(job)
    return {
        "kind": "Job",
        "namespace": m.get("namespace") or "",
        "name": m.get("name") or "",
        "uid": m.get("uid") or "",
        "apiVersion": API_VERSION,
        "resourceVersion": m.get("resourceVersion") or "",
    }


def reconcile_active(
    cj: Obj, jobs: Sequence[Mapping[str, Any]], missing: set[str]
) -> tuple[bool, list[Event]]:
    """Update ``cj["status"]`` from its Jobs; ``missing``: UIDs of active refs the API
    confirmed gone. Returns (changed, events)."""
    status = cj.setdefault("status", {})
    active = list(status.get("active") or ())
    active_uids = {a.get("uid") for a in active}
    changed = False
    out: list[Event] = []
    children = set()
    for job in jobs:
        uid = meta(job).get("uid")
        children.add(uid)
        finished = _finished_type(job)
        if uid not in active_uids and finished is None:
            out.append(
                (
                    "Warning",
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {meta(job).get('name')}",
                )
            )
        elif uid in active_uids and finished is not None:
            active = [a for a in active if a.get("uid") != uid]
            out.append(
                (
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {meta(job).get('name')}, status: {finished}",
                )
            )
            changed = True
        if finished == "Complete":
            done = parse_time((job.get("status") or {}).get("completionTime"))
            last = parse_time(status.get("lastSuccessfulTime"))
            if done is not None and (last is None or done > last):
                status["lastSuccessfulTime"] = format_time(done)
                changed = True
    for ref in list(active):
        if ref.get("uid") not in children and ref.get("uid") in missing:
            active = [a for a in active if a.get("uid") != ref.get("uid")]
            out.append(("Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"))
            changed = True
    if changed:
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
    return changed, out


@dataclass(slots=True)
class Decision:
    create: Obj | None = None  # the Job to create
    scheduled: datetime | None = None
    replace: list[Obj] = field(default_factory=list)  # active refs to delete first
    requeue_after: float | None = None
    events: list[Event] = field(default_factory=list)


def decide(cj: Mapping[str, Any], now: datetime, *, local: Any = None) -> Decision:
    spec = cj.get("spec") or {}
    status = cj.get("status") or {}
    result = Decision()
    if meta(cj).get("deletionTimestamp"):
        return result
    schedule_text = str(spec.get("schedule") or "")
    if "TZ" in schedule_text:
        result.events.append(
            (
                "Warning",
                "UnsupportedSchedule",
                f'CRON_TZ or TZ used in schedule "{schedule_text}" is not officially supported, see '
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
            )
        )
    time_zone = spec.get("timeZone")
    if time_zone is not None:
        try:
            cs.load_zone(str(time_zone))
        except cs.UnknownTimeZone as exc:
            result.events.append(
                ("Warning", "UnknownTimeZone", f'invalid timeZone: "{time_zone}": {exc}')
            )
            return result
    if spec.get("suspend"):
        return result
    try:
        schedule = cs.parse(
            schedule_text, None if "TZ" in schedule_text else time_zone, local=local
        )
    except (cs.ScheduleError, cs.UnknownTimeZone) as exc:
        result.events.append(
            ("Warning", "UnparseableSchedule", f'unparseable schedule: "{schedule_text}" : {exc}')
        )
        return result
    try:
        _, scheduled, missed = cs.most_recent(cj, now, schedule, include_deadline=True)
    except cs.ScheduleError as exc:
        result.events.append(
            ("Warning", "InvalidSchedule", f"invalid schedule: {schedule_text} : {exc}")
        )
        return result
    result.requeue_after = cs.next_delay(cj, now, schedule)
    if scheduled is None or scheduled > now:
        return result
    if missed is cs.Missed.MANY:
        result.events.append(
            (
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        )
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None and (now - scheduled).total_seconds() > int(deadline):
        result.events.append(
            (
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {scheduled.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            )
        )
        return result
    name = cs.job_name(cj, scheduled)
    active = list(status.get("active") or ())
    if (
        any(a.get("name") == name for a in active)
        or parse_time(status.get("lastScheduleTime")) == scheduled
    ):
        return result
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        result.events.append(
            (
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
        )
        return result
    if policy == "Replace":
        result.replace = active
    result.create = cs.job_for(cj, scheduled)
    result.scheduled = scheduled
    return result


def _start_key(job: Mapping[str, Any]) -> tuple[int, str, str]:
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, str(start or ""), str(meta(job).get("name") or ""))


def jobs_to_clean(cj: Mapping[str, Any], jobs: Sequence[Obj]) -> list[Obj]:
    """The oldest finished Jobs beyond the history limits (``cleanupFinishedJobs``)."""
    spec = cj.get("spec") or {}
    out: list[Obj] = []
    for kind, limit_key in (
        ("Complete", "successfulJobsHistoryLimit"),
        ("Failed", "failedJobsHistoryLimit"),
    ):
        limit = spec.get(limit_key)
        if limit is None:
            continue
        finished = sorted((j for j in jobs if _finished_type(j) == kind), key=_start_key)
        excess = len(finished) - int(limit)
        if excess > 0:
            out += finished[:excess]
    return out


# ---------------------------------------------------------------------- controller


class CronJobController:
    name = "cronjob"

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
        self.cronjobs = informers.informer(CRONJOBS)
        self.jobs = informers.informer(JOBS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.written = WrittenVersions()
        self.cronjobs.on_change(lambda cj: self.queue.add(ObjectKey.of(cj)))
        self.jobs.on_change(self._job_changed)

    def _job_changed(self, job: Mapping[str, Any]) -> None:
        ref = controller_of(job)
        if ref is not None and ref.get("kind") == KIND:
            self.queue.add(
                ObjectKey(str(meta(job).get("namespace") or ""), str(ref.get("name") or ""))
            )

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        for inf in (self.cronjobs, self.jobs):
            await inf.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    def _event(self, cj: Mapping[str, Any], event: Event) -> None:
        event_type, reason, message = event
        self.recorder.record(
            with_kind(cj, KIND, API_VERSION), reason=reason, message=message, event_type=event_type
        )

    def _children(self, cj: Mapping[str, Any]) -> list[Obj]:
        ns = str(meta(cj).get("namespace") or "")
        return [
            j
            for j in self.jobs.list(ns)
            if (ref := controller_of(j)) is not None and ref.get("name") == meta(cj).get("name")
        ]

    async def sync(self, key: ObjectKey) -> None:
        cached = self.cronjobs.get(key)
        if cached is None:
            self.written.forget(key)
            return
        if self.written.behind(key, cached):
            return  # the cache has not caught up with our last status write yet
        cj = copy.deepcopy(cached)
        jobs = self._children(cj)
        missing = await self._missing_active(cj, jobs)
        active_uids = {a.get("uid") for a in (cj.get("status") or {}).get("active") or ()}
        if any(meta(j).get("uid") not in active_uids and not is_finished(j) for j in jobs):
            # the cache may lag our own status write: believe a fresh read
            fresh = await self.client.get(CRONJOBS, key.name, namespace=key.namespace)
            if meta(fresh).get("uid") == meta(cj).get("uid"):
                cj = fresh
        changed, notes = reconcile_active(cj, jobs, missing)
        for note in notes:
            self._event(cj, note)
        decision = decide(cj, self.wall())
        for note in decision.events:
            self._event(cj, note)
        failure: BaseException | None = None
        if decision.create is not None:
            try:
                changed |= await self._start(cj, decision)
            except (errors.ApiError, errors.TransportError) as exc:
                failure = exc
        for job in jobs_to_clean(cj, jobs):
            if await self._delete_job(cj, job):
                changed = True
        if changed:
            self.written.record(key, await self.client.update_status(CRONJOBS, cj))
        if failure is not None:
            raise failure
        if decision.requeue_after is not None:
            self.queue.add_after(key, max(decision.requeue_after, 0.0))

    async def _missing_active(
        self, cj: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]]
    ) -> set[str]:
        known = {meta(j).get("uid") for j in jobs}
        missing: set[str] = set()
        for ref in (cj.get("status") or {}).get("active") or ():
            if ref.get("uid") in known:
                continue
            try:
                await self.client.get(
                    JOBS,
                    str(ref.get("name")),
                    namespace=ref.get("namespace") or meta(cj).get("namespace"),
                )
            except errors.NotFound:
                missing.add(str(ref.get("uid")))
        return missing

    async def _start(self, cj: Obj, decision: Decision) -> bool:
        status = cj.setdefault("status", {})
        assert decision.create is not None and decision.scheduled is not None
        for ref in decision.replace:
            job = self.jobs.get(
                ObjectKey(str(ref.get("namespace") or ""), str(ref.get("name") or ""))
            )
            if job is None:
                try:
                    job = await self.client.get(
                        JOBS, str(ref.get("name")), namespace=ref.get("namespace")
                    )
                except errors.ApiError as exc:
                    self._event(cj, ("Warning", "FailedGet", f"Get job: {exc}"))
                    raise
            if not await self._delete_job(cj, job):
                raise errors.ApiError(
                    code=500,
                    reason="InternalError",
                    message=f"could not replace job {ref.get('namespace')}/{ref.get('name')}",
                )
        try:
            created = await self.client.create(JOBS, decision.create)
        except errors.AlreadyExists:
            log.info(
                "cronjob %s/%s: job %s already exists",
                meta(cj).get("namespace"),
                meta(cj).get("name"),
                decision.create["metadata"]["name"],
            )
            raise
        except errors.ApiError as exc:
            causes = exc.details.get("causes") or []
            if any(
                isinstance(c, Mapping) and c.get("reason") == "NamespaceTerminating" for c in causes
            ):
                return bool(decision.replace)
            self._event(cj, ("Warning", "FailedCreate", f"Error creating job: {exc}"))
            raise
        self._event(cj, ("Normal", "SuccessfulCreate", f"Created job {meta(created).get('name')}"))
        status["active"] = [*(status.get("active") or ()), job_ref(created)]
        status["lastScheduleTime"] = format_time(decision.scheduled)
        return True

    async def _delete_job(self, cj: Obj, job: Mapping[str, Any]) -> bool:
        name = str(meta(job).get("name") or "")
        try:
            await self.client.delete(
                JOBS, name, namespace=meta(job).get("namespace"), propagation_policy="Background"
            )
        except errors.NotFound:
            pass
        except (errors.ApiError, errors.TransportError) as exc:
            self._event(cj, ("Warning", "FailedDelete", f"Deleted job: {exc}"))
            return False
        status = cj.setdefault("status", {})
        remaining = [a for a in status.get("active") or () if a.get("uid") != meta(job).get("uid")]
        if remaining:
            status["active"] = remaining
        else:
            status.pop("active", None)
        self._event(cj, ("Normal", "SuccessfulDelete", f"Deleted job {name}"))
        return True
