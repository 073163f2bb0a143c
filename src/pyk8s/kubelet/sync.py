"""What one sync of a running pod must do, as a pure function of the pod, what the runtime
reports about it, the back-off book and the time: ``compute_pod_actions`` returns a
``PodActions`` that ``runtime`` carries out. Upstream's ``computePodActions``
(pkg/kubelet/kuberuntime/kuberuntime_manager.go) is the model; back-off is decided here
too (upstream checks it while starting), so the result says which containers start now
and which wait, until when and with which CrashLoopBackOff message.

Rules:
- **Sandbox.** None, not ready, more than one ready, a network mode that no longer fits
  the pod (hostNetwork) or a pod-network sandbox without an IP → kill the pod and create
  a sandbox with the next attempt number. Under ``restartPolicy: Never`` a pod whose
  sandbox died after its containers ran is not revived (kill only). When nothing would
  start in the new sandbox (every container succeeded under OnFailure) and the pod was
  initialized before, only kill. A new sandbox starts from the first init container, or
  else every container (but those that succeeded under OnFailure).
- **Init containers** run in order; only containers of the current sandbox count as
  progress, so a new sandbox runs them again. A regular init container must exit 0
  before the next starts; a failure restarts it (back-off) unless the pod's policy is
  Never, which kills the pod. A sidecar (init container with ``restartPolicy: Always``)
  must be running — and started, when it has a startup probe — before the next; it is
  restarted whenever it is not running, and killed and restarted when its liveness or
  startup probe fails. Once any regular container exists in the current sandbox, the
  pod counts as initialized and only sidecars are looked after.
- **Containers.** One that is not running starts when upstream's
  ``ShouldContainerBeRestarted`` says so (never after deletion; created/unknown ones
  always, after a kill; exited ones per ``restartPolicy``). A running one is killed when
  its spec hash changed (restarted whatever the policy), its liveness or startup probe
  failed (restarted unless the policy is Never); otherwise it is kept.
- **Back-off.** A container about to start whose newest exited instance finished within
  its back-off waits instead (``BackoffWait``: CrashLoopBackOff, ``back-off 10s
  restarting failed container=x pod=name_ns(uid)``); ``next_check`` says when to look
  again. ``runtime`` bumps the book (``Backoff.next``) for every restart it makes.
- When no container is kept and none is to start (or waiting to), the pod is done: kill
  it, and do not restart its sidecars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.kubelet import podstate
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.podstate import ContainerState, PodRuntimeState
from pyk8s.kubelet.sim.containers import go_duration

__all__ = [
    "BackoffWait",
    "KillInfo",
    "PodActions",
    "StartInfo",
    "backoff_key",
    "compute_pod_actions",
    "format_pod",
    "is_sidecar",
    "sandbox_changed",
    "should_restart",
]

Obj = dict[str, Any]

REASON_LIVENESS = "LivenessProbe"
REASON_STARTUP = "StartupProbe"
REASON_UNKNOWN = "Unknown"
REASON_SPEC = "SpecChanged"


@dataclass(frozen=True, slots=True)
class StartInfo:
    index: int
    name: str
    init: bool = False

    def spec(self, pod: Mapping[str, Any]) -> Obj:
        kind = "initContainers" if self.init else "containers"
        containers: list[Obj] = (pod.get("spec") or {}).get(kind) or []
        return containers[self.index]


@dataclass(frozen=True, slots=True)
class KillInfo:
    container_id: str
    name: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class BackoffWait:
    name: str
    init: bool
    message: str
    until: float


@dataclass(frozen=True, slots=True)
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_to_start: tuple[StartInfo, ...] = ()
    to_start: tuple[StartInfo, ...] = ()
    to_kill: tuple[KillInfo, ...] = ()
    waiting: tuple[BackoffWait, ...] = field(default=())

    @property
    def next_check(self) -> float | None:
        """When a container waiting in back-off may start (None: nothing waits)."""
        return min((w.until for w in self.waiting), default=None)

    @property
    def noop(self) -> bool:
        return not (
            self.kill_pod
            or self.create_sandbox
            or self.init_to_start
            or self.to_start
            or self.to_kill
        )


def format_pod(pod: Mapping[str, Any]) -> str:
    """``name_namespace(uid)``, upstream's ``format.Pod``."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def backoff_key(pod: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('uid', '')}/{container.get('name', '')}/{podstate.container_hash(container)}"


