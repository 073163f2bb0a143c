"""Pod garbage collector: removes pods nothing else will (upstream's pkg/controller/podgc).

Every ``period`` (20 s) on the injected clock, ``run`` looks at the pod and node caches and
force-deletes (grace period 0):
1. terminated pods (any phase but Pending/Running/Unknown) beyond
   ``terminated_pod_gc_threshold`` — evicted pods first, then the oldest;
2. terminating pods on nodes that are not Ready and carry the
   ``node.kubernetes.io/out-of-service`` taint;
3. pods bound to nodes that no longer exist: a missing node is quarantined for 40 s, then
   confirmed missing with a fresh read from the API; such pods are first moved to Failed
   with the condition DisruptionTarget=True, reason ``DeletionByPodGC``, message "PodGC:
   node no longer exists";
4. unscheduled pods that are being deleted (no kubelet will ever finish them).
Pods not yet terminal are patched to phase Failed before deletion, as upstream does, so
their owners (Jobs) see a terminal phase. ``plan`` is the pure part; ``gc`` applies it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, rest
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.workload_pods import NODES, PODS, condition, meta, phase
from pyk8s.controllers.workload_time import Wall, anchored_wall, format_time

__all__ = ["GCPlan", "PodGCController", "new", "plan"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

GC_PERIOD = 20.0
QUARANTINE = 40.0
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
ORPHAN_CONDITION = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "DeletionByPodGC",
    "message": "PodGC: node no longer exists",
}


def new(ctx: ControllerContext) -> Controller:
    return PodGCController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        threshold=ctx.options.terminated_pod_gc_threshold,
    )


def _terminated(pod: Mapping[str, Any]) -> bool:
    return phase(pod) not in ("Pending", "Running", "Unknown")


def _evicted(pod: Mapping[str, Any]) -> bool:
    return phase(pod) == "Failed" and (pod.get("status") or {}).get("reason") == "Evicted"


def _node_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _out_of_service(node: Mapping[str, Any]) -> bool:
    ready = condition(node, "Ready")
    tainted = any(
        t.get("key") == OUT_OF_SERVICE_TAINT and t.get("effect") == "NoExecute"
        for t in (node.get("spec") or {}).get("taints") or ()
    )
    return tainted and (ready is None or ready.get("status") != "True")


@dataclass(slots=True)
class GCPlan:
    terminated: list[Obj] = field(default_factory=list)
    out_of_service: list[Obj] = field(default_factory=list)
    missing_nodes: set[str] = field(default_factory=set)  # bound to nodes not in the cache
    unscheduled_terminating: list[Obj] = field(default_factory=list)


def plan(pods: Sequence[Obj], nodes: Sequence[Mapping[str, Any]], *, threshold: int) -> GCPlan:
    result = GCPlan()
    if threshold > 0:
        terminated = [p for p in pods if _terminated(p)]
        excess = len(terminated) - threshold
        if excess > 0:
            terminated.sort(
                key=lambda p: (
                    0 if _evicted(p) else 1,
                    str(meta(p).get("creationTimestamp") or ""),
                    str(meta(p).get("name") or ""),
                )
            )
            result.terminated = terminated[:excess]
    by_name = {str(meta(n).get("name") or ""): n for n in nodes}
    for pod in pods:
        node_name = _node_name(pod)
        deleting = bool(meta(pod).get("deletionTimestamp"))
        if node_name and node_name not in by_name:
            result.missing_nodes.add(node_name)
        elif node_name and deleting and _out_of_service(by_name[node_name]):
            result.out_of_service.append(pod)
        if not node_name and deleting:
            result.unscheduled_terminating.append(pod)
    return result


class PodGCController:
    name = "podgc"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        wall: Wall | None = None,
        threshold: int = 12500,
        period: float = GC_PERIOD,
        quarantine: float = QUARANTINE,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.wall = wall or anchored_wall(clock)
        self.threshold = threshold
        self.period = period
        self.quarantine = quarantine
        self.pods = informers.informer(PODS)
        self.nodes = informers.informer(NODES)
        self._missing_since: dict[str, float] = {}

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)

    async def _run(self) -> None:
        await self.pods.wait_synced()
        await self.nodes.wait_synced()
        while True:
            try:
                await self.gc()
            except (errors.ApiError, errors.TransportError) as exc:
                log.warning("podgc: %s", exc)
            await self.clock.sleep(self.period)

    async def gc(self) -> None:
        the_plan = plan(self.pods.list(), self.nodes.list(), threshold=self.threshold)
        await self._delete_all(the_plan.terminated, None)
        await self._delete_all(the_plan.out_of_service, None)
        deleted_nodes = await self._confirm_deleted(the_plan.missing_nodes)
        orphans = [p for p in self.pods.list() if _node_name(p) in deleted_nodes]
        await self._delete_all(orphans, ORPHAN_CONDITION)
        await self._delete_all(the_plan.unscheduled_terminating, None)

    async def _confirm_deleted(self, missing: set[str]) -> set[str]:
        now = self.clock.now()
        for name in list(self._missing_since):
            if name not in missing:
                del self._missing_since[name]
        deleted: set[str] = set()
        for name in missing:
            since = self._missing_since.setdefault(name, now)
            if now - since < self.quarantine:
                continue
            try:
                await self.client.get(NODES, name)
            except errors.NotFound:
                deleted.add(name)
            del self._missing_since[name]
        return deleted

    async def _delete_all(self, pods: Sequence[Obj], cond: Mapping[str, Any] | None) -> None:
        results = await asyncio.gather(
            *(self._fail_and_delete(p, cond) for p in pods), return_exceptions=True
        )
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                log.warning(
                    "podgc: could not delete %s/%s: %s",
                    meta(pod).get("namespace"),
                    meta(pod).get("name"),
                    result,
                )

    async def _fail_and_delete(self, pod: Obj, cond: Mapping[str, Any] | None) -> None:
        ns, name = str(meta(pod).get("namespace") or ""), str(meta(pod).get("name") or "")
        try:
            if phase(pod) not in ("Succeeded", "Failed"):
                status: Obj = {"phase": "Failed"}
                if cond is not None:
                    status["conditions"] = [
                        {**cond, "lastTransitionTime": format_time(self.wall())}
                    ]
                await self.client.patch(
                    PODS,
                    name,
                    {"status": status, "metadata": {"uid": meta(pod).get("uid")}},
                    namespace=ns,
                    subresource="status",
                    patch_type=rest.PatchType.STRATEGIC,
                )
            await self.client.delete(PODS, name, namespace=ns, grace_period_seconds=0)
        except errors.NotFound:
            return
        log.info("podgc: force-deleted pod %s/%s", ns, name)
