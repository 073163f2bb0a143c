"""Registration and heartbeats of the simulated nodes: the kubelet's node status manager
and node lease controller, for N nodes in one process.

- **Register** every node (``node_objects.node_object``, status included, as upstream's
  initialNode). A node that already exists (an agent restart) is adopted: its podCIDR and
  uid are kept and missing labels are patched in. Then its Lease is created (or adopted).
  Failures are retried with back-off until they succeed or the agent stops.
- **podCIDR:** whatever ``spec.podCIDR`` the node shows wins (a node IPAM controller's).
  A node still without one ``pod_cidr_wait_seconds`` after registration takes the one its
  index gives it in the cluster CIDR, with a patch guarded by the resourceVersion read (so
  it never overwrites a controller's choice); with a wait of 0 it is set at creation.
- **Heartbeats** run from one ``WorkQueue`` of ``(kind, node)`` items and ``workers``
  workers, so there is no task per node and no more than ``workers`` writes in flight.
  Lease renewals (``lease_renew_seconds``) and status checks (``status_update_seconds``)
  are spread evenly over their interval by node position. A renewal PUTs the last Lease
  written (its resourceVersion; a 409 re-reads it, a 404 re-creates it); failures retry
  after 200 ms doubling to 7 s, as upstream. A status check compares the status the node
  would post with the cached Node and writes only when something besides heartbeat times
  changed, or ``status_report_seconds`` passed since the last write (spread by position).
- **Stopping:** a node whose Node carries ``pyk8s.io/sim-stop-heartbeat: "true"`` (label or
  annotation), or that ``stop_heartbeat(name)`` was called for, neither renews nor posts —
  nor do its pods progress (``SimNode.alive``): a dead kubelet. Clearing it resumes at
  once. A Node deleted from the API is left alone for good.

``on_change(name)`` is called whenever what pods may depend on changes for a node
(registered, podCIDR learned, stopped or resumed, deleted).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, leaderelection, rest, store, workqueue
from pyk8s.kubelet.sim import config, ipam, node_objects
from pyk8s.kubelet.sim.metrics import SimMetrics

__all__ = ["NODES", "NodeManager", "SimNode"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NODES = resources.find("", "v1", "nodes") or resources.Resource(
    group="", version="v1", kind="Node", plural="nodes", namespaced=False
)
LEASES = leaderelection.LEASES
Item = tuple[str, str]  # (lease | status | cidr, node name)


@dataclass(slots=True, eq=False)
class SimNode:
    index: int
    position: int  # 0 … count-1, for spreading work over an interval
    name: str
    ip: str
    uid: str = ""
    registered: bool = False
    gone: bool = False
    stopped_by_label: bool = False
    stopped_by_call: bool = False
    pod_cidr: str | None = None
    pod_ips: ipam.PodIPs | None = None
    lease: Obj | None = None
    static: Obj | None = None  # node_objects.static_status, computed once
    failures: int = 0
    last_report: float = -math.inf

    @property
    def alive(self) -> bool:
        """Heartbeating, and moving its pods along."""
        return (
            self.registered
            and not self.gone
            and not self.stopped_by_label
            and not self.stopped_by_call
        )


class NodeManager:
    def __init__(
        self,
        *,
        client: rest.RESTClient,
        nodes: informer.SharedInformer[Obj],
        sim: config.SimConfig,
        metrics: SimMetrics,
        on_change: Callable[[str], None] = lambda name: None,
        wall: Callable[[], float],
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
    ) -> None:
        self.client = client
        self.informer = nodes
        self.template = sim.nodes
        self.heartbeat = sim.heartbeat
        self.workers = sim.node_workers
        self.metrics = metrics
        self.on_change = on_change
        self.wall = wall
        self.clock = clock
        self.boot_id = str(uuid.uuid4())
        t = self.template
        self.nodes: dict[str, SimNode] = {
            t.name(i): SimNode(i, pos, t.name(i), ipam.node_internal_ip(t.node_ip_range, i))
            for pos, i in enumerate(t.indexes)
        }
        self.registered = asyncio.Event()
        self.queue: workqueue.WorkQueue[Item] = workqueue.WorkQueue(name="sim-nodes", clock=clock)
        nodes.add_handler(on_add=self._observe, on_update=self._updated, on_delete=self._deleted)

    # ------------------------------------------------------------------ reads

    def get(self, name: str) -> SimNode | None:
        return self.nodes.get(name)

    def stop_heartbeat(self, name: str) -> None:
        node = self.nodes[name]
        node.stopped_by_call = True
        self.on_change(name)

    def resume_heartbeat(self, name: str) -> None:
        node = self.nodes[name]
        was_alive = node.alive
        node.stopped_by_call = False
        self._maybe_resumed(node, was_alive)

    # ------------------------------------------------------------------ informer

    def _updated(self, old: Obj, new: Obj) -> None:
        self._observe(new)

    def _observe(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        node = self.nodes.get(meta.get("name") or "")
        if node is None or not node.registered:
            return
        if node.uid and meta.get("uid") != node.uid:
            return  # someone else's node under our name: leave it alone
        was_alive = node.alive
        marks = [meta.get("labels") or {}, meta.get("annotations") or {}]
        node.stopped_by_label = any(m.get(config.STOP_HEARTBEAT) == "true" for m in marks)
        cidr = (obj.get("spec") or {}).get("podCIDR")
        changed = False
        if cidr and cidr != node.pod_cidr:
            node.pod_cidr = cidr
            node.pod_ips = ipam.PodIPs(cidr)
            changed = True
        if node.alive != was_alive:
            self._maybe_resumed(node, was_alive)
        elif changed:
            self.on_change(node.name)

    def _deleted(self, obj: Obj) -> None:
        node = self.nodes.get(((obj.get("metadata") or {}).get("name")) or "")
        if node is not None and node.registered and node.uid == obj["metadata"].get("uid"):
            log.warning("node %s was deleted; it stops heartbeating", node.name)
            node.gone = True
            self.on_change(node.name)

    def _maybe_resumed(self, node: SimNode, was_alive: bool) -> None:
        if node.alive and not was_alive:
            log.info("node %s heartbeats again", node.name)
            self.queue.add(("lease", node.name))
            self.queue.add(("status", node.name))
            if node.pod_cidr is None:
                self.queue.add(("cidr", node.name))
        elif was_alive and not node.alive:
            log.info("node %s stops heartbeating", node.name)
        self.on_change(node.name)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(workqueue.run_workers(self.queue, self._sync, self.workers))
                await clock_mod.run_until_stopped(self._register_all(), stop)
                await stop.wait()
                self.queue.shutdown()
        finally:
            self.queue.shutdown()

    async def _register_all(self) -> None:
        gate = asyncio.Semaphore(self.workers)
        count = max(1, len(self.nodes))

        async def one(node: SimNode) -> None:
            async with gate:
                await self._register(node)
            hb = self.heartbeat
            spread = node.position / count
            node.last_report = self.wall() - hb.status_report_seconds * spread
            self.queue.add_after(("lease", node.name), hb.lease_renew_seconds * spread)
            self.queue.add_after(("status", node.name), hb.status_update_seconds * spread)
            if node.pod_cidr is None:
                self.queue.add_after(("cidr", node.name), hb.pod_cidr_wait_seconds)
            self.metrics.nodes.inc()
            self.on_change(node.name)

        async with asyncio.TaskGroup() as tg:
            for node in self.nodes.values():
                tg.create_task(one(node))
        log.info("registered %d simulated nodes", len(self.nodes))
        self.registered.set()

    async def _register(self, node: SimNode) -> None:
        failures = 0
        while True:
            try:
                obj = await self._create_or_adopt(node)
                node.uid = obj["metadata"].get("uid") or ""
                node.registered = True
                self._observe(obj)
                node.lease = await self._write_lease(node, None)
                return
            except (errors.ApiError, errors.TransportError) as exc:
                failures += 1
                delay = min(0.2 * 2 ** (failures - 1), 7.0)
                log.warning(
                    "registering node %s failed (retry in %.1fs): %s", node.name, delay, exc
                )
                await self.clock.sleep(delay)

    async def _create_or_adopt(self, node: SimNode) -> Obj:
        body = node_objects.node_object(
            self.template, node.index, self.wall(), boot_id=self.boot_id
        )
        if self.heartbeat.pod_cidr_wait_seconds <= 0:
            cidr = self._own_cidr(node)
            body["spec"].update({"podCIDR": cidr, "podCIDRs": [cidr]})
        try:
            created: Obj = await self.client.create(NODES, body)
            return created
        except errors.AlreadyExists:
            pass
        existing: Obj = await self.client.get(NODES, node.name)
        labels = existing["metadata"].get("labels") or {}
        want = body["metadata"]["labels"]
        missing = {k: v for k, v in want.items() if labels.get(k) != v}
        if missing:
            existing = await self.client.patch(
                NODES,
                node.name,
                {"metadata": {"labels": missing}},
                patch_type=rest.PatchType.STRATEGIC,
            )
        log.info("adopted existing node %s", node.name)
        return existing

    def _own_cidr(self, node: SimNode) -> str:
        t = self.template
        return ipam.node_pod_cidr(t.cluster_cidr, t.node_cidr_mask_size, node.index)

    # ------------------------------------------------------------------ heartbeats

    async def _sync(self, item: Item) -> None:
        kind, name = item
        node = self.nodes[name]
        if not node.alive:
            return
        hb = self.heartbeat
        try:
            if kind == "lease":
                node.lease = await self._write_lease(node, node.lease)
                self.metrics.lease_renewals.inc()
                delay = hb.lease_renew_seconds
            elif kind == "status":
                await self._post_status(node)
                delay = hb.status_update_seconds
            else:
                await self._ensure_cidr(node)
                return
            node.failures = 0
        except (errors.ApiError, errors.TransportError) as exc:
            if errors.is_not_found(exc) and kind == "status":
                return  # the Node is gone; the informer will say so
            self.metrics.write_errors.labels(kind).inc()
            node.failures += 1
            delay = min(0.2 * 2 ** (node.failures - 1), 7.0)
            log.warning("node %s: %s update failed (retry in %.1fs): %s", name, kind, delay, exc)
        self.queue.add_after(item, delay)

    async def _write_lease(self, node: SimNode, lease: Obj | None) -> Obj:
        now = self.wall()
        duration = self.heartbeat.lease_duration_seconds
        if lease is not None:
            body = node_objects.renewed_lease(lease, now, duration=duration)
            try:
                updated: Obj = await self.client.update(LEASES, body)
                return _strip(updated)
            except errors.Conflict:
                pass
            except errors.NotFound:
                lease = None
        if lease is None:
            body = node_objects.lease_object(node.name, node.uid, now, duration=duration)
            try:
                created: Obj = await self.client.create(LEASES, body)
                return _strip(created)
            except errors.AlreadyExists:
                pass
        current = await self.client.get(LEASES, node.name, namespace=node_objects.LEASE_NAMESPACE)
        body = node_objects.renewed_lease(current, now, duration=duration)
        if node.uid:
            body["metadata"]["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node.uid}
            ]
        replaced: Obj = await self.client.update(LEASES, body)
        return _strip(replaced)

    async def _post_status(self, node: SimNode) -> None:
        current = self.informer.get(store.ObjectKey("", node.name))
        if current is None:
            return
        now = self.wall()
        status = current.get("status") or {}
        if node.static is None:
            node.static = node_objects.static_status(
                self.template, node.index, boot_id=self.boot_id
            )
        desired = node_objects.node_status(node.static, now, previous=status)
        due = now - node.last_report >= self.heartbeat.status_report_seconds
        if not due and not node_objects.status_changed(status, desired):
            return
        await self.client.patch(
            NODES,
            node.name,
            node_objects.status_patch(status, desired),
            patch_type=rest.PatchType.STRATEGIC,
            subresource="status",
        )
        node.last_report = now
        self.metrics.node_status_updates.inc()

    async def _ensure_cidr(self, node: SimNode) -> None:
        """Take the index's podCIDR unless someone gave the node one meanwhile."""
        for _ in range(5):
            current = self.informer.get(store.ObjectKey("", node.name))
            if current is None:
                current = await self.client.get(NODES, node.name)
            if (current.get("spec") or {}).get("podCIDR"):
                self._observe(current)
                return
            cidr = self._own_cidr(node)
            patch = {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            }
            try:
                updated = await self.client.patch(NODES, node.name, patch)
            except errors.Conflict:
                await self.clock.sleep(0.1)
                continue
            log.info("node %s: no podCIDR from node IPAM; took %s", node.name, cidr)
            self._observe(updated)
            return


def _strip(obj: Obj) -> Obj:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    if "managedFields" in meta:
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj
