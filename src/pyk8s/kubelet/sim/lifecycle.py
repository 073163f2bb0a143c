"""The simulated pod state machine: a pod's status as a pure function of its object, what
the agent knows about it (``PodFacts``), the timings (``config.PodTimings``) and the time.

``plan(pod, facts, timings, now)`` returns a ``PodPlan``: the status a kubelet would
report at ``now``, when that status next changes (``next_at``; None when only a change to
the pod or its facts can change it), and whether the pod is finished and — if its deletion
was requested — ready to be removed. Calling it again at any time is safe: nothing is
remembered between calls, so the status written at any moment is the one upstream would
show then, and equal inputs give an identical status (no spurious writes).

The timeline, from ``facts.seen_at`` (the pod's ``startTime``):
1. Sandbox: after ``sandbox_seconds`` the pod has its IP and PodReadyToStartContainers is
   True — unless it has no IP (``facts.pod_ip`` None: the node has no podCIDR yet), in
   which case it stays Pending with its containers ``ContainerCreating``.
2. Init containers run one after another, each ``container_start_seconds`` after the
   previous finished, for ``init_container_seconds``, and exit 0. A restartable init
   container (a sidecar) lets the next one start once it is started and keeps running.
3. Then the regular containers start together, ``container_start_seconds`` later, and run
   their ``containers.Program``: forever; or ``pyk8s.io/sim-run-seconds`` (Job pods:
   ``job_seconds`` by default) then exit 0; or, crash-injected (``pyk8s.io/sim-crash``),
   ``crash_seconds`` then exit 1. The restart policy decides what comes after an exit.
4. A deletion (``facts.deletion_seen_at``) stops the containers ``stop_seconds`` later,
   or after the whole grace period (``deletionGracePeriodSeconds``) when that is None —
   exit 0 when they stopped before the grace period ran out, 137 when killed at its end.
   The pod turns Succeeded or Failed, and ``delete`` asks for its removal.

Conditions, phase, reasons and messages are the kubelet's (``pkg/kubelet/status``
generate*Condition, ``getPhase``); each condition's lastTransitionTime is the time of
its last change on this timeline. PodScheduled is True (as the scheduler or binding
set it, when they did). Every duration
is simulated time (``PodTimings.scaled``); probe delays are ``initialDelaySeconds``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.kubelet.sim import config
from pyk8s.kubelet.sim import containers as ctr

__all__ = ["PodFacts", "PodPlan", "knob", "plan"]

Obj = dict[str, Any]
INF = math.inf
OWN_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


@dataclass(frozen=True, slots=True)
class PodFacts:
    """What the agent knows about a pod beyond its object."""

    seen_at: float
    host_ip: str
    pod_ip: str | None
    deletion_seen_at: float | None = None


@dataclass(frozen=True, slots=True)
class PodPlan:
    status: Obj
    next_at: float | None
    terminal: bool
    delete: bool


def knob(pod: Mapping[str, Any], key: str) -> str | None:
    """A failure-injection setting: the pod's annotation, else its label."""
    meta = pod.get("metadata") or {}
    for source in (meta.get("annotations"), meta.get("labels")):
        if source and key in source:
            return str(source[key])
    return None


def _applies(value: str | None, name: str, *, regular: bool) -> bool:
    if value is None:
        return False
    if value.strip().lower() == "true":
        return regular
    return name in {v.strip() for v in value.split(",")}


