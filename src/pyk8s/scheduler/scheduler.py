"""The scheduler process: informers feed the snapshot and the queue; one loop pops a pod,
runs its profile's ``schedule_one``, assumes the result and binds in the background.

Contract:
- Pods whose ``spec.schedulerName`` names one of our profiles and that have no
  ``spec.nodeName`` are queued; bound pods (and pods assumed by this process) occupy the
  snapshot. Nodes, PVs, PVCs, StorageClasses, PDBs, PriorityClasses, Namespaces,
  Services and the workloads default spreading reads are mirrored into the snapshot; each
  change is also a queue event that may move unschedulable pods back.
- The loop never awaits inside a cycle: ``schedule_one`` is synchronous and the snapshot
  is only changed by informer handlers between cycles, so every cycle sees one state.
- After a node is chosen the pod is *assumed* (its requests count at once) and the bind —
  PreBind, then POST ``pods/binding`` — runs as a task; many binds are in flight at
  once (at most ``max_binds``). A failed bind forgets the assumption and sends the pod to
  back-off. Success records the ``Scheduled`` event ("Successfully assigned ns/pod to
  node").
- A pod that fits nowhere gets a ``FailedScheduling`` Warning event with the FitError
  message, the ``PodScheduled=False`` condition (reason ``Unschedulable``) through a
  status patch, and waits in the queue. Preemption nominates a node
  (``status.nominatedNodeName``) and deletes the victims.
- With leader election on, the process schedules only while it holds the
  ``kube-system/kube-scheduler`` Lease; losing it ends ``run`` with ``LeadershipLost``.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import prometheus_client
from aiohttp import web

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import events, informer, leaderelection, rest
from pyk8s.scheduler import metrics
from pyk8s.scheduler.apiwriter import ApiWriter
from pyk8s.scheduler.config import SchedulerConfig
from pyk8s.scheduler.framework import Framework, QueuedPodInfo, ScheduleResult, SchedulingError
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.queue import Event, SchedulingQueue
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import FitError, Status

__all__ = ["LeadershipLost", "Scheduler", "keep_heap"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
COMPONENT = "default-scheduler"
_HOUSEKEEPING_EVERY = 1.0  # flush stale unschedulable pods, update gauges

_MIRRORED: tuple[tuple[str, str, str, str, Event], ...] = (
    ("", "v1", "persistentvolumes", "PersistentVolume", Event.PV_CHANGE),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", Event.PVC_CHANGE),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", Event.STORAGE_CLASS_CHANGE),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", Event.WORKLOAD_CHANGE),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", Event.WORKLOAD_CHANGE),
    ("", "v1", "namespaces", "Namespace", Event.NAMESPACE_CHANGE),
    ("", "v1", "services", "Service", Event.WORKLOAD_CHANGE),
    ("apps", "v1", "replicasets", "ReplicaSet", Event.WORKLOAD_CHANGE),
    ("apps", "v1", "statefulsets", "StatefulSet", Event.WORKLOAD_CHANGE),
    ("", "v1", "replicationcontrollers", "ReplicationController", Event.WORKLOAD_CHANGE),
)


class LeadershipLost(Exception):
    pass


def keep_heap() -> None:
    """Stop glibc from returning freed heap to the OS after every cycle: the scoring
    arrays are freed and reallocated per pod, and re-faulting those pages costs more than
    the arithmetic (measured: ~2.5x on 5,000 nodes)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-1, 256 * 1024 * 1024)  # M_TRIM_THRESHOLD
    libc.mallopt(-2, 64 * 1024 * 1024)  # M_TOP_PAD


def _resource(group: str, version: str, plural: str) -> resources.Resource:
    r = resources.find(group, version, plural)
    assert r is not None, plural
    return r


def _with_priority(pod: Obj, classes: Mapping[str, Obj]) -> Obj:
    """Fill spec.priority from the PriorityClass when admission did not."""
    spec = pod.get("spec") or {}
    if isinstance(spec.get("priority"), int):
        return pod
    name = spec.get("priorityClassName")
    pc = (
        classes.get(name)
        if name
        else next((c for c in classes.values() if c.get("globalDefault")), None)
    )
    if pc is None or not isinstance(pc.get("value"), int):
        return pod
    return {**pod, "spec": {**spec, "priority": pc["value"]}}


