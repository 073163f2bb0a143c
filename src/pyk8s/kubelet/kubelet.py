"""The kubelet (``--runtime cri``): ``Kubelet(client, cri, config).run(stop)`` runs one
node's pods on a CRI runtime (containerd), wiring the pieces of this package.

Sources of pods: an informer on pods with ``spec.nodeName=<node>`` (mirror pods aside)
and, with ``pod_manifest_path``, static pods (``staticpods``: run from files, shown in
the API as mirror pods that are recreated when deleted and removed when their file goes).
Each pod gets a pod worker (``podworkers``) whose rounds are ``podsync.PodSync``: compute
the actions (``sync``), apply them (``runtime``), write the status (``statusmanager``).
Workers are woken by pod updates, by the PLEG (``pleg``: a relist of CRI sandboxes and
containers every second — containerd 1.6 has no events), by probe results
(``probes.Prober``) and by their own timers (back-off expiry, a 10 s resync).

A kubelet that restarts finds its pods' sandboxes and containers by their labels and
adopts them (they are not restarted); ``housekeeping`` (every 2 s) kills what belongs to
no known pod, tears down unknown volume directories, refreshes configMap/secret/
downwardAPI/projected volumes every ``volume_refresh`` seconds and deletes mirror pods
whose static pod is gone.

The node (``node.NodeAgent``: registration, Lease, status) is Ready when the runtime
answers, its network is ready and the PLEG relists (``health``); ``on_pod_cidr`` is
called with the podCIDR node IPAM assigns, for the caller to write the CNI config.
``KubeletServer`` serves logs/exec/attach/port-forward and ``/metrics`` through
``backend.KubeletBackend``. Events go through ``pyk8s.client.events`` as ``kubelet``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from pyk8s.api import resources
from pyk8s.client import errors, events, informer, reflector, rest
from pyk8s.client.store import ObjectKey
from pyk8s.kubelet import node as node_mod
from pyk8s.kubelet import servingcert, staticpods
from pyk8s.kubelet.backend import KubeletBackend
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.health import RuntimeHealth
from pyk8s.kubelet.housekeeping import Housekeeping
from pyk8s.kubelet.metrics import KubeletMetrics
from pyk8s.kubelet.pleg import PLEG
from pyk8s.kubelet.podsync import PodSync, PodSyncDeps
from pyk8s.kubelet.podworkers import (
    PodWorkers,
    SyncResult,
    UpdateType,
    effective_grace_period,
)
from pyk8s.kubelet.probes import Prober, ResultUpdate
from pyk8s.kubelet.pulling import ImagePuller
from pyk8s.kubelet.runtime import PodRuntime, RuntimeSettings
from pyk8s.kubelet.server import KubeletServer
from pyk8s.kubelet.sources import CRIExec, HookRunner, ObjectReader, PodSources, ProbeView
from pyk8s.kubelet.statusmanager import PODS, StatusManager
from pyk8s.kubelet.volumes.manager import VolumeManager

__all__ = ["Kubelet", "KubeletConfig"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SERVICES = resources.find("", "v1", "services") or resources.Resource(
    group="", version="v1", kind="Service", plural="services", namespaced=True
)


def _pod_ref(pod: Mapping[str, Any], container: str | None) -> Obj:
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": pod.get("metadata") or {}}
    path = ""
    if container:
        spec = pod.get("spec") or {}
        kind = "containers"
        if any(c.get("name") == container for c in spec.get("initContainers") or []):
            kind = "initContainers"
        path = f"spec.{kind}{{{container}}}"
    return events.reference(obj, field_path=path)


class Kubelet:
    def __init__(
        self,
        client: rest.RESTClient,
        cri: CRIClient,
        config: KubeletConfig,
        *,
        on_pod_cidr: Callable[[str], Awaitable[None]] | None = None,
        metrics: KubeletMetrics | None = None,
    ) -> None:
        self.client = client
        self.cri = cri
        self.config = config
        self.on_pod_cidr = on_pod_cidr
        self.metrics = metrics or KubeletMetrics()
        self.recorder = events.EventRecorder(client, component="kubelet", host=config.node_name)
        self.pod_informer: informer.SharedInformer[Obj] = informer.SharedInformer(
            reflector.ResourceListerWatcher(
                client, PODS, field_selector=f"spec.nodeName={config.node_name}"
            ),
            name="kubelet pods",
        )
        self.service_informer: informer.SharedInformer[Obj] = informer.SharedInformer(
            reflector.ResourceListerWatcher(client, SERVICES), name="kubelet services"
        )
        self.static: staticpods.StaticPods | None = None
        if config.pod_manifest_path is not None:
            self.static = staticpods.StaticPods(
                config.pod_manifest_path, node_name=config.node_name, on_change=self._static_changed
            )
        self.backoff = Backoff(10.0, 300.0)
        self.pleg = PLEG(cri, on_change=self._pleg_changed, period=config.pleg_period)
        self.exec = CRIExec(cri)
        self.volumes = VolumeManager(config.pods_dir, node_allocatable=None)
        self.objects = ObjectReader(client)
        self.status = StatusManager(client)
        self.machine: node_mod.Machine | None = None
        self.runtime_version = ""
        self.health = RuntimeHealth(cri, self.pleg, on_change=self._health_changed)
        self.node_agent: node_mod.NodeAgent | None = None
        self.sources = PodSources(
            objects=self.objects,
            volumes_manager=self.volumes,
            services=self.service_informer,
            node_name=config.node_name,
            node_ip=config.node_ip,
            node_allocatable=self._allocatable,
            cluster_dns=list(config.cluster_dns),
            cluster_domain=config.cluster_domain,
            host_resolv=_read_text(config.resolv_conf),
            node_hosts=_read_text("/etc/hosts"),
            events=self.event,
        )
        self.probe_view = ProbeView(self.pleg, self.exec, config.node_ip, self._host_network)
        self.prober = Prober(
            self.probe_view, on_result=self._probe_result, record_event=self._probe_event
        )
        self.puller = ImagePuller(cri, allowed_registries=config.allowed_registries)
        self.runtime = PodRuntime(
            cri=cri,
            puller=self.puller,
            sources=self.sources,
            hooks=HookRunner(self.exec, self.probe_view.pod_ip, self.event),
            events=self.event,
            backoff=self.backoff,
            settings=RuntimeSettings(logs_dir=config.logs_dir, cgroup_root=config.cgroup_root),
        )
        self.podsync = PodSync(
            PodSyncDeps(
                pleg=self.pleg,
                runtime=self.runtime,
                backoff=self.backoff,
                prober=self.prober,
                status=self.status,
                sources=self.sources,
                events=self.event,
                host_ip=config.node_ip,
                network_not_ready=lambda: self.health.network_not_ready,
                status_target=self._status_target,
                gone=self._gone,
                cgroup_root=config.cgroup_root,
            )
        )
        self.workers = PodWorkers(self, resync=config.sync_frequency)
        self.backend = KubeletBackend(
            cri,
            self.pleg,
            find_pod=self._find_pod,
            all_pods=self._all_pods,
            reasons=lambda uid: self.podsync.reasons.get(uid, {}),
        )
        self.server: KubeletServer | None = None
        self.ready = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self.housekeeping = Housekeeping(
            desired=self._desired,
            workers=self.workers,
            pleg=self.pleg,
            sources=self.sources,
            static=self.static,
            pod_informer=self.pod_informer,
            status=self.status,
            backoff=self.backoff,
            metrics=self.metrics,
            event=self.event,
            volume_refresh=config.volume_refresh,
        )
        self.pod_informer.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # ------------------------------------------------------------------ events & lookups

    def _health_changed(self) -> None:
        if self.node_agent is not None:
            self.node_agent.poke()

    def event(
        self, pod: Obj, container: str | None, event_type: str, reason: str, message: str
    ) -> None:
        self.recorder.record(
            _pod_ref(pod, container), reason=reason, message=message, event_type=event_type
        )

    def _probe_event(
        self, pod: Obj, container: str, event_type: str, reason: str, message: str
    ) -> None:
        self.event(pod, container, event_type, reason, message)

    def _allocatable(self) -> Mapping[str, Any]:
        if self.node_agent is None or self.node_agent.node is None:
            return {}
        result: Mapping[str, Any] = (self.node_agent.node.get("status") or {}).get(
            "allocatable"
        ) or {}
        return result

    def _host_network(self, uid: str) -> bool:
        pod = self.workers.pod(uid)
        return bool(pod and (pod.get("spec") or {}).get("hostNetwork"))

    def _desired(self) -> dict[str, Obj]:
        pods = {
            p["metadata"]["uid"]: p for p in self.pod_informer.list() if not staticpods.is_mirror(p)
        }
        if self.static is not None:
            pods.update(self.static.pods)
        return pods

    def _all_pods(self) -> list[Obj]:
        return list(self._desired().values())

    def _find_pod(self, namespace: str, name: str) -> Obj | None:
        pod = self.pod_informer.get(ObjectKey(namespace, name))
        if pod is not None and not staticpods.is_mirror(pod):
            return pod
        if self.static is not None:
            return self.static.by_name(namespace, name)
        return None

    def _is_static(self, pod: Mapping[str, Any]) -> bool:
        """A pod from a manifest file (the object the kubelet runs, not its mirror)."""
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        return annotations.get(staticpods.CONFIG_SOURCE) == "file" and not staticpods.is_mirror(pod)

    def _gone(self, pod: Obj) -> bool:
        meta = pod.get("metadata") or {}
        if self._is_static(pod):
            return self.static is None or meta.get("uid") not in self.static.pods
        current = self.pod_informer.get(ObjectKey(meta.get("namespace", ""), meta.get("name", "")))
        return current is None or (current.get("metadata") or {}).get("uid") != meta.get("uid")

    def _mirror_of(self, pod: Mapping[str, Any]) -> Obj | None:
        meta = pod.get("metadata") or {}
        mirror = self.pod_informer.get(ObjectKey(meta.get("namespace", ""), meta.get("name", "")))
        if mirror is None or not staticpods.is_mirror(mirror):
            return None
        if (mirror.get("metadata") or {}).get("deletionTimestamp"):
            return None
        want = (meta.get("annotations") or {}).get(staticpods.CONFIG_HASH)
        got = mirror["metadata"]["annotations"].get(staticpods.CONFIG_MIRROR)
        return mirror if got == want else None

    def _status_target(self, pod: Obj) -> Obj | None:
        if self._is_static(pod):
            return self._mirror_of(pod)
        meta = pod.get("metadata") or {}
        current = self.pod_informer.get(ObjectKey(meta.get("namespace", ""), meta.get("name", "")))
        if current is None or (current.get("metadata") or {}).get("uid") != meta.get("uid"):
            return None
        return current

    # ------------------------------------------------------------------ pod sources

    def _pod_added(self, pod: Obj) -> None:
        if staticpods.is_mirror(pod):
            self._mirror_seen(pod)
            return
        self.workers.update_pod(pod, UpdateType.CREATE)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if staticpods.is_mirror(new):
            self._mirror_seen(new)
            return
        self.workers.update_pod(new, UpdateType.UPDATE)

    def _mirror_seen(self, mirror: Obj) -> None:
        """A mirror pod being deleted is deleted at once and made again (its static pod
        keeps running), as upstream; any other change wakes the static pod."""
        if (mirror.get("metadata") or {}).get("deletionTimestamp"):
            task = asyncio.get_running_loop().create_task(self.status.delete(mirror))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        self._static_changed()

    def _pod_deleted(self, pod: Obj) -> None:
        if staticpods.is_mirror(pod):
            self._static_changed()
            return
        self.workers.remove_pod(pod)

    def _static_changed(self) -> None:
        if self.static is None:
            return
        for static in self.static.pods.values():
            self.workers.update_pod(static, UpdateType.UPDATE)
        for uid in self.workers.uids():
            pod = self.workers.pod(uid)
            if pod is not None and self._is_static(pod) and uid not in self.static.pods:
                self.workers.remove_pod(pod, grace_period=effective_grace_period(pod))

    def _pleg_changed(self, uid: str) -> None:
        self.workers.wake(uid)

    def _probe_result(self, update: ResultUpdate) -> None:
        self.workers.wake(update.pod_uid)

    # ------------------------------------------------------------------ PodSyncer

    async def sync_pod(self, pod: Obj) -> SyncResult:
        started = time.monotonic()
        try:
            if self._is_static(pod):
                await self._ensure_mirror(pod)
            return await self.podsync.sync_pod(pod)
        finally:
            self.metrics.pod_worker_duration.labels("sync").observe(time.monotonic() - started)

    async def sync_terminating_pod(self, pod: Obj, grace_period: int) -> None:
        await self.podsync.sync_terminating_pod(pod, grace_period)

    async def sync_terminated_pod(self, pod: Obj) -> None:
        await self.podsync.sync_terminated_pod(pod)
        if self._is_static(pod) and self._gone(pod):
            mirror = self.pod_informer.get(
                ObjectKey(pod["metadata"]["namespace"], pod["metadata"]["name"])
            )
            if mirror is not None and staticpods.is_mirror(mirror):
                await self.status.delete(mirror)

    async def _ensure_mirror(self, pod: Obj) -> None:
        if self._mirror_of(pod) is not None or self.node_agent is None:
            return
        meta = pod["metadata"]
        existing = self.pod_informer.get(ObjectKey(meta["namespace"], meta["name"]))
        if existing is not None:
            if not staticpods.is_mirror(existing):
                log.warning(
                    "static pod %s/%s: a pod of that name exists", meta["namespace"], meta["name"]
                )
                return
            await self.status.delete(existing)  # a mirror of an older version of the file
        body = staticpods.mirror_pod(pod, self.config.node_name, self.node_agent.uid)
        try:
            await self.client.create(PODS, body)
        except errors.AlreadyExists:
            pass
        except (errors.ApiError, errors.TransportError) as exc:
            log.warning("mirror pod %s/%s: %s", meta["namespace"], meta["name"], exc)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        self.machine = await asyncio.to_thread(node_mod.read_machine, cfg.data_dir)
        version = await self.cri.wait_ready(60)
        self.runtime_version = f"{version.runtime_name}://{version.runtime_version}"
        self.runtime.settings = RuntimeSettings(
            logs_dir=cfg.logs_dir, cgroup_root=cfg.cgroup_root, memory_capacity=self.machine.memory
        )
        await self.health.check()
        self.node_agent = node_mod.NodeAgent(
            self.client,
            node_mod.NodeSettings(
                name=cfg.node_name,
                node_ip=cfg.node_ip,
                hostname=cfg.node_name,
                kubelet_port=cfg.port,
                labels=cfg.node_labels,
                taints=cfg.register_with_taints,
                max_pods=cfg.max_pods,
                lease_duration=cfg.lease_duration,
                status_update=cfg.node_status_update,
            ),
            self.machine,
            runtime_version=lambda: self.runtime_version,
            not_ready=self.health.not_ready,
        )
        self.server = await self._start_server()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.node_agent.run(stop), name="kubelet node")
                tg.create_task(self.recorder.run(stop), name="kubelet events")
                tg.create_task(self._network(stop), name="kubelet network")
                tg.create_task(self.health.run(stop), name="kubelet runtime status")
                tg.create_task(self.pleg.run(stop), name="kubelet pleg")
                await _until(self.node_agent.registered.wait(), stop)
                tg.create_task(self.service_informer.run(stop), name="kubelet services")
                tg.create_task(self.pod_informer.run(stop), name="kubelet pod informer")
                if self.static is not None:
                    tg.create_task(self.static.run(stop), name="kubelet static pods")
                tg.create_task(self._housekeeping(stop), name="kubelet housekeeping")
                await stop.wait()
                await self.workers.close()
                await self.prober.close()
        finally:
            await self.workers.close()
            await self.prober.close()
            if self.server is not None:
                await self.server.stop()

    async def _start_server(self) -> KubeletServer:
        cfg = self.config
        cert, key = await asyncio.to_thread(
            servingcert.ensure_serving_cert,
            cfg.pki_dir,
            node_name=cfg.node_name,
            node_ips=[cfg.node_ip],
            hostnames=[socket.gethostname()],
            ca_dir=cfg.data_dir / "tls",
        )
        client_ca = cfg.client_ca or cert
        server = KubeletServer(
            self.backend,
            host=cfg.address or cfg.node_ip,
            port=cfg.port,
            tls_cert=cert,
            tls_key=key,
            client_ca=client_ca,
            registry=self.metrics.registry,
        )
        await server.start()
        return server

    async def _network(self, stop: asyncio.Event) -> None:
        assert self.node_agent is not None
        cidr = await _until(self.node_agent.wait_pod_cidr(), stop)
        if cidr is None:
            return
        if self.on_pod_cidr is not None:
            await self.on_pod_cidr(cidr)
        await self.health.check()
        self.workers.wake_all()

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        await _until(self.pod_informer.wait_synced(), stop)
        if self.static is not None:
            await _until(self.static.synced.wait(), stop)
        await _until(self.pleg.relisted.wait(), stop)
        self.ready.set()
        while not stop.is_set():
            try:
                await self.housekeeping.run_once()
            except (CRIError, errors.ApiError, errors.TransportError, OSError) as exc:
                log.warning("housekeeping: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.housekeeping)


def _read_text(path: str) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


async def _until(work: Awaitable[Any], stop: asyncio.Event) -> Any:
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None
