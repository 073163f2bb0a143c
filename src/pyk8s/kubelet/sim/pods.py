"""Pod workers of the simulated nodes: move every pod bound to one of them along
``lifecycle.plan`` and write what it says.

Pipeline: one pod informer (``spec.nodeName!=``, shared by all the agent's nodes, filtered
in memory to them; its cache holds ``slim_pod`` copies) → handlers enqueue ``ObjectKey``s
→ a ``WorkQueue`` (a pod is never synced by two workers at once; repeated adds collapse,
so only the newest state is written) → ``workers`` concurrent ``sync(key)``:

1. Read the pod from the cache; gone → forget it and free its IP.
2. Skip it while its node is not ours, not registered, or not alive (stopped heartbeats:
   a dead kubelet moves nothing).
3. Facts: when it was first seen (adopted from ``status.startTime`` after an agent
   restart, with its IP), its IP from the node's podCIDR (``hostNetwork``: the node's),
   when its deletion was first seen.
4. ``lifecycle.plan`` at now. Write the status if the cached one differs in what the
   kubelet owns — unless the cache only lags behind our own last write. Status goes as a
   strategic merge patch to ``pods/status``: conditions merge by type (others' conditions
   survive), container status lists are replaced whole.
5. If the plan says the pod is finished after a deletion: DELETE with grace period 0
   and the pod's uid as precondition, like the kubelet. Finished pods give their IP back.
6. Otherwise come back at ``plan.next_at`` (a delayed add on the queue: no task or timer
   per pod).

Our own writes echo back through the watch; an update whose resourceVersion is the one
our write returned is not enqueued again. Pods the agent finds already Succeeded or
Failed are left as they are.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, paths, ratelimit, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.kubelet.sim import config, lifecycle
from pyk8s.kubelet.sim.metrics import SimMetrics
from pyk8s.kubelet.sim.nodes import NodeManager

__all__ = [
    "NODE_INDEX",
    "PODS",
    "PodWorkers",
    "node_index",
    "slim_pod",
    "status_matches",
    "status_patch",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PODS = resources.find("", "v1", "pods") or resources.Resource(
    group="", version="v1", kind="Pod", plural="pods", namespaced=True
)
NODE_INDEX = "spec.nodeName"
TERMINAL = ("Succeeded", "Failed")
_LIST_KEYS = ("containerStatuses", "initContainerStatuses")


_META_KEYS = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_SPEC_KEYS = (
    "nodeName",
    "restartPolicy",
    "hostNetwork",
    "readinessGates",
    "terminationGracePeriodSeconds",
)
_CONTAINER_KEYS = ("name", "image", "restartPolicy", "startupProbe", "readinessProbe")


def slim_pod(pod: Obj) -> Obj:
    """The parts of a pod the agent reads (``lifecycle``, status comparison): everything
    else — volumes, env, last-applied annotations — would only fill its cache, which at
    150,000 pods is most of its memory."""
    meta = pod.get("metadata") or {}
    slim_meta = {k: meta[k] for k in _META_KEYS if k in meta}
    for source in ("annotations", "labels"):
        found = {k: v for k, v in (meta.get(source) or {}).items() if k in config.POD_KNOBS}
        if found:
            slim_meta[source] = found
    spec = pod.get("spec") or {}
    slim_spec = {k: spec[k] for k in _SPEC_KEYS if k in spec}
    for kind in ("initContainers", "containers"):
        if kind in spec:
            slim_spec[kind] = [
                {k: c[k] for k in _CONTAINER_KEYS if k in c} for c in spec[kind] or ()
            ]
    out: Obj = {"metadata": slim_meta, "spec": slim_spec}
    if "status" in pod:
        out["status"] = pod["status"]
    return out


def node_index(obj: Mapping[str, Any]) -> Iterable[str]:
    name = (obj.get("spec") or {}).get("nodeName")
    return (name,) if name else ()


@dataclass(slots=True, eq=False)
class PodRecord:
    uid: str
    node: str
    seen_at: float
    ip: str | None = None
    deletion_seen_at: float | None = None
    written: bytes | None = None  # the status we wrote, until the cache shows it …
    written_rv: int = 0  # … and the resourceVersion it got
    running_reported: bool = False
    deleted: bool = False
    finished: bool = False


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


def status_matches(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Does the pod's status already say everything ``desired`` says?"""
    current = current or {}
    for key, value in desired.items():
        if key == "conditions":
            have = {c.get("type"): c for c in current.get("conditions") or ()}
            if any(have.get(c["type"]) != c for c in value):
                return False
        elif current.get(key) != value:
            return False
    return True


def status_patch(desired: Mapping[str, Any]) -> Obj:
    """The strategic merge patch that makes a pod's status say ``desired``."""
    status: Obj = {}
    for key, value in desired.items():
        if key == "conditions":
            # merged by type: spell out absent fields so stale ones are cleared
            status[key] = [{"reason": None, "message": None, **c} for c in value]
        elif key in _LIST_KEYS:
            status[key] = [{"$patch": "replace"}, *value]
        else:
            status[key] = value
    return {"status": status}