def _changed_for_scheduling(old: Obj, new: Obj) -> bool:
    """Upstream's isPodUpdated: a change other than status and bookkeeping metadata."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old.get("spec") != new.get("spec")
        or om.get("labels") != nm.get("labels")
        or om.get("annotations") != nm.get("annotations")
    )


class Scheduler:
    def __init__(
        self,
        client: rest.RESTClient,
        cfg: SchedulerConfig,
        *,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        identity: str | None = None,
        max_binds: int = 256,
        metrics_port: int | None = None,
        metrics_address: str = "127.0.0.1",
    ) -> None:
        self.client = client
        self.cfg = cfg
        self.clock = clock
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.writer = ApiWriter(client)
        self.snapshot = Snapshot()
        self.profiles: dict[str, Framework] = {
            p.scheduler_name: p.build(writer=self.writer) for p in cfg.profiles
        }
        first = next(iter(self.profiles.values()))
        self.queue = SchedulingQueue(
            less=first.less,
            pre_enqueue=self._pre_enqueue,
            clock=clock,
            initial_backoff=cfg.pod_initial_backoff,
            max_backoff=cfg.pod_max_backoff,
        )
        self.recorder = events.EventRecorder(client, component=COMPONENT, host=socket.gethostname())
        self.informers = informer.SharedInformerFactory(client, clock=clock)
        self._binds = asyncio.Semaphore(max_binds)
        self._tasks: set[asyncio.Task[None]] = set()
        self.metrics_port = metrics_port
        self.metrics_address = metrics_address
        self.metrics_url = ""
        self.leading = asyncio.Event()
        self._pods: dict[str, Obj] = {}  # uid -> latest pending pod object

    def _pre_enqueue(self, pod: PodInfo) -> Status:
        fw = self.profiles.get(str(pod.spec.get("schedulerName") or "default-scheduler"))
        return fw.run_pre_enqueue(pod) if fw is not None else Status.success()

    # ---- informer handlers -----------------------------------------------------------
    def _ours(self, pod: Obj) -> bool:
        return (
            str((pod.get("spec") or {}).get("schedulerName") or "default-scheduler")
            in self.profiles
        )

    def _on_pod(self, pod: Obj) -> None:
        pod = _with_priority(pod, self.snapshot.priority_classes)
        spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if spec.get("nodeName"):
            self._pods.pop(uid, None)
            self.queue.delete(uid)
            known = self.snapshot.node_of(uid) is not None
            self.snapshot.add_pod(pod)
            self.queue.on_event(Event.ASSIGNED_POD_UPDATE if known else Event.ASSIGNED_POD_ADD)
            return
        phase = (pod.get("status") or {}).get("phase")
        if not self._ours(pod) or meta.get("deletionTimestamp") or phase in ("Succeeded", "Failed"):
            self._forget_pending(uid)
            return
        if self.snapshot.is_assumed(uid):
            return  # binding in flight; the bound pod will arrive
        before = self._pods.get(uid)
        self._pods[uid] = pod
        if before is not None and not _changed_for_scheduling(before, pod):
            return  # e.g. our own PodScheduled condition: no reason to try again
        pi = PodInfo.of(pod)
        nominated = str((pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            self.snapshot.nominate(pi, nominated)
        self.queue.add(pi)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if _same_for_assigned(old, new):
            return  # a kubelet's status write: nothing the cache or any plugin reads
        self._on_pod(new)

    def _forget_pending(self, uid: str) -> None:
        self._pods.pop(uid, None)
        self.queue.delete(uid)
        self.snapshot.clear_nomination(uid)

    def _on_pod_delete(self, pod: Obj) -> None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        self._forget_pending(uid)
        if self.snapshot.node_of(uid) is not None:
            self.snapshot.remove_pod(uid)
            self.queue.on_event(Event.ASSIGNED_POD_DELETE)

    def _on_node(self, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name") or "")
        new = self.snapshot.get(name) is None
        self.snapshot.add_node(node)
        self.queue.on_event(Event.NODE_ADD if new else Event.NODE_UPDATE)

    def _on_node_delete(self, node: Obj) -> None:
        self.snapshot.remove_node(str((node.get("metadata") or {}).get("name") or ""))
        self.queue.on_event(Event.NODE_DELETE)

    def _mirror(
        self, kind: str, event: Event
    ) -> tuple[Callable[[Obj], None], Callable[[Obj, Obj], None], Callable[[Obj], None]]:
        def changed(obj: Obj) -> None:
            self.snapshot.set_object(kind, obj)
            self.queue.on_event(event)

        def updated(_old: Obj, new: Obj) -> None:
            changed(new)

        def deleted(obj: Obj) -> None:
            self.snapshot.set_object(kind, obj, deleted=True)
            self.queue.on_event(event)

        return changed, updated, deleted

    def _register(self) -> None:
        f = self.informers
        for group, version, plural, kind, event in _MIRRORED:
            changed, updated, deleted = self._mirror(kind, event)
            f.informer(_resource(group, version, plural)).add_handler(
                on_add=changed, on_update=updated, on_delete=deleted
            )
        f.informer(_resource("", "v1", "nodes")).add_handler(
            on_add=self._on_node,
            on_update=lambda _o, n: self._on_node(n),
            on_delete=self._on_node_delete,
        )
        f.informer(_resource("", "v1", "pods")).add_handler(
            on_add=self._on_pod,
            on_update=self._on_pod_update,
            on_delete=self._on_pod_delete,
        )

    # ---- the loop --------------------------------------------------------------------
    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def schedule_next(self) -> None:
        qpi = await self.queue.pop()
        await self._binds.acquire()  # back-pressure: at most max_binds in flight
        try:
            self._cycle(qpi)
        except BaseException:
            self._binds.release()
            raise

    def _cycle(self, qpi: QueuedPodInfo) -> None:
        """One scheduling cycle; owns one ``_binds`` permit and hands it on or frees it."""
        pi = qpi.pod
        fw = self.profiles.get(str(pi.spec.get("schedulerName") or "default-scheduler"))
        if fw is None or pi.uid not in self._pods:
            self.queue.done(pi.uid)
            self._binds.release()
            return
        start = time.perf_counter()
        try:
            result = fw.schedule_one(pi, self.snapshot)
        except SchedulingError as e:
            self._failed(
                fw, qpi, None, reason="SchedulerError", message=e.status.message, error=True
            )
            self._observe(fw, "error", start)
            self._binds.release()
            return
        if isinstance(result, FitError):
            self._failed(
                fw, qpi, result, reason="Unschedulable", message=result.message, error=False
            )
            self._observe(fw, "unschedulable", start)
            self._binds.release()
            return
        assumed = self.snapshot.assume_pod(pi, result.suggested_host)
        st = fw.run_reserve(result.state, assumed, result.suggested_host)
        if st.is_success:
            st = fw.run_permit(result.state, assumed, result.suggested_host)
        if not st.is_success:
            fw.run_unreserve(result.state, assumed, result.suggested_host)
            self.snapshot.forget_pod(pi.uid)
            self._failed(fw, qpi, None, reason="SchedulerError", message=st.message, error=True)
            self._binds.release()
            return
        self._spawn(self._bind(fw, qpi, result, start), f"bind {pi.key}")

    async def _bind(
        self, fw: Framework, qpi: QueuedPodInfo, result: ScheduleResult, start: float
    ) -> None:
        pi, host = qpi.pod, result.suggested_host
        ok, message = False, ""
        try:
            st = await fw.run_pre_bind(result.state, pi, host)
            if st.is_success:
                st = await fw.run_bind(result.state, pi, host)
            ok, message = st.is_success, st.message
        except Exception as e:  # a plugin's own failure counts as a failed bind
            message = str(e) or type(e).__name__
        finally:
            self._binds.release()
        if ok:
            metrics.BINDINGS.labels("success").inc()
            self.queue.done(pi.uid)
            self._pods.pop(pi.uid, None)
            self._observe(fw, "scheduled", start)
            if qpi.initial_attempt_timestamp is not None:
                metrics.SLI_SECONDS.labels(str(min(qpi.attempts, 16))).observe(
                    max(0.0, self.clock.now() - qpi.initial_attempt_timestamp)
                )
            self.recorder.record(
                pi.pod, reason="Scheduled", message=f"Successfully assigned {pi.key} to {host}"
            )
            return
        metrics.BINDINGS.labels("error").inc()
        fw.run_unreserve(result.state, pi, host)
        self.snapshot.forget_pod(pi.uid)
        self._observe(fw, "error", start)
        self._failed(
            fw,
            qpi,
            None,
            reason="SchedulerError",
            message=f"Binding rejected: {message}",
            error=True,
        )

    def _observe(self, fw: Framework, result: str, start: float) -> None:
        metrics.ATTEMPTS.labels(result, fw.profile_name).inc()
        metrics.ATTEMPT_SECONDS.labels(result, fw.profile_name).observe(time.perf_counter() - start)

    def _failed(
        self,
        fw: Framework,
        qpi: QueuedPodInfo,
        err: FitError | None,
        *,
        reason: str,
        message: str,
        error: bool,
    ) -> None:
        pi = qpi.pod
        if pi.uid not in self._pods:  # deleted meanwhile
            self.queue.done(pi.uid)
            return
        nominated: str | None = None
        if err is not None:
            qpi.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
            qpi.pending_plugins = set(err.diagnosis.pending_plugins)
            nominated = err.nominated_node
            if nominated:
                self._preempt(pi, nominated, err)
            elif nominated == "":
                self.snapshot.clear_nomination(pi.uid)
        self.queue.add_unschedulable(qpi, error=error)
        log.info("unable to schedule %s: %s", pi.key, message)
        self.recorder.record(
            pi.pod, reason="FailedScheduling", message=message, event_type=events.EventType.WARNING
        )
        self._spawn(
            self.writer.record_failure(
                self._pods.get(pi.uid, pi.pod),
                reason=reason,
                message=message,
                nominated_node=nominated,
            ),
            f"status {pi.key}",
        )

    def _preempt(self, pi: PodInfo, node: str, err: FitError) -> None:
        metrics.PREEMPTION_ATTEMPTS.inc()
        metrics.PREEMPTION_VICTIMS.observe(len(err.victims))
        self.snapshot.nominate(pi, node)
        for victim in err.victims:
            self.recorder.record(
                victim.pod, reason="Preempted", message=f"Preempted by pod {pi.uid} on node {node}"
            )
            self._spawn(self.writer.delete_pod(victim), f"preempt {victim.key}")

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.queue.flush_unschedulable()
            for name, n in self.queue.counts().items():
                metrics.PENDING.labels(name).set(n)
            await clock_mod.run_until_stopped(self.clock.sleep(_HOUSEKEEPING_EVERY), stop)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.schedule_next()
            await asyncio.sleep(0)  # let informer handlers and binds run between cycles

    # ---- lifecycle -------------------------------------------------------------------
    async def _lead(self, stop: asyncio.Event) -> None:
        self._register()
        metrics.LEADER.set(1)
        self.leading.set()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.informers.run(stop), name="informers")
                tg.create_task(self.recorder.run(stop), name="events")
                await self.informers.wait_synced()
                log.info("caches synced; scheduling with profiles %s", ", ".join(self.profiles))
                tg.create_task(clock_mod.run_until_stopped(self._loop(stop), stop), name="loop")
                tg.create_task(self._housekeeping(stop), name="housekeeping")
        finally:
            for t in list(self._tasks):
                t.cancel()
            self.leading.clear()
            metrics.LEADER.set(0)

    async def run(self, stop: asyncio.Event) -> None:
        runner = await self._start_metrics()
        try:
            le = self.cfg.leader_election
            if not le.leader_elect:
                await self._lead(stop)
                return
            elector = leaderelection.LeaderElector(
                self.client,
                name=le.resource_name,
                namespace=le.resource_namespace,
                identity=self.identity,
                lease_duration=le.lease_duration,
                renew_deadline=le.renew_deadline,
                retry_period=le.retry_period,
                on_started_leading=lambda: self._lead(stop),
                on_new_leader=lambda who: log.info("the scheduler leader is %s", who),
                clock=self.clock,
            )
            await elector.run(stop)
            if not stop.is_set():
                raise LeadershipLost(f"lost the lease {le.resource_namespace}/{le.resource_name}")
        finally:
            if runner is not None:
                await runner.cleanup()

    async def _start_metrics(self) -> web.AppRunner | None:
        if self.metrics_port is None:
            return None

        async def serve_metrics(_: web.Request) -> web.Response:
            return web.Response(body=prometheus_client.generate_latest(), content_type="text/plain")

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/metrics", serve_metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.metrics_address, self.metrics_port)
        await site.start()
        port = self.metrics_port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        self.metrics_url = f"http://{self.metrics_address}:{port}"
        return runner


def _same_for_assigned(old: Obj, new: Obj) -> bool:
    """Both versions are bound to the same node and differ only in status details the
    scheduler does not read (not the phase): the cache entry stays as it is."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if not new_spec.get("nodeName") or (old_spec is not new_spec and old_spec != new_spec):
        return False
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        om.get("labels") == nm.get("labels")
        and om.get("deletionTimestamp") == nm.get("deletionTimestamp")
        and (old.get("status") or {}).get("phase") == (new.get("status") or {}).get("phase")
    )
