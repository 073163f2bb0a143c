"""Disruption controller (upstream's pkg/controller/disruption): keeps every
PodDisruptionBudget's status current so the eviction subresource can decide.

Contract:
- The budget's pods are the pods of its namespace that its selector matches (an empty
  selector matches every pod of the namespace, a missing one none, as policy/v1 says).
- ``expectedPods`` and ``desiredHealthy``: with an integer ``minAvailable`` they are the
  number of pods and ``minAvailable``; with ``maxUnavailable`` or a percentage
  ``minAvailable`` the expected count is the sum of the scales of the pods' controllers
  (Deployment through its ReplicaSet, ReplicaSet, ReplicationController, StatefulSet) —
  a pod without one of those makes the budget fail with ``SyncFailed`` — and
  ``desiredHealthy`` is ``expected - maxUnavailable`` or ``minAvailable`` of it, the
  percentages rounded up as upstream (``GetScaledValueFromIntOrPercent(…, true)``).
- ``currentHealthy`` counts the pods that are Ready, not being deleted, and not in
  ``disruptedPods`` (pods the eviction subresource let go and which have not gone yet).
  ``disruptedPods`` entries older than two minutes, or whose pod is gone or being deleted,
  are dropped.
- ``disruptionsAllowed = max(0, currentHealthy - desiredHealthy)`` (0 when nothing is
  expected); condition ``DisruptionAllowed`` True/``SufficientPods`` or
  False/``InsufficientPods``; ``observedGeneration`` = the budget's generation.
Pod events enqueue the budgets whose selector matches the pod; ``pdb_status`` is pure.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from pyk8s.api import selectors as sel
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext

__all__ = ["DisruptionController", "new", "pdb_status", "scaled_value"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PDBS = paths.resource_for("policy", "v1", "poddisruptionbudgets", kind="PodDisruptionBudget")
PODS = paths.resource_for("", "v1", "pods", kind="Pod")
REPLICASETS = paths.resource_for("apps", "v1", "replicasets", kind="ReplicaSet")
DEPLOYMENTS = paths.resource_for("apps", "v1", "deployments", kind="Deployment")
STATEFULSETS = paths.resource_for("apps", "v1", "statefulsets", kind="StatefulSet")
RCS = paths.resource_for("", "v1", "replicationcontrollers", kind="ReplicationController")
DELETION_TIMEOUT = 120.0

# (namespace, controller ownerReference) → the controller's scale, or None if unknown
ScaleOf = Callable[[str, Mapping[str, Any]], "int | None"]


class SyncFailed(Exception):
    pass


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """An IntOrString against ``total`` (``"50%"`` of 5 is 3 rounded up, 2 down)."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    pct = int(text[:-1])
    exact = pct * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def _ready(pod: Mapping[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _controller_ref(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def _parse(ts: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def _fmt(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expected(
    spec: Mapping[str, Any], pods: list[Obj], namespace: str, scale_of: ScaleOf
) -> tuple[int, int]:
    """(expectedPods, desiredHealthy)."""
    min_available = spec.get("minAvailable")
    if isinstance(min_available, int) and spec.get("maxUnavailable") is None:
        return len(pods), min_available
    expected = 0
    seen: set[str] = set()
    for pod in pods:
        ref = _controller_ref(pod)
        if ref is None:
            name = pod["metadata"]["name"]
            raise SyncFailed(f"found no controller ref for pod {name!r}")
        if ref.get("uid") in seen:
            continue
        seen.add(str(ref.get("uid")))
        scale = scale_of(namespace, ref)
        if scale is None:
            raise SyncFailed(f"found no controllers for pod {pod['metadata']['name']!r}")
        expected += scale
    if spec.get("maxUnavailable") is not None:
        unavailable = scaled_value(spec["maxUnavailable"], expected, round_up=True)
        return expected, max(0, expected - unavailable)
    return expected, scaled_value(min_available, expected, round_up=True)


def pdb_status(
    pdb: Mapping[str, Any],
    pods: list[Obj],
    *,
    scale_of: ScaleOf,
    now: datetime.datetime,
) -> Obj:
    """The budget's status from its pods (``SyncFailed`` status on a missing controller)."""
    meta = pdb.get("metadata") or {}
    old = pdb.get("status") or {}
    live = {p["metadata"]["name"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}
    disrupted: dict[str, str] = {}
    for name, at in (old.get("disruptedPods") or {}).items():
        when = _parse(str(at))
        if name in live and when is not None and (now - when).total_seconds() < DELETION_TIMEOUT:
            disrupted[name] = str(at)
    generation = meta.get("generation", 1)
    try:
        expected, desired = _expected(
            pdb.get("spec") or {}, pods, meta.get("namespace", ""), scale_of
        )
    except SyncFailed as exc:
        return {
            **old,
            "observedGeneration": generation,
            "disruptionsAllowed": 0,
            "conditions": [_condition(old, "False", "SyncFailed", str(exc), now)],
        }
    healthy = sum(1 for name, p in live.items() if name not in disrupted and _ready(p))
    allowed = healthy - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    status: Obj = {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [
            _condition(old, "True", "SufficientPods", "", now)
            if allowed > 0
            else _condition(old, "False", "InsufficientPods", "", now)
        ],
    }
    if disrupted:
        status["disruptedPods"] = disrupted
    return status


def _condition(old: Mapping[str, Any], status: str, reason: str, message: str, now: Any) -> Obj:
    prev = next(
        (c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None
    )
    since = (
        prev["lastTransitionTime"]
        if prev and prev.get("status") == status and prev.get("lastTransitionTime")
        else _fmt(now)
    )
    return {
        "type": "DisruptionAllowed",
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": None,
        "lastTransitionTime": since,
    }


def new(ctx: ControllerContext) -> Controller:
    return DisruptionController(
        client=ctx.client,
        informers=ctx.informers,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


class DisruptionController:
    name = "disruption-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        workers: int = 5,
    ) -> None:
        self.client = client
        self.workers = workers
        self.pdbs = informers.informer(PDBS)
        self.pods = informers.informer(PODS)
        self.replicasets = informers.informer(REPLICASETS)
        self.deployments = informers.informer(DEPLOYMENTS)
        self.statefulsets = informers.informer(STATEFULSETS)
        self.rcs = informers.informer(RCS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.pdbs.add_handler(
            on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n), on_delete=None
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=lambda _o, n: self._pod_changed(n),
            on_delete=self._pod_changed,
        )

    def _enqueue(self, pdb: Obj) -> None:
        m = pdb["metadata"]
        self.queue.add(ObjectKey(m.get("namespace", ""), m["name"]))

    def _pod_changed(self, pod: Obj) -> None:
        m = pod.get("metadata") or {}
        labels = m.get("labels") or {}
        for pdb in self.pdbs.list(m.get("namespace", "")):
            if _selector(pdb).matches(labels):
                self._enqueue(pdb)

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        for inf in (self.pdbs, self.pods, self.replicasets, self.deployments):
            await inf.wait_synced()
        await self.statefulsets.wait_synced()
        await self.rcs.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    def _scale_of(self, namespace: str, ref: Mapping[str, Any]) -> int | None:
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        if kind == "ReplicaSet":
            rs = self.replicasets.get(ObjectKey(namespace, name))
            if rs is None:
                return None
            owner = _controller_ref(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                d = self.deployments.get(ObjectKey(namespace, str(owner.get("name"))))
                if d is not None:
                    return int((d.get("spec") or {}).get("replicas", 1))
            return int((rs.get("spec") or {}).get("replicas", 1))
        source = {"StatefulSet": self.statefulsets, "ReplicationController": self.rcs}.get(
            str(kind)
        )
        obj = source.get(ObjectKey(namespace, name)) if source is not None else None
        if obj is None:
            return None
        return int((obj.get("spec") or {}).get("replicas", 1))

    async def sync(self, key: ObjectKey) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return
        selector = _selector(pdb)
        pods = [
            p
            for p in self.pods.list(key.namespace)
            if selector.matches(p["metadata"].get("labels") or {})
        ]
        now = datetime.datetime.now(datetime.UTC)
        status = pdb_status(pdb, pods, scale_of=self._scale_of, now=now)
        if status.get("disruptedPods"):
            self.queue.add_after(key, DELETION_TIMEOUT / 4)
        if status == (pdb.get("status") or {}):
            return
        body = {**pdb, "status": status}
        try:
            await self.client.update(PDBS, body, subresource="status")
        except (errors.Conflict, errors.NotFound):
            self.queue.add_rate_limited(key)


def _selector(pdb: Mapping[str, Any]) -> sel.LabelSelector:
    spec = pdb.get("spec") or {}
    return sel.from_label_selector_obj(spec.get("selector"))
