"""Prober state (pure, table-driven) and the workers on virtual time."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import pytest

from pyk8s.client.testing import FakeClock
from pyk8s.kubelet.probes import (
    ContainerView,
    ProbeKind,
    Prober,
    ProbeResult,
    ProbeState,
    Result,
    ResultUpdate,
)

Obj = dict[str, Any]
L, R, S = ProbeKind.LIVENESS, ProbeKind.READINESS, ProbeKind.STARTUP
OK, FAIL, UNK = Result.SUCCESS, Result.FAILURE, Result.UNKNOWN

RUNNING = ContainerView("c1", running=True, running_seconds=100)


@pytest.mark.parametrize(("kind", "initial"), [(R, FAIL), (L, OK), (S, UNK)])
def test_initial_result_per_kind(kind: ProbeKind, initial: Result) -> None:
    state = ProbeState(kind, {})
    step = state.observe(RUNNING, started=kind != S, deleting=False)
    assert (step.action, step.container_id, step.publish) == ("probe", "c1", initial)
    # the next look at the same container publishes nothing new
    assert state.observe(RUNNING, started=kind != S, deleting=False).publish is None


@pytest.mark.parametrize(
    ("kind", "view", "started", "deleting", "action", "publish"),
    [
        pytest.param(L, None, True, False, "wait", None, id="no-container"),
        pytest.param(L, ContainerView("", False), True, False, "wait", None, id="not-created"),
        pytest.param(L, ContainerView("c1", True, 4), True, False, "wait", OK, id="initial-delay"),
        pytest.param(
            L, ContainerView("c1", True, 5.9), True, False, "probe", OK, id="delay-passed"
        ),
        pytest.param(L, RUNNING, False, False, "wait", OK, id="liveness-waits-for-startup"),
        pytest.param(R, RUNNING, False, False, "wait", FAIL, id="readiness-waits-for-startup"),
        pytest.param(S, RUNNING, True, False, "wait", UNK, id="startup-done"),
        pytest.param(S, RUNNING, False, False, "probe", UNK, id="startup-probes"),
        pytest.param(
            L, ContainerView("c1", False), True, False, "wait", FAIL, id="not-running-fails"
        ),
        pytest.param(
            L,
            ContainerView("c1", False, terminated=True),
            True,
            False,
            "wait",
            FAIL,
            id="terminated-restartable",
        ),
        pytest.param(L, RUNNING, True, True, "stop", OK, id="deletion-stops-liveness"),
        pytest.param(S, RUNNING, False, True, "stop", OK, id="deletion-stops-startup"),
        pytest.param(
            R, RUNNING, True, True, "probe", FAIL, id="readiness-continues-while-deleting"
        ),
    ],
)
def test_observe(
    kind: ProbeKind,
    view: ContainerView | None,
    started: bool,
    deleting: bool,
    action: str,
    publish: Result | None,
) -> None:
    state = ProbeState(kind, {"initialDelaySeconds": 5})
    step = state.observe(view, started=started, deleting=deleting)
    assert (step.action, step.publish) == (action, publish)


def test_terminated_container_of_never_pod_stops_worker() -> None:
    state = ProbeState(R, {}, restart_policy="Never")
    step = state.observe(ContainerView("c1", False, terminated=True), started=True, deleting=False)
    assert (step.action, step.publish) == ("stop", FAIL)


@pytest.mark.parametrize(
    ("kind", "spec", "outcomes", "published"),
    [
        pytest.param(L, {}, [FAIL, FAIL, FAIL], [None, None, FAIL], id="failure-threshold-3"),
        pytest.param(
            L,
            {},
            [FAIL, FAIL, OK, FAIL, FAIL],
            [None, None, OK, None, None],
            id="success-resets-run",
        ),
        pytest.param(L, {"failureThreshold": 1}, [FAIL], [FAIL], id="failure-threshold-1"),
        pytest.param(
            R, {"successThreshold": 2}, [OK, OK, OK], [None, OK, OK], id="success-threshold-2"
        ),
        pytest.param(
            R,
            {"failureThreshold": 2},
            [OK, FAIL, FAIL, FAIL],
            [OK, None, FAIL, FAIL],
            id="readiness-keeps-probing",
        ),
    ],
)
def test_thresholds(
    kind: ProbeKind, spec: Obj, outcomes: list[Result], published: list[Result | None]
) -> None:
    state = ProbeState(kind, spec)
    state.observe(RUNNING, started=True, deleting=False)
    assert [state.record(o) for o in outcomes] == published


def test_liveness_failure_holds_until_new_container() -> None:
    state = ProbeState(L, {"failureThreshold": 1})
    state.observe(RUNNING, started=True, deleting=False)
    assert state.record(FAIL) == FAIL
    assert state.observe(RUNNING, started=True, deleting=False).action == "wait"  # on hold
    step = state.observe(ContainerView("c2", True, 100), started=True, deleting=False)
    assert (step.action, step.publish, step.removed) == ("probe", OK, "c1")


# --- workers on virtual time -----------------------------------------------------------


class Target:
    def __init__(self) -> None:
        self.views: dict[str, ContainerView] = {}

    def container(self, pod_uid: str, container_name: str) -> ContainerView | None:
        return self.views.get(container_name)

    def pod_ip(self, pod_uid: str) -> str:
        return "10.244.0.5"

    async def exec(
        self, container_id: str, command: list[str], timeout: float
    ) -> tuple[int, bytes]:
        return 0, b""


class Script:
    """Probe outcomes per kind, consumed one per run (the last one repeats)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, deque[ProbeResult]] = defaultdict(deque)
        self.runs: list[str] = []

    def set(self, kind: str, *results: ProbeResult) -> None:
        self.outcomes[kind] = deque(results)

    async def __call__(self, probe: Obj, **kw: Any) -> ProbeResult:
        kind = probe["x-kind"]
        self.runs.append(kind)
        queue = self.outcomes[kind]
        return queue.popleft() if len(queue) > 1 else queue[0]


