"""Small builders for pods and runtime states in the kubelet core's unit tests."""

from __future__ import annotations

from typing import Any

from pyk8s.kubelet import podstate
from pyk8s.kubelet.podstate import ContainerState, PodRuntimeState, ProbeState, SandboxState

Obj = dict[str, Any]

UID = "uid-1"
T0 = 1_000_000.0


def container(name: str, **extra: Any) -> Obj:
    return {"name": name, "image": "pyk8s.local/testbox:1.0", **extra}


def pod(
    *containers: Obj,
    inits: tuple[Obj, ...] = (),
    policy: str = "Always",
    host_network: bool = False,
    deleting: bool = False,
    status: Obj | None = None,
    **spec: Any,
) -> Obj:
    meta: Obj = {"name": "web", "namespace": "ns", "uid": UID}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        meta["deletionGracePeriodSeconds"] = 30
    body: Obj = {
        "containers": list(containers) or [container("c")],
        "restartPolicy": policy,
        **spec,
    }
    if inits:
        body["initContainers"] = list(inits)
    if host_network:
        body["hostNetwork"] = True
    out: Obj = {"metadata": meta, "spec": body}
    if status is not None:
        out["status"] = status
    return out


def sandbox(
    sid: str = "sb1",
    *,
    ready: bool = True,
    attempt: int = 0,
    ip: str = "10.244.0.5",
    at: float = T0,
) -> SandboxState:
    return SandboxState(id=sid, attempt=attempt, ready=ready, created_at=at, ip=ip)


def ctr(
    name: str,
    state: str = "running",
    *,
    cid: str | None = None,
    sandbox_id: str = "sb1",
    at: float = T0 + 1,
    exit_code: int = 0,
    restarts: int = 0,
    spec: Obj | None = None,
    finished: float | None = None,
    reason: str = "",
    kind: str = "container",
) -> ContainerState:
    spec = spec or container(name)
    return ContainerState(
        id=cid or f"{name}-{int(at)}",
        name=name,
        sandbox_id=sandbox_id,
        state=state,
        created_at=at,
        restart_count=restarts,
        hash=podstate.container_hash(spec),
        started_at=at,
        finished_at=finished if finished is not None else (at + 1 if state == "exited" else None),
        exit_code=exit_code,
        reason=reason,
        image="pyk8s.local/testbox:1.0",
        image_ref="sha256:abc",
        container_type=kind,
    )


def state(
    *containers: ContainerState,
    sandboxes: tuple[SandboxState, ...] | None = None,
    probes: ProbeState | None = None,
) -> PodRuntimeState:
    sbs = (sandbox(),) if sandboxes is None else sandboxes
    built = podstate.from_cri(UID, sbs, containers)
    if probes is None:
        running = frozenset(c.id for c in containers if c.running)
        probes = ProbeState(started=running, ready=running)
    return built.with_probes(probes)
