"""Container probes: running one probe, and the workers that keep probing.

``run_probe(probe, pod_ip=…, container_ports=…, exec_fn=…)`` runs one ``httpGet`` /
``tcpSocket`` / ``grpc`` / ``exec`` probe once (``probe_transports`` does the talking) and
answers a ``ProbeResult``: ``success``, ``warning`` (success with a ProbeWarning event),
``failure`` or ``unknown``, the probe's output as ``message``, and ``error`` when the probe could not run
at all (an unresolvable named port, an exec that failed to start) — upstream discards such
runs instead of counting them.

``ProbeState`` is one worker's bookkeeping without I/O (upstream's ``worker.doProbe``):
- the published result per container instance starts at readiness → ``failure``,
  liveness → ``success``, startup → ``unknown``; a new container ID resets it;
- nothing is probed before the container runs for ``initialDelaySeconds``; liveness and
  readiness wait until the container has *started* (startup probe succeeded, or there is
  none); the startup probe stops once started;
- ``successThreshold`` / ``failureThreshold`` consecutive results are needed to change
  the published result; after a liveness or startup failure the worker holds until a new
  container appears (the container is being restarted);
- a container that is not running publishes ``failure``; a terminated container of a
  ``restartPolicy: Never`` pod ends the worker; so does pod deletion for liveness and
  startup probes (after publishing ``success`` for a quiet shutdown).

``Prober`` runs one asyncio task per (pod, container, probe kind) on a ``Clock``; it
reads containers through a ``ProbeTarget`` (container view, pod IP, exec), reports
result *changes* to ``on_result`` and per-run events (``Unhealthy`` / ``ProbeWarning`` with
upstream's texts, e.g. ``Liveness probe failed: HTTP probe failed with statuscode: 500``)
to ``record_event``. The caller removes a pod's workers (``remove_pod``) when it is gone
or has reached a terminal phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pyk8s.client.clock import REAL_CLOCK, Clock
from pyk8s.kubelet import probe_transports as transports
from pyk8s.kubelet.envvars import expand
from pyk8s.kubelet.probe_transports import ExecFn, ExecOutput

__all__ = [
    "ContainerView",
    "ExecFn",
    "ExecOutput",
    "ProbeKind",
    "ProbeResult",
    "ProbeState",
    "ProbeTarget",
    "Prober",
    "Result",
    "ResultUpdate",
    "Step",
    "resolve_port",
    "run_probe",
]

Obj = dict[str, Any]
MAX_PROBE_RETRIES = 3
_DECIMAL = re.compile(r"^[+-]?[0-9]+$")


class ProbeKind(StrEnum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field holding this probe (``livenessProbe`` …)."""
        return self.value.lower() + "Probe"