class PodWorkers:
    def __init__(
        self,
        *,
        client: rest.RESTClient,
        pods: informer.SharedInformer[Obj],
        nodes: NodeManager,
        sim: config.SimConfig,
        metrics: SimMetrics,
        wall: Callable[[], float],
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.client = client
        self.informer = pods
        self.nodes = nodes
        self.timings = sim.pods
        self.workers = sim.pod_workers
        self.metrics = metrics
        self.wall = wall
        self.records: dict[ObjectKey, PodRecord] = {}
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name="sim-pods",
            clock=clock,
            rate_limiter=ratelimit.ItemExponentialBackoff(0.05, 30.0),
        )
        pods.add_handler(on_add=self._added, on_update=self._updated, on_delete=self._added)

    # ------------------------------------------------------------------ handlers

    def _ours(self, pod: Obj) -> bool:
        return ((pod.get("spec") or {}).get("nodeName") or "") in self.nodes.nodes

    def _added(self, pod: Obj) -> None:
        if self._ours(pod):
            self.queue.add(ObjectKey.of(pod))

    def _updated(self, old: Obj, new: Obj) -> None:
        if not self._ours(new):
            return
        key = ObjectKey.of(new)
        rec = self.records.get(key)
        if rec is not None and rec.written_rv and rec.written_rv == _rv(new):
            return  # the echo of our own write
        self.queue.add(key)

    def node_changed(self, name: str) -> None:
        for pod in self.informer.by_index(NODE_INDEX, name):
            self.queue.add(ObjectKey.of(pod))

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(workqueue.run_workers(self.queue, self.sync, self.workers))
            await stop.wait()
            self.queue.shutdown()

    async def sync(self, key: ObjectKey) -> None:
        pod = self.informer.get(key)
        if pod is None:
            self._forget(key)
            return
        node_name = pod["spec"].get("nodeName") or ""
        node = self.nodes.get(node_name)
        if node is None or not node.alive:
            return
        meta = pod["metadata"]
        now = self.wall()
        rec = self.records.get(key)
        if rec is None or rec.uid != meta.get("uid") or rec.node != node_name:
            self._forget(key)
            rec = self._adopt(key, pod, now)
            if rec is None:
                return
        if rec.finished:
            return
        if pod["spec"].get("hostNetwork"):
            rec.ip = node.ip
        elif rec.ip is None and node.pod_ips is not None:
            # an address the pod already shows (an agent restart) is kept if it is free
            shown = (pod.get("status") or {}).get("podIP")
            if shown and node.pod_ips.reserve(key, shown):
                rec.ip = shown
            else:
                rec.ip = node.pod_ips.allocate(key)
            if rec.ip is None:
                log.warning("pod %s: no free address in %s", key, node.pod_cidr)
        if meta.get("deletionTimestamp") and rec.deletion_seen_at is None:
            rec.deletion_seen_at = now

        facts = lifecycle.PodFacts(
            seen_at=rec.seen_at,
            host_ip=node.ip,
            pod_ip=rec.ip,
            deletion_seen_at=rec.deletion_seen_at,
        )
        plan = lifecycle.plan(pod, facts, self.timings, now)
        written = self._up_to_date(pod, rec, plan.status) or await self._write(
            key, rec, plan.status
        )
        if not written:
            return
        if plan.delete and not rec.deleted:
            await self._delete(key, rec)
        if plan.terminal:
            rec.finished = not plan.delete or rec.deleted
            self._release_ip(key, rec)
        elif plan.next_at is not None:
            self.queue.add_after(key, max(0.0, plan.next_at - self.wall()) + 0.001)

    # ------------------------------------------------------------------ steps

    def _adopt(self, key: ObjectKey, pod: Obj, now: float) -> PodRecord | None:
        status = pod.get("status") or {}
        node_name = pod["spec"]["nodeName"]
        rec = PodRecord(uid=pod["metadata"].get("uid") or "", node=node_name, seen_at=now)
        self.records[key] = rec
        self.metrics.pods.inc()
        started = _parse_time(status.get("startTime"))
        if started is None:
            return rec
        # a pod this (or an earlier) agent already started: carry on from where it is
        rec.seen_at = started
        rec.running_reported = status.get("phase") == "Running"
        rec.finished = status.get("phase") in TERMINAL
        return rec

    def _up_to_date(self, pod: Obj, rec: PodRecord, desired: Obj) -> bool:
        if rec.written is not None:
            if _rv(pod) < rec.written_rv:  # the cache has not caught up with our write
                return rec.written == orjson.dumps(desired)
            rec.written = None  # it has: from now on the cache tells
        return status_matches(pod.get("status"), desired)

    async def _write(self, key: ObjectKey, rec: PodRecord, desired: Obj) -> bool:
        try:
            updated = await self.client.patch(
                PODS,
                key.name,
                status_patch(desired),
                namespace=key.namespace,
                patch_type=rest.PatchType.STRATEGIC,
                subresource="status",
            )
        except errors.NotFound:
            self._forget(key)
            return False
        except (errors.ApiError, errors.TransportError):
            self.metrics.write_errors.labels("pod-status").inc()
            raise
        if (updated.get("metadata") or {}).get("uid") != rec.uid:
            return False
        rec.written = orjson.dumps(desired)
        rec.written_rv = _rv(updated)
        self.metrics.pod_status_updates.inc()
        if desired.get("phase") == "Running" and not rec.running_reported:
            rec.running_reported = True
            self.metrics.pods_started.inc()
        return True

    async def _delete(self, key: ObjectKey, rec: PodRecord) -> None:
        try:
            await self.client.delete(
                PODS,
                key.name,
                namespace=key.namespace,
                grace_period_seconds=0,
                preconditions=paths.Preconditions(uid=rec.uid),
            )
        except (errors.NotFound, errors.Conflict):
            pass  # gone already, or a new pod under the same name
        except (errors.ApiError, errors.TransportError):
            self.metrics.write_errors.labels("pod-delete").inc()
            raise
        rec.deleted = True
        self.metrics.pod_deletions.inc()

    def _release_ip(self, key: ObjectKey, rec: PodRecord) -> None:
        node = self.nodes.get(rec.node)
        if node is not None and node.pod_ips is not None:
            node.pod_ips.release(key)

    def _forget(self, key: ObjectKey) -> None:
        rec = self.records.pop(key, None)
        if rec is not None:
            self._release_ip(key, rec)
            self.metrics.pods.dec()