PASS = ProbeResult("success", "ok")
HTTP500 = ProbeResult("failure", "HTTP probe failed with statuscode: 500")


def probe_spec(kind: str, **extra: Any) -> Obj:
    return {"httpGet": {"port": 80}, "periodSeconds": 10, "x-kind": kind, **extra}


def make_pod(**probes: Obj) -> Obj:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"containers": [{"name": "app", **probes}]},
    }


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.target = Target()
        self.script = Script()
        self.updates: list[tuple[ProbeKind, str, Result]] = []
        self.events: list[tuple[str, str]] = []
        self.prober = Prober(
            self.target,
            on_result=self.on_result,
            record_event=lambda pod, c, t, reason, msg: self.events.append((reason, msg)),
            clock=self.clock,
            jitter=lambda: 0.0,
            run=self.script,
        )

    def on_result(self, u: ResultUpdate) -> None:
        self.updates.append((u.kind, u.container_id, u.result))

    async def period(self, workers: int, seconds: float = 10) -> None:
        await self.clock.wait_for_sleepers(workers)
        await self.clock.advance(seconds)
        await self.clock.wait_for_sleepers(workers)


async def test_readiness_turns_ready_then_unready() -> None:
    h = Harness()
    h.target.views["app"] = RUNNING
    h.script.set("readiness", PASS, HTTP500)
    h.prober.add_pod(make_pod(readinessProbe=probe_spec("readiness", failureThreshold=1)))
    await h.clock.wait_for_sleepers(1)
    assert h.updates == [(R, "c1", FAIL), (R, "c1", OK)]
    await h.period(1)
    assert h.updates[-1] == (R, "c1", FAIL)
    assert h.events == [
        ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500")
    ]
    assert h.prober.result("u1", "app", R) == ("c1", FAIL)
    await h.prober.close()


async def test_liveness_failures_hold_until_restart() -> None:
    h = Harness()
    h.target.views["app"] = RUNNING
    h.script.set("liveness", HTTP500)
    h.prober.add_pod(make_pod(livenessProbe=probe_spec("liveness")))
    await h.clock.wait_for_sleepers(1)
    await h.period(1)
    assert h.updates == [(L, "c1", OK)]
    await h.period(1)
    assert h.updates == [(L, "c1", OK), (L, "c1", FAIL)]
    assert (
        len(h.events) == 3
        and h.events[0][1] == "Liveness probe failed: HTTP probe failed with statuscode: 500"
    )
    await h.period(1)
    assert len(h.script.runs) == 3  # on hold: no probe of the dying container
    h.target.views["app"] = ContainerView("c2", True, 0)
    h.script.set("liveness", PASS)
    await h.period(1)
    assert h.updates[-1] == (L, "c2", OK)
    assert len(h.script.runs) == 4
    await h.prober.close()


