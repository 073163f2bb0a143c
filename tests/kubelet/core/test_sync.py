"""compute_pod_actions: what one sync of a pod must do (table-driven, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.core.builders import T0, container, ctr, pod, sandbox, state
from pyk8s.kubelet import sync
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.podstate import ProbeState

Obj = dict[str, Any]


def names(starts: tuple[sync.StartInfo, ...]) -> list[str]:
    return [s.name for s in starts]


def compute(p: Obj, st: Any, *, backoff: Backoff | None = None, now: float = T0 + 100) -> Any:
    return sync.compute_pod_actions(p, st, backoff or Backoff(), now)


@pytest.mark.parametrize(
    ("sandboxes", "host_network", "expected"),
    [
        pytest.param((), False, (True, 0), id="no-sandbox-creates-attempt-0"),
        pytest.param((sandbox(),), False, (False, 0), id="ready-sandbox-kept"),
        pytest.param(
            (sandbox(ready=False, attempt=2),), False, (True, 3), id="dead-sandbox-next-attempt"
        ),
        pytest.param((sandbox(ip=""),), False, (True, 1), id="no-ip-on-pod-network"),
        pytest.param((sandbox(ip=""),), True, (True, 1), id="network-mode-changed"),
        pytest.param(
            (sandbox("a", at=T0 + 1), sandbox("b", at=T0)), False, (True, 1), id="two-ready"
        ),
    ],
)
def test_sandbox_changed(sandboxes: Any, host_network: bool, expected: tuple[bool, int]) -> None:
    p = pod(host_network=host_network)
    create, attempt, _ = sync.sandbox_changed(p, state(sandboxes=sandboxes))
    assert (create, attempt) == expected


def test_new_pod_creates_sandbox_and_starts_every_container() -> None:
    p = pod(container("a"), container("b"))
    actions = compute(p, state(sandboxes=()))
    assert actions.create_sandbox and actions.kill_pod
    assert names(actions.to_start) == ["a", "b"]
    assert actions.init_to_start == ()


def test_new_pod_with_init_containers_starts_only_the_first() -> None:
    p = pod(container("main"), inits=(container("i1"), container("i2")))
    actions = compute(p, state(sandboxes=()))
    assert actions.create_sandbox
    assert names(actions.init_to_start) == ["i1"]
    assert actions.to_start == ()


def test_running_pod_is_left_alone() -> None:
    p = pod(container("c"))
    actions = compute(p, state(ctr("c")))
    assert actions.noop and actions.waiting == ()


@pytest.mark.parametrize(
    ("policy", "exit_code", "restart"),
    [
        pytest.param("Always", 0, True, id="always-restarts-success"),
        pytest.param("Always", 1, True, id="always-restarts-failure"),
        pytest.param("OnFailure", 1, True, id="onfailure-restarts-failure"),
        pytest.param("OnFailure", 0, False, id="onfailure-keeps-success"),
        pytest.param("Never", 1, False, id="never-keeps-failure"),
    ],
)
def test_restart_policy(policy: str, exit_code: int, restart: bool) -> None:
    p = pod(container("c"), policy=policy)
    actions = compute(p, state(ctr("c", "exited", exit_code=exit_code)))
    assert names(actions.to_start) == (["c"] if restart else [])
    # a pod with nothing left to run is done: kill it (sandbox and all)
    assert actions.kill_pod is (not restart)


def test_deleted_pod_never_restarts() -> None:
    p = pod(container("c"), deleting=True)
    assert compute(p, state(ctr("c", "exited", exit_code=1))).to_start == ()


def test_crash_loop_waits_with_upstream_message() -> None:
    backoff = Backoff(10, 300)
    spec = container("c")
    p = pod(spec)
    key = sync.backoff_key(p, spec)
    backoff.next(key, T0)  # the first restart happened
    exited = ctr("c", "exited", exit_code=1, restarts=1, finished=T0 + 5)
    actions = compute(p, state(exited), backoff=backoff, now=T0 + 8)
    assert actions.to_start == ()
    assert not actions.kill_pod  # waiting to restart is not "done"
    (wait,) = actions.waiting
    assert wait.message == "back-off 10s restarting failed container=c pod=web_ns(uid-1)"
    assert wait.until == T0 + 15
    assert actions.next_check == T0 + 15
    later = compute(p, state(exited), backoff=backoff, now=T0 + 16)
    assert names(later.to_start) == ["c"]


@pytest.mark.parametrize(
    ("probes", "policy", "reason", "message", "restart"),
    [
        pytest.param(
            ProbeState(liveness_failed=frozenset({"c-1000001"})),
            "Always",
            "LivenessProbe",
            "Container c failed liveness probe, will be restarted",
            True,
            id="liveness-failure-restarts",
        ),
        pytest.param(
            ProbeState(startup_failed=frozenset({"c-1000001"})),
            "OnFailure",
            "StartupProbe",
            "Container c failed startup probe, will be restarted",
            True,
            id="startup-failure-restarts",
        ),
        pytest.param(
            ProbeState(liveness_failed=frozenset({"c-1000001"})),
            "Never",
            "LivenessProbe",
            "Container c failed liveness probe",
            False,
            id="never-policy-kills-only",
        ),
    ],
)
def test_probe_failures_kill(
    probes: ProbeState, policy: str, reason: str, message: str, restart: bool
) -> None:
    p = pod(container("c"), policy=policy)
    actions = compute(p, state(ctr("c"), probes=probes))
    (kill,) = actions.to_kill
    assert (kill.container_id, kill.reason, kill.message) == ("c-1000001", reason, message)
    assert names(actions.to_start) == (["c"] if restart else [])


def test_changed_image_kills_and_restarts_even_under_never() -> None:
    old = container("c", image="pyk8s.local/testbox:0.9")
    p = pod(container("c"), policy="Never")
    actions = compute(p, state(ctr("c", spec=old)))
    (kill,) = actions.to_kill
    assert kill.message == "Container c definition changed, will be restarted"
    assert names(actions.to_start) == ["c"]


def test_unknown_container_is_killed_before_restart() -> None:
    p = pod(container("c"))
    actions = compute(p, state(ctr("c", "unknown")))
    assert [k.reason for k in actions.to_kill] == ["Unknown"]
    assert names(actions.to_start) == ["c"]


class TestInitContainers:
    def spec(self, policy: str = "Always") -> Obj:
        return pod(container("main"), inits=(container("i1"), container("i2")), policy=policy)

    def test_next_init_after_success(self) -> None:
        actions = compute(self.spec(), state(ctr("i1", "exited", exit_code=0)))
        assert names(actions.init_to_start) == ["i2"]
        assert actions.to_start == ()

    def test_running_init_blocks(self) -> None:
        actions = compute(self.spec(), state(ctr("i1")))
        assert actions.noop

    def test_failed_init_restarts(self) -> None:
        actions = compute(self.spec(), state(ctr("i1", "exited", exit_code=2)))
        assert names(actions.init_to_start) == ["i1"]

    def test_failed_init_under_never_kills_pod(self) -> None:
        actions = compute(self.spec("Never"), state(ctr("i1", "exited", exit_code=2)))
        assert actions.kill_pod and actions.init_to_start == ()

    def test_all_done_starts_containers(self) -> None:
        st = state(
            ctr("i1", "exited", exit_code=0, at=1),
            ctr("i2", "exited", exit_code=0, at=2),
        )
        actions = compute(self.spec(), st)
        assert names(actions.to_start) == ["main"]

    def test_inits_of_an_old_sandbox_do_not_count(self) -> None:
        st = state(
            ctr("i1", "exited", exit_code=0, sandbox_id="old", at=1),
            ctr("i2", "exited", exit_code=0, sandbox_id="old", at=2),
        )
        actions = compute(self.spec(), st)
        assert names(actions.init_to_start) == ["i1"]

    def test_sidecar_must_be_started_before_the_next(self) -> None:
        side = container("side", restartPolicy="Always", startupProbe={"exec": {"command": ["x"]}})
        p = pod(container("main"), inits=(side, container("i2")))
        waiting = compute(p, state(ctr("side", kind="init"), probes=ProbeState()))
        assert waiting.noop
        started = ProbeState(started=frozenset({"side-1000001"}))
        go = compute(p, state(ctr("side", kind="init"), probes=started))
        assert names(go.init_to_start) == ["i2"]

    def test_sidecar_restarted_after_initialization(self) -> None:
        side = container("side", restartPolicy="Always")
        p = pod(container("main"), inits=(side,))
        st = state(ctr("side", "exited", exit_code=1, kind="init", at=1), ctr("main", at=2))
        actions = compute(p, st)
        assert names(actions.init_to_start) == ["side"]
        assert actions.to_start == () and not actions.kill_pod

    def test_sidecars_do_not_keep_a_finished_pod_alive(self) -> None:
        side = container("side", restartPolicy="Always")
        p = pod(container("main"), inits=(side,), policy="Never")
        st = state(
            ctr("side", "exited", exit_code=137, kind="init", at=1),
            ctr("main", "exited", exit_code=0, at=2),
        )
        actions = compute(p, st)
        assert actions.kill_pod
        assert actions.init_to_start == ()


def test_never_pod_whose_sandbox_died_is_not_revived() -> None:
    p = pod(container("c"), policy="Never")
    st = state(ctr("c", "exited", exit_code=0), sandboxes=(sandbox(ready=False),))
    actions = compute(p, st)
    assert actions.kill_pod and not actions.create_sandbox


def test_onfailure_new_sandbox_skips_succeeded_containers() -> None:
    p = pod(container("ok"), container("bad"), policy="OnFailure")
    st = state(
        ctr("ok", "exited", exit_code=0, at=1),
        ctr("bad", "exited", exit_code=1, at=2),
        sandboxes=(sandbox(ready=False),),
    )
    actions = compute(p, st)
    assert actions.create_sandbox and actions.attempt == 1
    assert names(actions.to_start) == ["bad"]


def test_backoff_book() -> None:
    b = Backoff(10, 300)
    assert not b.in_backoff_since("k", T0, T0)
    delays = []
    for i in range(7):
        b.next("k", T0 + i)
        delays.append(b.get("k"))
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    # ten minutes without a restart start it over
    b.next("k", T0 + 7 + 601)
    assert b.get("k") == 10