def _seconds(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _probe_delay(spec: Obj, probe: str, t: config.PodTimings) -> float:
    p = spec.get(probe)
    return t.scaled(float(p.get("initialDelaySeconds") or 0)) if p else 0.0


def _is_job_pod(meta: Obj) -> bool:
    return any(r.get("kind") == "Job" for r in meta.get("ownerReferences") or ())


@dataclass(slots=True)
class _Slot:
    """One container on the timeline."""

    spec: Obj
    program: ctr.Program
    start: float
    kind: str  # init | sidecar | regular
    run: ctr.Run | None = None


def _timeline(pod: Obj, facts: PodFacts, t: config.PodTimings) -> tuple[list[_Slot], float]:
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    crash = knob(pod, config.CRASH)
    never_ready = knob(pod, config.NEVER_READY)
    start_delay = t.scaled(_seconds(knob(pod, config.START_SECONDS), t.container_start_seconds))
    init_run = t.scaled(_seconds(knob(pod, config.INIT_SECONDS), t.init_container_seconds))
    run_value = knob(pod, config.RUN_SECONDS)
    run: float | None = None
    if run_value is not None:
        run = t.scaled(_seconds(run_value, t.job_seconds))
    elif _is_job_pod(pod.get("metadata") or {}):
        run = t.scaled(t.job_seconds)

    slots: list[_Slot] = []
    cursor = facts.seen_at + t.scaled(t.sandbox_seconds) if facts.pod_ip else INF
    for c in spec.get("initContainers") or ():
        name = c["name"]
        start = cursor + start_delay
        crashes = _applies(crash, name, regular=False)
        if c.get("restartPolicy") == "Always":
            program = ctr.Program(
                run_seconds=t.scaled(t.crash_seconds) if crashes else None,
                exit_code=1 if crashes else 0,
                restart="Always",
                startup_seconds=_probe_delay(c, "startupProbe", t),
                ready_seconds=_probe_delay(c, "readinessProbe", t),
                never_ready=_applies(never_ready, name, regular=False),
            )
            slots.append(_Slot(c, program, start, "sidecar"))
            cursor = program.started_time(start)
        else:
            program = ctr.Program(
                run_seconds=t.scaled(t.crash_seconds) if crashes else init_run,
                exit_code=1 if crashes else 0,
                restart="Never" if policy == "Never" else "OnFailure",
            )
            slots.append(_Slot(c, program, start, "init"))
            cursor = INF if crashes else start + init_run
    initialized_at = cursor
    main_start = cursor + start_delay
    for c in spec.get("containers") or ():
        name = c["name"]
        crashes = _applies(crash, name, regular=True)
        program = ctr.Program(
            run_seconds=(run if run is not None else t.scaled(t.crash_seconds)) if crashes else run,
            exit_code=1 if crashes else 0,
            restart=policy,
            startup_seconds=_probe_delay(c, "startupProbe", t),
            ready_seconds=_probe_delay(c, "readinessProbe", t),
            never_ready=_applies(never_ready, name, regular=True),
        )
        slots.append(_Slot(c, program, main_start, "regular"))
    return slots, initialized_at


def _stop(pod: Obj, facts: PodFacts, t: config.PodTimings) -> tuple[float, bool]:
    """When a requested deletion stops the containers, and whether they stop cleanly."""
    if facts.deletion_seen_at is None:
        return INF, True
    meta = pod.get("metadata") or {}
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
    grace = float(grace or 0)
    if t.stop_seconds is None or t.stop_seconds >= grace:
        return facts.deletion_seen_at + t.scaled(grace), grace == 0
    return facts.deletion_seen_at + t.scaled(t.stop_seconds), True


def plan(pod: Obj, facts: PodFacts, timings: config.PodTimings, now: float) -> PodPlan:
    meta = pod.get("metadata") or {}
    slots, initialized_at = _timeline(pod, facts, timings)
    stop_at, clean = _stop(pod, facts, timings)
    te = min(now, stop_at)
    backoff = {
        "backoff_initial": timings.scaled(timings.backoff_initial_seconds),
        "backoff_max": timings.scaled(timings.backoff_max_seconds),
    }
    changes: list[float] = []
    for s in slots:
        if s.start <= te:
            s.run = ctr.run_at(s.program, s.start, te, **backoff)
            if s.run.next_change is not None:
                changes.append(s.run.next_change)
        else:
            changes.append(s.start)

    regular = [s for s in slots if s.kind == "regular"]
    finished = [s.run for s in regular if s.run is not None and s.run.state == "terminated"]
    failed_init = [
        s.run.finished_at or 0.0
        for s in slots
        if s.kind == "init"
        and s.run is not None
        and s.run.exit_code not in (None, 0)
        and s.run.state == "terminated"
    ]
    terminal_at: float | None = None
    if regular and len(finished) == len(regular):
        terminal_at = max(r.finished_at or 0.0 for r in finished)
    elif failed_init:
        terminal_at = max(failed_init)
    stopped = terminal_at is None and now >= stop_at
    if terminal_at is not None:  # done by itself: the kubelet then stops the sidecars
        for s in slots:
            if s.kind == "sidecar" and s.run is not None:
                s.run = ctr.run_at(s.program, s.start, terminal_at, **backoff)
                s.run = _stopped_run(s.run, terminal_at, True)
    elif stopped:
        terminal_at = stop_at
        for s in slots:
            s.run = _stopped_run(s.run, stop_at, clean)
    terminal = terminal_at is not None
    if not terminal:
        changes.append(stop_at)

    sandbox_at = facts.seen_at + timings.scaled(timings.sandbox_seconds)
    sandbox_ready = facts.pod_ip is not None and te >= sandbox_at
    if facts.pod_ip is not None and not sandbox_ready:
        changes.append(sandbox_at)
    initialized = te >= initialized_at
    phase = _phase(regular, terminal, initialized)
    spec = pod.get("spec") or {}
    has_init = bool(spec.get("initContainers"))
    pod_uid = str(meta.get("uid") or "")
    crash_msg = f"pod={meta.get('name')}_{meta.get('namespace')}({pod_uid})"

    def render(s: _Slot) -> Obj:
        if s.run is None and stopped:
            return _unknown_status(s.spec)
        if s.kind != "regular" or (has_init and not initialized):
            waiting = "PodInitializing"
        else:
            waiting = "ContainerCreating"
        status = ctr.container_status(
            s.spec,
            s.run,
            pod_uid=pod_uid,
            waiting_reason=waiting,
            crashloop_message=f"container={s.spec['name']} {crash_msg}",
        )
        if s.kind == "init":  # the prober's rule for init containers
            done = s.run is not None and s.run.state == "terminated" and s.run.exit_code == 0
            status["started"] = False
            status["ready"] = done
        return status

    status: Obj = {"phase": phase}
    status["conditions"] = _conditions(
        pod,
        slots,
        t0=facts.seen_at,
        phase=phase,
        sandbox_at=sandbox_at if sandbox_ready else None,
        terminal_at=terminal_at,
        initialized_at=initialized_at if initialized else None,
    )
    status["hostIP"] = facts.host_ip
    status["hostIPs"] = [{"ip": facts.host_ip}]
    if sandbox_ready and facts.pod_ip is not None:
        status["podIP"] = facts.pod_ip
        status["podIPs"] = [{"ip": facts.pod_ip}]
    status["startTime"] = ctr.rfc3339(facts.seen_at)
    if has_init:
        status["initContainerStatuses"] = [render(s) for s in slots if s.kind != "regular"]
    status["containerStatuses"] = [render(s) for s in regular]

    future = [c for c in changes if now < c < INF]
    return PodPlan(
        status=status,
        next_at=None if terminal or not future else min(future),
        terminal=terminal,
        delete=terminal and facts.deletion_seen_at is not None,
    )


def _stopped_run(r: ctr.Run | None, stop_at: float, clean: bool) -> ctr.Run | None:
    if r is None or r.state == "terminated":
        return r
    if r.state == "running":
        code = 0 if clean else 137
        return ctr.Run(
            state="terminated",
            restarts=r.restarts,
            started_at=r.started_at,
            finished_at=stop_at,
            exit_code=code,
            previous=r.previous,
        )
    # in back-off: the runtime still has the container that exited last
    return ctr.Run(
        state="terminated",
        restarts=r.restarts,
        started_at=r.started_at,
        finished_at=r.finished_at,
        exit_code=r.exit_code,
        previous=r.previous,
    )


def _unknown_status(spec: Obj) -> Obj:
    """A container that never ran in a pod that is over (kubelet's terminal fix-up)."""
    return {
        "name": spec["name"],
        "state": {
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
            }
        },
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": spec.get("image") or "",
        "imageID": "",
        "started": False,
    }


