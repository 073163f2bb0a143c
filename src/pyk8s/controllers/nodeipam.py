"""Node IPAM controller, range allocator (upstream's pkg/controller/nodeipam with
``--allocate-node-cidrs``, ``CIDRAllocatorType=RangeAllocator``).

Contract:
- ``Options.cluster_cidr`` is cut into subnets of ``/node_cidr_mask_size``; a Node without
  ``spec.podCIDR`` gets the lowest free subnet as ``spec.podCIDR`` and ``spec.podCIDRs``
  (one family; a strategic-merge patch of the node). A subnet is never given to two nodes:
  before the first allocation the used set is rebuilt from every cached Node's
  ``podCIDRs`` (those inside the cluster CIDR), and an allocation is remembered until the
  Node shows it, so a stale cache never causes a second one.
- A Node that already has a podCIDR is left alone (its subnet is marked used). Deleting a
  Node releases its subnet. When the range is full the node is left without one, an event
  ``CIDRNotAvailable`` is recorded on it and the sync is retried with back-off.
- ``CIDRSet`` is the pure allocator (``occupy`` / ``allocate`` / ``release``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.workload_pods import NODES, meta, with_kind

__all__ = ["CIDRSet", "CIDRSetFull", "NodeIPAMController", "new", "pod_cidrs"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CIDRSetFull(Exception):
    """No free subnet is left in the cluster CIDR."""


class CIDRSet:
    """Subnets of ``mask`` bits carved from ``cluster_cidr``, by index from the start."""

    def __init__(self, cluster_cidr: str, mask: int) -> None:
        self.network: Network = ipaddress.ip_network(cluster_cidr, strict=False)
        if not self.network.prefixlen <= mask <= self.network.max_prefixlen:
            raise ValueError(f"node CIDR mask /{mask} does not fit in {self.network}")
        self.mask = mask
        self.size = 1 << (mask - self.network.prefixlen)
        self._step = 1 << (self.network.max_prefixlen - mask)
        self._used: set[int] = set()

    def __len__(self) -> int:
        return len(self._used)

    def _index(self, cidr: str) -> int | None:
        """The index of ``cidr`` if it is one of this set's subnets, else None."""
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if net.version != self.network.version or net.prefixlen != self.mask:
            return None
        if not net.subnet_of(self.network):  # type: ignore[arg-type]
            return None
        offset = int(net.network_address) - int(self.network.network_address)
        return offset // self._step

    def _cidr(self, index: int) -> str:
        address = ipaddress.ip_address(int(self.network.network_address) + index * self._step)
        return f"{address}/{self.mask}"

    def occupy(self, cidr: str) -> bool:
        """Mark ``cidr`` used; False if it is not one of this set's subnets."""
        index = self._index(cidr)
        if index is None:
            return False
        self._used.add(index)
        return True

    def is_used(self, cidr: str) -> bool:
        index = self._index(cidr)
        return index is not None and index in self._used

    def allocate(self) -> str:
        """The lowest free subnet, now marked used (``CIDRSetFull`` if none is free)."""
        index = next((i for i in range(self.size) if i not in self._used), None)
        if index is None:
            raise CIDRSetFull(f"no free /{self.mask} left in {self.network}")
        self._used.add(index)
        return self._cidr(index)

    def release(self, cidr: str) -> None:
        index = self._index(cidr)
        if index is not None:
            self._used.discard(index)


def pod_cidrs(node: Mapping[str, Any]) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or () if c]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [str(spec["podCIDR"])]
    return cidrs


def new(ctx: ControllerContext) -> Controller:
    return NodeIPAMController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        cluster_cidr=ctx.options.cluster_cidr,
        node_cidr_mask_size=ctx.options.node_cidr_mask_size,
    )


class NodeIPAMController:
    name = "node-ipam-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        cluster_cidr: str = "10.244.0.0/16",
        node_cidr_mask_size: int = 24,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.cidrs = CIDRSet(cluster_cidr, node_cidr_mask_size)
        self.nodes = informers.informer(NODES)
        # node name -> CIDR we patched in that the cache may not show yet
        self._assigned: dict[str, str] = {}
        self.queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(name=self.name, clock=clock)
        self.nodes.add_handler(
            on_add=self._node_changed,
            on_update=lambda _old, node: self._node_changed(node),
            on_delete=self._node_deleted,
        )

    def _node_changed(self, node: Obj) -> None:
        self.queue.add(str(meta(node).get("name") or ""))

    def _node_deleted(self, node: Obj) -> None:
        name = str(meta(node).get("name") or "")
        for cidr in pod_cidrs(node):
            self.cidrs.release(cidr)
        assigned = self._assigned.pop(name, None)
        if assigned is not None:
            self.cidrs.release(assigned)
        log.info("node-ipam: released %s of deleted node %s", pod_cidrs(node), name)

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        await self.nodes.wait_synced()
        for node in self.nodes.list():
            for cidr in pod_cidrs(node):
                self.cidrs.occupy(cidr)
        # one worker: allocations and patches of different nodes never interleave
        await workqueue.run_workers(self.queue, self.sync, 1)

    async def sync(self, name: str) -> None:
        node = self.nodes.get(ObjectKey("", name))
        if node is None or meta(node).get("deletionTimestamp"):
            return
        existing = pod_cidrs(node)
        if existing:
            for used in existing:
                self.cidrs.occupy(used)
            assigned = self._assigned.pop(name, None)
            if assigned is not None and assigned not in existing:
                self.cidrs.release(assigned)
            return
        cidr = self._assigned.get(name)
        if cidr is None:
            try:
                cidr = self.cidrs.allocate()
            except CIDRSetFull:
                self.recorder.record(
                    with_kind(node, "Node", "v1"),
                    reason="CIDRNotAvailable",
                    message=f"Node {name} status is now: CIDRNotAvailable",
                    event_type=events.EventType.NORMAL,
                )
                raise
            self._assigned[name] = cidr
        try:
            await self.client.patch(
                NODES,
                name,
                {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                patch_type=rest.PatchType.STRATEGIC,
            )
        except errors.NotFound:
            self.cidrs.release(self._assigned.pop(name, cidr))
            return
        except errors.ApiError:
            # rejected (e.g. the node got a podCIDR from elsewhere): forget ours, retry
            self.cidrs.release(self._assigned.pop(name, cidr))
            raise
        log.info("node-ipam: assigned %s to node %s", cidr, name)
