"""DaemonSet controller: one pod on every eligible node (upstream's pkg/controller/daemon).

Pipeline: handlers on DaemonSets, Pods and Nodes only enqueue keys — a pod's controller
(or, for an orphan, every set in its namespace whose selector matches), and for a node
change every DaemonSet. ``sync(key)`` is level-triggered:
1. history: find the ControllerRevision whose data equals the set's template (creating
   ``<ds>-<hash>`` with the next revision number, or renumbering an old one on rollback;
   a name collision bumps ``status.collisionCount``); its hash is the pods'
   ``controller-revision-hash``;
2. claim pods (adopt matching orphans after a fresh read of the set, release ours that
   stopped matching);
3. unless earlier creations/deletions are not yet in the cache (then only status is
   written, without raising ``observedGeneration``): ``daemonset_plan.manage`` — create
   pods (slow-start batches) pinned to their nodes by node affinity, delete misplaced,
   failed and duplicate ones — and, when that has nothing to do and the strategy is
   RollingUpdate, ``daemonset_plan.rolling_update``;
4. delete old revisions past ``revisionHistoryLimit`` that no pod uses, write status.

Failed pods are deleted with a per-node back-off (1 s doubling to 15 min) and a
``FailedDaemonPod`` warning; pod writes record ``SuccessfulCreate`` "Created pod: <name>"
and ``SuccessfulDelete`` "Deleted pod: <name>" (``FailedCreate``/``FailedDelete`` on errors).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.api import selectors
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import daemonset_nodes as dn
from pyk8s.controllers import daemonset_plan as dp
from pyk8s.controllers import workload_history as history
from pyk8s.controllers.context import Controller, ControllerContext
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
    DAEMONSETS,
    NODES,
    PODS,
    labels,
    meta,
    selector_of,
    with_kind,
)
from pyk8s.controllers.workload_time import Wall, anchored_wall

__all__ = ["DaemonSetController", "new"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

_BACKOFF_INITIAL = 1.0
_BACKOFF_MAX = 900.0
_MAX_BATCH = 500
_STATUS_RETRIES = 5


def new(ctx: ControllerContext) -> Controller:
    return DaemonSetController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


class DaemonSetController:
    name = "daemonset"

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
        self.clock = clock
        self.wall = wall or anchored_wall(clock)
        self.workers = workers
        self.sets = informers.informer(DAEMONSETS)
        self.pods = informers.informer(PODS)
        self.nodes = informers.informer(NODES)
        self.revisions = informers.informer(CONTROLLER_REVISIONS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.expectations = Expectations()
        # failed-pod back-off per (set uid, node): (delay, deleted at)
        self._backoff: dict[tuple[str, str], tuple[float, float]] = {}
        self.sets.add_handler(
            on_add=self._enqueue,
            on_update=lambda _o, n: self._enqueue(n),
            on_delete=self._set_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )
        self.nodes.add_handler(
            on_add=lambda _n: self._enqueue_all(),
            on_update=self._node_updated,
            on_delete=lambda _n: self._enqueue_all(),
        )

    # ------------------------------------------------------------------ handlers

    def _enqueue(self, ds: Mapping[str, Any]) -> None:
        self.queue.add(ObjectKey.of(ds))

    def _enqueue_all(self) -> None:
        for ds in self.sets.list():
            self._enqueue(ds)

    def _node_updated(self, old: Obj, new_: Obj) -> None:
        if labels(old) != labels(new_) or (old.get("spec") or {}) != (new_.get("spec") or {}):
            self._enqueue_all()

    def _set_deleted(self, ds: Mapping[str, Any]) -> None:
        self.expectations.forget(ObjectKey.of(ds))
        self._enqueue(ds)

    def _owner_keys(self, pod: Mapping[str, Any]) -> list[ObjectKey]:
        return owner_keys(pod, kind=dn.KIND, owners=self.sets)

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
        for inf in (self.sets, self.pods, self.nodes, self.revisions):
            await inf.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    # ------------------------------------------------------------------ sync

    async def sync(self, key: ObjectKey) -> None:
        ds = self.sets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        try:
            selector = selector_of(ds)
        except selectors.SelectorError as exc:
            log.warning("daemonset %s: invalid selector: %s", key, exc)
            return
        if selector.empty:
            self._event(
                ds,
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
                warning=True,
            )
            return
        if meta(ds).get("deletionTimestamp"):
            return
        current, old = await self._history(ds, selector)
        hash_ = str(labels(current).get(history.HASH_LABEL) or "")
        pods = await self._claim_pods(ds, selector)
        nodes = self.nodes.list()
        by_node = dp.pods_by_node(pods)
        now = self.wall()
        if not self.expectations.satisfied(key):
            await self._write_status(
                ds, dp.status(ds, nodes, by_node, hash_=hash_, now=now, observe_generation=False)
            )
            return
        failure: BaseException | None = None
        try:
            await self._update(key, ds, nodes, by_node, hash_)
        except (errors.ApiError, errors.TransportError) as exc:
            failure = exc
        await self._cleanup_history(ds, old, pods)
        st = dp.status(ds, nodes, by_node, hash_=hash_, now=now, observe_generation=True)
        await self._write_status(ds, st)
        if failure is not None:
            raise failure
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and st["numberReady"] != st["numberAvailable"]:
            self.queue.add_after(key, float(min_ready))

    async def _update(
        self, key: ObjectKey, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], hash_: str
    ) -> None:
        uid = str(meta(ds).get("uid") or "")
        now = self.wall()
        plan = dp.manage(
            ds, nodes, by_node, hash_=hash_, now=now, backoff=self._backoff_left(uid, nodes)
        )
        for node_name, pod in plan.failed:
            self._backoff_next(uid, node_name)
            self._event(
                ds,
                "FailedDaemonPod",
                f"Found failed daemon pod {meta(pod).get('namespace')}/{meta(pod).get('name')} on node "
                f"{node_name}, will try to kill it",
                warning=True,
            )
        if plan.retry_after is not None:
            self.queue.add_after(key, plan.retry_after)
        if plan.create_on or plan.delete:
            await self._sync_nodes(key, ds, plan.delete, plan.create_on, hash_)
            return
        strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate":
            delete, create_on = dp.rolling_update(ds, nodes, by_node, hash_=hash_, now=now)
            await self._sync_nodes(key, ds, delete, create_on, hash_)

    # ------------------------------------------------------------------ failed-pod back-off

    def _backoff_left(self, uid: str, nodes: list[Obj]) -> dict[str, float]:
        now = self.clock.now()
        left: dict[str, float] = {}
        for node in nodes:
            name = str(meta(node).get("name") or "")
            entry = self._backoff.get((uid, name))
            if entry is not None:
                delay, at = entry
                if now - at < delay:
                    left[name] = delay - (now - at)
                elif now - at > 2 * _BACKOFF_MAX:
                    del self._backoff[(uid, name)]
        return left

    def _backoff_next(self, uid: str, node: str) -> None:
        entry = self._backoff.get((uid, node))
        delay = _BACKOFF_INITIAL if entry is None else min(entry[0] * 2, _BACKOFF_MAX)
        self._backoff[(uid, node)] = (delay, self.clock.now())

    # ------------------------------------------------------------------ claiming and history

    async def _fresh_owner_allows_adoption(self, ds: Mapping[str, Any]) -> bool:
        try:
            fresh = await self.client.get(
                DAEMONSETS, str(meta(ds).get("name")), namespace=meta(ds).get("namespace")
            )
        except errors.NotFound:
            return False
        return meta(fresh).get("uid") == meta(ds).get("uid") and not meta(fresh).get(
            "deletionTimestamp"
        )

    async def _claim(
        self,
        ds: Obj,
        selector: selectors.LabelSelector,
        cache: informer.SharedInformer[Obj],
        resource: Any,
    ) -> list[Obj]:
        ns = str(meta(ds).get("namespace") or "")
        candidates = {meta(o).get("uid"): o for o in cache.by_owner(ds)}
        for obj in cache.list(ns):
            if controller_of(obj) is None:
                candidates[meta(obj).get("uid")] = obj
        result = claim(ds, selector, list(candidates.values()))
        owned = list(result.owned)
        if result.adopt and await self._fresh_owner_allows_adoption(ds):
            ref = controller_ref(ds, api_version=dn.API_VERSION, kind=dn.KIND)
            for obj in result.adopt:
                try:
                    patched = await self.client.patch(
                        resource,
                        str(meta(obj).get("name")),
                        adoption_patch(obj, ref),
                        namespace=ns,
                        patch_type=rest.PatchType.STRATEGIC,
                    )
                except errors.NotFound:
                    continue
                if is_controlled_by(patched, ds):
                    owned.append(patched)
        if resource is PODS:
            for obj in result.release:
                try:
                    await self.client.patch(
                        resource,
                        str(meta(obj).get("name")),
                        release_patch(obj, ds),
                        namespace=ns,
                        patch_type=rest.PatchType.STRATEGIC,
                    )
                except errors.NotFound:
                    continue
        return owned

    async def _claim_pods(self, ds: Obj, selector: selectors.LabelSelector) -> list[Obj]:
        return await self._claim(ds, selector, self.pods, PODS)

    async def _history(self, ds: Obj, selector: selectors.LabelSelector) -> tuple[Obj, list[Obj]]:
        """(current revision, old revisions) — ``constructHistory``."""
        ns = str(meta(ds).get("namespace") or "")
        revisions = await self._claim(ds, selector, self.revisions, CONTROLLER_REVISIONS)
        data = history.template_patch(ds)
        current = [r for r in revisions if r.get("data") == data]
        old = [r for r in revisions if r.get("data") != data]
        next_number = history.next_revision(old)
        if not current:
            return await self._snapshot(ds, data, next_number), old
        current = history.sort_revisions(current)
        keep = current[-1]
        for dup in current[:-1]:  # dedupCurHistories: relabel their pods, then drop them
            dup_hash = labels(dup).get(history.HASH_LABEL)
            for pod in self.pods.by_owner(ds):
                if dup_hash and labels(pod).get(history.HASH_LABEL) == dup_hash:
                    patch = {
                        "metadata": {
                            "labels": {history.HASH_LABEL: labels(keep).get(history.HASH_LABEL)}
                        }
                    }
                    await self._ignore_not_found(
                        self.client.patch(PODS, str(meta(pod).get("name")), patch, namespace=ns)
                    )
            await self._ignore_not_found(
                self.client.delete(CONTROLLER_REVISIONS, str(meta(dup).get("name")), namespace=ns)
            )
        if int(keep.get("revision") or 0) < next_number:
            bumped = copy.deepcopy(keep)
            bumped["revision"] = next_number
            keep = await self.client.update(CONTROLLER_REVISIONS, bumped)
        return keep, old

    async def _snapshot(self, ds: Obj, data: Obj, number: int) -> Obj:
        collision = (ds.get("status") or {}).get("collisionCount")
        template = (ds.get("spec") or {}).get("template") or {}
        hash_ = history.hash_template(template, collision)
        rev = history.new_revision(
            ds,
            api_version=dn.API_VERSION,
            kind=dn.KIND,
            template_labels=(template.get("metadata") or {}).get("labels") or {},
            data=data,
            revision=number,
            collision_count=collision,
            annotations=meta(ds).get("annotations") or None,
        )
        rev["metadata"]["name"] = history.revision_name(str(meta(ds).get("name")), hash_)
        rev["metadata"]["labels"][history.HASH_LABEL] = hash_
        try:
            return await self.client.create(CONTROLLER_REVISIONS, rev)
        except errors.AlreadyExists:
            existing = await self.client.get(
                CONTROLLER_REVISIONS, rev["metadata"]["name"], namespace=meta(ds).get("namespace")
            )
            if is_controlled_by(existing, ds) and existing.get("data") == data:
                return existing
            fresh = await self.client.get(
                DAEMONSETS, str(meta(ds).get("name")), namespace=meta(ds).get("namespace")
            )
            if (fresh.get("status") or {}).get("collisionCount") != collision:
                raise errors.Conflict(
                    code=409, reason="Conflict", message="stale collisionCount; retrying"
                ) from None
            fresh.setdefault("status", {})["collisionCount"] = int(collision or 0) + 1
            await self.client.update_status(DAEMONSETS, fresh)
            raise

    async def _cleanup_history(self, ds: Obj, old: list[Obj], pods: list[Obj]) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        live = {labels(p).get(history.HASH_LABEL) for p in pods}
        excess = len(old) - limit
        for rev in history.sort_revisions(old):
            if excess <= 0:
                break
            if labels(rev).get(history.HASH_LABEL) in live:
                continue
            await self._ignore_not_found(
                self.client.delete(
                    CONTROLLER_REVISIONS,
                    str(meta(rev).get("name")),
                    namespace=meta(ds).get("namespace"),
                )
            )
            excess -= 1

    # ------------------------------------------------------------------ writes

    def _event(self, ds: Obj, reason: str, message: str, *, warning: bool = False) -> None:
        self.recorder.record(
            with_kind(ds, dn.KIND, dn.API_VERSION),
            reason=reason,
            message=message,
            event_type=events.EventType.WARNING if warning else events.EventType.NORMAL,
        )

    async def _sync_nodes(
        self, key: ObjectKey, ds: Obj, delete: list[Obj], create_on: list[str], hash_: str
    ) -> None:
        failures: list[BaseException] = []
        index, size = 0, 1
        while index < len(create_on):
            batch = create_on[index : index + size]
            results = await asyncio.gather(
                *(self._create(key, ds, n, hash_) for n in batch), return_exceptions=True
            )
            batch_failures = [r for r in results if isinstance(r, BaseException)]
            failures += batch_failures
            if batch_failures:
                break
            index += len(batch)
            size = min(size * 2, _MAX_BATCH)
        results = await asyncio.gather(
            *(self._delete(key, ds, p) for p in delete), return_exceptions=True
        )
        failures += [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def _create(self, key: ObjectKey, ds: Obj, node_name: str, hash_: str) -> None:
        pod = dn.pod_for_node(ds, node_name, hash_)
        try:
            created = await self.client.create(PODS, pod, namespace=key.namespace)
        except (errors.ApiError, errors.TransportError) as exc:
            self._event(ds, "FailedCreate", f"Error creating: {exc}", warning=True)
            raise
        self.expectations.expect_created(key, str(meta(created).get("uid") or ""))
        self._event(ds, "SuccessfulCreate", f"Created pod: {meta(created).get('name')}")

    async def _delete(self, key: ObjectKey, ds: Obj, pod: Obj) -> None:
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
            self._event(ds, "FailedDelete", f"Error deleting: {exc}", warning=True)
            raise
        self.expectations.expect_deleted(key, uid)
        self._event(ds, "SuccessfulDelete", f"Deleted pod: {meta(pod).get('name')}")

    async def _write_status(self, ds: Obj, status: Obj) -> None:
        current = ds
        for _ in range(_STATUS_RETRIES):
            old = current.get("status") or {}
            new_status = {k: v for k, v in status.items() if k != "collisionCount"}
            if old.get("collisionCount") is not None:
                new_status["collisionCount"] = old["collisionCount"]
            if old == new_status:
                return
            body = copy.deepcopy(current)
            body["status"] = new_status
            try:
                await self.client.update_status(DAEMONSETS, body)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                current = await self.client.get(
                    DAEMONSETS, str(meta(ds).get("name")), namespace=meta(ds).get("namespace")
                )
                if meta(current).get("uid") != meta(ds).get("uid"):
                    return

    @staticmethod
    async def _ignore_not_found(call: Any) -> Obj | None:
        try:
            result: Obj = await call
            return result
        except errors.NotFound:
            return None
