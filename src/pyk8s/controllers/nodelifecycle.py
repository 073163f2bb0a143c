"""Node lifecycle controller (upstream's pkg/controller/nodelifecycle, the health monitor
and taint-based eviction).

Contract: every ``monitor_period`` each Node's last heartbeat (its Lease's renewTime in
kube-node-lease, or the Ready condition's lastHeartbeatTime) is compared with now:
- older than ``grace`` → every condition of the node becomes Unknown (reason
  NodeStatusUnknown, "Kubelet stopped posting node status.") and the node gets the
  ``node.kubernetes.io/unreachable`` taints (NoSchedule and NoExecute);
- Ready=False with a fresh heartbeat → the ``node.kubernetes.io/not-ready`` taints;
- healthy → those taints are removed.
Pods on a node with a NoExecute taint they do not tolerate are deleted at once; those that
tolerate it for ``tolerationSeconds`` are deleted when that time after the taint's
``timeAdded`` has passed; those that tolerate it without a limit stay.
Adding the NoExecute taints is rate-limited per zone, and stopped when every zone is
fully disrupted (``node_disruption``); NoSchedule taints and removals are not limited.
``health``, ``wanted_taints`` and ``eviction_time`` are pure; the loop applies them.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, paths, rest
from pyk8s.controllers import node_disruption as disruption
from pyk8s.controllers.context import Controller, ControllerContext

__all__ = ["NodeLifecycleController", "eviction_time", "health", "new", "wanted_taints"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NODES = paths.resource_for("", "v1", "nodes", namespaced=False, kind="Node")
LEASES = paths.resource_for("coordination.k8s.io", "v1", "leases", kind="Lease")
PODS = paths.resource_for("", "v1", "pods", kind="Pod")
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
_OURS = (UNREACHABLE, NOT_READY)


def new(ctx: ControllerContext) -> Controller:
    return NodeLifecycleController(
        client=ctx.client,
        informers=ctx.informers,
        clock=ctx.clock,
        grace=ctx.options.node_monitor_grace_period,
        period=ctx.options.node_monitor_period,
        rates=disruption.EvictionRates(
            node_eviction_rate=ctx.options.node_eviction_rate,
            secondary_node_eviction_rate=ctx.options.secondary_node_eviction_rate,
            unhealthy_zone_threshold=ctx.options.unhealthy_zone_threshold,
            large_cluster_size_threshold=ctx.options.large_cluster_size_threshold,
        ),
    )


def _parse(ts: Any) -> datetime.datetime | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def _fmt(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c  # type: ignore[no-any-return]
    return None


def health(
    node: Mapping[str, Any], lease: Mapping[str, Any] | None, now: datetime.datetime, grace: float
) -> str:
    """ "healthy", "unknown" (no heartbeat within grace) or "notready"."""
    ready = _ready(node) or {}
    beats = [
        _parse(((lease or {}).get("spec") or {}).get("renewTime")),
        _parse(ready.get("lastHeartbeatTime")),
        _parse((node.get("metadata") or {}).get("creationTimestamp")),
    ]
    last = max((b for b in beats if b is not None), default=None)
    if last is None or (now - last).total_seconds() > grace:
        return "unknown"
    if ready.get("status") == "False":
        return "notready"
    return "healthy" if ready.get("status") == "True" else "unknown"


def wanted_taints(taints: list[Obj], state: str, now: datetime.datetime) -> list[Obj]:
    """The node's taints with ours set for ``state`` (keeping timeAdded of kept ones)."""
    key = {"unknown": UNREACHABLE, "notready": NOT_READY}.get(state)
    others = [t for t in taints if t.get("key") not in _OURS or t.get("key") == key]
    if key is None:
        return others
    out = list(others)
    for effect in ("NoSchedule", "NoExecute"):
        if not any(t.get("key") == key and t.get("effect") == effect for t in out):
            taint: Obj = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = _fmt(now)
            out.append(taint)
    return out


