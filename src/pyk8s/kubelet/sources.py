"""Adapters between the kubelet's pure pieces and the world: what a container is made of
(``PodSources``: environment, volumes and mounts, pull secrets, DNS, hostname), how
hooks and probes reach a container (``CRIExec``, ``HookRunner``, ``ProbeView``), and
where API objects come from (``ObjectReader``).

- ``ObjectReader`` GETs ConfigMaps, Secrets, PVCs and PVs as containers and volumes need
  them, keeping each answer for ``ttl`` seconds (1 s) so one sync asks once; a 404 is
  None. Services come from the kubelet's Service informer (environment variables).
- ``PodSources.volumes(pod)`` runs ``VolumeManager.setup`` and remembers the paths per
  pod until ``forget(uid)``; ``mounts`` adds the hosts file and termination-message file
  (``VolumeManager.prepare_container``) and converts to CRI ``Mount``s.
- ``CRIExec``: ``ExecSync`` as the ``ExecFn`` probes and hooks take: (exit code, stdout,
  stderr); ``TimeoutError`` when the runtime says the command timed out.
- ``ProbeView``: the prober's ``ProbeTarget`` over the PLEG's cache.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from pyk8s.api import resources
from pyk8s.client import errors, informer, rest
from pyk8s.kubelet import envvars, hooks, podnetconf
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.pleg import PLEG
from pyk8s.kubelet.probe_transports import ExecOutput
from pyk8s.kubelet.probes import ContainerView
from pyk8s.kubelet.volumes.manager import VolumeManager

__all__ = ["CRIExec", "HookRunner", "ObjectReader", "PodSources", "ProbeView"]

Obj = dict[str, Any]
EventFn = Callable[[Obj, str | None, str, str, str], None]


def _resource(plural: str, kind: str, *, namespaced: bool = True) -> resources.Resource:
    return resources.find("", "v1", plural) or resources.Resource(
        group="", version="v1", kind=kind, plural=plural, namespaced=namespaced
    )


CONFIGMAPS = _resource("configmaps", "ConfigMap")
SECRETS = _resource("secrets", "Secret")
PVCS = _resource("persistentvolumeclaims", "PersistentVolumeClaim")
PVS = _resource("persistentvolumes", "PersistentVolume", namespaced=False)
SERVICEACCOUNTS = _resource("serviceaccounts", "ServiceAccount")


class ObjectReader:
    def __init__(self, client: rest.RESTClient, *, ttl: float = 1.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}

    async def get(self, res: resources.Resource, namespace: str, name: str) -> Obj | None:
        key = (res.plural, namespace, name)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            obj: Obj | None = await self.client.get(
                res, name, namespace=namespace if res.namespaced else None
            )
        except errors.NotFound:
            obj = None
        self._cache[key] = (now, obj)
        if len(self._cache) > 4096:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self.ttl}
        return obj

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        return await self.get(CONFIGMAPS, namespace, name)

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return await self.get(SECRETS, namespace, name)

    async def pvc(self, namespace: str, name: str) -> Obj | None:
        return await self.get(PVCS, namespace, name)

    async def pv(self, name: str) -> Obj | None:
        return await self.get(PVS, "", name)


class CRIExec:
    def __init__(self, cri: CRIClient) -> None:
        self.cri = cri

    async def __call__(self, container_id: str, command: list[str], timeout: float) -> ExecOutput:
        seconds = max(1, math.ceil(timeout)) if timeout > 0 else 0
        try:
            resp = await self.cri.call(
                self.cri.runtime.ExecSync,
                api_pb2.ExecSyncRequest(container_id=container_id, cmd=command, timeout=seconds),
                timeout=(seconds + 10) if seconds else None,
            )
        except CRIError as exc:
            if exc.code == grpc.StatusCode.DEADLINE_EXCEEDED or "timeout" in exc.details.lower():
                raise TimeoutError(exc.details) from None
            raise RuntimeError(exc.details) from None
        return resp.exit_code, resp.stdout, resp.stderr

    def bound(self, container_id: str) -> Callable[[list[str], float], Any]:
        async def run(command: list[str], timeout: float) -> ExecOutput:
            return await self(container_id, command, timeout)

        return run


@dataclass
class PodSources:
    """``runtime.ContainerSources`` for the kubelet."""

    objects: ObjectReader
    volumes_manager: VolumeManager
    services: informer.SharedInformer[Obj] | None
    node_name: str
    node_ip: str
    node_allocatable: Callable[[], Mapping[str, Any]]
    cluster_dns: Sequence[str]
    cluster_domain: str
    host_resolv: str
    node_hosts: str
    events: EventFn
    token_for: Callable[[Obj, str, int], Any] | None = None

    def __post_init__(self) -> None:
        self._paths: dict[str, dict[str, str]] = {}

    def forget(self, uid: str) -> None:
        self._paths.pop(uid, None)

    async def volumes(self, pod: Obj) -> dict[str, str]:
        uid = pod["metadata"]["uid"]
        paths = await self.volumes_manager.setup(
            pod,
            get_configmap=self.objects.configmap,
            get_secret=self.objects.secret,
            get_pvc=self.objects.pvc,
            get_pv=self.objects.pv,
            token_for=self._token,
        )
        self._paths[uid] = paths
        return paths

    async def refresh_volumes(self, pod: Obj) -> bool:
        return await self.volumes_manager.refresh(
            pod,
            get_configmap=self.objects.configmap,
            get_secret=self.objects.secret,
            token_for=self._token,
        )

    async def _token(self, pod: Obj, audience: str, expiration: int) -> str:
        if self.token_for is None:
            return ""
        token: str = await self.token_for(pod, audience, expiration)
        return token

    async def environment(
        self, pod: Obj, container: Obj, pod_ips: Sequence[str]
    ) -> list[tuple[str, str]]:
        namespace = pod["metadata"].get("namespace", "")
        configmaps, secrets = envvars.referenced_objects(container)
        cms = {n: await self.objects.configmap(namespace, n) for n in configmaps}
        scs = {n: await self.objects.secret(namespace, n) for n in secrets}
        services = self.services.list() if self.services is not None else []
        svc_env = envvars.service_env(
            services,
            namespace=namespace,
            enable_service_links=(pod.get("spec") or {}).get("enableServiceLinks", True)
            is not False,
        )
        return envvars.container_env(
            pod,
            container,
            service_env=svc_env,
            get_configmap=lambda ns, n: cms.get(n),
            get_secret=lambda ns, n: scs.get(n),
            node_name=self.node_name,
            host_ips=[self.node_ip],
            pod_ips=pod_ips,
            node_allocatable=self.node_allocatable(),
        )

    async def mounts(
        self, pod: Obj, container: Obj, env: Sequence[tuple[str, str]], pod_ips: Sequence[str]
    ) -> list[api_pb2.Mount]:
        uid = pod["metadata"]["uid"]
        paths = self._paths.get(uid)
        if paths is None:
            paths = await self.volumes(pod)
        ips = list(pod_ips)
        if (pod.get("spec") or {}).get("hostNetwork"):
            ips = [self.node_ip]
        mounts = await self.volumes_manager.prepare_container(
            pod,
            container,
            paths,
            env=env,
            pod_ips=ips,
            cluster_domain=self.cluster_domain,
            node_hosts=self.node_hosts,
        )
        return [
            api_pb2.Mount(
                container_path=m.container_path,
                host_path=m.host_path,
                readonly=m.readonly,
                propagation=m.propagation,  # type: ignore[arg-type]
            )
            for m in mounts
        ]

    async def pull_secrets(self, pod: Obj) -> list[Obj]:
        namespace = pod["metadata"].get("namespace", "")
        out = []
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            secret = await self.objects.secret(namespace, ref.get("name", ""))
            if secret is not None:
                out.append(secret)
        return out

    def dns(self, pod: Obj) -> podnetconf.DnsConfig:
        return podnetconf.resolv_conf(
            pod,
            cluster_dns=self.cluster_dns,
            cluster_domain=self.cluster_domain,
            host_resolv=self.host_resolv,
            node_ips=[self.node_ip],
        )

    def sandbox_dns(
        self, pod: Obj, *, record: bool
    ) -> tuple[list[str], list[str], list[str]] | None:
        conf = self.dns(pod)
        if record:
            for reason, message in conf.warnings:
                self.events(pod, None, "Warning", reason, message)
        return list(conf.servers), list(conf.searches), list(conf.options)

    def hostname(self, pod: Obj) -> str:
        return podnetconf.pod_hostname_and_domain(pod, self.cluster_domain)[0]


class HookRunner:
    """``runtime.Hooks`` over ``hooks.post_start``/``pre_stop`` and CRI exec."""

    def __init__(self, exec_fn: CRIExec, pod_ip: Callable[[str], str], events: EventFn) -> None:
        self.exec = exec_fn
        self.pod_ip = pod_ip
        self.events = events

    def _record(self, pod: Obj, container: Obj, result: hooks.HookResult) -> None:
        for event_type, reason, message in result.events:
            self.events(pod, container.get("name"), event_type, reason, message)

    async def post_start(self, pod: Obj, container: Obj, container_id: str) -> str | None:
        result = await hooks.post_start(
            pod,
            container,
            pod_ip=self.pod_ip(pod["metadata"]["uid"]),
            exec_fn=self.exec.bound(container_id),
        )
        self._record(pod, container, result)
        return None if result.ok else result.message

    async def pre_stop(
        self, pod: Obj, container: Obj, container_id: str, grace_period: float
    ) -> float:
        result = await hooks.pre_stop(
            pod,
            container,
            pod_ip=self.pod_ip(pod["metadata"]["uid"]),
            exec_fn=self.exec.bound(container_id),
            grace_period=grace_period,
        )
        self._record(pod, container, result)
        return result.elapsed


class ProbeView:
    """The prober's ``ProbeTarget``: containers as the PLEG last saw them."""

    def __init__(
        self, pleg: PLEG, exec_fn: CRIExec, node_ip: str, host_network: Callable[[str], bool]
    ) -> None:
        self.pleg = pleg
        self.exec_fn = exec_fn
        self.node_ip = node_ip
        self.host_network = host_network

    def container(self, pod_uid: str, container_name: str) -> ContainerView | None:
        state = self.pleg.cached(pod_uid)
        if state is None:
            return None
        c = state.latest(container_name)
        if c is None:
            return None
        running_for = 0.0
        if c.running and c.started_at:
            running_for = max(0.0, time.time() - c.started_at)
        return ContainerView(
            container_id=c.id,
            running=c.running,
            running_seconds=running_for,
            terminated=c.exited,
        )

    def pod_ip(self, pod_uid: str) -> str:
        if self.host_network(pod_uid):
            return self.node_ip
        state = self.pleg.cached(pod_uid)
        if state is None or state.sandbox is None:
            return ""
        return state.sandbox.ip

    async def exec(self, container_id: str, command: list[str], timeout: float) -> ExecOutput:
        return await self.exec_fn(container_id, command, timeout)
