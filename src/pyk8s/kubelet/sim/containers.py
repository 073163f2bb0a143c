"""One simulated container's life, as a pure function of time.

A container runs a ``Program``: it runs for ``run_seconds`` (forever when None) and exits
with ``exit_code``; its restart policy says whether it starts again. ``run_at(program,
first_start, t)`` answers where the container is at time ``t`` (a ``Run``): running since
when, or waiting in back-off, or terminated — with its restart count, the previous run
(``lastState``), whether it is started and ready, and when that answer next changes.

Restarts follow the kubelet's back-off (pkg/kubelet/kuberuntime, ``doBackOff`` with
client-go's ``flowcontrol.Backoff``): the first restart is immediate; after that the
container waits ``backoff`` after its exit, the wait starting at ``initial`` (10 s) and
doubling at each restart up to ``max`` (5 min); a run longer than twice the maximum resets
it. While waiting, its state is ``waiting`` with reason ``CrashLoopBackOff`` — also for a
container that exited 0 under ``restartPolicy: Always``, as upstream.

Probes are timings: ``started`` turns true ``startup_seconds`` after a run starts (at once
without a startup probe); ``ready`` turns true ``ready_seconds`` after the start, and never
before ``started`` (readiness probes wait for the startup probe); never, for a
``never_ready`` program. Every run starts unready.

``container_status`` renders a ``Run`` as a v1 ContainerStatus; ``image_ref`` and
``image_id`` normalise image names the way containerd reports them
(``nginx`` → ``docker.io/library/nginx:latest``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Program",
    "Run",
    "container_id",
    "container_status",
    "go_duration",
    "image_id",
    "image_ref",
    "rfc3339",
    "run_at",
]

Obj = dict[str, Any]

_MAX_STEPS = 100_000
EXIT_REASONS = {0: "Completed"}


@dataclass(frozen=True, slots=True)
class Program:
    run_seconds: float | None = None
    exit_code: int = 0
    restart: str = "Always"  # Always | OnFailure | Never
    startup_seconds: float = 0.0
    ready_seconds: float = 0.0
    never_ready: bool = False

    def restarts_after(self, exit_code: int) -> bool:
        return self.restart == "Always" or (self.restart == "OnFailure" and exit_code != 0)

    def started_time(self, start: float) -> float:
        return start + self.startup_seconds

    def ready_time(self, start: float) -> float | None:
        if self.never_ready:
            return None
        return max(self.started_time(start), start + self.ready_seconds)


@dataclass(frozen=True, slots=True)
class Run:
    state: str  # running | waiting | terminated
    restarts: int
    started_at: float  # this run's start (the finished run's, when waiting)
    finished_at: float | None = None  # terminated: this run's end
    exit_code: int | None = None
    previous: tuple[float, float, int] | None = None  # (start, finish, exit) → lastState
    backoff: float | None = None  # waiting: the back-off being served
    started: bool = False
    ready: bool = False
    ready_since: float | None = None
    unready_since: float | None = None  # when readiness was last lost (None: never ready)
    next_change: float | None = None

    @property
    def run_index(self) -> int:
        """Which run the container ID names: the current one, or the one that ended."""
        return self.restarts


def run_at(
    program: Program,
    first_start: float,
    t: float,
    *,
    backoff_initial: float,
    backoff_max: float,
) -> Run:
    """Where a container that first started at ``first_start`` is at ``t >= first_start``."""
    start, k = first_start, 0
    backoff: float | None = None  # the entry in the kubelet's back-off map
    previous: tuple[float, float, int] | None = None
    unready_since: float | None = None
    steps = 0
    while True:
        steps += 1
        ready_at = program.ready_time(start)
        if program.run_seconds is None or t < start + program.run_seconds:
            return _running(program, start, k, previous, unready_since, t)
        end = start + program.run_seconds
        if ready_at is not None and ready_at < end:
            unready_since = end
        code = program.exit_code
        if not program.restarts_after(code):
            return Run(
                state="terminated",
                restarts=k,
                started_at=start,
                finished_at=end,
                exit_code=code,
                previous=previous,
                unready_since=unready_since,
            )
        if backoff is None or end - start > 2 * backoff_max:
            wait, backoff = 0.0, backoff_initial
        else:
            wait, backoff = backoff, min(backoff * 2, backoff_max)
        restart_at = end + wait
        if t < restart_at:
            return Run(
                state="waiting",
                restarts=k,
                started_at=start,
                finished_at=end,
                exit_code=code,
                previous=previous,
                backoff=wait,
                unready_since=unready_since,
                next_change=restart_at,
            )
        previous = (start, end, code)
        # at the cap every cycle is alike: skip whole cycles instead of walking them
        period = program.run_seconds + backoff_max
        if wait >= backoff_max and backoff >= backoff_max and period > 0:
            cycles = int((t - restart_at) // period)
            if cycles > 1:
                skip = cycles - 1
                restart_at += skip * period
                k += skip
                previous = (restart_at - period, restart_at - backoff_max, code)
                if ready_at is not None:
                    unready_since = previous[1]
        start, k = restart_at, k + 1
        if steps > _MAX_STEPS:  # a zero-length cycle: give up walking, it is crash looping
            return Run(state="waiting", restarts=k, started_at=start, backoff=wait)


def _running(
    program: Program,
    start: float,
    k: int,
    previous: tuple[float, float, int] | None,
    unready_since: float | None,
    t: float,
) -> Run:
    started_at = program.started_time(start)
    ready_at = program.ready_time(start)
    changes = [x for x in (started_at, ready_at) if x is not None and x > t]
    if program.run_seconds is not None:
        changes.append(start + program.run_seconds)
    ready = ready_at is not None and t >= ready_at
    return Run(
        state="running",
        restarts=k,
        started_at=start,
        previous=previous,
        started=t >= started_at,
        ready=ready,
        ready_since=ready_at if ready else None,
        unready_since=unready_since,
        next_change=min(changes) if changes else None,
    )


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def container_id(pod_uid: str, name: str, run: int) -> str:
    digest = hashlib.sha256(f"{pod_uid}/{name}/{run}".encode()).hexdigest()
    return f"sim://{digest}"


def image_ref(image: str) -> str:
    """The fully qualified name a container runtime reports for ``image``."""
    name, at, digest = image.partition("@")
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        domain, path = "docker.io", name
    else:
        domain, path = first, rest
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if at:
        return f"{domain}/{path}@{digest}"
    if ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}"


def image_id(image: str) -> str:
    ref = image_ref(image)
    repo = ref.partition("@")[0]
    last = repo.rsplit("/", 1)
    if ":" in last[-1]:
        repo = repo.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()``: 10s, 1m20s, 5m0s, 100ms."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = f"{s:g}s".replace("e+", "e")
    if h:
        return f"{int(h)}h{int(m)}m{out}"
    if m:
        return f"{int(m)}m{out}"
    return out


def _terminated(start: float, end: float, code: int, cid: str, reason: str | None = None) -> Obj:
    return {
        "exitCode": code,
        "reason": reason or EXIT_REASONS.get(code, "Error"),
        "startedAt": rfc3339(start),
        "finishedAt": rfc3339(end),
        "containerID": cid,
    }


def container_status(
    spec: Obj,
    run: Run | None,
    *,
    pod_uid: str,
    waiting_reason: str = "ContainerCreating",
    crashloop_message: str = "",
) -> Obj:
    """The v1 ContainerStatus of a container in ``run`` (None: not started yet)."""
    name = spec["name"]
    image = spec.get("image") or ""
    status: Obj = {"name": name, "state": {}, "lastState": {}, "ready": False, "restartCount": 0}
    if run is None:  # as the kubelet reports a container it has not created yet
        status["state"] = {"waiting": {"reason": waiting_reason}}
        status["image"] = image
        status["imageID"] = ""
        status["started"] = False
        return status
    status["image"] = image_ref(image)
    status["imageID"] = image_id(image)
    cid = container_id(pod_uid, name, run.run_index)
    status["restartCount"] = run.restarts
    if run.previous is not None:
        s, e, code = run.previous
        prev_id = container_id(pod_uid, name, run.restarts - 1)
        status["lastState"] = {"terminated": _terminated(s, e, code, prev_id)}
    if run.state == "running":
        status["state"] = {"running": {"startedAt": rfc3339(run.started_at)}}
    elif run.state == "terminated":
        assert run.finished_at is not None and run.exit_code is not None
        status["state"] = {
            "terminated": _terminated(run.started_at, run.finished_at, run.exit_code, cid)
        }
    else:
        waiting: Obj = {"reason": "CrashLoopBackOff"}
        if run.backoff is not None:
            waiting["message"] = (
                f"back-off {go_duration(run.backoff)} restarting failed {crashloop_message}"
            )
        status["state"] = {"waiting": waiting}
        if run.finished_at is not None and run.exit_code is not None:
            status["lastState"] = {
                "terminated": _terminated(run.started_at, run.finished_at, run.exit_code, cid)
            }
    status["ready"] = run.ready
    status["containerID"] = cid
    status["started"] = run.started
    return status
