"""The simulated pod state machine, driven in virtual time: ``lifecycle.plan`` at chosen
instants, compared with what a kubelet reports at those instants."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pyk8s.kubelet.sim import config, lifecycle
from pyk8s.kubelet.sim.containers import rfc3339

Obj = dict[str, Any]
T0 = 1_700_000_000.0
HOST = "10.255.0.1"
IP = "10.244.0.2"


def pod(
    *,
    containers: list[Obj] | None = None,
    init: list[Obj] | None = None,
    restart: str = "Always",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    owner_kind: str | None = None,
    grace: int | None = None,
    status: Obj | None = None,
    gates: list[str] | None = None,
) -> Obj:
    meta: Obj = {"name": "p", "namespace": "ns", "uid": "uid-1"}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    if owner_kind:
        meta["ownerReferences"] = [{"kind": owner_kind, "name": "o", "uid": "o-1"}]
    if grace is not None:
        meta["deletionTimestamp"] = "2023-11-14T22:13:50Z"
        meta["deletionGracePeriodSeconds"] = grace
    spec: Obj = {
        "nodeName": "sim-node-0",
        "restartPolicy": restart,
        "containers": containers or [{"name": "c", "image": "nginx"}],
    }
    if init:
        spec["initContainers"] = init
    if gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    return {"metadata": meta, "spec": spec, "status": status or {"phase": "Pending"}}


def facts(*, ip: str | None = IP, deleted_at: float | None = None) -> lifecycle.PodFacts:
    return lifecycle.PodFacts(seen_at=T0, host_ip=HOST, pod_ip=ip, deletion_seen_at=deleted_at)


def at(p: Obj, dt: float, t: config.PodTimings | None = None, **kw: Any) -> lifecycle.PodPlan:
    return lifecycle.plan(p, facts(**kw), t or config.PodTimings(), T0 + dt)


def cond(plan: lifecycle.PodPlan, kind: str) -> Obj:
    found: Obj = next(c for c in plan.status["conditions"] if c["type"] == kind)
    return found


def conds(plan: lifecycle.PodPlan) -> dict[str, str]:
    return {c["type"]: c["status"] for c in plan.status["conditions"]}


def state(plan: lifecycle.PodPlan, i: int = 0, key: str = "containerStatuses") -> Obj:
    s: Obj = plan.status[key][i]["state"]
    return s


ALL_TRUE = {
    "PodReadyToStartContainers": "True",
    "Initialized": "True",
    "Ready": "True",
    "ContainersReady": "True",
    "PodScheduled": "True",
}


def test_plain_pod_is_running_and_ready_at_once() -> None:
    plan = at(pod(), 0)
    s = plan.status
    assert s["phase"] == "Running"
    assert conds(plan) == ALL_TRUE
    assert [c["type"] for c in s["conditions"]] == list(ALL_TRUE)  # upstream's order
    assert s["podIP"] == IP and s["podIPs"] == [{"ip": IP}]
    assert s["hostIP"] == HOST and s["hostIPs"] == [{"ip": HOST}]
    assert s["startTime"] == rfc3339(T0)
    cs = s["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": rfc3339(T0)}}
    assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert cs["containerID"].startswith("sim://") and len(cs["containerID"]) == 6 + 64
    assert cs["lastState"] == {}
    assert plan.next_at is None and not plan.terminal and not plan.delete
    json.dumps(s)  # plain JSON


def test_plan_is_deterministic() -> None:
    p = pod(annotations={config.CRASH: "true"})
    t = config.PodTimings(time_scale=0.5)
    assert at(p, 37.3, t).status == at(copy.deepcopy(p), 37.3, t).status


@pytest.mark.parametrize(
    ("dt", "phase", "waiting", "sandbox", "next_at"),
    [
        pytest.param(0.0, "Pending", "ContainerCreating", "False", 1.0, id="before-sandbox"),
        pytest.param(1.0, "Pending", "ContainerCreating", "True", 3.0, id="creating"),
        pytest.param(3.0, "Running", None, "True", None, id="running"),
    ],
)
def test_sandbox_then_container_creating_then_running(
    dt: float, phase: str, waiting: str | None, sandbox: str, next_at: float | None
) -> None:
    t = config.PodTimings(sandbox_seconds=1, container_start_seconds=2)
    plan = at(pod(), dt, t)
    assert plan.status["phase"] == phase
    assert cond(plan, "PodReadyToStartContainers")["status"] == sandbox
    if waiting:
        assert state(plan) == {"waiting": {"reason": waiting}}
        assert plan.status["containerStatuses"][0]["image"] == "nginx"  # as in the spec
        assert "containerID" not in plan.status["containerStatuses"][0]
        assert cond(plan, "Ready")["message"] == "containers with unready status: [c]"
    assert ("podIP" in plan.status) == (sandbox == "True")
    assert plan.next_at == (None if next_at is None else T0 + next_at)


def test_without_an_ip_the_pod_waits_for_the_network() -> None:
    plan = at(pod(), 100, ip=None)
    assert plan.status["phase"] == "Pending"
    assert cond(plan, "PodReadyToStartContainers")["status"] == "False"
    assert "podIP" not in plan.status
    assert state(plan) == {"waiting": {"reason": "ContainerCreating"}}
    assert plan.next_at is None  # only the node's podCIDR can move it on


@pytest.mark.parametrize(
    ("probes", "dt", "started", "ready", "next_at"),
    [
        pytest.param(
            {"readinessProbe": {"initialDelaySeconds": 10}},
            0.5,
            True,
            False,
            1.0,
            id="readiness-delay-scaled",
        ),
        pytest.param(
            {"readinessProbe": {"initialDelaySeconds": 10}},
            1.0,
            True,
            True,
            None,
            id="readiness-passed",
        ),
        pytest.param({"readinessProbe": {}}, 0.0, True, True, None, id="readiness-no-delay"),
        pytest.param(
            {"startupProbe": {"initialDelaySeconds": 5}},
            0.2,
            False,
            False,
            0.5,
            id="startup-pending",
        ),
        pytest.param(
            {
                "startupProbe": {"initialDelaySeconds": 5},
                "readinessProbe": {"initialDelaySeconds": 2},
            },
            0.5,
            True,
            True,
            None,
            id="readiness-waits-for-startup",
        ),
        pytest.param(
            {
                "startupProbe": {"initialDelaySeconds": 2},
                "readinessProbe": {"initialDelaySeconds": 6},
            },
            0.4,
            True,
            False,
            0.6,
            id="started-not-yet-ready",
        ),
    ],
)
def test_probe_delays_are_timings(
    probes: Obj, dt: float, started: bool, ready: bool, next_at: float | None
) -> None:
    t = config.PodTimings(time_scale=0.1)
    plan = at(pod(containers=[{"name": "c", "image": "nginx", **probes}]), dt, t)
    cs = plan.status["containerStatuses"][0]
    assert plan.status["phase"] == "Running"
    assert (cs["started"], cs["ready"]) == (started, ready)
    assert cond(plan, "ContainersReady")["status"] == ("True" if ready else "False")
    assert cond(plan, "Ready")["status"] == ("True" if ready else "False")
    assert plan.next_at == (None if next_at is None else pytest.approx(T0 + next_at))


def test_ready_transition_time_is_when_readiness_passed() -> None:
    t = config.PodTimings(time_scale=1)
    p = pod(containers=[{"name": "c", "image": "i", "readinessProbe": {"initialDelaySeconds": 7}}])
    plan = at(p, 20, t)
    assert cond(plan, "Ready")["lastTransitionTime"] == rfc3339(T0 + 7)
    assert cond(plan, "PodReadyToStartContainers")["lastTransitionTime"] == rfc3339(T0)


@pytest.mark.parametrize("where", ["annotations", "labels"])
def test_never_ready(where: str) -> None:
    p = pod(**{where: {config.NEVER_READY: "true"}})  # type: ignore[arg-type]
    plan = at(p, 1000)
    cs = plan.status["containerStatuses"][0]
    assert plan.status["phase"] == "Running"
    assert cs["started"] is True and cs["ready"] is False
    assert cond(plan, "Ready") == {
        "type": "Ready",
        "status": "False",
        "lastTransitionTime": rfc3339(T0),
        "reason": "ContainersNotReady",
        "message": "containers with unready status: [c]",
    }
    assert plan.next_at is None


def test_never_ready_by_container_name() -> None:
    p = pod(
        containers=[{"name": "a", "image": "i"}, {"name": "b", "image": "i"}],
        annotations={config.NEVER_READY: "b"},
    )
    plan = at(p, 1)
    assert [c["ready"] for c in plan.status["containerStatuses"]] == [True, False]
    assert cond(plan, "Ready")["message"] == "containers with unready status: [b]"


INITS = [{"name": "i1", "image": "busybox"}, {"name": "i2", "image": "busybox"}]


@pytest.mark.parametrize(
    ("dt", "phase", "init_states", "main", "initialized"),
    [
        pytest.param(
            1,
            "Pending",
            ["running", "PodInitializing"],
            "PodInitializing",
            "False",
            id="first-init-running",
        ),
        pytest.param(
            4,
            "Pending",
            ["terminated", "running"],
            "PodInitializing",
            "False",
            id="second-init-running",
        ),
        pytest.param(
            7.2,
            "Pending",
            ["terminated", "terminated"],
            "ContainerCreating",
            "True",
            id="inits-done-main-creating",
        ),
        pytest.param(7.5, "Running", ["terminated", "terminated"], "running", "True", id="running"),
    ],
)
def test_init_containers_run_to_completion_first(
    dt: float, phase: str, init_states: list[str], main: str, initialized: str
) -> None:
    # i1 runs 0.5 → 3.5, i2 runs 4 → 7, the main container starts at 7.5
    t = config.PodTimings(init_container_seconds=3, container_start_seconds=0.5)
    plan = at(pod(init=INITS), dt, t)
    assert plan.status["phase"] == phase
    got = []
    for cs in plan.status["initContainerStatuses"]:
        ((key, value),) = cs["state"].items()
        got.append(value["reason"] if key == "waiting" else key)
        if key == "terminated":
            assert value["exitCode"] == 0 and value["reason"] == "Completed"
            assert cs["ready"] is True and cs["started"] is False
    assert got == init_states
    ((key, value),) = state(plan).items()
    assert (value["reason"] if key == "waiting" else key) == main
    assert cond(plan, "Initialized")["status"] == initialized
    if initialized == "False":
        assert cond(plan, "Initialized")["reason"] == "ContainersNotInitialized"
        incomplete = "[i1 i2]" if dt < 3.5 else "[i2]"
        assert cond(plan, "Initialized")["message"] == (
            f"containers with incomplete status: {incomplete}"
        )
    else:
        assert cond(plan, "Initialized")["lastTransitionTime"] == rfc3339(T0 + 7)


def test_sidecar_keeps_running_and_lets_the_next_init_start_once_started() -> None:
    sidecar = {
        "name": "side",
        "image": "envoy",
        "restartPolicy": "Always",
        "startupProbe": {"initialDelaySeconds": 2},
    }
    t = config.PodTimings(init_container_seconds=1)
    plan = at(pod(init=[sidecar, {"name": "i", "image": "b"}]), 1, t)
    assert plan.status["phase"] == "Pending"
    side, init = plan.status["initContainerStatuses"]
    assert "running" in side["state"] and side["started"] is False
    assert init["state"] == {"waiting": {"reason": "PodInitializing"}}
    plan = at(pod(init=[sidecar, {"name": "i", "image": "b"}]), 10, t)
    side, init = plan.status["initContainerStatuses"]
    assert plan.status["phase"] == "Running"
    assert "running" in side["state"] and side["started"] is True and side["ready"] is True
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert conds(plan) == ALL_TRUE


@pytest.mark.parametrize(
    ("restart", "meta", "duration", "phase", "exit_code", "reason"),
    [
        pytest.param("Never", {"owner_kind": "Job"}, 5, "Succeeded", 0, "Completed", id="job"),
        pytest.param(
            "OnFailure", {"owner_kind": "Job"}, 5, "Succeeded", 0, "Completed", id="job-onfailure"
        ),
        pytest.param(
            "Never",
            {"annotations": {config.RUN_SECONDS: "2"}},
            2,
            "Succeeded",
            0,
            "Completed",
            id="annotated",
        ),
        pytest.param(
            "Never",
            {"labels": {config.RUN_SECONDS: "3"}},
            3,
            "Succeeded",
            0,
            "Completed",
            id="labelled",
        ),
        pytest.param(
            "Never",
            {"annotations": {config.CRASH: "true"}},
            1,
            "Failed",
            1,
            "Error",
            id="crash-never-fails",
        ),
    ],
)
def test_pods_that_run_to_completion(
    restart: str, meta: Obj, duration: float, phase: str, exit_code: int, reason: str
) -> None:
    p = pod(restart=restart, **meta)
    t = config.PodTimings()
    before = at(p, duration - 0.01, t)
    assert before.status["phase"] == "Running" and before.next_at == pytest.approx(T0 + duration)
    plan = at(p, duration, t)
    assert plan.status["phase"] == phase
    assert plan.terminal and not plan.delete and plan.next_at is None
    term = state(plan)["terminated"]
    assert (term["exitCode"], term["reason"]) == (exit_code, reason)
    assert term["startedAt"] == rfc3339(T0) and term["finishedAt"] == rfc3339(T0 + duration)
    cs = plan.status["containerStatuses"][0]
    assert cs["ready"] is False and cs["started"] is False
    done = "PodCompleted" if phase == "Succeeded" else "PodFailed"
    assert cond(plan, "Ready")["reason"] == done
    assert cond(plan, "ContainersReady")["reason"] == done
    assert cond(plan, "PodReadyToStartContainers")["status"] == "False"
    assert cond(plan, "Initialized")["status"] == "True"
    assert cond(plan, "Initialized").get("reason") == (done if phase == "Succeeded" else None)


def test_job_duration_is_configurable_and_scaled() -> None:
    t = config.PodTimings(job_seconds=20, time_scale=0.1)
    assert at(pod(restart="Never", owner_kind="Job"), 1.99, t).status["phase"] == "Running"
    assert at(pod(restart="Never", owner_kind="Job"), 2.0, t).status["phase"] == "Succeeded"


def test_completed_container_with_restart_always_restarts() -> None:
    p = pod(annotations={config.RUN_SECONDS: "2"})
    plan = at(p, 3)
    cs = plan.status["containerStatuses"][0]
    assert plan.status["phase"] == "Running" and not plan.terminal
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Completed"


# upstream's back-off: first restart at once, then 10 s after each exit, doubling to 5 min
CRASH_TIMELINE = [
    # (seconds after start, restartCount, state, back-off in the message)
    (0.5, 0, "running", None),
    (1.0, 1, "running", None),  # first exit at 1: restarted at once
    (2.5, 1, "waiting", "10s"),  # second exit at 2
    (12.0, 2, "running", None),  # 2 + 10
    (13.0, 2, "waiting", "20s"),
    (33.0, 3, "running", None),  # 13 + 20
    (74.0, 4, "running", None),  # 34 + 40
    (75.0, 4, "waiting", "1m20s"),
    (155.0, 5, "running", None),
    (316.0, 6, "running", None),  # 156 + 160
    (317.0, 6, "waiting", "5m0s"),  # 320 capped at 300
    (617.0, 7, "running", None),
    (618.0, 7, "waiting", "5m0s"),
]


@pytest.mark.parametrize(("dt", "restarts", "kind", "backoff"), CRASH_TIMELINE)
def test_crash_loop_back_off(dt: float, restarts: int, kind: str, backoff: str | None) -> None:
    plan = at(pod(annotations={config.CRASH: "true"}), dt)
    cs = plan.status["containerStatuses"][0]
    assert plan.status["phase"] == "Running"
    assert cs["restartCount"] == restarts
    assert kind in cs["state"]
    if kind == "waiting":
        assert cs["state"]["waiting"] == {
            "reason": "CrashLoopBackOff",
            "message": f"back-off {backoff} restarting failed container=c pod=p_ns(uid-1)",
        }
        assert cs["ready"] is False
        assert cond(plan, "Ready")["reason"] == "ContainersNotReady"
    else:
        assert cs["ready"] is True  # no readiness probe: ready while it runs
    if restarts:
        last = cs["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (1, "Error")


def test_crash_loop_scaled_and_far_in_the_future() -> None:
    t = config.PodTimings(time_scale=0.01)
    plan = at(pod(annotations={config.CRASH: "true"}), 0.025, t)
    cs = plan.status["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert "back-off 100ms" in cs["state"]["waiting"]["message"]
    # a week of crash looping is answered without walking every cycle
    plan = at(pod(annotations={config.CRASH: "true"}), 7 * 86400)
    assert plan.status["containerStatuses"][0]["restartCount"] == pytest.approx(
        7 * 86400 / 301, abs=10
    )


@pytest.mark.parametrize(
    ("stop_seconds", "grace", "dt", "exit_code", "phase"),
    [
        pytest.param(None, 30, 3.0, 137, "Failed", id="whole-grace-then-killed"),
        pytest.param(1.0, 30, 0.1, 0, "Succeeded", id="stops-cleanly-before-grace"),
        pytest.param(60.0, 5, 0.5, 137, "Failed", id="grace-caps-the-stop"),
    ],
)
def test_deletion_honours_the_grace_period(
    stop_seconds: float | None, grace: int, dt: float, exit_code: int, phase: str
) -> None:
    t = config.PodTimings(time_scale=0.1, stop_seconds=stop_seconds)
    p = pod(grace=grace)
    deleted_at = T0 + 100
    before = lifecycle.plan(p, facts(deleted_at=deleted_at), t, deleted_at + dt - 0.01)
    assert before.status["phase"] == "Running" and not before.delete
    assert before.next_at == pytest.approx(deleted_at + dt)
    plan = lifecycle.plan(p, facts(deleted_at=deleted_at), t, deleted_at + dt)
    assert plan.terminal and plan.delete
    assert plan.status["phase"] == phase
    term = state(plan)["terminated"]
    assert term["exitCode"] == exit_code
    assert term["reason"] == ("Completed" if exit_code == 0 else "Error")
    assert cond(plan, "PodReadyToStartContainers")["status"] == "False"


def test_deleted_before_starting() -> None:
    t = config.PodTimings(time_scale=0.1)
    plan = lifecycle.plan(pod(grace=30), facts(ip=None, deleted_at=T0), t, T0 + 3)
    assert plan.delete and plan.status["phase"] == "Failed"
    assert state(plan)["terminated"]["reason"] == "ContainerStatusUnknown"


def test_deleted_while_crash_looping_keeps_the_last_exit() -> None:
    t = config.PodTimings(stop_seconds=0)
    p = pod(annotations={config.CRASH: "true"}, grace=30)
    plan = lifecycle.plan(p, facts(deleted_at=T0 + 5), t, T0 + 5)
    term = state(plan)["terminated"]
    assert (term["exitCode"], term["reason"]) == (1, "Error") and plan.delete


def test_finished_job_pod_deleted_is_removed_without_waiting() -> None:
    p = pod(restart="Never", owner_kind="Job", grace=30)
    plan = lifecycle.plan(p, facts(deleted_at=T0 + 10), config.PodTimings(), T0 + 10)
    assert plan.status["phase"] == "Succeeded" and plan.delete


def test_pod_scheduled_keeps_the_schedulers_transition_time() -> None:
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "x"}
    plan = at(pod(status={"phase": "Pending", "conditions": [scheduled]}), 0)
    assert cond(plan, "PodScheduled") == scheduled
    assert at(pod(), 0).status["conditions"][-1] == {
        "type": "PodScheduled",
        "status": "True",
        "lastTransitionTime": rfc3339(T0),
    }


@pytest.mark.parametrize(
    ("gate_status", "ready", "message"),
    [
        pytest.param(
            None,
            "False",
            'corresponding condition of pod readiness gate "example.com/lb" does not exist.',
            id="missing",
        ),
        pytest.param(
            "False",
            "False",
            'the status of pod readiness gate "example.com/lb" is not "True", but False',
            id="false",
        ),
        pytest.param("True", "True", None, id="true"),
    ],
)
def test_readiness_gates(gate_status: str | None, ready: str, message: str | None) -> None:
    conditions = []
    if gate_status:
        conditions.append({"type": "example.com/lb", "status": gate_status})
    p = pod(gates=["example.com/lb"], status={"phase": "Running", "conditions": conditions})
    plan = at(p, 1)
    assert cond(plan, "ContainersReady")["status"] == "True"
    assert cond(plan, "Ready")["status"] == ready
    assert cond(plan, "Ready").get("message") == message
    if message:
        assert cond(plan, "Ready")["reason"] == "ReadinessGatesNotReady"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("true", [True, True], id="true-means-every-regular-container"),
        pytest.param("b", [False, True], id="by-name"),
        pytest.param("a,b", [True, True], id="list"),
        pytest.param("false", [False, False], id="false"),
    ],
)
def test_crash_selects_containers(value: str, expected: list[bool]) -> None:
    p = pod(
        containers=[{"name": "a", "image": "i"}, {"name": "b", "image": "i"}],
        annotations={config.CRASH: value},
    )
    plan = at(p, 5)
    assert [c["restartCount"] > 0 for c in plan.status["containerStatuses"]] == expected


def test_crashing_init_container_holds_the_pod_in_init() -> None:
    p = pod(init=[{"name": "i", "image": "b"}], annotations={config.CRASH: "i"})
    plan = at(p, 30)
    init = plan.status["initContainerStatuses"][0]
    assert plan.status["phase"] == "Pending"
    assert init["restartCount"] >= 1 and init["lastState"]["terminated"]["exitCode"] == 1
    assert state(plan) == {"waiting": {"reason": "PodInitializing"}}
    never = at(
        pod(init=[{"name": "i", "image": "b"}], restart="Never", annotations={config.CRASH: "i"}),
        30,
    )
    assert never.status["phase"] == "Failed" and never.terminal