async def test_startup_gates_liveness_and_readiness() -> None:
    h = Harness()
    h.target.views["app"] = RUNNING
    h.script.set("startup", HTTP500, PASS)
    h.script.set("readiness", PASS)
    h.script.set("liveness", PASS)
    pod = make_pod(
        startupProbe=probe_spec("startup", failureThreshold=30),
        readinessProbe=probe_spec("readiness", periodSeconds=60),
        livenessProbe=probe_spec("liveness", periodSeconds=20),
    )
    h.prober.add_pod(pod)
    await h.clock.wait_for_sleepers(3)
    assert h.script.runs == ["startup"]
    assert (S, "c1", UNK) in h.updates and (R, "c1", FAIL) in h.updates
    await h.period(3)
    # startup passed: readiness is triggered at once instead of waiting its 60 s period
    assert h.updates[-2:] == [(S, "c1", OK), (R, "c1", OK)]
    assert h.script.runs == ["startup", "startup", "readiness"]
    await h.period(3)
    assert h.script.runs[-1] == "liveness" and "startup" not in h.script.runs[3:]
    await h.prober.close()


async def test_errored_probes_are_discarded_and_retried() -> None:
    h = Harness()
    h.target.views["app"] = RUNNING
    h.script.set(
        "liveness", ProbeResult("unknown", "", 'strconv.Atoi: parsing "web": invalid syntax')
    )
    h.prober.add_pod(make_pod(livenessProbe=probe_spec("liveness", failureThreshold=1)))
    await h.clock.wait_for_sleepers(1)
    assert h.script.runs == ["liveness"] * 3
    assert h.updates == [(L, "c1", OK)]
    assert h.events == [
        (
            "Unhealthy",
            'Liveness probe errored and resulted in unknown state: strconv.Atoi: parsing "web": invalid syntax',
        )
    ]
    await h.prober.close()


async def test_warning_counts_as_success_with_event() -> None:
    h = Harness()
    h.target.views["app"] = RUNNING
    h.script.set(
        "readiness", ProbeResult("warning", "Probe terminated redirects, Response body: x")
    )
    h.prober.add_pod(make_pod(readinessProbe=probe_spec("readiness")))
    await h.clock.wait_for_sleepers(1)
    assert h.updates[-1] == (R, "c1", OK)
    assert h.events == [
        ("ProbeWarning", "Readiness probe warning: Probe terminated redirects, Response body: x")
    ]
    await h.prober.close()


async def test_deletion_and_removal() -> None:
    h = Harness()
    h.target.views["app"] = RUNNING
    h.script.set("liveness", PASS)
    pod = make_pod(livenessProbe=probe_spec("liveness"), readinessProbe=probe_spec("readiness"))
    h.script.set("readiness", PASS)
    h.prober.add_pod(pod)
    await h.clock.wait_for_sleepers(2)
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    h.prober.update_pod(deleting)
    await h.period(1)  # the liveness worker ends; readiness keeps going
    assert not h.prober.has_probe("u1", "app", L)
    assert h.prober.has_probe("u1", "app", R)
    await h.prober.remove_pod("u1")
    assert not h.prober.has_probe("u1", "app", R)
    assert h.prober.result("u1", "app", R) is None
    assert h.clock.sleepers == 0


async def test_sidecars_are_probed_and_init_containers_not() -> None:
    h = Harness()
    h.target.views = {"app": RUNNING, "side": RUNNING, "init": RUNNING}
    h.script.set("readiness", PASS)
    pod = make_pod()
    pod["spec"]["initContainers"] = [
        {"name": "side", "restartPolicy": "Always", "readinessProbe": probe_spec("readiness")},
        {"name": "init", "readinessProbe": probe_spec("readiness")},
    ]
    h.prober.add_pod(pod)
    await h.clock.wait_for_sleepers(1)
    assert h.prober.has_probe("u1", "side", R) and not h.prober.has_probe("u1", "init", R)
    await h.prober.close()