class Result(StrEnum):
    """A published probe result (the results manager's values)."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProbeResult:
    """One probe run: ``result`` is success|warning|failure|unknown; ``message`` is the
    probe's output (upstream's text, e.g. ``HTTP probe failed with statuscode: 500``);
    ``error`` is set when the probe could not run (the run is then not counted)."""

    result: str
    message: str = ""
    error: str | None = None


class PortError(ValueError):
    pass


def resolve_port(port: Any, container_ports: Sequence[Obj]) -> int:
    """``ResolveContainerPort``: a number, a named container port, or a number as text."""
    if isinstance(port, int):
        value = port
    else:
        name = str(port)
        named = [p for p in container_ports if p.get("name") == name]
        if named:
            value = int(named[0].get("containerPort", 0))
        elif _DECIMAL.match(name):
            value = int(name)
        else:
            raise PortError(f'strconv.Atoi: parsing "{name}": invalid syntax')
    if 0 < value < 65536:
        return value
    raise PortError(f"invalid port number: {value}")


async def run_probe(
    probe: Obj,
    *,
    pod_ip: str,
    container_ports: Sequence[Obj] = (),
    exec_fn: ExecFn | None = None,
    static_env: Sequence[Obj] = (),
) -> ProbeResult:
    """Run ``probe`` (a v1 Probe or lifecycle-less handler dict) once.

    ``container_ports`` resolve named ports; ``exec_fn(cmd, timeout)`` runs exec probes
    in the container; ``static_env`` is the container's ``env`` (exec commands expand
    ``$(VAR)`` from the literal values only, as upstream).
    """
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if probe.get("httpGet") is not None:
            get = probe["httpGet"]
            port = resolve_port(get.get("port"), container_ports)
            url = transports.probe_url(
                str(get.get("scheme") or "HTTP"),
                get.get("host") or pod_ip,
                port,
                str(get.get("path") or ""),
            )
            result, output = await transports.http_get(
                url, headers=get.get("httpHeaders") or [], timeout=timeout
            )
            return ProbeResult(result, output)
        if probe.get("tcpSocket") is not None:
            sock = probe["tcpSocket"]
            port = resolve_port(sock.get("port"), container_ports)
            result, output = await transports.tcp_connect(
                sock.get("host") or pod_ip, port, timeout=timeout
            )
            return ProbeResult(result, output)
        if probe.get("grpc") is not None:
            g = probe["grpc"]
            result, output = await transports.grpc_health(
                pod_ip, int(g.get("port", 0)), str(g.get("service") or ""), timeout=timeout
            )
            return ProbeResult(result, output)
        if probe.get("exec") is not None:
            if exec_fn is None:
                return ProbeResult("unknown", "", "exec probes need a command runner")
            values = {str(e.get("name")): str(e.get("value") or "") for e in static_env}
            command = [expand(c, values.get) for c in probe["exec"].get("command") or []]
            result, output, error = await transports.exec_check(exec_fn, command, timeout=timeout)
            return ProbeResult(result, output, error)
    except PortError as e:
        return ProbeResult("unknown", "", str(e))
    return ProbeResult("unknown", "", None)


# --- the pure worker state ---------------------------------------------------------------


@dataclass(frozen=True)
class ContainerView:
    """What a worker needs to know about its container right now."""

    container_id: str
    running: bool
    running_seconds: float = 0.0  # how long it has been running
    terminated: bool = False


@dataclass(frozen=True)
class Step:
    """What to do after looking at the container: probe now, wait, or stop the worker;
    ``publish`` is a result to set for ``container_id``; ``removed`` an old container ID
    whose result is dropped."""

    action: str  # "probe" | "wait" | "stop"
    container_id: str = ""
    publish: Result | None = None
    removed: str | None = None


_INITIAL = {
    ProbeKind.READINESS: Result.FAILURE,
    ProbeKind.LIVENESS: Result.SUCCESS,
    ProbeKind.STARTUP: Result.UNKNOWN,
}


class ProbeState:
    """One worker's state (see the module docstring); no I/O, no clock."""

    def __init__(self, kind: ProbeKind, spec: Obj, *, restart_policy: str = "Always") -> None:
        self.kind = kind
        self.initial_delay = int(spec.get("initialDelaySeconds") or 0)
        self.period = float(spec.get("periodSeconds") or 10)
        self.success_threshold = int(spec.get("successThreshold") or 1)
        self.failure_threshold = int(spec.get("failureThreshold") or 3)
        self.restart_policy = restart_policy
        self.container_id = ""
        self.result: Result | None = None
        self.last: Result | None = None
        self.run = 0
        self.on_hold = False

    @property
    def initial(self) -> Result:
        return _INITIAL[self.kind]

    def observe(self, view: ContainerView | None, *, started: bool, deleting: bool) -> Step:
        """Decide what this tick does, given the container and whether it has started."""
        if view is None or not view.container_id:
            return Step("wait", self.container_id)
        publish: Result | None = None
        removed: str | None = None
        if view.container_id != self.container_id:
            removed = self.container_id or None
            self.container_id = view.container_id
            self.result = publish = self.initial
            self.on_hold = False
        cid = self.container_id
        if self.on_hold:
            return Step("wait", cid, publish, removed)
        if not view.running:
            self.result = publish = Result.FAILURE
            keep = not view.terminated or self.restart_policy != "Never"
            return Step("wait" if keep else "stop", cid, publish, removed)
        if deleting and self.kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP):
            self.result = Result.SUCCESS
            return Step("stop", cid, Result.SUCCESS, removed)
        if int(view.running_seconds) < self.initial_delay:
            return Step("wait", cid, publish, removed)
        if started == (self.kind == ProbeKind.STARTUP):
            return Step("wait", cid, publish, removed)  # startup done, or others not yet
        return Step("probe", cid, publish, removed)

    def record(self, outcome: Result) -> Result | None:
        """Count one probe outcome; the result to publish once a threshold is reached."""
        if outcome == self.last:
            self.run += 1
        else:
            self.last, self.run = outcome, 1
        if (outcome == Result.FAILURE and self.run < self.failure_threshold) or (
            outcome == Result.SUCCESS and self.run < self.success_threshold
        ):
            return None
        self.result = outcome
        if self.kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP) and outcome == Result.FAILURE:
            self.on_hold = True
            self.run = 0
        return outcome