def _phase(regular: list[_Slot], terminal: bool, initialized: bool) -> str:
    """The kubelet's getPhase, for the cases a simulated pod can be in."""
    if terminal:
        ok = all(
            s.run is not None and s.run.state == "terminated" and s.run.exit_code == 0
            for s in regular
        )
        return "Succeeded" if ok else "Failed"
    if not initialized:
        return "Pending"
    # a container that has not run yet holds the pod in Pending; one restarting does not
    if any(s.run is None for s in regular):
        return "Pending"
    return "Running"


def _cond(kind: str, ok: bool, at: float, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": kind, "status": "True" if ok else "False"}
    c["lastTransitionTime"] = ctr.rfc3339(at)
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _conditions(
    pod: Obj,
    slots: list[_Slot],
    *,
    t0: float,
    phase: str,
    sandbox_at: float | None,
    terminal_at: float | None,
    initialized_at: float | None,
) -> list[Obj]:
    spec = pod.get("spec") or {}
    out: list[Obj] = []
    if terminal_at is not None:
        out.append(_cond("PodReadyToStartContainers", False, terminal_at))
    elif sandbox_at is not None:
        out.append(_cond("PodReadyToStartContainers", True, sandbox_at))
    else:
        out.append(_cond("PodReadyToStartContainers", False, t0))

    init_at = initialized_at if spec.get("initContainers") and initialized_at is not None else t0
    started_regular = any(s.run is not None for s in slots if s.kind == "regular")
    if phase == "Succeeded":
        out.append(_cond("Initialized", True, init_at, "PodCompleted"))
    elif initialized_at is not None or started_regular:
        out.append(_cond("Initialized", True, init_at))
    else:
        incomplete = [s.spec["name"] for s in slots if s.kind != "regular" and not _init_done(s)]
        message = f"containers with incomplete status: {_names(incomplete)}"
        out.append(_cond("Initialized", False, t0, "ContainersNotInitialized", message))

    if terminal_at is not None:
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        ready = _cond("Ready", False, terminal_at, reason)
        containers_ready = _cond("ContainersReady", False, terminal_at, reason)
    else:
        watched = [s for s in slots if s.kind != "init"]
        unready = [s for s in watched if s.run is None or not s.run.ready]
        if unready:
            lost = [s.run.unready_since for s in unready if s.run and s.run.unready_since]
            at = max(lost, default=t0)
            names = _names([s.spec["name"] for s in unready])
            message = f"containers with unready status: {names}"
            ready = _cond("Ready", False, at, "ContainersNotReady", message)
            containers_ready = _cond("ContainersReady", False, at, "ContainersNotReady", message)
        else:
            at = max((s.run.ready_since or t0 for s in watched if s.run), default=t0)
            containers_ready = _cond("ContainersReady", True, at)
            ready = _gated_ready(pod, at)
    out += [ready, containers_ready]

    scheduled = _cond("PodScheduled", True, t0)
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "PodScheduled" and c.get("status") == "True":
            scheduled = {k: v for k, v in c.items() if v is not None}  # the scheduler's
    out.append(scheduled)
    return out


def _init_done(s: _Slot) -> bool:
    if s.run is None:
        return False
    if s.kind == "sidecar":
        return s.run.started
    return s.run.state == "terminated" and s.run.exit_code == 0


def _gated_ready(pod: Obj, at: float) -> Obj:
    """Ready once containers are ready and every readiness gate's condition is True."""
    conditions = {
        c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or ()
    }
    for gate in (pod.get("spec") or {}).get("readinessGates") or ():
        kind = gate.get("conditionType")
        if kind not in conditions:
            message = f'corresponding condition of pod readiness gate "{kind}" does not exist.'
            return _cond("Ready", False, at, "ReadinessGatesNotReady", message)
        if conditions[kind] != "True":
            message = (
                f'the status of pod readiness gate "{kind}" is not "True", but {conditions[kind]}'
            )
            return _cond("Ready", False, at, "ReadinessGatesNotReady", message)
    return _cond("Ready", True, at)
