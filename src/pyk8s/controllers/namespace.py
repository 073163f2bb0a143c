"""Namespace controller: empties a Terminating namespace, then lets it go (upstream's
pkg/controller/namespace and its NamespacedResourcesDeleter).

A namespace being deleted (``deletionTimestamp`` set) keeps ``spec.finalizers:
["kubernetes"]`` until this controller has removed everything in it. ``sync(name)``:

1. re-read the namespace; nothing to do unless it is being deleted;
2. if "kubernetes" is no longer among its finalizers, delete it (uid precondition);
3. otherwise delete the content: for every namespaced resource discovery lists with
   ``list`` and ``delete`` — custom resources included — DELETE the collection
   (``propagationPolicy: Background``), or each item when ``deletecollection`` is not
   served; then list what is left;
4. record the outcome in the namespace's status conditions, upstream's five
   (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
   NamespaceDeletionContentFailure, NamespaceContentRemaining,
   NamespaceFinalizersRemaining) with upstream's reasons and messages (option
   ``namespace-status-conditions=false`` turns the writes off);
5. if anything remains, look again later — after half the estimate (the longest grace
   period of the pods still terminating, 15 s for objects held by finalizers), or as soon
   as a pod of a terminating namespace disappears (the pod informer wakes us, so a
   namespace does not wait out the estimate once its pods are gone); if nothing remains,
   PUT ``/finalize`` without "kubernetes" and delete the namespace.

The estimate counts only pods still present after the deletion (upstream counts them
before it), so an empty namespace is finalized in the same sync.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import discovery, meta, metrics, podcontrol
from pyk8s.controllers.context import ControllerContext

__all__ = [
    "CONDITIONS_OPTION",
    "FINALIZER",
    "ContentResult",
    "NamespaceController",
    "content_conditions",
    "new_namespace_controller",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACES = paths.resource_for("", "v1", "namespaces", kind="Namespace")
FINALIZER = "kubernetes"
COMPONENT = "namespace-controller"
FINALIZER_ESTIMATE_SECONDS = 15
CONDITIONS_OPTION = "namespace-status-conditions"


@dataclass
class ContentResult:
    """What one pass of deleting a namespace's content found."""

    estimate: int = 0
    remaining: dict[str, int] = field(default_factory=dict)  # "pods." → count
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer → count
    discovery_errors: list[str] = field(default_factory=list)
    deletion_errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return (
            not self.remaining
            and not self.deletion_errors
            and not self.discovery_errors
            and self.estimate == 0
        )


def _condition(
    ctype: str, failed: bool, reasons: tuple[str, str], messages: tuple[str, str], now: datetime
) -> Obj:
    return {
        "type": ctype,
        "status": "True" if failed else "False",
        "lastTransitionTime": meta.format_time(now),
        "reason": reasons[1] if failed else reasons[0],
        "message": messages[1] if failed else messages[0],
    }


def content_conditions(result: ContentResult, now: datetime) -> list[Obj]:
    """The namespace deletion conditions for one pass, with upstream's wording."""
    remaining = sorted(f"{res} has {n} resource instances" for res, n in result.remaining.items())
    finalizers = sorted(f"{f} in {n} resource instances" for f, n in result.finalizers.items())
    return [
        _condition(
            "NamespaceDeletionDiscoveryFailure",
            bool(result.discovery_errors),
            ("ResourcesDiscovered", "DiscoveryFailed"),
            (
                "All resources successfully discovered",
                f"Discovery failed for some groups, {len(result.discovery_errors)} failing: "
                + ", ".join(result.discovery_errors),
            ),
            now,
        ),
        _condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            False,
            ("ParsedGroupVersions", "GroupVersionParsingFailed"),
            ("All legacy kube types successfully parsed", ""),
            now,
        ),
        _condition(
            "NamespaceDeletionContentFailure",
            bool(result.deletion_errors),
            ("ContentDeleted", "ContentDeletionFailed"),
            (
                "All content successfully deleted, may be waiting on finalization",
                f"Failed to delete all resource types, {len(result.deletion_errors)} remaining: "
                + ", ".join(result.deletion_errors),
            ),
            now,
        ),
        _condition(
            "NamespaceContentRemaining",
            bool(remaining),
            ("ContentRemoved", "SomeResourcesRemain"),
            (
                "All content successfully removed",
                "Some resources are remaining: " + ", ".join(remaining),
            ),
            now,
        ),
        _condition(
            "NamespaceFinalizersRemaining",
            bool(finalizers),
            ("ContentHasNoFinalizers", "SomeFinalizersRemain"),
            (
                "All content-preserving finalizers finished",
                "Some content in the namespace has finalizers remaining: " + ", ".join(finalizers),
            ),
            now,
        ),
    ]


def merge_conditions(old: Sequence[Mapping[str, Any]], new: Sequence[Obj]) -> list[Obj] | None:
    """The conditions to store, or None when nothing but timestamps would change."""
    by_type = {c.get("type"): c for c in old}
    out: list[Obj] = []
    changed = False
    for cond in new:
        prev = by_type.pop(cond["type"], None)
        if prev is not None and all(
            prev.get(k) == cond[k] for k in ("status", "reason", "message")
        ):
            out.append(dict(prev))
        else:
            out.append(cond)
            changed = True
    out.extend(dict(c) for c in by_type.values())
    return out if changed else None


