"""ReplicaSet (and ReplicationController) controller: keeps the number of active pods a
ReplicaSet controls equal to ``spec.replicas``, and reports what it sees in ``status``.

Level-triggered (upstream's pkg/controller/replicaset): handlers only enqueue the key of
the ReplicaSet a pod event concerns; ``sync(key)`` reads the caches, claims pods
(``refs``: adopt matching orphans, release owned pods that stopped matching), creates or
deletes the difference, and always recomputes status. The decisions are pure, in
``replicaset_plan``: ``plan_replicas`` (how many to create, which to delete — upstream's
deletion ranking, at most 500 per sync) and ``replica_status``.

**No double creates.** A sync must not act on a pod cache that has not yet seen this
controller's own previous writes, or it would create the same pods again. Upstream keeps
per-ReplicaSet "expectations" (counts with a 5-minute timeout). Here every write's
answer carries a resourceVersion (a global storage revision); the controller remembers
the highest one per ReplicaSet and only creates or deletes once the pod informer's
``last_resource_version`` has reached it — from then on the cache provably contains those
writes. Status is still written meanwhile. A restarted controller-manager starts from a
fresh list, which contains every pod ever created.

Pods are created in slow-start batches (1, 2, 4, …; ``podcontrol.slow_start_batch``) with
``generateName: <rs>-``; a failure stops the batch and sets the ``ReplicaFailure``
condition (reason FailedCreate/FailedDelete), which is removed again by a clean sync. A
terminating namespace stops the batch too, quietly: every create would be refused.
A ReplicaSet being deleted is never scaled. ``minReadySeconds``: when all replicas are
ready but not yet available, the key is re-queued after ``minReadySeconds``.

The same code serves ReplicationControllers (``REPLICATION_CONTROLLER``): core/v1, a
plain-map selector, events from "replication-controller".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import selectors as sel
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, rest, workqueue
from pyk8s.client.store import OWNER_UID_INDEX, ObjectKey
from pyk8s.controllers import meta, metrics, podcontrol, pods, refs
from pyk8s.controllers.context import ControllerContext
from pyk8s.controllers.replicaset_plan import (
    ORPHANS_BY_NAMESPACE,
    REPLICA_SET,
    REPLICATION_CONTROLLER,
    Workload,
    desired_replicas,
    orphan_namespace_index,
    plan_replicas,
    replica_status,
    status_needs_update,
)

__all__ = [
    "ORPHANS_BY_NAMESPACE",
    "REPLICATION_CONTROLLER",
    "REPLICA_SET",
    "ReplicaSetController",
    "new_replicaset_controller",
    "new_replicationcontroller_controller",
    "orphan_namespace_index",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Pod = Mapping[str, Any]

# ---------------------------------------------------------------------- controller


class ReplicaSetController:
    def __init__(
        self,
        *,
        workload: Workload,
        client: rest.RESTClient,
        replicasets: informer.SharedInformer[Obj],
        pods_informer: informer.SharedInformer[Obj],
        pod_control: podcontrol.PodControl,
        workers: int = 5,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: clock_mod.Wall = clock_mod.utc_now,
    ) -> None:
        self.name = workload.component
        self.workload = workload
        self.client = client
        self.replicasets = replicasets
        self.pods = pods_informer
        self.pod_control = pod_control
        self.workers = workers
        self._wall = wall
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=workload.component, clock=clock
        )
        # ReplicaSet key → the newest resourceVersion of a pod write of ours
        self._written: dict[ObjectKey, int] = {}
        # ReplicaSet key → resourceVersion of our newest status write to it
        self._status_written: dict[ObjectKey, int] = {}
        replicasets.add_handler(
            on_add=self._rs_changed,
            on_update=self._rs_updated,
            on_delete=self._rs_deleted,
        )
        pods_informer.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # -------------------------------------------------------------- handlers

    def _rs_changed(self, rs: Obj) -> None:
        self.queue.add(ObjectKey.of(rs))

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if meta.uid(old) != meta.uid(new):
            self._written.pop(ObjectKey.of(old), None)
        self.queue.add(ObjectKey.of(new))

    def _rs_deleted(self, rs: Obj) -> None:
        self._written.pop(ObjectKey.of(rs), None)
        self._status_written.pop(ObjectKey.of(rs), None)
        self.queue.add(ObjectKey.of(rs))

    def _resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> ObjectKey | None:
        if ref is None or ref.get("kind") != self.workload.kind:
            return None
        key = ObjectKey(namespace, str(ref.get("name") or ""))
        rs = self.replicasets.get(key)
        return key if rs is not None and meta.uid(rs) == ref.get("uid") else None

    def _enqueue_controller(self, pod: Pod) -> ObjectKey | None:
        key = self._resolve(meta.namespace(pod), refs.controller_of(pod))
        if key is not None:
            self.queue.add(key)
        return key

    def _enqueue_matching(self, pod: Pod) -> None:
        labels = meta.labels(pod)
        for rs in self.replicasets.list(meta.namespace(pod)):
            try:
                if self.workload.selector(rs).matches(labels):
                    self.queue.add(ObjectKey.of(rs))
            except sel.SelectorError:
                continue

    def _pod_added(self, pod: Obj) -> None:
        if refs.controller_of(pod) is not None or meta.deletion_timestamp(pod):
            self._enqueue_controller(pod)
        else:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        labels_changed = meta.labels(old) != meta.labels(new)
        old_ref, new_ref = refs.controller_of(old), refs.controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            self._enqueue_controller(old)
        if meta.deletion_timestamp(new):
            self._enqueue_controller(new)
            return
        if new_ref is not None:
            key = self._enqueue_controller(new)
            if key is not None and not pods.is_ready(old) and pods.is_ready(new):
                rs = self.replicasets.get(key)
                min_ready = int(((rs or {}).get("spec") or {}).get("minReadySeconds") or 0)
                if min_ready > 0:
                    self.queue.add_after(key, min_ready + 1.0)
            return
        if labels_changed or old_ref != new_ref:
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._enqueue_controller(pod)

    # -------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.replicasets.wait_synced(), self.pods.wait_synced())
        sync = metrics.instrument(self.name, self.sync)
        work = asyncio.ensure_future(workqueue.run_workers(self.queue, sync, self.workers))
        try:
            await stop.wait()
        finally:
            self.queue.shutdown()
            await work

    def _caught_up(self, key: ObjectKey) -> bool:
        written = self._written.get(key)
        if written is None:
            return True
        try:
            return int(self.pods.last_resource_version or 0) >= written
        except ValueError:
            return True

    def _note_write(self, key: ObjectKey, answer: Mapping[str, Any]) -> None:
        try:
            rv = int(meta.resource_version(answer) or 0)
        except ValueError:
            return
        if rv > self._written.get(key, 0):
            self._written[key] = rv

    async def sync(self, key: ObjectKey) -> None:
        rs = self.replicasets.get(key)
        if rs is None:
            self._written.pop(key, None)
            self._status_written.pop(key, None)
            return
        try:
            selector = self.workload.selector(rs)
        except sel.SelectorError as exc:
            log.error("%s %s: invalid selector: %s", self.workload.kind, key, exc)
            return
        active = await self._claim(rs, selector)
        manage_error: BaseException | None = None
        if self._caught_up(key) and meta.deletion_timestamp(rs) is None:
            manage_error = await self._manage(key, rs, active)
        now = self._wall()
        status = replica_status(rs, active, manage_error=_describe(manage_error), now=now)
        updated = await self._write_status(rs, status)
        spec = updated.get("spec") or {}
        new_status = updated.get("status") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        if (
            manage_error is None
            and min_ready > 0
            and int(new_status.get("readyReplicas") or 0) == desired_replicas(updated)
            and int(new_status.get("availableReplicas") or 0) != desired_replicas(updated)
        ):
            self.queue.add_after(key, float(min_ready))
        if manage_error is not None:
            raise manage_error

    async def _claim(self, rs: Obj, selector: sel.LabelSelector) -> list[Pod]:
        seen: dict[str, Pod] = {}
        for pod in self.pods.by_index(OWNER_UID_INDEX, meta.uid(rs)) + self.pods.by_index(
            ORPHANS_BY_NAMESPACE, meta.namespace(rs)
        ):
            if pods.is_active(pod):
                seen[meta.uid(pod)] = pod
        candidates = sorted(seen.values(), key=lambda p: meta.name(p))

        async def can_adopt() -> None:
            fresh = await self.client.get(
                self.workload.resource, meta.name(rs), namespace=meta.namespace(rs)
            )
            if meta.uid(fresh) != meta.uid(rs):
                raise refs.CannotAdopt(
                    f"original {self.workload.kind} {meta.namespace(rs)}/{meta.name(rs)} is "
                    f"gone: got uid {meta.uid(fresh)}, wanted {meta.uid(rs)}"
                )
            if meta.deletion_timestamp(fresh):
                raise refs.CannotAdopt(
                    f"{self.workload.kind} {meta.namespace(rs)}/{meta.name(rs)} has just "
                    f"been deleted at {meta.deletion_timestamp(fresh)}"
                )

        claimer = refs.Claimer(
            self.client,
            podcontrol.PODS,
            owner=rs,
            ref=refs.controller_ref(
                rs, api_version=self.workload.api_version, kind=self.workload.kind
            ),
            can_adopt=can_adopt,
        )
        return await claimer.claim(candidates, lambda p: selector.matches(meta.labels(p)))

    def _related_pods(self, rs: Obj) -> list[Pod]:
        """Active pods of every ReplicaSet sharing this one's controller (for ranking)."""
        ctrl = refs.controller_of(rs)
        if ctrl is None:
            return []
        out: dict[str, Pod] = {}
        for sibling in self.replicasets.by_index(OWNER_UID_INDEX, str(ctrl.get("uid"))):
            sib_ref = refs.controller_of(sibling)
            if sib_ref is None or sib_ref.get("uid") != ctrl.get("uid"):
                continue
            try:
                selector = self.workload.selector(sibling)
            except sel.SelectorError:
                continue
            for pod in self.pods.list(meta.namespace(sibling)):
                if selector.matches(meta.labels(pod)):
                    out.setdefault(meta.uid(pod), pod)
        return list(out.values())

    async def _manage(self, key: ObjectKey, rs: Obj, active: list[Pod]) -> BaseException | None:
        plan = plan_replicas(
            rs,
            active,
            related=self._related_pods(rs) if len(active) > desired_replicas(rs) else (),
            now=self._wall(),
        )
        if plan.create:
            log.info(
                "%s %s: too few replicas (need %d, creating %d)",
                self.workload.kind,
                key,
                desired_replicas(rs),
                plan.create,
            )
            template = (rs.get("spec") or {}).get("template") or {}
            ref = refs.controller_ref(
                rs, api_version=self.workload.api_version, kind=self.workload.kind
            )

            async def create_one() -> None:
                created = await self.pod_control.create_pod(template, owner=rs, ref=ref)
                self._note_write(key, created)

            _, error = await podcontrol.slow_start_batch(plan.create, create_one)
            if error is not None and podcontrol.is_namespace_terminating(error):
                return None  # every create would fail: not a failure of ours, no retry
            return error
        if plan.delete:
            log.info(
                "%s %s: too many replicas (need %d, deleting %d)",
                self.workload.kind,
                key,
                desired_replicas(rs),
                len(plan.delete),
            )

            async def delete_one(pod: Pod) -> None:
                try:
                    answer = await self.pod_control.delete_pod(
                        meta.namespace(pod), meta.name(pod), owner=rs
                    )
                except errors.NotFound:
                    return
                self._note_write(key, answer)

            results = await asyncio.gather(
                *(delete_one(p) for p in plan.delete), return_exceptions=True
            )
            for r in results:
                if isinstance(r, asyncio.CancelledError):
                    raise r
            return next((r for r in results if isinstance(r, BaseException)), None)
        return None

    async def _write_status(self, rs: Obj, status: Obj) -> Obj:
        key = ObjectKey.of(rs)
        if not status_needs_update(rs, status) or _rv(rs) < self._status_written.get(key, 0):
            return rs  # unchanged, or the cache has not caught up with our last write yet
        current: Obj = rs
        for attempt in range(2):
            body = {**current, "status": {**status, "observedGeneration": meta.generation(current)}}
            try:
                written = await self.client.update_status(self.workload.resource, body)
                self._status_written[key] = _rv(written)
                return written
            except errors.Conflict:
                if attempt:
                    raise
                current = await self.client.get(
                    self.workload.resource, meta.name(rs), namespace=meta.namespace(rs)
                )
            except errors.NotFound:
                return rs
        return rs


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int(meta.resource_version(obj) or 0)
    except ValueError:
        return 0


def _describe(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, errors.ApiError):
        return exc.message
    return str(exc)


def _new(workload: Workload, ctx: ControllerContext) -> ReplicaSetController:
    recorder = ctx.recorder
    pods_informer = ctx.informers.informer(
        podcontrol.PODS, indexers={ORPHANS_BY_NAMESPACE: orphan_namespace_index}
    )
    return ReplicaSetController(
        workload=workload,
        client=ctx.client,
        replicasets=ctx.informers.informer(workload.resource),
        pods_informer=pods_informer,
        pod_control=podcontrol.RESTPodControl(ctx.client, recorder),
        workers=ctx.options.concurrent_syncs,
        clock=ctx.clock,
    )


def new_replicaset_controller(ctx: ControllerContext) -> ReplicaSetController:
    return _new(REPLICA_SET, ctx)


def new_replicationcontroller_controller(ctx: ControllerContext) -> ReplicaSetController:
    return _new(REPLICATION_CONTROLLER, ctx)
