"""StatefulSet controller: pods with stable ordinal identities and their own volume
claims, created, updated and removed in order (upstream's pkg/controller/statefulset).

Pipeline: handlers on StatefulSets and Pods only enqueue the set's key (a pod's
controller, or for an orphan every set in its namespace whose selector matches); claims
and ControllerRevisions are read from their caches. ``sync(key)`` is level-triggered:
1. claim pods — adopt orphans named ``<set>-<n>`` that match the selector (after a fresh
   read of the set), release ours that stopped matching — and adopt orphan revisions;
2. pick the current and update ControllerRevisions, creating (or renumbering, on a
   rollback) the update revision; a name collision bumps ``collisionCount``;
3. compute the plan (``statefulset_plan.plan``, pure) and apply it: claims, then pods;
   OrderedReady one step at a time, Parallel in slow-start batches;
4. write the status when it changed (even if a step failed), then delete revisions past
   ``revisionHistoryLimit`` that no pod uses.

Invariant: a sync acts only on a cache that shows its own earlier creations and deletions
(``Expectations``); until then it returns and the informer event re-enqueues the set.
Events are upstream's: ``SuccessfulCreate`` "create Pod web-0 in StatefulSet web
successful", ``SuccessfulDelete``, ``SuccessfulUpdate``, ``FailedCreate`` …, and for
claims "create Claim www-web-0 Pod web-0 in StatefulSet web success".
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pyk8s.api import selectors
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import statefulset_pods as sp
from pyk8s.controllers import workload_history as history
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.statefulset_plan import Plan, Step, StepKind, plan
from pyk8s.controllers.workload_ownership import (
    Expectations,
    adoption_patch,
    claim,
    controller_of,
    controller_ref,
    is_controlled_by,
    owner_keys,
    release_patch,
)
from pyk8s.controllers.workload_pods import (
    CONTROLLER_REVISIONS,
    PODS,
    PVCS,
    STATEFULSETS,
    meta,
    selector_of,
    with_kind,
)
from pyk8s.controllers.workload_time import Wall, anchored_wall

__all__ = ["StatefulSetController", "new"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

_STATUS_RETRIES = 5
_MAX_BATCH = 500


def new(ctx: ControllerContext) -> Controller:
    return StatefulSetController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


class StatefulSetController:
    name = "statefulset"

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
        self.sets = informers.informer(STATEFULSETS)
        self.pods = informers.informer(PODS)
        self.claims = informers.informer(PVCS)
        self.revisions = informers.informer(CONTROLLER_REVISIONS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.expectations = Expectations()
        self.sets.add_handler(
            on_add=self._enqueue,
            on_update=lambda _o, n: self._enqueue(n),
            on_delete=self._set_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # ------------------------------------------------------------------ handlers

    def _enqueue(self, sts: Mapping[str, Any]) -> None:
        self.queue.add(ObjectKey.of(sts))

    def _set_deleted(self, sts: Mapping[str, Any]) -> None:
        self.expectations.forget(ObjectKey.of(sts))
        self._enqueue(sts)

    def _owner_keys(self, pod: Mapping[str, Any]) -> list[ObjectKey]:
        return owner_keys(pod, kind=sp.KIND, owners=self.sets)

    def _pod_added(self, pod: Obj) -> None:
        self.expectations.observe(pod)
        for key in self._owner_keys(pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new_: Obj) -> None:
        self.expectations.observe(new_)
        for key in {*self._owner_keys(old), *self._owner_keys(new_)}:
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        self.expectations.observe(pod, deleted=True)
        for key in self._owner_keys(pod):
            self.queue.add(key)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        for inf in (self.sets, self.pods, self.claims, self.revisions):
            await inf.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    # ------------------------------------------------------------------ sync

    async def sync(self, key: ObjectKey) -> None:
        sts = self.sets.get(key)
        if sts is None:
            self.expectations.forget(key)
            return
        if not self.expectations.satisfied(key):
            return
        try:
            selector = selector_of(sts)
        except selectors.SelectorError as exc:
            log.warning("statefulset %s: invalid selector: %s", key, exc)
            return
        pods = await self._claim_pods(sts, selector)
        revisions = history.sort_revisions(await self._claim_revisions(sts, selector))
        collision = int((sts.get("status") or {}).get("collisionCount") or 0)
        current, update, collision = await self._current_and_update(sts, revisions, collision)
        the_plan = plan(
            sts,
            pods,
            current_set=sp.apply_revision(sts, current),
            update_set=sp.apply_revision(sts, update),
            current_revision=str(meta(current).get("name")),
            update_revision=str(meta(update).get("name")),
            collision_count=collision,
            claims={str(meta(c).get("name")): c for c in self.claims.list(key.namespace)},
            now=self.wall(),
        )
        failure: BaseException | None = None
        try:
            await self._apply(key, sts, the_plan)
        except (errors.ApiError, errors.TransportError) as exc:
            failure = exc
        await self._write_status(sts, the_plan.status)
        live = {str(meta(current).get("name")), str(meta(update).get("name"))}
        live |= {sp.pod_revision(p) for p in pods}
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        for rev in history.revisions_to_truncate(
            revisions, live, 10 if limit is None else int(limit)
        ):
            await self._ignore_not_found(
                self.client.delete(
                    CONTROLLER_REVISIONS, str(meta(rev).get("name")), namespace=key.namespace
                )
            )
        if failure is not None:
            raise failure
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        if min_ready > 0 and the_plan.status["availableReplicas"] != sp.replicas(sts):
            self.queue.add_after(key, float(min_ready))

    # ------------------------------------------------------------------ claiming

    async def _fresh_owner_allows_adoption(self, sts: Mapping[str, Any]) -> bool:
        try:
            fresh = await self.client.get(
                STATEFULSETS, str(meta(sts).get("name")), namespace=meta(sts).get("namespace")
            )
        except errors.NotFound:
            return False
        return meta(fresh).get("uid") == meta(sts).get("uid") and not meta(fresh).get(
            "deletionTimestamp"
        )

    async def _claim_pods(self, sts: Obj, selector: selectors.LabelSelector) -> list[Obj]:
        ns = str(meta(sts).get("namespace") or "")
        candidates = {meta(p).get("uid"): p for p in self.pods.by_owner(sts)}
        for pod in self.pods.list(ns):
            if controller_of(pod) is None and sp.is_member(sts, pod):
                candidates[meta(pod).get("uid")] = pod
        result = claim(sts, selector, [p for p in candidates.values() if sp.is_member(sts, p)])
        owned = list(result.owned)
        ref = controller_ref(sts, api_version=sp.API_VERSION, kind=sp.KIND)
        if result.adopt and await self._fresh_owner_allows_adoption(sts):
            for pod in result.adopt:
                patched = await self._ignore_not_found(
                    self.client.patch(
                        PODS,
                        str(meta(pod).get("name")),
                        adoption_patch(pod, ref),
                        namespace=ns,
                        patch_type=rest.PatchType.STRATEGIC,
                    )
                )
                if patched is not None and is_controlled_by(patched, sts):
                    owned.append(patched)
        for pod in result.release:
            await self._ignore_not_found(
                self.client.patch(
                    PODS,
                    str(meta(pod).get("name")),
                    release_patch(pod, sts),
                    namespace=ns,
                    patch_type=rest.PatchType.STRATEGIC,
                )
            )
        return owned

    async def _claim_revisions(self, sts: Obj, selector: selectors.LabelSelector) -> list[Obj]:
        ns = str(meta(sts).get("namespace") or "")
        result = claim(sts, selector, self.revisions.list(ns))
        owned = list(result.owned)
        if result.adopt and await self._fresh_owner_allows_adoption(sts):
            ref = controller_ref(sts, api_version=sp.API_VERSION, kind=sp.KIND)
            for rev in result.adopt:
                patched = await self._ignore_not_found(
                    self.client.patch(
                        CONTROLLER_REVISIONS,
                        str(meta(rev).get("name")),
                        adoption_patch(rev, ref),
                        namespace=ns,
                        patch_type=rest.PatchType.STRATEGIC,
                    )
                )
                if patched is not None:
                    owned.append(patched)
        return owned

    # ------------------------------------------------------------------ revisions

    async def _current_and_update(
        self, sts: Obj, revisions: list[Obj], collision: int
    ) -> tuple[Obj, Obj, int]:
        template_labels = ((sts.get("spec") or {}).get("template") or {}).get("metadata", {}).get(
            "labels"
        ) or {}

        def candidate(count: int) -> Obj:
            return history.new_revision(
                sts,
                api_version=sp.API_VERSION,
                kind=sp.KIND,
                template_labels=template_labels,
                data=history.template_patch(sts),
                revision=history.next_revision(revisions),
                collision_count=count,
                annotations=meta(sts).get("annotations") or None,
            )

        wanted = candidate(collision)
        action, update = (
            history.choose_update_revision(revisions, wanted) if revisions else ("create", wanted)
        )
        if action == "renumber":
            bumped = copy.deepcopy(update)
            bumped["revision"] = wanted["revision"]
            update = await self.client.update(CONTROLLER_REVISIONS, bumped)
        elif action == "create":
            while True:
                try:
                    update = await self.client.create(CONTROLLER_REVISIONS, wanted)
                    break
                except errors.AlreadyExists:
                    existing = await self.client.get(
                        CONTROLLER_REVISIONS,
                        str(meta(wanted).get("name")),
                        namespace=meta(sts).get("namespace"),
                    )
                    if is_controlled_by(existing, sts) and history.equal_revision(existing, wanted):
                        update = existing
                        break
                    collision += 1
                    wanted = candidate(collision)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if meta(r).get("name") == current_name), update)
        return current, update, collision

    # ------------------------------------------------------------------ applying

    async def _apply(self, key: ObjectKey, sts: Obj, the_plan: Plan) -> None:
        for steps in the_plan.phases:
            if the_plan.monotonic:
                for step in steps:
                    await self._do(key, sts, step)
            else:
                await _slow_start(steps, lambda step: self._do(key, sts, step))

    async def _do(self, key: ObjectKey, sts: Obj, step: Step) -> None:
        if step.kind is StepKind.CREATE:
            await self._create_pod(key, sts, step.pod)
        elif step.kind is StepKind.DELETE:
            await self._delete_pod(key, sts, step.pod)
        elif step.kind is StepKind.CREATE_CLAIMS:
            await self._create_claims(sts, step.pod)
        elif step.kind is StepKind.UPDATE:
            await self._update_pod(sts, step.pod)
        else:
            await self._fix_claims(sts, step.pod)

    def _event(self, sts: Obj, reason: str, message: str, *, warning: bool = False) -> None:
        self.recorder.record(
            with_kind(sts, sp.KIND, sp.API_VERSION),
            reason=reason,
            message=message,
            event_type=events.EventType.WARNING if warning else events.EventType.NORMAL,
        )

    def _pod_event(
        self, verb: str, sts: Obj, pod: Mapping[str, Any], exc: BaseException | None
    ) -> None:
        pod_name, set_name = meta(pod).get("name"), meta(sts).get("name")
        if exc is None:
            self._event(
                sts,
                f"Successful{verb.title()}",
                f"{verb} Pod {pod_name} in StatefulSet {set_name} successful",
            )
        else:
            self._event(
                sts,
                f"Failed{verb.title()}",
                f"{verb} Pod {pod_name} in StatefulSet {set_name} failed error: {exc}",
                warning=True,
            )

    async def _create_claims(self, sts: Obj, pod: Mapping[str, Any]) -> None:
        ns = str(meta(sts).get("namespace") or "")
        failures: list[str] = []
        for claim_obj in sp.claims_for(sts, sp.ordinal(pod)).values():
            name = str(claim_obj["metadata"]["name"])
            cached = self.claims.get(ObjectKey(ns, name))
            if cached is not None:
                if meta(cached).get("deletionTimestamp"):
                    failures.append(f"pvc {name} is being deleted")
                continue
            owner_refs = sp.updated_claim_owner_refs(claim_obj, sts, pod)
            if owner_refs:
                claim_obj["metadata"]["ownerReferences"] = owner_refs
            try:
                await self.client.create(PVCS, claim_obj)
            except errors.AlreadyExists:
                continue
            except (errors.ApiError, errors.TransportError) as exc:
                failures.append(f"failed to create PVC {name}: {exc}")
                self._event(
                    sts,
                    "FailedCreate",
                    f"create Claim {name} for Pod {meta(pod).get('name')} in StatefulSet "
                    f"{meta(sts).get('name')} failed error: {exc}",
                    warning=True,
                )
                continue
            self._event(
                sts,
                "SuccessfulCreate",
                f"create Claim {name} Pod {meta(pod).get('name')} in StatefulSet {meta(sts).get('name')} success",
            )
        if failures:
            raise errors.ApiError(code=500, reason="InternalError", message="; ".join(failures))

    async def _create_pod(self, key: ObjectKey, sts: Obj, pod: Obj) -> None:
        try:
            await self._create_claims(sts, pod)
            created = await self.client.create(PODS, pod, namespace=key.namespace)
        except (errors.ApiError, errors.TransportError) as exc:
            self._pod_event("create", sts, pod, exc)
            raise
        self.expectations.expect_created(key, str(meta(created).get("uid") or ""))
        self._pod_event("create", sts, pod, None)

    async def _delete_pod(self, key: ObjectKey, sts: Obj, pod: Obj) -> None:
        uid = str(meta(pod).get("uid") or "")
        try:
            await self.client.delete(
                PODS,
                str(meta(pod).get("name")),
                namespace=key.namespace,
                preconditions=paths.Preconditions(uid=uid),
            )
        except errors.NotFound:
            return
        except (errors.ApiError, errors.TransportError) as exc:
            self._pod_event("delete", sts, pod, exc)
            raise
        self.expectations.expect_deleted(key, uid)
        self._pod_event("delete", sts, pod, None)

    async def _update_pod(self, sts: Obj, pod: Obj) -> None:
        ns = str(meta(pod).get("namespace") or "")
        if not sp.storage_matches(sts, pod):
            await self._create_claims(sts, pod)  # a pod's volumes cannot change; its claims can
        await self._fix_claims(sts, pod)
        if sp.identity_matches(sts, pod):
            return
        want = copy.deepcopy(pod)
        sp.update_identity(sts, want)
        patch = {
            "metadata": {
                "labels": {
                    k: want["metadata"]["labels"][k]
                    for k in (sp.POD_NAME_LABEL, sp.POD_INDEX_LABEL)
                }
            }
        }
        try:
            await self.client.patch(PODS, str(meta(pod).get("name")), patch, namespace=ns)
        except errors.NotFound:
            return
        except (errors.ApiError, errors.TransportError) as exc:
            self._pod_event("update", sts, pod, exc)
            raise
        self._pod_event("update", sts, pod, None)

    async def _fix_claims(self, sts: Obj, pod: Obj) -> None:
        ns = str(meta(sts).get("namespace") or "")
        for claim_obj in sp.claims_for(sts, sp.ordinal(pod)).values():
            cached = self.claims.get(ObjectKey(ns, str(claim_obj["metadata"]["name"])))
            if cached is None or sp.claim_owner_up_to_date(cached, sts, pod):
                continue
            updated = copy.deepcopy(cached)
            updated["metadata"]["ownerReferences"] = sp.updated_claim_owner_refs(cached, sts, pod)
            await self._ignore_not_found(self.client.update(PVCS, updated))

    async def _write_status(self, sts: Obj, status: Obj) -> None:
        current = sts
        for _ in range(_STATUS_RETRIES):
            old = current.get("status") or {}
            new_status = {**{k: v for k, v in old.items() if k == "conditions"}, **status}
            if new_status == old:
                return
            body = copy.deepcopy(current)
            body["status"] = new_status
            try:
                await self.client.update_status(STATEFULSETS, body)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                current = await self.client.get(
                    STATEFULSETS, str(meta(sts).get("name")), namespace=meta(sts).get("namespace")
                )
                if meta(current).get("uid") != meta(sts).get("uid"):
                    return

    @staticmethod
    async def _ignore_not_found(call: Awaitable[Obj]) -> Obj | None:
        try:
            return await call
        except errors.NotFound:
            return None


async def _slow_start(steps: Sequence[Step], fn: Callable[[Step], Awaitable[None]]) -> None:
    """Run ``fn`` over the steps in batches of 1, 2, 4, … (at most 500); stop after a
    batch with a failure and raise the first one (upstream's slowStartBatch)."""
    index, size = 0, 1
    while index < len(steps):
        batch = steps[index : index + size]
        results = await asyncio.gather(*(fn(s) for s in batch), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        index += len(batch)
        size = min(size * 2, _MAX_BATCH)