class NamespaceController:
    def __init__(
        self,
        *,
        client: rest.RESTClient,
        namespaces: informer.SharedInformer[Obj],
        pods_informer: informer.SharedInformer[Obj],
        workers: int = 10,
        write_conditions: bool = False,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: clock_mod.Wall = clock_mod.utc_now,
    ) -> None:
        self.name = COMPONENT
        self.write_conditions = write_conditions
        self.client = client
        self.namespaces = namespaces
        self.pods = pods_informer
        self.workers = workers
        self._wall = wall
        self.queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(name=COMPONENT, clock=clock)
        namespaces.on_change(self._namespace_changed)
        pods_informer.add_handler(on_delete=self._pod_gone)

    def _namespace_changed(self, ns: Obj) -> None:
        if meta.deletion_timestamp(ns):
            self.queue.add(meta.name(ns))

    def _pod_gone(self, pod: Obj) -> None:
        ns = self.namespaces.get(ObjectKey("", meta.namespace(pod)))
        if ns is not None and meta.deletion_timestamp(ns):
            self.queue.add(meta.namespace(pod))

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.namespaces.wait_synced(), self.pods.wait_synced())
        sync = metrics.instrument(self.name, self.sync)
        work = asyncio.ensure_future(workqueue.run_workers(self.queue, sync, self.workers))
        try:
            await stop.wait()
        finally:
            self.queue.shutdown()
            await work

    async def sync(self, name: str) -> None:
        try:
            ns = await self.client.get(NAMESPACES, name)
        except errors.NotFound:
            return
        if not meta.deletion_timestamp(ns):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or ()):
            await self._delete_namespace(ns)
            return
        result = await self.delete_content(name)
        if result.done or self.write_conditions:
            ns = await self._write_conditions(ns, content_conditions(result, self._wall()))
        if not result.done:
            log.info(
                "namespace %s: content remains (%s); estimate %ss",
                name,
                ", ".join(f"{k} {v}" for k, v in sorted(result.remaining.items())) or "errors",
                result.estimate,
            )
            self.queue.add_after(name, result.estimate / 2 + 1 if result.estimate else 1.0)
            return
        spec_finalizers = [
            f for f in (ns.get("spec") or {}).get("finalizers") or () if f != FINALIZER
        ]
        body = copy.deepcopy(ns)
        body.setdefault("spec", {})["finalizers"] = spec_finalizers
        try:
            ns = await self.client.update(NAMESPACES, body, subresource="finalize")
        except errors.NotFound:
            return
        log.info("namespace %s: content deleted; finalized", name)
        if not spec_finalizers:
            await self._delete_namespace(ns)

    async def _delete_namespace(self, ns: Mapping[str, Any]) -> None:
        try:
            await self.client.delete(
                NAMESPACES, meta.name(ns), preconditions=paths.Preconditions(uid=meta.uid(ns))
            )
        except (errors.NotFound, errors.Conflict):
            pass

    async def _write_conditions(self, ns: Obj, conditions: list[Obj]) -> Obj:
        status = ns.get("status") or {}
        merged = merge_conditions(status.get("conditions") or (), conditions)
        if merged is None:
            return ns
        body = {**ns, "status": {**status, "phase": "Terminating", "conditions": merged}}
        try:
            return await self.client.update_status(NAMESPACES, body)
        except (errors.Conflict, errors.NotFound):
            return ns

    async def delete_content(self, namespace: str) -> ContentResult:
        result = ContentResult()
        try:
            found = await discovery.discover(self.client)
        except (errors.ApiError, errors.TransportError) as exc:
            result.discovery_errors.append(str(exc))
            return result
        for res in found.with_verbs("list", "delete", namespaced=True):
            await self._delete_resource(res, found.verbs(res), namespace, result)
        return result

    async def _delete_resource(
        self,
        res: resources.Resource,
        verbs: frozenset[str],
        namespace: str,
        result: ContentResult,
    ) -> None:
        label = f"{res.plural}.{res.group}"
        try:
            if "deletecollection" in verbs:
                await self.client.delete_collection(
                    res, namespace=namespace, propagation_policy="Background"
                )
            else:
                items, _ = await self.client.list_all(res, namespace=namespace)
                for item in items:
                    if meta.deletion_timestamp(item):
                        continue
                    try:
                        await self.client.delete(
                            res,
                            meta.name(item),
                            namespace=namespace,
                            propagation_policy="Background",
                        )
                    except errors.NotFound:
                        pass
            left, _ = await self.client.list_all(res, namespace=namespace)
        except (errors.ApiError, errors.TransportError) as exc:
            if isinstance(exc, errors.ApiError) and exc.code in (404, 405):
                return
            result.deletion_errors.append(f"{label}: {exc}")
            return
        if not left:
            return
        result.remaining[label] = len(left)
        estimate = 0
        if res.key == podcontrol.PODS.key:
            for pod in left:
                if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
                estimate = max(estimate, int(grace or 0))
        for item in left:
            for f in meta.finalizers(item):
                result.finalizers[f] = result.finalizers.get(f, 0) + 1
        if not estimate and any(meta.finalizers(i) for i in left):
            estimate = FINALIZER_ESTIMATE_SECONDS
        if not estimate and not any(meta.finalizers(i) for i in left):
            result.deletion_errors.append(
                f"unexpected items still remain in namespace: {namespace} for gvr: {label}"
            )
        result.estimate = max(result.estimate, estimate)


def new_namespace_controller(ctx: ControllerContext) -> NamespaceController:
    return NamespaceController(
        client=ctx.client,
        namespaces=ctx.informers.informer(NAMESPACES),
        pods_informer=ctx.informers.informer(podcontrol.PODS),
        write_conditions=ctx.options.extra.get(CONDITIONS_OPTION) != "false",
        clock=ctx.clock,
    )
