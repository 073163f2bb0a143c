"""Job controller: runs pods to completion (upstream's pkg/controller/job).

Pipeline: Job events enqueue the Job at once; pod events enqueue the pod's Job after a
short batch period (upstream's 1 s), so bursts of pod changes collapse into one sync.
``sync(key)`` is level-triggered and follows ``job_sync``'s steps, doing the writes in
between: claim pods (adoption adds the ``batch.kubernetes.io/job-tracking`` finalizer),
delete or create pods (slow-start batches of 1, 2, 4 …), write status with newly finished
pods as uncounted, remove their finalizers, write the counters, finish the Job.

Invariants:
- Every pod the controller creates carries the tracking finalizer; it is removed only
  after the pod's outcome is recorded in ``status.uncountedTerminatedPods`` (or, for
  Indexed Jobs, ``completedIndexes``), so no outcome is lost if the controller restarts.
- A sync creates or deletes pods only when the cache shows the previous sync's creations
  and deletions (``Expectations``), and skips pods whose finalizer removal it is still
  waiting to observe.
- Pods with the tracking finalizer whose Job is gone or finished, or that lost their
  controller reference, have the finalizer removed by a second queue (orphans).
Events: ``SuccessfulCreate`` "Created pod: <name>", ``SuccessfulDelete`` "Deleted pod:
<name>", ``Completed`` "Job completed", and a warning with the failure reason and message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import selectors
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import job_manage as jm
from pyk8s.controllers import job_policy as jp
from pyk8s.controllers import job_sync as js
from pyk8s.controllers import job_tracking as jt
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.workload_ownership import (
    Expectations,
    WrittenVersions,
    adoption_patch,
    claim,
    controller_of,
    controller_ref,
    is_controlled_by,
)
from pyk8s.controllers.workload_pods import (
    JOBS,
    PODS,
    is_pod_ready,
    labels,
    meta,
    pod_from_template,
    selector_of,
    with_kind,
)
from pyk8s.controllers.workload_time import Wall, anchored_wall

__all__ = ["JobController", "new"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

API_VERSION = "batch/v1"
KIND = "Job"
MANAGER = "kubernetes.io/job-controller"
_REMOVE_FINALIZER = {"metadata": {"$deleteFromPrimitiveList/finalizers": [js.FINALIZER]}}


def new(ctx: ControllerContext) -> Controller:
    return JobController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


class JobController:
    name = "job"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: Wall | None = None,
        workers: int = 5,
        batch_period: float = 1.0,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.wall = wall or anchored_wall(clock)
        self.workers = workers
        self.batch_period = batch_period
        self.jobs = informers.informer(JOBS)
        self.pods = informers.informer(PODS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.orphans: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name="job-orphan-pod", clock=clock
        )
        self.expectations = Expectations()
        self.expected_rm: dict[ObjectKey, set[str]] = {}
        self.backoff: dict[ObjectKey, jp.BackoffRecord] = {}
        self.written = WrittenVersions()
        self.jobs.add_handler(
            on_add=self._job_added, on_update=self._job_updated, on_delete=self._job_deleted
        )
        self.pods.add_handler(
            on_add=self._pod_event, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # ------------------------------------------------------------------ handlers

    def _job_added(self, job: Obj) -> None:
        self.queue.add(ObjectKey.of(job))

    def _job_updated(self, old: Obj, new_: Obj) -> None:
        key = ObjectKey.of(new_)
        if meta(old).get("generation") == meta(new_).get("generation"):
            self.queue.add_after(key, self.batch_period)
        else:
            self.queue.add(key)
        if js.is_finished(new_):
            self._cleanup_finalizers(new_)

    def _job_deleted(self, job: Obj) -> None:
        key = ObjectKey.of(job)
        self.expectations.forget(key)
        self.expected_rm.pop(key, None)
        self.backoff.pop(key, None)
        self.queue.add(key)
        self._cleanup_finalizers(job)

    def _cleanup_finalizers(self, job: Mapping[str, Any]) -> None:
        for pod in self.pods.by_owner(job):
            if is_controlled_by(pod, job) and js.has_finalizer(pod):
                self.orphans.add(ObjectKey.of(pod))

    def _resolve(self, pod: Mapping[str, Any]) -> Obj | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != KIND:
            return None
        job = self.jobs.get(
            ObjectKey(str(meta(pod).get("namespace") or ""), str(ref.get("name") or ""))
        )
        return job if job is not None and meta(job).get("uid") == ref.get("uid") else None

    def _observe_finalizer(self, pod: Mapping[str, Any], deleted: bool) -> None:
        job = self._resolve(pod)
        if job is None:
            return
        pending = self.expected_rm.get(ObjectKey.of(job))
        if pending is not None and (deleted or not js.has_finalizer(pod)):
            pending.discard(str(meta(pod).get("uid") or ""))

    def _route(self, pod: Mapping[str, Any]) -> None:
        ref = controller_of(pod)
        job = self._resolve(pod)
        if job is not None:
            if js.is_finished(job) and js.has_finalizer(pod):
                self.orphans.add(ObjectKey.of(pod))
            self.queue.add_after(ObjectKey.of(job), self.batch_period)
            return
        if js.has_finalizer(pod) and (ref is None or ref.get("kind") == KIND):
            self.orphans.add(ObjectKey.of(pod))
        if ref is None:
            for job in self.jobs.list(str(meta(pod).get("namespace") or "")):
                try:
                    if selector_of(job).matches(labels(pod)):
                        self.queue.add_after(ObjectKey.of(job), self.batch_period)
                except selectors.SelectorError:
                    continue

    def _pod_event(self, pod: Obj) -> None:
        self.expectations.observe(pod)
        self._observe_finalizer(pod, deleted=False)
        self._route(pod)

    def _pod_updated(self, old: Obj, new_: Obj) -> None:
        self._pod_event(new_)
        if controller_of(old) != controller_of(new_):
            job = self._resolve(old)
            if job is not None:
                self.queue.add_after(ObjectKey.of(job), self.batch_period)

    def _pod_deleted(self, pod: Obj) -> None:
        self.expectations.observe(pod, deleted=True)
        self._observe_finalizer(pod, deleted=True)
        self._route(pod)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()
        self.orphans.shutdown()

    async def _run(self) -> None:
        for inf in (self.jobs, self.pods):
            await inf.wait_synced()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(workqueue.run_workers(self.queue, self.sync, self.workers))
            tg.create_task(workqueue.run_workers(self.orphans, self.sync_orphan, 1))

    # ------------------------------------------------------------------ orphans

    async def sync_orphan(self, key: ObjectKey) -> None:
        pod = self.pods.get(key)
        if pod is None or not js.has_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") != KIND or ref.get("apiVersion") != API_VERSION:
                return
            job = self._resolve(pod)
            if job is not None and not js.is_finished(job):
                return
        try:
            await self.client.patch(
                PODS,
                key.name,
                _REMOVE_FINALIZER,
                namespace=key.namespace,
                patch_type=rest.PatchType.STRATEGIC,
            )
        except errors.NotFound:
            return

    # ------------------------------------------------------------------ sync

    async def sync(self, key: ObjectKey) -> None:
        job = self.jobs.get(key)
        if job is None:
            self.expectations.forget(key)
            self.expected_rm.pop(key, None)
            self.backoff.pop(key, None)
            self.written.forget(key)
            return
        if self.written.behind(key, job):
            return  # the cache has not caught up with our last status write yet
        managed_by = (job.get("spec") or {}).get("managedBy")
        if managed_by and managed_by != MANAGER:
            return
        if js.is_finished(job):
            self.backoff.pop(key, None)
            return
        mode = (job.get("spec") or {}).get("completionMode")
        if mode not in (None, "NonIndexed", "Indexed"):
            self._event(
                job,
                "Warning",
                "UnknownCompletionMode",
                "Skipped Job sync because completion mode is unknown",
            )
            return
        satisfied = self.expectations.satisfied(key)
        pods = await self._claim_pods(job)
        now = self.wall()
        s = js.assess(
            job,
            pods,
            now=now,
            backoff=self.backoff.get(key, jp.BackoffRecord()),
            expected_rm=self.expected_rm.get(key, set()),
        )
        active = len(s.active_pods)
        failure: BaseException | None = None
        suspend_changed = False
        if s.finished is not None:
            deleted, deleted_ready, failure = await self._delete_pods(
                key, job, s.active_pods, remove_finalizer=False
            )
            if deleted != active or not satisfied:
                s.finished = None
            active -= deleted
            s.terminating += deleted
            s.ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not meta(job).get("deletionTimestamp"):
                manage_called = True
                plan = jm.plan_manage(s, now=now)
                if plan.delete:
                    deleted, deleted_ready, failure = await self._delete_pods(
                        key, job, plan.delete, remove_finalizer=True
                    )
                    active -= deleted
                    s.terminating += deleted
                    s.ready -= deleted_ready
                elif plan.create:
                    created, failure = await self._create_pods(key, job, s, plan.create)
                    active += created
            suspend_changed = jm.conclude(s, active=active, manage_called=manage_called, now=now)
        status = s.job["status"]
        needs_flush = (
            suspend_changed
            or active != int(status.get("active") or 0)
            or s.ready != status.get("ready")
            or s.terminating != status.get("terminating")
        )
        status["active"] = active
        await self._track(key, s, needs_flush, active)
        if s.requeue_after is not None:
            self.queue.add_after(key, s.requeue_after)
        if failure is not None:
            raise failure

    async def _track(self, key: ObjectKey, s: js.Sync, needs_flush: bool, active: int) -> None:
        now = self.wall()
        plan = jt.track(s, flush=needs_flush, now=now)
        flush = plan.flush
        if flush:
            await self._write_status(s, active)
            self.backoff[key] = s.new_backoff
            flush = False
        removal_error: BaseException | None = None
        if plan.remove_finalizer:
            pending = self.expected_rm.setdefault(key, set())
            uids = [str(meta(p).get("uid") or "") for p in plan.remove_finalizer]
            pending.update(uids)
            results = await asyncio.gather(
                *(self._remove_finalizer(p) for p in plan.remove_finalizer), return_exceptions=True
            )
            for uid, result in zip(uids, results, strict=True):
                if isinstance(result, BaseException):
                    pending.discard(uid)
                    removal_error = removal_error or result
                else:
                    plan.uids_with_finalizer.discard(uid)
        if jt.uncounted_done(s.job["status"], plan.uids_with_finalizer):
            flush = True
        if removal_error is not None:
            if flush:
                await self._write_status(s, active)
            raise removal_error
        if not plan.reached_max and jt.enact_finished(s, now=now):
            flush = True
        if flush:
            await self._write_status(s, active)
        for event_type, reason, message in s.events:
            self._event(s.job, event_type, reason, message)

    async def _remove_finalizer(self, pod: Obj) -> None:
        if not js.has_finalizer(pod):
            return
        try:
            await self.client.patch(
                PODS,
                str(meta(pod).get("name")),
                _REMOVE_FINALIZER,
                namespace=meta(pod).get("namespace"),
                patch_type=rest.PatchType.STRATEGIC,
            )
        except errors.NotFound:
            return

    async def _write_status(self, s: js.Sync, active: int) -> None:
        body = dict(s.job)
        body["status"] = jt.normalized_status(
            s.job["status"], active=active, ready=s.ready, terminating=s.terminating
        )
        written = await self.client.update_status(JOBS, body)
        self.written.record(ObjectKey.of(written), written)
        s.job = written
        s.job.setdefault("status", {}).setdefault("uncountedTerminatedPods", {})

    # ------------------------------------------------------------------ pods

    def _event(self, job: Mapping[str, Any], event_type: str, reason: str, message: str) -> None:
        self.recorder.record(
            with_kind(job, KIND, API_VERSION), reason=reason, message=message, event_type=event_type
        )

    async def _claim_pods(self, job: Obj) -> list[Obj]:
        ns = str(meta(job).get("namespace") or "")
        try:
            selector = selector_of(job)
        except selectors.SelectorError as exc:
            log.warning("job %s/%s: invalid selector: %s", ns, meta(job).get("name"), exc)
            return []
        candidates = {meta(p).get("uid"): p for p in self.pods.by_owner(job)}
        for pod in self.pods.list(ns):
            if controller_of(pod) is None:
                candidates[meta(pod).get("uid")] = pod
        result = claim(job, selector, list(candidates.values()))
        owned = list(result.owned)
        if result.adopt and await self._fresh_job_allows_adoption(job):
            ref = controller_ref(job, api_version=API_VERSION, kind=KIND)
            for pod in result.adopt:
                try:
                    patched = await self.client.patch(
                        PODS,
                        str(meta(pod).get("name")),
                        adoption_patch(pod, ref, finalizers=[js.FINALIZER]),
                        namespace=ns,
                        patch_type=rest.PatchType.STRATEGIC,
                    )
                except errors.NotFound:
                    continue
                if is_controlled_by(patched, job):
                    owned.append(patched)
        for pod in result.release:
            patch = {
                "metadata": {
                    "ownerReferences": [{"$patch": "delete", "uid": meta(job).get("uid")}],
                    "uid": meta(pod).get("uid"),
                    "$deleteFromPrimitiveList/finalizers": [js.FINALIZER],
                }
            }
            try:
                await self.client.patch(
                    PODS,
                    str(meta(pod).get("name")),
                    patch,
                    namespace=ns,
                    patch_type=rest.PatchType.STRATEGIC,
                )
            except errors.NotFound:
                continue
        return owned

    async def _fresh_job_allows_adoption(self, job: Mapping[str, Any]) -> bool:
        try:
            fresh = await self.client.get(
                JOBS, str(meta(job).get("name")), namespace=meta(job).get("namespace")
            )
        except errors.NotFound:
            return False
        return meta(fresh).get("uid") == meta(job).get("uid") and not meta(fresh).get(
            "deletionTimestamp"
        )

    async def _delete_pods(
        self, key: ObjectKey, job: Obj, pods: Sequence[Obj], *, remove_finalizer: bool
    ) -> tuple[int, int, BaseException | None]:
        """(deleted, of which ready, first error). Finished Jobs keep the finalizers so the
        pods are still counted; pods deleted while managing are not counted."""

        async def delete(pod: Obj) -> None:
            uid = str(meta(pod).get("uid") or "")
            if remove_finalizer:
                await self._remove_finalizer(pod)
            try:
                await self.client.delete(
                    PODS,
                    str(meta(pod).get("name")),
                    namespace=key.namespace,
                    preconditions=paths.Preconditions(uid=uid),
                )
            except errors.NotFound:
                return
            self.expectations.expect_deleted(key, uid)
            self._event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta(pod).get('name')}")

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        deleted = ready = 0
        error: BaseException | None = None
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                error = error or result
                continue
            deleted += 1
            ready += 1 if is_pod_ready(pod) else 0
        return deleted, ready, error

    async def _create_pods(
        self, key: ObjectKey, job: Obj, s: js.Sync, indexes: list[int | None]
    ) -> tuple[int, BaseException | None]:
        ref = controller_ref(job, api_version=API_VERSION, kind=KIND)

        async def create(index: int | None) -> None:
            template = jm.pod_for_index(job, index, s.delayed_per_index)
            pod = pod_from_template(
                template, owner_ref=ref, generate_name=template["metadata"]["generateName"]
            )
            try:
                created = await self.client.create(PODS, pod, namespace=key.namespace)
            except (errors.ApiError, errors.TransportError) as exc:
                if not _namespace_terminating(exc):
                    self._event(job, "Warning", "FailedCreate", f"Error creating: {exc}")
                raise
            self.expectations.expect_created(key, str(meta(created).get("uid") or ""))
            self._event(
                job, "Normal", "SuccessfulCreate", f"Created pod: {meta(created).get('name')}"
            )

        created = 0
        index, size = 0, 1
        while index < len(indexes):
            batch = indexes[index : index + size]
            results = await asyncio.gather(*(create(i) for i in batch), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            created += len(batch) - len(failures)
            if failures:
                return created, None if all(
                    _namespace_terminating(f) for f in failures
                ) else failures[0]
            index += len(batch)
            size *= 2
        return created, None


def _namespace_terminating(exc: BaseException) -> bool:
    if not isinstance(exc, errors.ApiError):
        return False
    causes = exc.details.get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes if isinstance(c, Mapping))
