"""The Pod printer: READY, STATUS and RESTARTS as ``kubectl get pods`` shows them.

STATUS is upstream's aggregate, decided in this order (printers.go ``printPod``):

1. ``status.reason`` if set, else the phase; ``SchedulingGated`` when the PodScheduled
   condition says so.
2. Init containers, in order: the first one that has not finished (and is not a started
   sidecar, i.e. a restartable init container) gives ``Init:<reason>``,
   ``Init:ExitCode:N``, ``Init:Signal:N`` or ``Init:i/n``.
3. Unless still initialising (and the Initialized condition is not True), the containers,
   last to first, so the first container's state wins: a waiting or terminated reason,
   ``ExitCode:N``/``Signal:N``; ``Completed`` turns back into ``Running`` (or
   ``NotReady``) while some container still runs ready.
4. A deleted pod shows ``Unknown`` if its node was lost (reason ``NodeLost``), else
   ``Terminating`` unless its phase is already terminal.

READY counts ready running containers plus started, ready sidecars over all containers
plus sidecars. RESTARTS sums restart counts (init containers only while initialising,
sidecars always) and adds the age of the most recent termination: ``5 (3m ago)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyk8s.api.field_selectors import primary_pod_ip
from pyk8s.api.printers import descriptions
from pyk8s.api.printers.columns import AGE, NAME, Cell, Printer, column
from pyk8s.api.printers.formatting import (
    Obj,
    get_bool,
    get_int,
    get_list,
    get_map,
    get_str,
    parse_time,
    since,
)

__all__ = ["PRINTERS", "pod_cells"]

_COLUMNS = (
    NAME,
    column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    column("Status", "string", "The aggregate status of the containers in this pod."),
    column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    column("IP", "string", descriptions.POD_IP, priority=1),
    column("Node", "string", descriptions.POD_NODE_NAME, priority=1),
    column("Nominated Node", "string", descriptions.POD_NOMINATED_NODE_NAME, priority=1),
    column("Readiness Gates", "string", descriptions.POD_READINESS_GATES, priority=1),
)


def _is_sidecar(container: Obj | None) -> bool:
    """A restartable init container (``restartPolicy: Always``)."""
    return container is not None and get_str(container, "restartPolicy") == "Always"


def _condition_status(status: Obj, type_: str) -> str | None:
    for cond in get_list(status, "conditions"):
        if get_str(cond, "type") == type_:
            return get_str(cond, "status")
    return None


class _LastRestart:
    """The latest ``lastState.terminated.finishedAt`` seen; None means Go's zero time."""

    def __init__(self) -> None:
        self.when: datetime | None = None
        self.raw = ""

    def see(self, container_status: Obj) -> None:
        terminated = get_map(container_status, "lastState", "terminated")
        if not terminated:
            return
        raw = get_str(terminated, "finishedAt")
        when = parse_time(raw)
        if when is not None and (self.when is None or self.when < when):
            self.when, self.raw = when, raw


def _state(container_status: Obj, which: str) -> Obj | None:
    """``state.<which>`` if set (an empty object counts as set, a null does not)."""
    value = get_map(container_status, "state").get(which)
    return value if isinstance(value, Mapping) else None


def _terminated_reason(terminated: Obj, prefix: str) -> str:
    if reason := get_str(terminated, "reason"):
        return prefix + reason
    if signal := get_int(terminated, "signal"):
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{get_int(terminated, 'exitCode')}"


def _pod_status(pod: Obj) -> tuple[int, int, str, int, _LastRestart]:
    """(ready, total, status, restarts, last restart) as printPod computes them."""
    spec, status = get_map(pod, "spec"), get_map(pod, "status")
    phase = get_str(status, "phase")
    reason = get_str(status, "reason") or phase
    for cond in get_list(status, "conditions"):
        if get_str(cond, "type") == "PodScheduled" and get_str(cond, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {get_str(c, "name"): c for c in get_list(spec, "initContainers")}
    total = len(get_list(spec, "containers")) + sum(
        1 for c in init_specs.values() if _is_sidecar(c)
    )
    ready = restarts = sidecar_restarts = 0
    last, sidecar_last = _LastRestart(), _LastRestart()

    initializing = False
    init_statuses = get_list(status, "initContainerStatuses")
    for i, cs in enumerate(init_statuses):
        sidecar = _is_sidecar(init_specs.get(get_str(cs, "name")))
        restarts += get_int(cs, "restartCount")
        last.see(cs)
        if sidecar:
            sidecar_restarts += get_int(cs, "restartCount")
            sidecar_last.see(cs)
        terminated = _state(cs, "terminated")
        waiting_reason = get_str(_state(cs, "waiting") or {}, "reason")
        if terminated is not None and get_int(terminated, "exitCode") == 0:
            continue
        if sidecar and get_bool(cs, "started"):
            if get_bool(cs, "ready"):
                ready += 1
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = "Init:" + waiting_reason
        else:
            reason = f"Init:{i}/{len(get_list(spec, 'initContainers'))}"
        initializing = True
        break

    if not initializing or _condition_status(status, "Initialized") == "True":
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(get_list(status, "containerStatuses")):
            restarts += get_int(cs, "restartCount")
            last.see(cs)
            terminated = _state(cs, "terminated")
            waiting_reason = get_str(_state(cs, "waiting") or {}, "reason")
            if waiting_reason:
                reason = waiting_reason
            elif terminated is not None:
                reason = _terminated_reason(terminated, "")
            elif get_bool(cs, "ready") and _state(cs, "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_status(status, "Ready") == "True" else "NotReady"

    if get_map(pod, "metadata").get("deletionTimestamp") is not None:
        if get_str(status, "reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return ready, total, reason, restarts, last


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = get_list(spec, "readinessGates")
    if not gates:
        return "<none>"
    passed = sum(
        1 for g in gates if _condition_status(status, get_str(g, "conditionType")) == "True"
    )
    return f"{passed}/{len(gates)}"


def pod_cells(pod: Obj, now: datetime) -> list[Cell]:
    ready, total, reason, restarts, last = _pod_status(pod)
    shown_restarts = str(restarts)
    if restarts and last.when is not None:
        shown_restarts = f"{restarts} ({since(last.raw, now)} ago)"
    spec, status, meta = get_map(pod, "spec"), get_map(pod, "status"), get_map(pod, "metadata")
    return [
        get_str(meta, "name"),
        f"{ready}/{total}",
        reason,
        shown_restarts,
        since(meta.get("creationTimestamp"), now),
        primary_pod_ip(status) or "<none>",
        get_str(spec, "nodeName") or "<none>",
        get_str(status, "nominatedNodeName") or "<none>",
        _readiness_gates(spec, status),
    ]


PRINTERS = {("", "pods"): Printer(_COLUMNS, pod_cells)}
