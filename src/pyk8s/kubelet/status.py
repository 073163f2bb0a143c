"""A pod's status as the kubelet reports it, as pure functions of the pod (spec and the
status the API shows), what the runtime says (``podstate.PodRuntimeState`` with the
prober's results), the waiting reasons of the last sync and the time. Upstream's
``generateAPIPodStatus``/``convertToAPIContainerStatuses``/``getPhase``
(pkg/kubelet/kubelet_pods.go) and pkg/kubelet/status/generate.go are the model.

- **Container statuses** (init and regular): the newest runtime container of a name gives
  ``state`` (running → ``startedAt``; exited → ``terminated`` with exit code, reason —
  Completed/Error/OOMKilled from the runtime — termination message, times and
  ``containerID: containerd://…``; created/unknown → waiting), the one before it
  ``lastState.terminated``; ``restartCount`` is the newest container's; ``image`` and
  ``imageID`` are the runtime's; ``ready``/``started`` come from the prober for running
  containers. A container without any runtime record waits with ``ContainerCreating``,
  or ``PodInitializing`` when the pod has init containers. A container the next sync
  would (re)start and that has a waiting reason from the last sync (CrashLoopBackOff,
  ErrImagePull, ImagePullBackOff, CreateContainerConfigError …) shows that reason and
  message instead, its terminated state moving to ``lastState``.
- **Phase**: upstream's ``getPhase``; a pod the kubelet has finished with (``terminal``)
  becomes Succeeded when every regular container exited 0, else Failed. A terminal phase
  the API already shows never changes.
- **Conditions**: PodReadyToStartContainers (a ready sandbox with its network),
  Initialized (``ContainersNotInitialized`` "containers with incomplete status: [a]"),
  Ready and ContainersReady (``ContainersNotReady`` "containers with unready status:
  [a b]", ``PodCompleted``/``PodFailed`` for terminal pods, readiness gates), and
  PodScheduled (the scheduler's, kept). ``merge_status`` puts the conditions the kubelet
  does not own first (as the API shows them) and keeps ``lastTransitionTime`` of every
  condition whose status did not change.
- ``hostIP(s)``, ``podIP(s)`` (the sandbox's; the node's for hostNetwork; the old ones
  once the sandbox is gone), ``startTime`` (kept once set), ``qosClass``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api.validation.prepare import pod_qos_class
from pyk8s.kubelet.podstate import ContainerState, PodRuntimeState
from pyk8s.kubelet.sim.containers import rfc3339
from pyk8s.kubelet.sync import is_sidecar, should_restart

__all__ = [
    "KUBELET_CONDITIONS",
    "container_statuses",
    "merge_status",
    "pod_phase",
    "pod_status",
    "status_differs",
]

Obj = dict[str, Any]

KUBELET_CONDITIONS = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)
TERMINAL = ("Succeeded", "Failed")
CONTAINER_ID_PREFIX = "containerd://"


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _terminated(c: ContainerState) -> Obj:
    reason = c.reason or ("Completed" if c.exit_code == 0 else "Error")
    out: Obj = {"exitCode": c.exit_code, "reason": reason}
    if c.message:
        out["message"] = c.message
    if c.started_at:
        out["startedAt"] = rfc3339(c.started_at)
    if c.finished_at:
        out["finishedAt"] = rfc3339(c.finished_at)
    out["containerID"] = CONTAINER_ID_PREFIX + c.id
    return out


def _one_status(
    spec: Mapping[str, Any],
    state: PodRuntimeState,
    *,
    default_reason: str,
    old: Mapping[str, Any] | None,
) -> Obj:
    name = str(spec.get("name") or "")
    latest = state.latest(name)
    status: Obj = {
        "name": name,
        "state": {"waiting": {"reason": default_reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": spec.get("image") or "",
        "imageID": "",
        "started": False,
    }
    if latest is None:
        if old is not None:  # e.g. its containers were removed: keep what was known
            status["restartCount"] = old.get("restartCount") or 0
            if old.get("lastState"):
                status["lastState"] = old["lastState"]
        return status
    status["restartCount"] = latest.restart_count
    status["image"] = latest.image or status["image"]
    status["imageID"] = latest.image_ref
    status["containerID"] = CONTAINER_ID_PREFIX + latest.id
    probes = state.probes
    if latest.state == "running":
        started = latest.id in probes.started
        status["state"] = {
            "running": {"startedAt": rfc3339(latest.started_at or latest.created_at)}
        }
        status["started"] = started
        status["ready"] = started and latest.id in probes.ready
    elif latest.state == "exited":
        status["state"] = {"terminated": _terminated(latest)}
    else:
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
    previous = state.previous(name)
    if previous is not None and previous.exited:
        status["lastState"] = {"terminated": _terminated(previous)}
    return status


def container_statuses(
    pod: Mapping[str, Any],
    state: PodRuntimeState,
    reasons: Mapping[str, tuple[str, str]],
    *,
    init: bool,
) -> list[Obj]:
    spec = pod.get("spec") or {}
    containers = spec.get("initContainers" if init else "containers") or []
    default = "PodInitializing" if spec.get("initContainers") else "ContainerCreating"
    old_key = "initContainerStatuses" if init else "containerStatuses"
    old = {s.get("name"): s for s in (pod.get("status") or {}).get(old_key) or ()}
    out = []
    for c in containers:
        status = _one_status(c, state, default_reason=default, old=old.get(c.get("name")))
        name = str(c.get("name") or "")
        latest = state.latest(name)
        waiting = reasons.get(name)
        skip = init and latest is not None and latest.exited and latest.exit_code == 0
        if waiting is not None and not skip and _would_restart(c, pod, state, init=init):
            if "terminated" in status["state"]:
                status["lastState"] = status["state"]
            reason, message = waiting
            status["state"] = {
                "waiting": {"reason": reason, **({"message": message} if message else {})}
            }
        out.append(status)
    return out


def _would_restart(
    container: Mapping[str, Any], pod: Mapping[str, Any], state: PodRuntimeState, *, init: bool
) -> bool:
    if init and is_sidecar(container):
        latest = state.latest(str(container.get("name") or ""))
        return not (pod.get("metadata") or {}).get("deletionTimestamp") and (
            latest is None or not latest.running
        )
    return should_restart(container, pod, state)


def _state(s: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = (s.get("state") or {}).get(key)
    return value if isinstance(value, dict) else None


def _last_terminated(s: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = (s.get("lastState") or {}).get("terminated")
    return value if isinstance(value, dict) else None


def pod_phase(
    pod: Mapping[str, Any],
    init_statuses: list[Obj],
    statuses: list[Obj],
    *,
    terminal: bool,
    initialized: bool,
) -> str:
    """Upstream's ``getPhase``."""
    spec = pod.get("spec") or {}
    by_name = {s["name"]: s for s in init_statuses + statuses}
    pending_init = failed_init = pending_sidecars = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or ():
        s = by_name.get(c.get("name"))
        if is_sidecar(c):
            if s is None:
                unknown += 1
            elif _state(s, "running") is not None:
                if not s.get("started"):
                    pending_sidecars += 1
                running += 1
            elif _state(s, "terminated") is not None:
                pass
            elif _state(s, "waiting") is not None:
                if _last_terminated(s) is None:
                    pending_sidecars += 1
            else:
                pending_sidecars += 1
                unknown += 1
            continue
        if s is None or _state(s, "running") is not None:
            pending_init += 1
        elif (t := _state(s, "terminated")) is not None:
            if t.get("exitCode") != 0:
                failed_init += 1
        elif _state(s, "waiting") is not None and (lt := _last_terminated(s)) is not None:
            if lt.get("exitCode") != 0:
                failed_init += 1
        else:
            pending_init += 1
    for c in spec.get("containers") or ():
        s = by_name.get(c.get("name"))
        if s is None:
            unknown += 1
        elif _state(s, "running") is not None:
            running += 1
        elif (t := _state(s, "terminated")) is not None:
            stopped += 1
            if t.get("exitCode") == 0:
                succeeded += 1
        elif _state(s, "waiting") is not None:
            if _last_terminated(s) is not None:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    policy = spec.get("restartPolicy") or "Always"
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_init > 0 or (pending_sidecars > 0 and not initialized):
        return "Pending"
    if waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _cond(kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": kind, "status": "True" if ok else "False"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _initialized(spec: Mapping[str, Any], statuses: Mapping[str, Obj], phase: str) -> Obj:
    inits = spec.get("initContainers") or []
    if not inits:
        return _cond("Initialized", True)
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in inits:
        s = statuses.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
            continue
        if is_sidecar(c):
            if not s.get("started"):
                incomplete.append(c["name"])
            continue
        t = _state(s, "terminated")
        if t is None or t.get("exitCode") != 0:
            incomplete.append(c["name"])
    if phase == "Succeeded" and not unknown:
        return _cond("Initialized", True, "PodCompleted")
    regular = {c.get("name") for c in spec.get("containers") or ()}
    for name, s in statuses.items():
        if name in regular and (_state(s, "running") or _state(s, "terminated")):
            return _cond("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_names(incomplete)}")
    if messages:
        return _cond("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _cond("Initialized", True)


def _containers_ready(spec: Mapping[str, Any], statuses: Mapping[str, Obj], phase: str) -> Obj:
    unknown: list[str] = []
    unready: list[str] = []
    watched = [c for c in spec.get("initContainers") or () if is_sidecar(c)]
    watched += list(spec.get("containers") or ())
    for c in watched:
        s = statuses.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
        elif not s.get("ready"):
            unready.append(c["name"])
    if phase == "Succeeded" and not unknown:
        return _cond("ContainersReady", False, "PodCompleted")
    if phase == "Failed":
        return _cond("ContainersReady", False, "PodFailed")
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_names(unready)}")
    if messages:
        return _cond("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _cond("ContainersReady", True)


def _ready(pod: Mapping[str, Any], containers_ready: Obj) -> Obj:
    if containers_ready["status"] != "True":
        out = dict(containers_ready)
        out["type"] = "Ready"
        return out
    conditions = {
        c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or ()
    }
    messages = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or ():
        kind = gate.get("conditionType")
        if kind not in conditions:
            messages.append(
                f'corresponding condition of pod readiness gate "{kind}" does not exist.'
            )
        elif conditions[kind] != "True":
            messages.append(
                f'the status of pod readiness gate "{kind}" is not "True", but {conditions[kind]}'
            )
    if messages:
        return _cond("Ready", False, "ReadinessGatesNotReady", ", ".join(messages))
    return _cond("Ready", True)


def _sandbox_ready(pod: Mapping[str, Any], state: PodRuntimeState, terminal: bool) -> bool:
    sandbox = state.sandbox
    if terminal or sandbox is None or not sandbox.ready:
        return False
    return bool((pod.get("spec") or {}).get("hostNetwork")) or bool(sandbox.ip)


def pod_status(
    pod: Mapping[str, Any],
    state: PodRuntimeState,
    *,
    reasons: Mapping[str, tuple[str, str]],
    host_ip: str,
    terminal: bool,
    now: float,
) -> Obj:
    """The status the kubelet would write now (before ``merge_status``)."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    inits = container_statuses(pod, state, reasons, init=True)
    regular = container_statuses(pod, state, reasons, init=False)
    sandbox_id = state.sandbox.id if state.sandbox else ""
    initialized = any(
        c.sandbox_id == sandbox_id
        for c in state.containers
        if c.name in {x.get("name") for x in spec.get("containers") or ()}
    )
    phase = pod_phase(pod, inits, regular, terminal=terminal, initialized=initialized)
    if old.get("phase") in TERMINAL:
        phase = old["phase"]
    by_name = {s["name"]: s for s in inits + regular}
    containers_ready = _containers_ready(spec, by_name, phase)
    conditions = [
        _cond("PodReadyToStartContainers", _sandbox_ready(pod, state, terminal)),
        _initialized(spec, by_name, phase),
        _ready(pod, containers_ready),
        containers_ready,
        _cond("PodScheduled", True),
    ]
    status: Obj = {"phase": phase, "conditions": conditions}
    if host_ip:
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
    ips: list[str] = []
    if spec.get("hostNetwork"):
        ips = [host_ip] if host_ip else []
    elif state.sandbox is not None and state.sandbox.ip:
        ips = [state.sandbox.ip, *state.sandbox.extra_ips]
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    elif old.get("podIP"):
        status["podIP"] = old["podIP"]
        status["podIPs"] = old.get("podIPs") or [{"ip": old["podIP"]}]
    status["startTime"] = old.get("startTime") or rfc3339(now)
    if inits:
        status["initContainerStatuses"] = inits
    status["containerStatuses"] = regular
    status["qosClass"] = old.get("qosClass") or pod_qos_class(dict(pod))
    return status


def merge_status(old: Mapping[str, Any] | None, new: Obj, now: float) -> Obj:
    """``new`` with the API's non-kubelet conditions first, and every condition's
    ``lastTransitionTime`` kept while its status stays the same (upstream's status
    manager); the scheduler's PodScheduled is kept as it is."""
    old = old or {}
    before = {c.get("type"): c for c in old.get("conditions") or ()}
    merged = [c for c in old.get("conditions") or () if c.get("type") not in KUBELET_CONDITIONS]
    stamp = rfc3339(now)
    for c in new.get("conditions") or ():
        prev = before.get(c["type"])
        if c["type"] == "PodScheduled" and prev is not None and prev.get("status") == "True":
            merged.append(dict(prev))
            continue
        out = dict(c)
        out["lastProbeTime"] = None
        same = prev is not None and prev.get("status") == c["status"]
        out["lastTransitionTime"] = (prev or {}).get("lastTransitionTime") if same else stamp
        if not out["lastTransitionTime"]:
            out["lastTransitionTime"] = stamp
        merged.append(out)
    result = dict(new)
    result["conditions"] = merged
    return result


_COMPARED = (
    "phase",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
    "qosClass",
)


def _conds(conditions: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
        for c in conditions or ()
    )


def _norm(value: Any) -> Any:
    """Empty objects and nulls dropped: the API may store them either way."""
    if isinstance(value, dict):
        out = {k: _norm(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def status_differs(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Does ``desired`` say anything the API's status does not (times of unchanged
    conditions aside)?"""
    current = current or {}
    for key in _COMPARED:
        if key in desired and _norm(current.get(key)) != _norm(desired.get(key)):
            return True
    return _conds(current.get("conditions")) != _conds(desired.get("conditions"))
