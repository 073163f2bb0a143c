"""The kubelet's three pod syncs (the ``podworkers.PodSyncer``): what one pod worker round
does for a running, a terminating and a terminated pod (upstream's ``SyncPod``,
``SyncTerminatingPod``, ``SyncTerminatedPod``).

``sync_pod``: (1) a pod on the pod network waits while the runtime's network is not
ready (``NetworkNotReady``); (2) volumes are set up (``FailedMount`` events on failure,
the pod then stays ContainerCreating and is retried); (3) the runtime state is read
fresh, with the prober's results (``probe_state``), and ``sync.compute_pod_actions``
says what to do; (4) ``runtime.PodRuntime.sync`` does it and the state is read again;
(5) probes are started for the pod's containers; (6) the status is computed
(``status.pod_status``) and written by the status manager — to the mirror pod for a
static pod; (7) dead containers beyond the newest two per name are removed. A pod whose
phase came out Succeeded or Failed is finished: the worker terminates it. The result
asks for the next look when a back-off ends.

``sync_terminating_pod``: stop the probes, kill every container (preStop hooks, grace
period) and the sandboxes, and check that nothing runs any more.
``sync_terminated_pod``: write the final status (phase Succeeded/Failed); when the pod
is being deleted in the API, tear down its volumes and DELETE it (grace 0, uid
precondition); once it is gone from the API, remove its sandboxes, containers, logs,
cgroups and volumes, and forget it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.kubelet import status as status_mod
from pyk8s.kubelet import sync
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.pleg import PLEG
from pyk8s.kubelet.podstate import PodRuntimeState, ProbeState
from pyk8s.kubelet.podworkers import SyncResult
from pyk8s.kubelet.probes import ProbeKind, Prober, Result
from pyk8s.kubelet.runtime import PodRuntime, remove_pod_cgroups
from pyk8s.kubelet.sources import PodSources
from pyk8s.kubelet.statusmanager import StatusManager
from pyk8s.kubelet.volumes.manager import VolumeMountError

__all__ = ["PodSync", "probe_state"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
EventFn = Callable[[Obj, str | None, str, str, str], None]
TERMINAL = ("Succeeded", "Failed")
RETRY_SOON = 2.0


def _watched(pod: Mapping[str, Any]) -> list[Obj]:
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if sync.is_sidecar(c)]
    return [*(spec.get("containers") or []), *sidecars]


def probe_state(pod: Mapping[str, Any], state: PodRuntimeState, prober: Prober) -> ProbeState:
    """What the prober says about the pod's running containers. Until a readiness probe
    has a result for a container the API already shows ready under the same ID (a kubelet
    restart), it stays ready."""
    uid = state.uid
    shown = {
        s.get("containerID", ""): bool(s.get("ready"))
        for key in ("containerStatuses", "initContainerStatuses")
        for s in (pod.get("status") or {}).get(key) or []
    }
    started: set[str] = set()
    ready: set[str] = set()
    liveness_failed: set[str] = set()
    startup_failed: set[str] = set()
    for c in _watched(pod):
        name = c.get("name") or ""
        cs = state.latest(name)
        if cs is None or not cs.running:
            continue

        def result(kind: ProbeKind, cid: str = cs.id, n: str = name) -> Result | None:
            got = prober.result(uid, n, kind)
            return got[1] if got is not None and got[0] == cid else None

        has_startup = bool(c.get("startupProbe"))
        has_readiness = bool(c.get("readinessProbe"))
        is_started = not has_startup or result(ProbeKind.STARTUP) == Result.SUCCESS
        if has_startup and result(ProbeKind.STARTUP) == Result.FAILURE:
            startup_failed.add(cs.id)
        if c.get("livenessProbe") and result(ProbeKind.LIVENESS) == Result.FAILURE:
            liveness_failed.add(cs.id)
        if is_started:
            started.add(cs.id)
            readiness = result(ProbeKind.READINESS) if has_readiness else Result.SUCCESS
            if readiness is None and shown.get("containerd://" + cs.id):
                readiness = Result.SUCCESS
            if readiness == Result.SUCCESS:
                ready.add(cs.id)
    return ProbeState(
        started=frozenset(started),
        ready=frozenset(ready),
        liveness_failed=frozenset(liveness_failed),
        startup_failed=frozenset(startup_failed),
    )


@dataclass
class PodSyncDeps:
    pleg: PLEG
    runtime: PodRuntime
    backoff: Backoff
    prober: Prober
    status: StatusManager
    sources: PodSources
    events: EventFn
    host_ip: str
    network_not_ready: Callable[[], str | None]
    # the API object a pod's status goes to (the mirror pod of a static pod), or None
    status_target: Callable[[Obj], Obj | None]
    # True when the pod no longer exists in the API (or in the manifest dir)
    gone: Callable[[Obj], bool]
    cgroup_root: str = "/kubepods"
    wall: Callable[[], float] = time.time


class PodSync:
    def __init__(self, deps: PodSyncDeps) -> None:
        self.d = deps
        self.reasons: dict[str, dict[str, tuple[str, str]]] = {}
        self.syncs = 0

    def _reasons(self, uid: str) -> dict[str, tuple[str, str]]:
        return self.reasons.setdefault(uid, {})

    async def _state(self, pod: Obj) -> PodRuntimeState:
        state = await self.d.pleg.pod_state(pod["metadata"]["uid"])
        return state.with_probes(probe_state(pod, state, self.d.prober))

    async def _write_status(
        self, pod: Obj, state: PodRuntimeState, *, terminal: bool
    ) -> Obj | None:
        target = self.d.status_target(pod)
        if target is None:
            return None
        view = dict(pod)
        view["status"] = target.get("status") or {}
        desired = status_mod.pod_status(
            view,
            state,
            reasons=self._reasons(pod["metadata"]["uid"]),
            host_ip=self.d.host_ip,
            terminal=terminal,
            now=self.d.wall(),
        )
        await self.d.status.set_status(target, desired, self.d.wall())
        return desired

    # ------------------------------------------------------------------ syncing

    async def sync_pod(self, pod: Obj) -> SyncResult:
        self.syncs += 1
        uid = pod["metadata"]["uid"]
        if (pod.get("status") or {}).get("phase") in TERMINAL:
            return SyncResult(terminal=True)
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        blocked = None if host_network else self.d.network_not_ready()
        if blocked is not None:
            self.d.events(
                pod, None, "Warning", "NetworkNotReady", f"network is not ready: {blocked}"
            )
            await self._write_status(pod, await self._state(pod), terminal=False)
            return SyncResult(resync_after=RETRY_SOON)
        try:
            await self.d.sources.volumes(pod)
        except VolumeMountError as exc:
            for message in exc.messages():
                self.d.events(pod, None, "Warning", "FailedMount", message)
            await self._write_status(pod, await self._state(pod), terminal=False)
            return SyncResult(resync_after=RETRY_SOON)
        state = await self._state(pod)
        now = self.d.wall()
        actions = sync.compute_pod_actions(pod, state, self.d.backoff, now)
        if not actions.noop or actions.waiting:
            await self.d.runtime.sync(pod, state, actions, self._reasons(uid))
            state = await self._state(pod)
        self.d.prober.add_pod(pod)
        self.d.prober.update_pod(pod)
        desired = await self._write_status(pod, state, terminal=False)
        await self.d.runtime.gc_pod(state)
        if desired is not None and desired.get("phase") in TERMINAL:
            return SyncResult(terminal=True)
        if desired is None:
            phase = status_mod.pod_status(
                pod, state, reasons=self._reasons(uid), host_ip="", terminal=False, now=now
            )["phase"]
            if phase in TERMINAL:
                return SyncResult(terminal=True)
        after = actions.next_check
        if any(r[0] != "CrashLoopBackOff" for r in self._reasons(uid).values()):
            after = min(after, now + RETRY_SOON) if after is not None else now + RETRY_SOON
        return SyncResult(resync_after=None if after is None else max(0.1, after - self.d.wall()))

    # ------------------------------------------------------------------ terminating

    async def sync_terminating_pod(self, pod: Obj, grace_period: int) -> None:
        uid = pod["metadata"]["uid"]
        log.info("pod %s: terminating (grace period %ds)", _key(pod), grace_period)
        await self.d.prober.remove_pod(uid)
        state = await self.d.pleg.pod_state(uid)
        if state.running_containers() or any(s.ready for s in state.sandboxes):
            await self.d.runtime.kill_pod(pod, state, grace_period)
            state = await self.d.pleg.pod_state(uid)
        still = [c.name for c in state.running_containers() if c.state == "running"]
        if still:
            raise RuntimeError(f"containers still running after kill: {still}")

    # ------------------------------------------------------------------ terminated

    async def sync_terminated_pod(self, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        meta = pod.get("metadata") or {}
        state = await self._state(pod)
        if self.d.gone(pod):
            await self.d.runtime.remove_pod(pod, state)
            log.info("pod %s: removed from the node", _key(pod))
            self.d.pleg.forget(uid)
            await self.d.sources.volumes_manager.teardown(uid)
            self.d.sources.forget(uid)
            self.d.status.forget(uid)
            self.reasons.pop(uid, None)
            self.d.backoff.forget_prefix(f"{uid}/")
            return
        await self._write_status(pod, state, terminal=True)
        await asyncio.to_thread(remove_pod_cgroups, self.d.cgroup_root, uid)
        target = self.d.status_target(pod)
        if meta.get("deletionTimestamp") and target is not None:
            await self.d.sources.volumes_manager.teardown(uid)
            self.d.sources.forget(uid)
            await self.d.status.delete(target)


def _key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