def _tolerates(tol: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    if tol.get("operator") == "Exists":
        return not tol.get("key") or tol.get("key") == taint.get("key")
    return tol.get("key") == taint.get("key") and (tol.get("value") or "") == (
        taint.get("value") or ""
    )


def eviction_time(
    pod: Mapping[str, Any], taints: list[Obj], now: datetime.datetime
) -> datetime.datetime | None:
    """When the pod must go (now or later), or None if it may stay."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    due: datetime.datetime | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if _tolerates(t, taint)]
        if not matching:
            return now
        limits = [
            t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None
        ]
        if not limits:
            continue
        added = _parse(taint.get("timeAdded")) or now
        at = added + datetime.timedelta(seconds=max(0, min(limits)))
        due = at if due is None else min(due, at)
    return due


class NodeLifecycleController:
    name = "node-lifecycle-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        grace: float = 40.0,
        period: float = 5.0,
        rates: disruption.EvictionRates | None = None,
    ) -> None:
        self.client = client
        self.rates = rates or disruption.EvictionRates()
        self.buckets: dict[str, disruption.TokenBucket] = {}
        self.master_disruption = False
        self.clock = clock
        self.grace = grace
        self.period = period
        self.nodes = informers.informer(NODES)
        self.leases = informers.informer(LEASES, namespace="kube-node-lease")
        self.pods = informers.informer(PODS)

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)

    async def _run(self) -> None:
        await self.nodes.wait_synced()
        await self.leases.wait_synced()
        await self.pods.wait_synced()
        while True:
            try:
                await self.monitor(datetime.datetime.now(datetime.UTC))
            except (errors.ApiError, OSError) as exc:
                log.warning("node lifecycle pass failed: %s", exc)
            await self.clock.sleep(self.period)

    async def monitor(self, now: datetime.datetime) -> None:
        by_node: dict[str, list[Obj]] = {}
        for pod in self.pods.list():
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:
                by_node.setdefault(node_name, []).append(pod)
        leases = {x["metadata"]["name"]: x for x in self.leases.list()}
        nodes = self.nodes.list()
        states = {
            n["metadata"]["name"]: health(n, leases.get(n["metadata"]["name"]), now, self.grace)
            for n in nodes
        }
        zones: dict[str, list[str]] = {}
        for n in nodes:
            zones.setdefault(disruption.zone_key(n), []).append(n["metadata"]["name"])
        zone_states = {
            z: disruption.zone_state((states[x] == "healthy" for x in names), self.rates)
            for z, names in zones.items()
        }
        stop_all = disruption.all_fully_disrupted(zone_states)
        if stop_all != self.master_disruption:
            self.master_disruption = stop_all
            if stop_all:
                log.warning(
                    "Controller detected that all Nodes are not-Ready. "
                    "Entering master disruption mode."
                )
            else:
                log.info(
                    "Controller detected that some Nodes are Ready. Exiting master disruption mode."
                )
        mono = self.clock.now()
        for z, names in zones.items():
            rate = disruption.zone_rate(zone_states[z], len(names), self.rates)
            bucket = self.buckets.setdefault(z, disruption.TokenBucket(rate, mono))
            bucket.set_rate(rate, mono)
        for node in nodes:
            name = node["metadata"]["name"]
            state = states[name]
            taints = list((node.get("spec") or {}).get("taints") or [])
            wanted = wanted_taints(taints, state, now)
            if stop_all:
                wanted = [t for t in wanted if not _ours_no_execute(t)]
            elif _adds_no_execute(taints, wanted) and not self.buckets[
                disruption.zone_key(node)
            ].try_take(mono):
                wanted = [t for t in wanted if not _ours_no_execute(t) or t in taints]
                log.info(
                    "node %s: %s; NoExecute taint waits for the zone's eviction rate", name, state
                )
            if wanted != taints:
                await self.client.patch(NODES, name, {"spec": {"taints": wanted or None}})
                log.info("node %s: %s; taints now %s", name, state, [t["key"] for t in wanted])
            if state == "unknown" and (_ready(node) or {}).get("status") != "Unknown":
                await self._mark_unknown(node, now)
            for pod in by_node.get(name, []):
                at = eviction_time(pod, wanted, now)
                if at is not None and at <= now and not pod["metadata"].get("deletionTimestamp"):
                    await self._evict(pod, name, state)

    async def _mark_unknown(self, node: Obj, now: datetime.datetime) -> None:
        conditions = [
            {
                **c,
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastTransitionTime": _fmt(now),
            }
            for c in (node.get("status") or {}).get("conditions") or []
        ]
        if conditions:
            await self.client.patch(
                NODES,
                node["metadata"]["name"],
                {"status": {"conditions": conditions}},
                subresource="status",
            )

    async def _evict(self, pod: Obj, node_name: str, state: str) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], namespace=meta["namespace"])
            log.info(
                "evicted %s/%s from %s (taint %s)",
                meta["namespace"],
                meta["name"],
                node_name,
                state,
            )
        except errors.NotFound:
            pass


def _ours_no_execute(taint: Mapping[str, Any]) -> bool:
    return taint.get("key") in _OURS and taint.get("effect") == "NoExecute"


def _adds_no_execute(before: list[Obj], after: list[Obj]) -> bool:
    return any(_ours_no_execute(t) and t not in before for t in after)
