"""Deployment controller: rolls a Deployment's pod template out through ReplicaSets
(upstream's pkg/controller/deployment), so ``kubectl rollout status|history|undo|pause|
resume|restart`` and ``kubectl set image`` behave as they do upstream.

One ``sync(key)``, in upstream's order of precedence:

1. claim ReplicaSets (adopt orphans matching the selector, release the ones that stopped
   matching); a Deployment being deleted only gets its status refreshed;
2. record DeploymentPaused / DeploymentResumed (so time spent paused never counts
   against ``progressDeadlineSeconds``);
3. a paused Deployment, or a scaling event (an active ReplicaSet's desired-replicas
   annotation differs from ``spec.replicas``): proportional scaling only, no rollout;
4. otherwise one rollout step: RollingUpdate (grow the new ReplicaSet within maxSurge,
   shrink old ones within maxUnavailable) or Recreate (old ones to 0 first, the new one
   only when no old pod runs), then revisionHistoryLimit cleanup once complete, then
   status and the Progressing/Available conditions.

Each step's decision is a pure function (``deployment_replicasets``,
``deployment_scaling``, ``deployment_status``); this module only sequences them with the
API writes, as upstream does: a step that changed something writes status and returns,
and the resulting watch events bring the next step.

Events (source "deployment-controller"): ScalingReplicaSet 'Scaled up replica set
web-7d4b9c from 0 to 3' on creation and 'Scaled <up|down> replica set <rs> from <old> to
<new>' on every size change (upstream 1.31+ wording), ReplicaSetCreateError, SelectingAll.

The revision annotation on the Deployment: upstream writes it together with status (its
status strategy keeps annotations); this apiserver's status subresource keeps only
status, so the controller also PATCHes the annotation when it changes.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import selectors as sel
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import OWNER_UID_INDEX, ObjectKey
from pyk8s.controllers import deployment_replicasets as drs
from pyk8s.controllers import deployment_scaling as scaling
from pyk8s.controllers import deployment_status as dstatus
from pyk8s.controllers import meta, metrics, podcontrol, refs, replicaset
from pyk8s.controllers.context import ControllerContext

__all__ = ["DEPLOYMENTS", "DeploymentController", "new_deployment_controller"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RS = Mapping[str, Any]

DEPLOYMENTS = paths.resource_for("apps", "v1", "deployments", kind="Deployment")
REPLICASETS = replicaset.REPLICA_SET.resource
COMPONENT = "deployment-controller"


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int(meta.resource_version(obj) or 0)
    except ValueError:
        return 0


def _with_kind(obj: Mapping[str, Any], api_version: str, kind: str) -> Obj:
    return {**obj, "apiVersion": api_version, "kind": kind}


class DeploymentController:
    def __init__(
        self,
        *,
        client: rest.RESTClient,
        deployments: informer.SharedInformer[Obj],
        replicasets: informer.SharedInformer[Obj],
        pods_informer: informer.SharedInformer[Obj],
        recorder: events.EventRecorder,
        workers: int = 5,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: clock_mod.Wall = clock_mod.utc_now,
    ) -> None:
        self.name = COMPONENT
        self.client = client
        self.deployments = deployments
        self.replicasets = replicasets
        self.pods = pods_informer
        self.recorder = recorder
        self.workers = workers
        self._wall = wall
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=COMPONENT, clock=clock
        )
        # Deployment key → resourceVersion of our newest write to it: a cache older than
        # that would only make the next write conflict, and our write's own watch event
        # brings the key back anyway
        self._written: dict[ObjectKey, int] = {}
        deployments.add_handler(
            on_add=self._deployment_changed,
            on_update=lambda _old, new: self._deployment_changed(new),
            on_delete=self._deployment_deleted,
        )
        replicasets.add_handler(
            on_add=self._rs_added, on_update=self._rs_updated, on_delete=self._rs_deleted
        )
        pods_informer.add_handler(on_delete=self._pod_deleted)

    # -------------------------------------------------------------- handlers

    def _deployment_changed(self, d: Obj) -> None:
        self.queue.add(ObjectKey.of(d))

    def _deployment_deleted(self, d: Obj) -> None:
        self._written.pop(ObjectKey.of(d), None)
        self.queue.add(ObjectKey.of(d))

    def _owner_key(self, obj: Mapping[str, Any]) -> ObjectKey | None:
        ref = refs.controller_of(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        key = ObjectKey(meta.namespace(obj), str(ref.get("name") or ""))
        d = self.deployments.get(key)
        return key if d is not None and meta.uid(d) == ref.get("uid") else None

    def _enqueue_owner(self, obj: Mapping[str, Any]) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _enqueue_matching(self, rs: Mapping[str, Any]) -> None:
        labels = meta.labels(rs)
        for d in self.deployments.list(meta.namespace(rs)):
            try:
                selector = sel.from_label_selector_obj((d.get("spec") or {}).get("selector"))
            except sel.SelectorError:
                continue
            if not selector.empty and selector.matches(labels):
                self.queue.add(ObjectKey.of(d))

    def _rs_added(self, rs: Obj) -> None:
        if refs.controller_of(rs) is not None or meta.deletion_timestamp(rs):
            self._enqueue_owner(rs)
        else:
            self._enqueue_matching(rs)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        old_ref, new_ref = refs.controller_of(old), refs.controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            self._enqueue_owner(old)
        if new_ref is not None:
            self._enqueue_owner(new)
        elif meta.labels(old) != meta.labels(new) or old_ref != new_ref:
            self._enqueue_matching(new)

    def _rs_deleted(self, rs: Obj) -> None:
        self._enqueue_owner(rs)

    def _pod_deleted(self, pod: Obj) -> None:
        ref = refs.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(ObjectKey(meta.namespace(pod), str(ref.get("name") or "")))
        if rs is None or meta.uid(rs) != ref.get("uid"):
            return
        key = self._owner_key(rs)
        d = self.deployments.get(key) if key is not None else None
        if key is not None and d is not None and not drs.is_rolling_update(d):
            self.queue.add(key)  # Recreate waits for old pods to be gone

    # -------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self.deployments.wait_synced(), self.replicasets.wait_synced(), self.pods.wait_synced()
        )
        sync = metrics.instrument(self.name, self.sync)
        work = asyncio.ensure_future(workqueue.run_workers(self.queue, sync, self.workers))
        try:
            await stop.wait()
        finally:
            self.queue.shutdown()
            await work

    async def sync(self, key: ObjectKey) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            self._written.pop(key, None)
            return
        if _rv(cached) < self._written.get(key, 0):
            return
        d: Obj = copy.deepcopy(cached)
        d.setdefault("status", {})
        if (d.get("spec") or {}).get("selector") == {}:
            self._event(
                d,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
                warning=True,
            )
            if int(d["status"].get("observedGeneration") or 0) < meta.generation(d):
                d["status"]["observedGeneration"] = meta.generation(d)
                await self._write_status(d, d["status"])
            return
        rs_list = await self._claim_replicasets(d)
        if meta.deletion_timestamp(d):
            new, old = await self._sync_revision(d, rs_list, create=False)
            await self._sync_status(d, [*old, new], new)
            return
        paused_status = dstatus.paused_condition(d, self._wall())
        if paused_status is not None:
            await self._write_status(d, paused_status)
        if (d.get("spec") or {}).get("paused"):
            await self._scale_sync(d, rs_list)
            return
        new, old = await self._sync_revision(d, rs_list, create=False)
        if scaling.is_scaling_event(d, [*old, new]):
            await self._scale_sync(d, rs_list)
        elif drs.is_rolling_update(d):
            await self._rollout_rolling(key, d, rs_list)
        else:
            await self._rollout_recreate(key, d, rs_list)

    # -------------------------------------------------------------- claiming

    async def _claim_replicasets(self, d: Obj) -> list[RS]:
        selector = sel.from_label_selector_obj((d.get("spec") or {}).get("selector"))
        seen: dict[str, RS] = {}
        for rs in self.replicasets.by_index(OWNER_UID_INDEX, meta.uid(d)) + [
            rs for rs in self.replicasets.list(meta.namespace(d)) if refs.controller_of(rs) is None
        ]:
            seen[meta.uid(rs)] = rs

        async def can_adopt() -> None:
            fresh = await self.client.get(DEPLOYMENTS, meta.name(d), namespace=meta.namespace(d))
            if meta.uid(fresh) != meta.uid(d) or meta.deletion_timestamp(fresh):
                raise refs.CannotAdopt(
                    f"deployment {meta.namespace(d)}/{meta.name(d)} is going away"
                )

        claimer = refs.Claimer(
            self.client,
            REPLICASETS,
            owner=d,
            ref=refs.controller_ref(d, api_version="apps/v1", kind="Deployment"),
            can_adopt=can_adopt,
        )
        candidates = sorted(seen.values(), key=meta.name)
        return await claimer.claim(candidates, lambda rs: selector.matches(meta.labels(rs)))

    def _pods_by_rs(self, rs_list: Sequence[RS]) -> dict[str, list[Mapping[str, Any]]]:
        out: dict[str, list[Mapping[str, Any]]] = {}
        for rs in rs_list:
            owned: list[Mapping[str, Any]] = [
                p
                for p in self.pods.by_index(OWNER_UID_INDEX, meta.uid(rs))
                if (refs.controller_of(p) or {}).get("uid") == meta.uid(rs)
            ]
            out[meta.uid(rs)] = owned
        return out

    # -------------------------------------------------------------- writes

    def _event(
        self, d: Mapping[str, Any], reason: str, message: str, *, warning: bool = False
    ) -> None:
        self.recorder.record(
            _with_kind(d, "apps/v1", "Deployment"),
            reason=reason,
            message=message,
            event_type=events.EventType.WARNING if warning else events.EventType.NORMAL,
        )

    async def _write_status(self, d: Obj, status: Mapping[str, Any]) -> None:
        """PUT status (with ``d``'s resourceVersion); then the revision annotation, if this
        sync changed it. ``d`` is updated in place to what the server holds."""
        wanted_revision = meta.annotations_of(d).get(drs.REVISION)
        try:
            written = await self.client.update_status(DEPLOYMENTS, {**d, "status": dict(status)})
            if (
                wanted_revision is not None
                and meta.annotations_of(written).get(drs.REVISION) != wanted_revision
            ):
                written = await self.client.patch(
                    DEPLOYMENTS,
                    meta.name(d),
                    {"metadata": {"annotations": {drs.REVISION: wanted_revision}}},
                    namespace=meta.namespace(d),
                )
        except errors.NotFound:
            return  # deleted meanwhile: nothing left to report on
        self._written[ObjectKey.of(written)] = _rv(written)
        d.clear()
        d.update(written)
        d.setdefault("status", {})

    async def _update_rs(self, rs: Obj) -> Obj:
        return await self.client.update(REPLICASETS, rs)

    async def _scale(self, d: Obj, rs: RS, to: int) -> RS:
        """scaleReplicaSet: size and replica annotations; an event for a size change."""
        desired = drs.replicas(d)
        maximum = desired + drs.max_surge(d)
        frm = drs.replicas(rs)
        if frm == to and not drs.replicas_annotations_need_update(rs, desired, maximum):
            return rs
        body = copy.deepcopy(dict(rs))
        body["spec"]["replicas"] = to
        annotations, _ = drs.set_replicas_annotations(meta.annotations_of(rs), desired, maximum)
        body["metadata"]["annotations"] = annotations
        updated = await self._update_rs(body)
        if frm != to:
            op = "up" if frm < to else "down"
            self._event(
                d,
                "ScalingReplicaSet",
                f"Scaled {op} replica set {meta.name(rs)} from {frm} to {to}",
            )
        return updated

    async def _apply(self, d: Obj, plan: Sequence[scaling.Scale], all_rss: list[RS]) -> bool:
        """Carry out a plan; ``all_rss`` is updated with the written ReplicaSets."""
        changed = False
        log.debug(
            "deployment %s: plan %s",
            ObjectKey.of(d),
            [(meta.name(s.rs), s.frm, s.to) for s in plan],
        )
        for step in plan:
            updated = await self._scale(d, step.rs, step.to)
            if updated is not step.rs:
                changed = changed or step.to != step.frm
                for i, rs in enumerate(all_rss):
                    if meta.uid(rs) == meta.uid(updated):
                        all_rss[i] = updated
        return changed

    # -------------------------------------------------------------- revision & new RS

    async def _sync_revision(
        self, d: Obj, rs_list: Sequence[RS], *, create: bool
    ) -> tuple[RS | None, list[RS]]:
        """getAllReplicaSetsAndSyncRevision: (the new ReplicaSet or None, all old ones)."""
        _, old = drs.find_old_replicasets(d, rs_list)
        existing = drs.find_new_replicaset(d, rs_list)
        new_revision = drs.max_revision(old) + 1
        now = self._wall()
        if existing is not None:
            annotations, changed = drs.set_new_rs_annotations(
                d, meta.annotations_of(existing), new_revision, exists=True
            )
            min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
            if (
                changed
                or int((existing.get("spec") or {}).get("minReadySeconds") or 0) != min_ready
            ):
                body = copy.deepcopy(dict(existing))
                body["metadata"]["annotations"] = annotations
                body["spec"]["minReadySeconds"] = min_ready
                return await self._update_rs(body), old
            needs_update = self._set_revision(d, meta.annotations_of(existing).get(drs.REVISION))
            if (
                dstatus.has_progress_deadline(d)
                and meta.get_condition(d["status"], "Progressing") is None
            ):
                cond = dstatus.new_condition(
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    f'Found new replica set "{meta.name(existing)}"',
                    now,
                )
                meta.set_condition(d["status"], cond, keep_transition=True)
                needs_update = True
            if needs_update:
                await self._write_status(d, d["status"])
            return existing, old
        if not create:
            return None, old
        body = drs.new_replicaset(d, old)
        already_exists = False
        try:
            created: RS = await self.client.create(REPLICASETS, body, namespace=meta.namespace(d))
        except errors.AlreadyExists:
            found = self.replicasets.get(ObjectKey(meta.namespace(d), meta.name(body)))
            if found is None:
                raise
            if refs.is_controlled_by(found, d) and drs.equal_ignore_hash(
                drs.template_of(d), drs.template_of(found)
            ):
                created, already_exists = found, True
            else:
                count = int(d["status"].get("collisionCount") or 0) + 1
                d["status"]["collisionCount"] = count
                log.info(
                    "deployment %s: hash collision; collisionCount now %d", ObjectKey.of(d), count
                )
                await self._write_status(d, d["status"])
                raise
        except (errors.ApiError, errors.TransportError) as exc:
            if podcontrol.is_namespace_terminating(exc):
                raise
            detail = exc.message if isinstance(exc, errors.ApiError) else str(exc)
            msg = f'Failed to create new replica set "{meta.name(body)}": {detail}'
            if dstatus.has_progress_deadline(d):
                cond = dstatus.new_condition(
                    "Progressing", "False", "ReplicaSetCreateError", msg, now
                )
                meta.set_condition(d["status"], cond, keep_transition=True)
                try:
                    await self._write_status(d, d["status"])
                except (errors.ApiError, errors.TransportError):
                    pass
            self._event(d, "ReplicaSetCreateError", msg, warning=True)
            raise
        new_replicas = drs.replicas(created)
        if not already_exists and new_replicas > 0:
            self._event(
                d,
                "ScalingReplicaSet",
                f"Scaled up replica set {meta.name(created)} from 0 to {new_replicas}",
            )
        needs_update = self._set_revision(d, str(new_revision))
        if not already_exists and dstatus.has_progress_deadline(d):
            cond = dstatus.new_condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{meta.name(created)}"',
                now,
            )
            meta.set_condition(d["status"], cond, keep_transition=True)
            needs_update = True
        if needs_update:
            await self._write_status(d, d["status"])
        return created, old

    @staticmethod
    def _set_revision(d: Obj, revision: str | None) -> bool:
        if revision is None:
            revision = ""
        annotations = d["metadata"].setdefault("annotations", {})
        if annotations.get(drs.REVISION) == revision:
            return False
        annotations[drs.REVISION] = revision
        return True

    # -------------------------------------------------------------- strategies

    async def _scale_sync(self, d: Obj, rs_list: Sequence[RS]) -> None:
        """sync(): scaling events and paused Deployments."""
        new, old = await self._sync_revision(d, rs_list, create=False)
        all_rss: list[RS] = [*old, *([new] if new is not None else [])]
        await self._apply(d, scaling.proportional_scale(d, new, old), all_rss)
        if new is not None:
            new = next(rs for rs in all_rss if meta.uid(rs) == meta.uid(new))
        old = [rs for rs in all_rss if new is None or meta.uid(rs) != meta.uid(new)]
        if (d.get("spec") or {}).get("paused"):
            await self._clean_up(d, old)
        await self._sync_status(d, all_rss, new)

    async def _rollout_rolling(self, key: ObjectKey, d: Obj, rs_list: Sequence[RS]) -> None:
        new, old = await self._sync_revision(d, rs_list, create=True)
        assert new is not None
        all_rss: list[RS] = [*old, new]
        step = scaling.plan_new_rs(d, all_rss, new)
        if step is not None and await self._apply(d, [step], all_rss):
            await self._sync_rollout_status(key, d, all_rss, all_rss[-1])
            return
        new = all_rss[-1]
        old_active = scaling.filter_active(all_rss[:-1])
        plan = scaling.plan_old_scale_down(d, all_rss, old_active, new)
        if plan and await self._apply(d, plan, all_rss):
            await self._sync_rollout_status(key, d, all_rss, new)
            return
        if dstatus.deployment_complete(d, d["status"]):
            await self._clean_up(d, all_rss[:-1])
        await self._sync_rollout_status(key, d, all_rss, new)

    async def _rollout_recreate(self, key: ObjectKey, d: Obj, rs_list: Sequence[RS]) -> None:
        new, old = await self._sync_revision(d, rs_list, create=False)
        all_rss: list[RS] = [*old, *([new] if new is not None else [])]
        plan = [scaling.Scale(rs, 0) for rs in scaling.filter_active(old)]
        if plan and await self._apply(d, plan, all_rss):
            await self._sync_rollout_status(key, d, all_rss, new)
            return
        if scaling.old_pods_running(new, old, self._pods_by_rs(rs_list)):
            await self._sync_rollout_status(key, d, all_rss, new)
            return
        if new is None:
            new, old = await self._sync_revision(d, rs_list, create=True)
            assert new is not None
            all_rss = [*old, new]
        if drs.replicas(new) != drs.replicas(d):
            await self._apply(d, [scaling.Scale(new, drs.replicas(d))], all_rss)
        new = next(rs for rs in all_rss if meta.uid(rs) == meta.uid(new))
        if dstatus.deployment_complete(d, d["status"]):
            await self._clean_up(d, [rs for rs in all_rss if meta.uid(rs) != meta.uid(new)])
        await self._sync_rollout_status(key, d, all_rss, new)

    async def _clean_up(self, d: Obj, old: Sequence[RS]) -> None:
        for rs in scaling.replicasets_to_clean_up(d, old):
            log.info("deployment %s: cleaning up replica set %s", ObjectKey.of(d), meta.name(rs))
            try:
                await self.client.delete(REPLICASETS, meta.name(rs), namespace=meta.namespace(rs))
            except errors.NotFound:
                pass

    async def _sync_status(self, d: Obj, all_rss: Sequence[RS | None], new: RS | None) -> None:
        status = dstatus.calculate_status(all_rss, new, d, self._wall())
        if not dstatus.status_equal(d.get("status"), status):
            await self._write_status(d, dstatus.without_zero_counts(status))

    async def _sync_rollout_status(
        self, key: ObjectKey, d: Obj, all_rss: Sequence[RS], new: RS | None
    ) -> None:
        now = self._wall()
        status = dstatus.rollout_status(all_rss, new, d, now)
        if dstatus.status_equal(d.get("status"), status):
            after = dstatus.progress_check_after(d, status, now)
            if after == 0:
                self.queue.add_rate_limited(key)
            elif after is not None:
                self.queue.add_after(key, after)
            return
        await self._write_status(d, dstatus.without_zero_counts(status))


def new_deployment_controller(ctx: ControllerContext) -> DeploymentController:
    return DeploymentController(
        client=ctx.client,
        deployments=ctx.informers.informer(DEPLOYMENTS),
        replicasets=ctx.informers.informer(REPLICASETS),
        pods_informer=ctx.informers.informer(
            podcontrol.PODS,
            indexers={replicaset.ORPHANS_BY_NAMESPACE: replicaset.orphan_namespace_index},
        ),
        recorder=ctx.recorder,
        workers=ctx.options.concurrent_syncs,
        clock=ctx.clock,
    )
