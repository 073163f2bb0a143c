"""The kubelet's housekeeping round (every 2 s once the pod sources have synced):

- pods the runtime runs that no source knows (deleted while the kubelet was down, or
  left by an earlier kubelet) are killed — with the grace period their containers'
  annotations recorded — and removed; the cache is re-read first, so a pod removed a
  moment ago is not mistaken for one;
- volume directories of pods nobody knows are torn down;
- configMap, secret, downwardAPI and projected volumes of running pods are refreshed
  every ``volume_refresh`` seconds (the files change in place, atomically);
- mirror pods whose static pod is gone are deleted;
- the back-off book is pruned and the running pod/container gauges set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.client import informer
from pyk8s.kubelet import podstate, staticpods
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.metrics import KubeletMetrics
from pyk8s.kubelet.pleg import PLEG
from pyk8s.kubelet.podworkers import PodWorkers, UpdateType, WorkerState, effective_grace_period
from pyk8s.kubelet.sources import PodSources
from pyk8s.kubelet.statusmanager import StatusManager
from pyk8s.kubelet.volumes.manager import VolumeMountError

__all__ = ["Housekeeping", "orphan_pod"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
EventFn = Callable[[Obj, str | None, str, str, str], None]
_REFRESHED = ("configMap", "secret", "downwardAPI", "projected")


def orphan_pod(state: podstate.PodRuntimeState) -> Obj:
    """Enough of a pod to kill what the runtime runs for it (from the labels)."""
    grace: int | None = None
    for c in state.containers:
        grace = c.annotation_int(podstate.TERMINATION_GRACE)
        if grace is not None:
            break
    spec: Obj = {"containers": []}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {
        "metadata": {"name": state.name, "namespace": state.namespace, "uid": state.uid},
        "spec": spec,
    }


@dataclass
class Housekeeping:
    desired: Callable[[], Mapping[str, Obj]]
    workers: PodWorkers
    pleg: PLEG
    sources: PodSources
    static: staticpods.StaticPods | None
    pod_informer: informer.SharedInformer[Obj]
    status: StatusManager
    backoff: Backoff
    metrics: KubeletMetrics
    event: EventFn
    volume_refresh: float = 10.0
    _refreshed: dict[str, float] = field(default_factory=dict)

    async def run_once(self) -> None:
        desired = self.desired()
        await self._kill_orphans(desired)
        for uid in self.sources.volumes_manager.pod_uids_on_disk():
            if uid not in desired and uid not in self.workers:
                await self.sources.volumes_manager.teardown(uid)
        await self._refresh_volumes(desired)
        await self._delete_orphan_mirrors()
        self.backoff.gc(time.time())
        states = self.pleg.all_states()
        self.metrics.running_pods.set(sum(1 for s in states if s.sandbox and s.sandbox.ready))
        self.metrics.running_containers.labels("running").set(
            sum(1 for s in states for c in s.containers if c.running)
        )

    async def _kill_orphans(self, desired: Mapping[str, Obj]) -> None:
        for cached in self.pleg.all_states():
            if cached.uid in desired or cached.uid in self.workers:
                continue
            state = await self.pleg.pod_state(cached.uid)  # not a stale cache entry?
            if state.empty or state.uid in self.workers:
                continue
            orphan = orphan_pod(state)
            log.info("killing orphaned pod %s/%s (%s)", state.namespace, state.name, state.uid)
            self.workers.update_pod(orphan, UpdateType.KILL)
            self.workers.remove_pod(orphan, grace_period=effective_grace_period(orphan))

    async def _refresh_volumes(self, desired: Mapping[str, Obj]) -> None:
        now = time.monotonic()
        for uid, pod in desired.items():
            if self.workers.state(uid) != WorkerState.SYNCING:
                continue
            volumes = (pod.get("spec") or {}).get("volumes") or []
            if not any(any(k in v for k in _REFRESHED) for v in volumes):
                continue
            if now - self._refreshed.get(uid, 0.0) < self.volume_refresh:
                continue
            self._refreshed[uid] = now
            try:
                await self.sources.refresh_volumes(pod)
            except VolumeMountError as exc:
                for message in exc.messages():
                    self.event(pod, None, "Warning", "FailedMount", message)
        for uid in set(self._refreshed) - set(desired):
            del self._refreshed[uid]

    async def _delete_orphan_mirrors(self) -> None:
        if self.static is None or not self.static.synced.is_set():
            return
        hashes = set(self.static.pods)
        for pod in self.pod_informer.list():
            if not staticpods.is_mirror(pod):
                continue
            if pod["metadata"]["annotations"].get(staticpods.CONFIG_MIRROR) not in hashes:
                await self.status.delete(pod)
