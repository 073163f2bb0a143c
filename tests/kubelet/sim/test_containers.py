"""One container's timeline (restarts, back-off, probes) and how it is reported."""

from __future__ import annotations

import pytest

from pyk8s.kubelet.sim import containers as ctr

BACKOFF = {"backoff_initial": 10.0, "backoff_max": 300.0}


def reference_restarts(run: float, t: float, *, initial: float, cap: float) -> tuple[int, str]:
    """Upstream's flowcontrol.Backoff walked exit by exit (no shortcuts)."""
    start, k, backoff, last_update = 0.0, 0, None, None
    while True:
        end = start + run
        if t < end:
            return k, "running"
        if backoff is not None and last_update is not None and end - last_update > 2 * cap:
            backoff = None
        in_backoff = backoff is not None  # IsInBackOffSince: now - finishedAt < backoff
        restart = end + (backoff if in_backoff and backoff is not None else 0.0)
        if t < restart:
            return k, "waiting"
        backoff = initial if backoff is None else min(backoff * 2, cap)  # Next()
        last_update = restart
        start, k = restart, k + 1


@pytest.mark.parametrize("run", [0.0, 1.0, 7.0, 45.0, 299.0, 700.0])
def test_restarts_match_upstream_back_off(run: float) -> None:
    program = ctr.Program(run_seconds=run, exit_code=1)
    for i in range(0, 20000, 7):
        t = i * 0.5
        got = ctr.run_at(program, 0.0, t, **BACKOFF)
        assert (got.restarts, got.state) == reference_restarts(run, t, initial=10, cap=300), t


@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [
        pytest.param("Always", 0, True, id="always-restarts-success"),
        pytest.param("Always", 1, True, id="always-restarts-failure"),
        pytest.param("OnFailure", 0, False, id="onfailure-keeps-success"),
        pytest.param("OnFailure", 2, True, id="onfailure-restarts-failure"),
        pytest.param("Never", 1, False, id="never"),
    ],
)
def test_restart_policy(policy: str, code: int, restarts: bool) -> None:
    program = ctr.Program(run_seconds=5, exit_code=code, restart=policy)
    run = ctr.run_at(program, 0.0, 6.0, **BACKOFF)
    assert (run.restarts == 1) == restarts
    assert run.state == ("running" if restarts else "terminated")


def test_next_change_walks_every_transition() -> None:
    program = ctr.Program(run_seconds=3, exit_code=1, startup_seconds=1, ready_seconds=2)
    seen, t = [], 0.0
    while t < 40:
        run = ctr.run_at(program, 0.0, t, **BACKOFF)
        seen.append((t, run.state, run.started, run.ready, run.restarts))
        assert run.next_change is not None and run.next_change > t
        t = run.next_change
    assert seen[:6] == [
        (0.0, "running", False, False, 0),
        (1.0, "running", True, False, 0),
        (2.0, "running", True, True, 0),
        (3.0, "running", False, False, 1),  # restarted at once: a fresh run starts unready
        (4.0, "running", True, False, 1),
        (5.0, "running", True, True, 1),
    ]
    assert seen[6] == (6.0, "waiting", False, False, 1)
    assert seen[7] == (16.0, "running", False, False, 2)


@pytest.mark.parametrize(
    ("image", "ref"),
    [
        pytest.param("nginx", "docker.io/library/nginx:latest", id="short"),
        pytest.param("nginx:1.27", "docker.io/library/nginx:1.27", id="tagged"),
        pytest.param("bitnami/redis", "docker.io/bitnami/redis:latest", id="user"),
        pytest.param("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", id="registry"),
        pytest.param("localhost:5000/app", "localhost:5000/app:latest", id="local-port"),
        pytest.param("localhost/app:v1", "localhost/app:v1", id="localhost"),
        pytest.param("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc", id="digest"),
    ],
)
def test_image_ref(image: str, ref: str) -> None:
    assert ctr.image_ref(image) == ref
    repo = ref.split("@")[0].rsplit(":", 1)[0] if "@" not in ref else ref.split("@")[0]
    if ref.count(":") and "@" not in ref and ref.rsplit("/", 1)[-1].count(":"):
        repo = ref.rsplit(":", 1)[0]
    assert ctr.image_id(image).startswith(repo + "@sha256:")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10s"),
        (20, "20s"),
        (80, "1m20s"),
        (160, "2m40s"),
        (300, "5m0s"),
        (0.1, "100ms"),
        (3725, "1h2m5s"),
        (1.5, "1.5s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert ctr.go_duration(seconds) == text


def test_container_ids_are_stable_per_run() -> None:
    assert ctr.container_id("u", "c", 0) == ctr.container_id("u", "c", 0)
    assert ctr.container_id("u", "c", 0) != ctr.container_id("u", "c", 1)