def is_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def _restart_policy(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("restartPolicy") or "Always")


def _host_network(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def sandbox_changed(pod: Mapping[str, Any], state: PodRuntimeState) -> tuple[bool, int, str]:
    """(create a new sandbox?, its attempt, the current sandbox's id)."""
    if not state.sandboxes:
        return True, 0, ""
    latest = state.sandboxes[0]
    ready = sum(1 for s in state.sandboxes if s.ready)
    changed = (
        ready > 1
        or not latest.ready
        or latest.host_network != _host_network(pod)
        or (not _host_network(pod) and not latest.ip)
    )
    if changed:
        return True, latest.attempt + 1, latest.id
    return False, latest.attempt, latest.id


def should_restart(
    container: Mapping[str, Any], pod: Mapping[str, Any], state: PodRuntimeState
) -> bool:
    """Upstream's ``ShouldContainerBeRestarted``."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = state.latest(container.get("name") or "")
    if status is None:
        return True
    if status.state == "running":
        return False
    if status.state in ("unknown", "created"):
        return True
    policy = _restart_policy(pod)
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and status.exit_code == 0)


def _succeeded(container: Mapping[str, Any], state: PodRuntimeState) -> bool:
    status = state.latest(container.get("name") or "")
    return status is not None and status.exited and status.exit_code == 0


class _Plan:
    """The mutable scratchpad of one computation (never leaves this module)."""

    def __init__(
        self, pod: Mapping[str, Any], state: PodRuntimeState, backoff: Backoff, now: float
    ) -> None:
        self.pod = pod
        self.state = state
        self.backoff = backoff
        self.now = now
        self.kill_pod = False
        self.init_to_start: list[StartInfo] = []
        self.to_start: list[StartInfo] = []
        self.to_kill: list[KillInfo] = []
        self.waiting: list[BackoffWait] = []

    def start(self, index: int, container: Mapping[str, Any], *, init: bool) -> None:
        """Start the container now, or note that it waits in back-off."""
        name = str(container.get("name") or "")
        exited = self.state.latest_exited(name)
        if exited is not None and exited.finished_at is not None:
            key = backoff_key(self.pod, container)
            if self.backoff.in_backoff_since(key, exited.finished_at, self.now):
                delay = go_duration(self.backoff.get(key))
                message = (
                    f"back-off {delay} restarting failed container={name} "
                    f"pod={format_pod(self.pod)}"
                )
                until = self.backoff.until(key, exited.finished_at)
                self.waiting.append(BackoffWait(name, init, message, until))
                return
        target = self.init_to_start if init else self.to_start
        target.append(StartInfo(index, name, init))

    def kill(self, status: ContainerState, reason: str, message: str) -> None:
        if any(k.container_id == status.id for k in self.to_kill):
            return
        self.to_kill.append(KillInfo(status.id, status.name, reason, message))

    def kill_stale(self, status: ContainerState | None, *, init: bool = False) -> None:
        """A container in the created or unknown state is killed before its restart."""
        if status is not None and status.state in ("created", "unknown"):
            kind = "Init container" if init else "Container"
            self.kill(
                status,
                REASON_UNKNOWN,
                f'{kind} is in "{status.state}" state, try killing it before restart',
            )

    def probe_failure(self, status: ContainerState) -> tuple[str, str] | None:
        probes = self.state.probes
        if status.id in probes.liveness_failed:
            return REASON_LIVENESS, f"Container {status.name} failed liveness probe"
        if status.id in probes.startup_failed:
            return REASON_STARTUP, f"Container {status.name} failed startup probe"
        return None

    def actions(self, *, sandbox_id: str, attempt: int, create: bool = False) -> PodActions:
        return PodActions(
            kill_pod=self.kill_pod,
            create_sandbox=create,
            sandbox_id=sandbox_id,
            attempt=attempt,
            init_to_start=tuple(self.init_to_start),
            to_start=tuple(self.to_start),
            to_kill=tuple(self.to_kill),
            waiting=tuple(self.waiting),
        )


def compute_pod_actions(
    pod: Mapping[str, Any], state: PodRuntimeState, backoff: Backoff, now: float
) -> PodActions:
    spec = pod.get("spec") or {}
    containers: list[Obj] = list(spec.get("containers") or [])
    inits: list[Obj] = list(spec.get("initContainers") or [])
    plan = _Plan(pod, state, backoff, now)
    create, attempt, sandbox_id = sandbox_changed(pod, state)

    if create:
        plan.kill_pod = True
        policy = _restart_policy(pod)
        if policy == "Never" and attempt != 0 and state.containers:
            return plan.actions(sandbox_id=sandbox_id, attempt=attempt)
        starts = [
            (i, c)
            for i, c in enumerate(containers)
            if not (policy == "OnFailure" and _succeeded(c, state))
        ]
        if not starts and any(state.latest(c.get("name") or "") for c in containers):
            return plan.actions(sandbox_id=sandbox_id, attempt=attempt)
        if inits:
            plan.start(0, inits[0], init=True)
        else:
            for i, c in starts:
                plan.start(i, c, init=False)
        return plan.actions(sandbox_id=sandbox_id, attempt=attempt, create=True)

    in_sandbox = _current_sandbox_view(state, sandbox_id)
    initialized = _init_actions(plan, inits, containers, in_sandbox)
    if plan.kill_pod or not initialized:
        return plan.actions(sandbox_id=sandbox_id, attempt=attempt)

    keep = 0
    wanted = 0  # containers to start, waiting in back-off included
    for i, c in enumerate(containers):
        name = str(c.get("name") or "")
        status = state.latest(name)
        if status is None or not status.running:
            if should_restart(c, pod, state):
                plan.kill_stale(status)
                plan.start(i, c, init=False)
                wanted += 1
            continue
        restart = _restart_policy(pod) != "Never"
        if status.hash and status.hash != podstate.container_hash(c):
            reason, message = REASON_SPEC, f"Container {name} definition changed"
            restart = True
        else:
            failure = plan.probe_failure(status)
            if failure is None:
                keep += 1
                continue
            reason, message = failure
        if restart:
            message += ", will be restarted"
            plan.start(i, c, init=False)
            wanted += 1
        plan.kill(status, reason, message)

    if keep == 0 and wanted == 0:
        plan.kill_pod = True
        plan.init_to_start.clear()
        plan.waiting = [w for w in plan.waiting if not w.init]
    return plan.actions(sandbox_id=sandbox_id, attempt=attempt)


def _current_sandbox_view(state: PodRuntimeState, sandbox_id: str) -> PodRuntimeState:
    return PodRuntimeState(
        uid=state.uid,
        name=state.name,
        namespace=state.namespace,
        sandboxes=state.sandboxes,
        containers=tuple(c for c in state.containers if c.sandbox_id == sandbox_id),
        probes=state.probes,
    )


def _init_actions(
    plan: _Plan, inits: list[Obj], containers: list[Obj], current: PodRuntimeState
) -> bool:
    """Plan the init containers; True once the pod is initialized."""
    if not inits:
        return True
    initialized = any(current.latest(c.get("name") or "") for c in containers)
    for i, c in enumerate(inits):
        status = current.latest(str(c.get("name") or ""))
        if initialized:
            if is_sidecar(c):
                _keep_sidecar(plan, i, c, status)
            continue
        if status is None:
            plan.start(i, c, init=True)
            return False
        if status.state in ("created", "unknown"):
            plan.kill_stale(status, init=True)
            plan.start(i, c, init=True)
            return False
        if is_sidecar(c):
            if not status.running:
                plan.start(i, c, init=True)
                return False
            failure = plan.probe_failure(status)
            if failure is not None:
                plan.kill(status, failure[0], failure[1] + ", will be restarted")
                plan.start(i, c, init=True)
                return False
            if status.id not in current.probes.started:
                return False  # wait for its startup probe
            continue
        if status.running:
            return False
        if status.exit_code == 0:
            continue
        if _restart_policy(plan.pod) == "Never":
            plan.kill_pod = True
            return False
        plan.start(i, c, init=True)
        return False
    return True


def _keep_sidecar(
    plan: _Plan, index: int, container: Mapping[str, Any], status: ContainerState | None
) -> None:
    if status is None or not status.running:
        plan.kill_stale(status, init=True)
        plan.start(index, container, init=True)
        return
    failure = plan.probe_failure(status)
    if failure is not None:
        plan.kill(status, failure[0], failure[1] + ", will be restarted")
        plan.start(index, container, init=True)
