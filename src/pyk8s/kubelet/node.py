"""The kubelet's Node: registration, status and heartbeat (upstream's
kubelet_node_status.go, nodestatus setters and nodelease).

- **Machine facts** (``read_machine``): cpu count, memory (``MemTotal`` of /proc/meminfo),
  the data dir's filesystem size (ephemeral-storage), kernel release, ``PRETTY_NAME`` of
  /etc/os-release, machine ID, boot ID, product UUID. ``node_object`` turns them into the
  Node the kubelet registers: the well-known labels (hostname, os, arch and their beta
  twins) plus ``--node-labels``, ``--register-with-taints``, capacity (cpu, memory,
  pods 110, ephemeral-storage, hugepages at 0) and allocatable (memory less the 100Mi
  hard-eviction threshold, ephemeral-storage less 10 %), addresses (InternalIP, Hostname),
  ``daemonEndpoints.kubeletEndpoint.Port``, nodeInfo (``containerRuntimeVersion`` from
  CRI Version, ``kubeletVersion`` ``v1.33.0-pyk8s``) and the four conditions with
  upstream's reasons (Ready: ``KubeletReady`` "kubelet is posting ready status", or
  ``KubeletNotReady`` with what is missing).
- **NodeAgent.run(stop)**: create the Node, or adopt an existing one (its podCIDR and uid
  kept, labels patched in); create or adopt its Lease in ``kube-node-lease`` (owned by
  the Node) and renew it every ``lease_duration / 4`` (10 s); post the status every
  ``status_update`` (10 s) when anything besides heartbeat times changed, and at least
  every ``status_report`` (5 min). Failures retry after 200 ms doubling to 7 s.
- ``pod_cidr``/``wait_pod_cidr()``: the podCIDR node IPAM gives ``spec.podCIDR`` (read by
  polling the Node until it shows one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyk8s.api import resources
from pyk8s.client import errors, leaderelection, rest
from pyk8s.kubelet.sim import node_objects
from pyk8s.kubelet.sim.containers import rfc3339

__all__ = [
    "KUBELET_VERSION",
    "NODES",
    "Machine",
    "NodeAgent",
    "NodeSettings",
    "node_conditions",
    "node_object",
    "read_machine",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KUBELET_VERSION = "v1.33.0-pyk8s"
NODES = resources.find("", "v1", "nodes") or resources.Resource(
    group="", version="v1", kind="Node", plural="nodes", namespaced=False
)
LEASES = leaderelection.LEASES
EVICTION_MEMORY = 100 * 1024 * 1024
_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
_PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    memory: int
    storage: int
    kernel: str
    os_image: str
    machine_id: str
    boot_id: str
    system_uuid: str
    arch: str


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def read_machine(data_dir: Path) -> Machine:
    memory = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    os_image = "Linux"
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            os_image = value.strip().strip('"')
    data_dir.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(data_dir)
    machine_id = (
        _read("/etc/machine-id") or uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()).hex
    )
    return Machine(
        cpus=os.cpu_count() or 1,
        memory=memory,
        storage=st.f_blocks * st.f_frsize,
        kernel=platform.release(),
        os_image=os_image,
        machine_id=machine_id,
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid")
        or str(uuid.UUID(machine_id[:32].ljust(32, "0"))),
        arch=_ARCH.get(platform.machine(), platform.machine()),
    )


@dataclass(frozen=True, slots=True)
class NodeSettings:
    name: str
    node_ip: str = "127.0.0.1"
    hostname: str = ""
    kubelet_port: int = 10250
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, Any]] = ()
    max_pods: int = 110
    lease_duration: int = 40
    status_update: float = 10.0
    status_report: float = 300.0


def _kib(n: int) -> str:
    return f"{n // 1024}Ki"


def static_status(settings: NodeSettings, machine: Machine, runtime_version: str) -> Obj:
    capacity = {
        "cpu": str(machine.cpus),
        "ephemeral-storage": _kib(machine.storage),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": _kib(machine.memory),
        "pods": str(settings.max_pods),
    }
    allocatable = dict(capacity)
    allocatable["memory"] = _kib(max(0, machine.memory - EVICTION_MEMORY))
    allocatable["ephemeral-storage"] = str(machine.storage * 9 // 10)
    return {
        "capacity": capacity,
        "allocatable": allocatable,
        "addresses": [
            {"type": "InternalIP", "address": settings.node_ip},
            {"type": "Hostname", "address": settings.hostname or settings.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": settings.kubelet_port}},
        "nodeInfo": {
            "architecture": machine.arch,
            "bootID": machine.boot_id,
            "containerRuntimeVersion": runtime_version,
            "kernelVersion": machine.kernel,
            "kubeProxyVersion": "",
            "kubeletVersion": KUBELET_VERSION,
            "machineID": machine.machine_id,
            "operatingSystem": "linux",
            "osImage": machine.os_image,
            "systemUUID": machine.system_uuid,
        },
    }


def node_conditions(
    now: float, previous: Sequence[Mapping[str, Any]] | None, not_ready: str | None
) -> list[Obj]:
    """The four conditions at ``now``; ``not_ready`` is why the node is not Ready (None:
    it is). A transition time moves only when the status changes."""
    before = {c.get("type"): c for c in previous or ()}
    beat = rfc3339(now)
    rows = [(kind, "False", reason, message) for kind, reason, message in _PRESSURE]
    if not_ready is None:
        rows.append(("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
    else:
        rows.append(("Ready", "False", "KubeletNotReady", not_ready))
    out = []
    for kind, status, reason, message in rows:
        old = before.get(kind) or {}
        same = old.get("status") == status and old.get("lastTransitionTime")
        out.append(
            {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": beat,
                "lastTransitionTime": old["lastTransitionTime"] if same else beat,
                "reason": reason,
                "message": message,
            }
        )
    return out


def node_labels(settings: NodeSettings, machine: Machine) -> dict[str, str]:
    labels = {
        "beta.kubernetes.io/arch": machine.arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": machine.arch,
        "kubernetes.io/hostname": settings.hostname or settings.name,
        "kubernetes.io/os": "linux",
    }
    labels.update(settings.labels)
    return labels


def node_object(
    settings: NodeSettings,
    machine: Machine,
    runtime_version: str,
    now: float,
    not_ready: str | None,
) -> Obj:
    status = static_status(settings, machine, runtime_version)
    status["conditions"] = node_conditions(now, None, not_ready)
    spec: Obj = {}
    if settings.taints:
        spec["taints"] = [dict(t) for t in settings.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": settings.name,
            "labels": node_labels(settings, machine),
            "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": status,
    }


class NodeAgent:
    def __init__(
        self,
        client: rest.RESTClient,
        settings: NodeSettings,
        machine: Machine,
        *,
        runtime_version: Callable[[], str],
        not_ready: Callable[[], str | None],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.settings = settings
        self.machine = machine
        self.runtime_version = runtime_version
        self.not_ready = not_ready
        self.wall = wall
        self.uid = ""
        self.node: Obj | None = None
        self.lease: Obj | None = None
        self.pod_cidr: str | None = None
        self.registered = asyncio.Event()
        self.cidr_known = asyncio.Event()
        self._last_report = 0.0
        self._kick = asyncio.Event()

    def poke(self) -> None:
        """Post the status soon (readiness changed)."""
        self._kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        await self._retry(self._register, stop)
        if stop.is_set():
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._loop(self._renew_lease, self.settings.lease_duration / 4, stop))
            tg.create_task(
                self._loop(self._post_status, self.settings.status_update, stop, kick=True)
            )
            tg.create_task(self._loop(self._watch_cidr, 1.0, stop))

    async def wait_pod_cidr(self) -> str:
        await self.cidr_known.wait()
        assert self.pod_cidr is not None
        return self.pod_cidr

    # ------------------------------------------------------------------ loops

    async def _retry(self, fn: Callable[[], Any], stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await fn()
                return
            except (errors.ApiError, errors.TransportError) as exc:
                failures += 1
                delay = min(0.2 * 2 ** (failures - 1), 7.0)
                log.warning("node %s: %s (retry in %.1fs)", self.settings.name, exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def _loop(
        self, fn: Callable[[], Any], period: float, stop: asyncio.Event, *, kick: bool = False
    ) -> None:
        while not stop.is_set():
            await self._retry(fn, stop)
            waiters = [asyncio.ensure_future(stop.wait())]
            if kick:
                waiters.append(asyncio.ensure_future(self._kick.wait()))
            _done, pending = await asyncio.wait(
                waiters, timeout=period, return_when=asyncio.FIRST_COMPLETED
            )
            for w in pending:
                w.cancel()
            if kick:
                self._kick.clear()

    # ------------------------------------------------------------------ steps

    async def _register(self) -> None:
        body = node_object(
            self.settings, self.machine, self.runtime_version(), self.wall(), self.not_ready()
        )
        try:
            node: Obj = await self.client.create(NODES, body)
            log.info("registered node %s", self.settings.name)
        except errors.AlreadyExists:
            node = await self.client.get(NODES, self.settings.name)
            labels = (node.get("metadata") or {}).get("labels") or {}
            missing = {k: v for k, v in body["metadata"]["labels"].items() if labels.get(k) != v}
            if missing:
                node = await self.client.patch(
                    NODES,
                    self.settings.name,
                    {"metadata": {"labels": missing}},
                    patch_type=rest.PatchType.STRATEGIC,
                )
            log.info("node %s already registered; adopted it", self.settings.name)
        self._observe(node)
        self.uid = str(node["metadata"].get("uid") or "")
        self._last_report = 0.0
        await self._post_status()
        await self._renew_lease()
        self.registered.set()

    def _observe(self, node: Obj) -> None:
        self.node = node
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr and cidr != self.pod_cidr:
            self.pod_cidr = str(cidr)
            log.info("node %s: podCIDR %s", self.settings.name, cidr)
            self.cidr_known.set()

    async def _watch_cidr(self) -> None:
        if self.cidr_known.is_set():
            return
        self._observe(await self.client.get(NODES, self.settings.name))

    async def _renew_lease(self) -> None:
        now = self.wall()
        duration = self.settings.lease_duration
        name = self.settings.name
        if self.lease is not None:
            try:
                self.lease = await self.client.update(
                    LEASES, node_objects.renewed_lease(self.lease, now, duration=duration)
                )
                return
            except errors.Conflict:
                self.lease = None
            except errors.NotFound:
                self.lease = None
        try:
            self.lease = await self.client.create(
                LEASES, node_objects.lease_object(name, self.uid, now, duration=duration)
            )
            return
        except errors.AlreadyExists:
            pass
        current = await self.client.get(LEASES, name, namespace=node_objects.LEASE_NAMESPACE)
        body = node_objects.renewed_lease(current, now, duration=duration)
        if self.uid:
            body["metadata"]["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self.uid}
            ]
        self.lease = await self.client.update(LEASES, body)

    async def _post_status(self) -> None:
        node = await self.client.get(NODES, self.settings.name)
        self._observe(node)
        now = self.wall()
        current = node.get("status") or {}
        desired = static_status(self.settings, self.machine, self.runtime_version())
        desired["conditions"] = node_conditions(now, current.get("conditions"), self.not_ready())
        due = now - self._last_report >= self.settings.status_report
        if not due and not node_objects.status_changed(current, desired):
            return
        updated = await self.client.patch(
            NODES,
            self.settings.name,
            node_objects.status_patch(current, desired),
            patch_type=rest.PatchType.STRATEGIC,
            subresource="status",
        )
        self._observe(updated)
        self._last_report = now
