"""The kubelet's pod status as a pure function of the pod and the runtime state."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.core.builders import T0, container, ctr, pod, sandbox, state
from pyk8s.kubelet import status
from pyk8s.kubelet.podstate import ProbeState

Obj = dict[str, Any]


def compute(p: Obj, st: Any, *, reasons: Any = None, terminal: bool = False) -> Obj:
    return status.pod_status(
        p, st, reasons=reasons or {}, host_ip="127.0.0.1", terminal=terminal, now=T0 + 50
    )


def cond(s: Obj, kind: str) -> Obj:
    return next(c for c in s["conditions"] if c["type"] == kind)


def brief(c: Obj) -> tuple[str, str | None, str | None]:
    return c["status"], c.get("reason"), c.get("message")


def test_new_pod_is_pending_and_creating() -> None:
    s = compute(pod(container("a"), container("b")), state(sandboxes=()))
    assert s["phase"] == "Pending"
    assert [c["state"] for c in s["containerStatuses"]] == [
        {"waiting": {"reason": "ContainerCreating"}}
    ] * 2
    assert brief(cond(s, "PodReadyToStartContainers")) == ("False", None, None)
    assert brief(cond(s, "Initialized")) == ("True", None, None)
    unready = ("False", "ContainersNotReady", "containers with unready status: [a b]")
    assert brief(cond(s, "Ready")) == unready
    assert brief(cond(s, "ContainersReady")) == unready
    assert s["hostIP"] == "127.0.0.1" and s["hostIPs"] == [{"ip": "127.0.0.1"}]
    assert s["qosClass"] == "BestEffort"
    assert "podIP" not in s


def test_pod_with_init_containers_is_initializing() -> None:
    p = pod(container("main"), inits=(container("i1"),))
    s = compute(p, state(ctr("i1")))
    assert s["phase"] == "Pending"
    assert s["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert brief(cond(s, "Initialized")) == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [i1]",
    )
    assert cond(s, "PodReadyToStartContainers")["status"] == "True"


def test_running_ready_pod() -> None:
    s = compute(pod(container("c")), state(ctr("c", cid="abc")))
    assert s["phase"] == "Running"
    (cs,) = s["containerStatuses"]
    assert cs["state"] == {"running": {"startedAt": "1970-01-12T13:46:41Z"}}
    assert cs["containerID"] == "containerd://abc"
    assert cs["ready"] and cs["started"]
    assert cs["imageID"] == "sha256:abc"
    assert brief(cond(s, "Ready")) == ("True", None, None)
    assert s["podIP"] == "10.244.0.5" and s["podIPs"] == [{"ip": "10.244.0.5"}]


def test_running_but_unready() -> None:
    st = state(ctr("c"), probes=ProbeState(started=frozenset({"c-1000001"})))
    s = compute(pod(container("c")), st)
    assert s["phase"] == "Running"
    assert s["containerStatuses"][0]["ready"] is False
    assert brief(cond(s, "ContainersReady"))[2] == "containers with unready status: [c]"


def test_crash_loop_shows_waiting_and_last_state() -> None:
    message = "back-off 10s restarting failed container=c pod=web_ns(uid-1)"
    st = state(ctr("c", "exited", exit_code=3, restarts=2, reason="Error"))
    s = compute(pod(container("c")), st, reasons={"c": ("CrashLoopBackOff", message)})
    (cs,) = s["containerStatuses"]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["restartCount"] == 2
    assert s["phase"] == "Running"  # restarting under Always


def test_previous_instance_is_last_state() -> None:
    st = state(
        ctr("c", "exited", exit_code=137, reason="OOMKilled", at=T0 + 1, cid="old"),
        ctr("c", at=T0 + 10, restarts=1, cid="new"),
    )
    (cs,) = compute(pod(container("c")), st)["containerStatuses"]
    assert cs["containerID"] == "containerd://new"
    assert cs["restartCount"] == 1
    last = cs["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"], last["containerID"]) == (
        "OOMKilled",
        137,
        "containerd://old",
    )


@pytest.mark.parametrize(
    ("policy", "codes", "terminal", "phase"),
    [
        pytest.param("Never", (0, 0), False, "Succeeded", id="never-all-ok"),
        pytest.param("Never", (0, 1), False, "Failed", id="never-one-failed"),
        pytest.param("OnFailure", (0, 0), False, "Succeeded", id="onfailure-all-ok"),
        pytest.param("Always", (0, 0), False, "Running", id="always-restarting"),
        pytest.param("Always", (143, 0), True, "Failed", id="deleted-always-pod-fails"),
        pytest.param("Always", (0, 0), True, "Succeeded", id="deleted-clean-exit"),
    ],
)
def test_phase(policy: str, codes: tuple[int, int], terminal: bool, phase: str) -> None:
    p = pod(container("a"), container("b"), policy=policy)
    st = state(
        ctr("a", "exited", exit_code=codes[0], at=1), ctr("b", "exited", exit_code=codes[1], at=2)
    )
    s = compute(p, st, terminal=terminal)
    assert s["phase"] == phase
    if phase == "Succeeded":
        assert brief(cond(s, "Ready")) == ("False", "PodCompleted", None)
    if phase == "Failed":
        assert brief(cond(s, "ContainersReady")) == ("False", "PodFailed", None)


def test_failed_init_under_never_fails_the_pod() -> None:
    p = pod(container("main"), inits=(container("i1"),), policy="Never")
    s = compute(p, state(ctr("i1", "exited", exit_code=1)))
    assert s["phase"] == "Failed"


def test_terminal_phase_in_the_api_sticks() -> None:
    p = pod(container("c"), status={"phase": "Succeeded"})
    assert compute(p, state(ctr("c")))["phase"] == "Succeeded"


def test_image_pull_error_is_pending() -> None:
    reasons = {"c": ("ErrImagePull", "pull refused")}
    s = compute(pod(container("c")), state(), reasons=reasons)
    assert s["phase"] == "Pending"
    assert s["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ErrImagePull", "message": "pull refused"}
    }


def test_host_network_pod_ip_is_the_node() -> None:
    s = compute(
        pod(container("c"), host_network=True), state(ctr("c"), sandboxes=(sandbox(ip=""),))
    )
    assert s["podIP"] == "127.0.0.1"


def test_readiness_gates() -> None:
    p = pod(
        container("c"),
        readinessGates=[{"conditionType": "example.com/ready"}],
        status={"conditions": [{"type": "example.com/ready", "status": "False"}]},
    )
    s = compute(p, state(ctr("c")))
    assert brief(cond(s, "Ready")) == (
        "False",
        "ReadinessGatesNotReady",
        'the status of pod readiness gate "example.com/ready" is not "True", but False',
    )
    assert cond(s, "ContainersReady")["status"] == "True"


def test_merge_keeps_times_and_foreign_conditions() -> None:
    old = {
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "T-sched"},
            {"type": "example.com/ready", "status": "True", "lastTransitionTime": "T-gate"},
            {"type": "Ready", "status": "False", "lastTransitionTime": "T-ready"},
            {"type": "Initialized", "status": "True", "lastTransitionTime": "T-init"},
        ]
    }
    new = compute(pod(container("c")), state(ctr("c")))
    merged = status.merge_status(old, new, T0 + 60)
    by_type = {c["type"]: c for c in merged["conditions"]}
    assert merged["conditions"][0]["type"] == "example.com/ready"
    assert by_type["PodScheduled"]["lastTransitionTime"] == "T-sched"
    assert by_type["Initialized"]["lastTransitionTime"] == "T-init"
    assert by_type["Ready"]["lastTransitionTime"] == "1970-01-12T13:47:40Z"  # it changed
    assert status.status_differs(old, merged)
    assert not status.status_differs(merged, status.merge_status(merged, new, T0 + 90))
