"""What the container runtime says about one pod: its sandboxes and containers, as plain
frozen values built from CRI messages, plus the labels and annotations the kubelet puts on
them (upstream's names, pkg/kubelet/kuberuntime/labels.go), so a restarted kubelet can
read back which pod and container each one belongs to.

- Sandboxes carry the labels ``io.kubernetes.pod.name/namespace/uid`` (and the pod's own
  labels); containers carry those plus ``io.kubernetes.container.name``. Container
  annotations hold the spec hash (``io.kubernetes.container.hash``), the restart count
  (``io.kubernetes.container.restartCount``), the termination message path and policy,
  the pod's grace periods, the preStop handler and ports (JSON) and the container type
  (``init`` or ``container``).
- ``PodRuntimeState`` lists sandboxes newest first and containers newest first (by
  creation time), so "the container named x" is the newest one with that name, as
  upstream's ``FindContainerStatusByName``.
- ``ProbeState`` is what the prober knows about the pod's running containers (keyed by
  container ID), attached to the state before the pure sync and status computations.

Times are float seconds since the epoch (CRI reports nanoseconds; 0 means "not yet").
``from_cri`` is pure: it takes the CRI messages the PLEG gathered.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.kubelet.cri import api_pb2

__all__ = [
    "CONTAINER_HASH",
    "CONTAINER_NAME",
    "CONTAINER_TYPE",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_UID",
    "RESTART_COUNT",
    "TERMINATION_GRACE",
    "ContainerState",
    "PodRuntimeState",
    "ProbeState",
    "SandboxState",
    "container_from_cri",
    "container_hash",
    "from_cri",
    "sandbox_from_cri",
]

Obj = dict[str, Any]

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
CONTAINER_HASH = "io.kubernetes.container.hash"
RESTART_COUNT = "io.kubernetes.container.restartCount"
TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"
PRESTOP_HANDLER = "io.kubernetes.container.preStopHandler"
CONTAINER_PORTS = "io.kubernetes.container.ports"
CONTAINER_TYPE = "io.kubernetes.container.type"
DELETION_GRACE = "io.kubernetes.pod.deletionGracePeriod"
TERMINATION_GRACE = "io.kubernetes.pod.terminationGracePeriod"

_STATES = {
    api_pb2.CONTAINER_CREATED: "created",
    api_pb2.CONTAINER_RUNNING: "running",
    api_pb2.CONTAINER_EXITED: "exited",
    api_pb2.CONTAINER_UNKNOWN: "unknown",
}


def container_hash(container: Mapping[str, Any]) -> str:
    """The spec hash kept on a container: a change means "kill and recreate it". As
    upstream since 1.31, only the name and image count (the other fields are immutable
    or resized in place); FNV-1a 32 of their JSON, in hex."""
    data = json.dumps(
        {"image": container.get("image") or "", "name": container.get("name") or ""},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return format(h, "x")


def _seconds(ns: int) -> float | None:
    return ns / 1e9 if ns > 0 else None


@dataclass(frozen=True, slots=True)
class SandboxState:
    id: str
    attempt: int
    ready: bool
    created_at: float
    ip: str = ""
    extra_ips: tuple[str, ...] = ()
    host_network: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerState:
    id: str
    name: str
    sandbox_id: str
    state: str  # created | running | exited | unknown
    created_at: float
    restart_count: int = 0
    hash: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""
    log_path: str = ""
    container_type: str = "container"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def exited(self) -> bool:
        return self.state == "exited"

    def annotation_int(self, key: str) -> int | None:
        try:
            return int(self.annotations[key])
        except (KeyError, ValueError):
            return None

    def prestop(self) -> Obj | None:
        raw = self.annotations.get(PRESTOP_HANDLER)
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class ProbeState:
    """The prober's results for running containers, by container ID. A container with no
    startup probe is ``started`` once running; one with no readiness probe is ``ready``
    once started — the prober reports them so."""

    started: frozenset[str] = frozenset()
    ready: frozenset[str] = frozenset()
    liveness_failed: frozenset[str] = frozenset()
    startup_failed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PodRuntimeState:
    uid: str
    name: str = ""
    namespace: str = ""
    sandboxes: tuple[SandboxState, ...] = ()
    containers: tuple[ContainerState, ...] = ()
    probes: ProbeState = ProbeState()

    @property
    def sandbox(self) -> SandboxState | None:
        """The newest sandbox."""
        return self.sandboxes[0] if self.sandboxes else None

    def latest(self, name: str) -> ContainerState | None:
        for c in self.containers:
            if c.name == name:
                return c
        return None

    def previous(self, name: str) -> ContainerState | None:
        """The newest-but-one container of that name (``lastState``)."""
        seen = False
        for c in self.containers:
            if c.name == name:
                if seen:
                    return c
                seen = True
        return None

    def latest_exited(self, name: str) -> ContainerState | None:
        for c in self.containers:
            if c.name == name and c.exited:
                return c
        return None

    def running_containers(self) -> list[ContainerState]:
        return [c for c in self.containers if c.state in ("running", "unknown", "created")]

    @property
    def empty(self) -> bool:
        return not self.sandboxes and not self.containers

    def with_probes(self, probes: ProbeState) -> PodRuntimeState:
        return PodRuntimeState(
            uid=self.uid,
            name=self.name,
            namespace=self.namespace,
            sandboxes=self.sandboxes,
            containers=self.containers,
            probes=probes,
        )


def sandbox_from_cri(
    sandbox: api_pb2.PodSandbox, status: api_pb2.PodSandboxStatus | None = None
) -> SandboxState:
    ip = ""
    extra: tuple[str, ...] = ()
    host_network = False
    if status is not None:
        ip = status.network.ip
        extra = tuple(p.ip for p in status.network.additional_ips)
        options = status.linux.namespaces.options
        host_network = options.network == api_pb2.NODE
    return SandboxState(
        id=sandbox.id,
        attempt=sandbox.metadata.attempt,
        ready=sandbox.state == api_pb2.SANDBOX_READY,
        created_at=sandbox.created_at / 1e9,
        ip=ip,
        extra_ips=extra,
        host_network=host_network,
        labels=dict(sandbox.labels),
        annotations=dict(sandbox.annotations),
    )


def container_from_cri(
    container: api_pb2.Container, status: api_pb2.ContainerStatus | None = None
) -> ContainerState:
    labels = dict(container.labels)
    annotations = dict(container.annotations)
    try:
        restarts = int(annotations.get(RESTART_COUNT) or 0)
    except ValueError:
        restarts = 0
    state = ContainerState(
        id=container.id,
        name=labels.get(CONTAINER_NAME) or container.metadata.name,
        sandbox_id=container.pod_sandbox_id,
        state=_STATES.get(container.state, "unknown"),
        created_at=container.created_at / 1e9,
        restart_count=restarts,
        hash=annotations.get(CONTAINER_HASH, ""),
        image=container.image.image,
        image_ref=container.image_ref,
        container_type=annotations.get(CONTAINER_TYPE, "container"),
        labels=labels,
        annotations=annotations,
    )
    if status is None:
        return state
    return dataclasses.replace(
        state,
        state=_STATES.get(status.state, "unknown"),
        started_at=_seconds(status.started_at),
        finished_at=_seconds(status.finished_at),
        exit_code=status.exit_code,
        reason=status.reason,
        message=status.message,
        image=status.image.image or container.image.image,
        image_ref=status.image_ref or container.image_ref,
        log_path=status.log_path,
    )


def pod_uid_of(labels: Mapping[str, str]) -> str:
    return labels.get(POD_UID, "")


def from_cri(
    uid: str,
    sandboxes: Iterable[SandboxState],
    containers: Iterable[ContainerState],
) -> PodRuntimeState:
    """One pod's state from its (already converted) sandboxes and containers."""
    sbs = sorted(sandboxes, key=lambda s: s.created_at, reverse=True)
    cs = sorted(containers, key=lambda c: c.created_at, reverse=True)
    name = namespace = ""
    for labels in [s.labels for s in sbs] + [c.labels for c in cs]:
        name = name or labels.get(POD_NAME, "")
        namespace = namespace or labels.get(POD_NAMESPACE, "")
    return PodRuntimeState(
        uid=uid, name=name, namespace=namespace, sandboxes=tuple(sbs), containers=tuple(cs)
    )