# --- the workers -------------------------------------------------------------------------


class ProbeTarget(Protocol):
    """The prober's view of the runtime."""

    def container(self, pod_uid: str, container_name: str) -> ContainerView | None: ...

    def pod_ip(self, pod_uid: str) -> str: ...

    async def exec(self, container_id: str, command: list[str], timeout: float) -> ExecOutput: ...


@dataclass(frozen=True)
class ResultUpdate:
    pod_uid: str
    container_name: str
    kind: ProbeKind
    container_id: str
    result: Result


EventSink = Callable[[Obj, str, str, str, str], None]  # pod, container, type, reason, message
Runner = Callable[..., Any]


class _Worker:
    def __init__(self, pod: Obj, container: Obj, kind: ProbeKind) -> None:
        self.pod = pod
        self.container = container
        self.kind = kind
        self.spec: Obj = container[kind.field]
        self.state = ProbeState(
            kind, self.spec, restart_policy=(pod.get("spec") or {}).get("restartPolicy") or "Always"
        )
        self.trigger = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Prober:
    """Probe workers for the pods of a node (see the module docstring)."""

    def __init__(
        self,
        target: ProbeTarget,
        *,
        on_result: Callable[[ResultUpdate], None],
        record_event: EventSink | None = None,
        clock: Clock = REAL_CLOCK,
        jitter: Callable[[], float] = random.random,
        run: Runner = run_probe,
    ) -> None:
        self.target = target
        self.on_result = on_result
        self.record_event = record_event
        self.clock = clock
        self.jitter = jitter
        self.run = run
        self._started = clock.now()
        self._workers: dict[tuple[str, str, ProbeKind], _Worker] = {}
        self._results: dict[tuple[str, str, ProbeKind], tuple[str, Result]] = {}

    # --- public surface ---

    def add_pod(self, pod: Obj) -> None:
        """Start workers for every probe of the pod's containers and sidecars."""
        spec = pod.get("spec") or {}
        sidecars = [
            c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
        ]
        for container in [*(spec.get("containers") or []), *sidecars]:
            for kind in (ProbeKind.STARTUP, ProbeKind.READINESS, ProbeKind.LIVENESS):
                if container.get(kind.field):
                    self.start(pod, container, kind)

    def start(self, pod: Obj, container: Obj, kind: ProbeKind) -> None:
        key = (pod["metadata"]["uid"], container["name"], kind)
        if key in self._workers:
            return
        worker = _Worker(pod, container, kind)
        self._workers[key] = worker
        worker.task = asyncio.get_running_loop().create_task(self._loop(key, worker))

    def update_pod(self, pod: Obj) -> None:
        """Give the workers the newest pod object (deletion, restart policy)."""
        uid = pod["metadata"]["uid"]
        for (w_uid, _, _), worker in self._workers.items():
            if w_uid == uid:
                worker.pod = pod

    def trigger(self, pod_uid: str, container_name: str, kind: ProbeKind) -> None:
        """Run that probe now instead of at its next period."""
        worker = self._workers.get((pod_uid, container_name, kind))
        if worker is not None:
            worker.trigger.set()

    def result(
        self, pod_uid: str, container_name: str, kind: ProbeKind
    ) -> tuple[str, Result] | None:
        """(container ID, published result) of a probe, if any."""
        return self._results.get((pod_uid, container_name, kind))

    def has_probe(self, pod_uid: str, container_name: str, kind: ProbeKind) -> bool:
        return (pod_uid, container_name, kind) in self._workers

    async def remove_pod(self, pod_uid: str) -> None:
        """Stop the pod's workers and forget their results."""
        keys = [k for k in self._workers if k[0] == pod_uid]
        await self._stop(keys)

    async def stop(self, pod_uid: str, container_name: str, kind: ProbeKind) -> None:
        await self._stop([(pod_uid, container_name, kind)])

    async def close(self) -> None:
        await self._stop(list(self._workers))

    # --- internals ---

    async def _stop(self, keys: list[tuple[str, str, ProbeKind]]) -> None:
        tasks = []
        for key in keys:
            worker = self._workers.pop(key, None)
            self._results.pop(key, None)
            if worker is not None and worker.task is not None:
                worker.task.cancel()
                tasks.append(worker.task)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _publish(self, key: tuple[str, str, ProbeKind], container_id: str, result: Result) -> None:
        if self._results.get(key) == (container_id, result):
            return
        self._results[key] = (container_id, result)
        self.on_result(ResultUpdate(key[0], key[1], key[2], container_id, result))
        if key[2] == ProbeKind.STARTUP and result == Result.SUCCESS:
            self.trigger(key[0], key[1], ProbeKind.READINESS)

    def _started_container(self, uid: str, name: str, container_id: str) -> bool:
        if (uid, name, ProbeKind.STARTUP) not in self._workers:
            return True
        return self._results.get((uid, name, ProbeKind.STARTUP)) == (container_id, Result.SUCCESS)

    async def _loop(self, key: tuple[str, str, ProbeKind], worker: _Worker) -> None:
        period = worker.state.period
        if self.clock.now() - self._started < period:
            await self.clock.sleep(self.jitter() * period)  # spread probes after a restart
        next_tick = self.clock.now() + period
        try:
            while await self._tick(key, worker):
                waited = await self._wait(worker, next_tick)
                if waited:
                    now = self.clock.now()
                    while next_tick <= now:
                        next_tick += period
        finally:
            if self._workers.get(key) is worker:
                del self._workers[key]
                self._results.pop(key, None)

    async def _wait(self, worker: _Worker, deadline: float) -> bool:
        """Sleep until ``deadline`` or a manual trigger; True when the tick came."""
        delay = deadline - self.clock.now()
        if delay <= 0:
            return True
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        trigger = asyncio.ensure_future(worker.trigger.wait())
        try:
            await asyncio.wait({sleeper, trigger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            trigger.cancel()
        worker.trigger.clear()
        return sleeper.done() and not sleeper.cancelled()

    async def _tick(self, key: tuple[str, str, ProbeKind], worker: _Worker) -> bool:
        uid, name, _ = key
        view = self.target.container(uid, name)
        started = view is not None and self._started_container(uid, name, view.container_id)
        deleting = bool((worker.pod.get("metadata") or {}).get("deletionTimestamp"))
        step = worker.state.observe(view, started=started, deleting=deleting)
        if step.removed is not None:
            self._results.pop(key, None)
        if step.publish is not None:
            self._publish(key, step.container_id, step.publish)
        if step.action == "stop":
            return False
        if step.action == "wait":
            return True
        outcome = await self._probe_once(worker, step.container_id)
        if outcome is None:
            return True
        published = worker.state.record(outcome)
        if published is not None:
            self._publish(key, step.container_id, published)
        return True

    async def _probe_once(self, worker: _Worker, container_id: str) -> Result | None:
        uid = worker.pod["metadata"]["uid"]

        async def exec_fn(command: list[str], timeout: float) -> ExecOutput:
            return await self.target.exec(container_id, command, timeout)

        res = ProbeResult("unknown")
        for _ in range(MAX_PROBE_RETRIES):
            res = await self.run(
                worker.spec,
                pod_ip=self.target.pod_ip(uid),
                container_ports=worker.container.get("ports") or [],
                exec_fn=exec_fn,
                static_env=worker.container.get("env") or [],
            )
            if res.error is None:
                break
        kind = worker.kind.value
        if res.error is not None:
            self._event(
                worker,
                "Unhealthy",
                f"{kind} probe errored and resulted in {res.result} state: {res.error}",
            )
            return None
        if res.result == "failure":
            self._event(worker, "Unhealthy", f"{kind} probe failed: {res.message}")
            return Result.FAILURE
        if res.result == "warning":
            self._event(worker, "ProbeWarning", f"{kind} probe warning: {res.message}")
            return Result.SUCCESS
        return Result.SUCCESS if res.result == "success" else Result.FAILURE

    def _event(self, worker: _Worker, reason: str, message: str) -> None:
        if self.record_event is not None:
            self.record_event(worker.pod, worker.container["name"], "Warning", reason, message)
