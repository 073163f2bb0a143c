"""The real node end to end (issue #7's proof): ``pyk8s server`` with its local agent
(kubelet on containerd through CRI), driven by the real kubectl, with real containers of
``pyk8s.local/testbox:1.0``.

- A failing liveness probe restarts the container (``Unhealthy`` event with upstream's
  "Liveness probe failed: …", ``lastState.terminated``), and ``kubectl logs --previous``
  shows the run before.
- A crash loop reaches ``CrashLoopBackOff`` with growing delays between runs.
- Init containers run in order; a sidecar (init container with ``restartPolicy: Always``)
  keeps running beside the main container (READY 2/2).
- Environment from ConfigMaps/Secrets (``valueFrom``, ``envFrom`` with prefixes) and the
  downward API (``fieldRef``, ``resourceFieldRef`` with a divisor).
- ``preStop`` runs before SIGTERM and within the grace period; a forced delete is
  immediate and the container still goes away.
- ``kubectl logs -f``, ``-c``, ``--tail``.
- Image pulls from a local registry (``docker-registry`` on loopback, see ``registry.py``):
  ``Always`` pulls, basic auth with and without ``imagePullSecrets``, a missing tag
  (``ErrImagePull``), ``Never`` (``ErrImageNeverPull``), a bad name (``InvalidImageName``).

One cluster for the module; each test has its own namespace.
"""

from __future__ import annotations

import base64
import itertools
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from registry import LocalRegistry

from cluster import kubectl_binary
from realnode import TESTBOX, RealCluster

pytestmark = pytest.mark.e2e

T = TypeVar("T")
Obj = dict[str, Any]
_ns = itertools.count()


@pytest.fixture(scope="module")
def rc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    c = RealCluster(tmp_path_factory.mktemp("realnode"))
    try:
        c.start()
        yield c
    finally:
        problems = c.stop()
    assert problems == []


@pytest.fixture
def ns(rc: RealCluster) -> str:
    name = f"rn{next(_ns)}"
    rc.kubectl("create", "namespace", name)
    return name


def until(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    """The first truthy value of ``check``; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def apply(rc: RealCluster, ns: str, *objs: Obj) -> None:
    rc.kubectl(
        "-n",
        ns,
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}),
    )


def pod_obj(name: str, spec: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def box(name: str, script: str, **extra: Any) -> Obj:
    return {
        "name": name,
        "image": TESTBOX,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", script],
        **extra,
    }


# A main loop that exits on SIGTERM at once (sh as PID 1 would otherwise ignore it).
IDLE = "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"


def get_pod(rc: RealCluster, ns: str, name: str) -> Obj:
    status, body, _ = rc.cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def status_of(pod: Obj, name: str, key: str = "containerStatuses") -> Obj:
    for s in (pod.get("status") or {}).get(key) or []:
        if s["name"] == name:
            return dict(s)
    return {}


def waiting_reason(rc: RealCluster, ns: str, pod: str, container: str = "c") -> str:
    state = status_of(get_pod(rc, ns, pod), container).get("state") or {}
    return str((state.get("waiting") or {}).get("reason") or "")


def running(rc: RealCluster, ns: str, name: str) -> bool:
    pod = get_pod(rc, ns, name)
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all("running" in (s.get("state") or {}) for s in statuses)


def events(rc: RealCluster, ns: str, name: str) -> list[Obj]:
    path = f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{name}"
    status, body, _ = rc.cluster.request("GET", path)
    assert status == 200, body
    return list(body["items"])


def event_with(rc: RealCluster, ns: str, name: str, reason: str, text: str = "") -> Obj | None:
    for e in events(rc, ns, name):
        if e["reason"] == reason and text in e.get("message", ""):
            return e
    return None


def get_row(rc: RealCluster, ns: str, name: str) -> dict[str, str]:
    """The ``kubectl get pod`` table row as {column: value}."""
    out = rc.kubectl("-n", ns, "get", "pod", name).stdout.splitlines()
    header, row = out[0].split(), out[1].split()
    return dict(zip(header, row, strict=False))


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------- probes, restarts


def test_liveness_failure_restarts_container_and_logs_previous(rc: RealCluster, ns: str) -> None:
    script = f"echo boot $(cat /proc/sys/kernel/random/uuid); {IDLE}"
    probe = {
        "exec": {"command": ["cat", "/no-such-file"]},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    spec = {
        "terminationGracePeriodSeconds": 5,
        "containers": [box("c", script, livenessProbe=probe)],
    }
    apply(rc, ns, pod_obj("live", spec))

    def restarted() -> Obj | None:
        s = status_of(get_pod(rc, ns, "live"), "c")
        ok = s.get("restartCount", 0) >= 1 and "terminated" in (s.get("lastState") or {})
        return s if ok and "running" in (s.get("state") or {}) else None

    s = until("a restart after liveness failures", restarted)
    last = s["lastState"]["terminated"]
    assert last["reason"] in ("Error", "Completed")
    assert last["finishedAt"] and last["startedAt"] and last["containerID"]
    unhealthy = until(
        "the Unhealthy event", lambda: event_with(rc, ns, "live", "Unhealthy", "Liveness")
    )
    assert unhealthy["type"] == "Warning"
    assert unhealthy["message"].startswith("Liveness probe failed: ")
    assert "/no-such-file" in unhealthy["message"]
    killing = until("the Killing event", lambda: event_with(rc, ns, "live", "Killing"))
    assert killing["message"] == "Container c failed liveness probe, will be restarted"

    # --previous shows the killed run's output; the current run printed its own boot line.
    previous = rc.kubectl("-n", ns, "logs", "live", "--previous").stdout
    current = until(
        "the current run's output",
        lambda: rc.kubectl("-n", ns, "logs", "live").stdout.strip(),
    )
    assert previous.startswith("boot ")
    assert current.startswith("boot ")
    assert previous.strip() != current


def test_crash_loop_backoff_with_growing_delays(rc: RealCluster, ns: str) -> None:
    spec = {"containers": [box("c", "sleep 2; exit 3")]}
    apply(rc, ns, pod_obj("crash", spec))
    runs: dict[str, float] = {}  # startedAt → finishedAt of every run seen
    crash_status_seen = False

    def note() -> bool:
        nonlocal crash_status_seen
        s = status_of(get_pod(rc, ns, "crash"), "c")
        for state in (s.get("lastState") or {}, s.get("state") or {}):
            term = state.get("terminated")
            if term and term.get("startedAt"):
                runs[term["startedAt"]] = ts(term["finishedAt"])
            run = state.get("running")
            if run:
                runs.setdefault(run["startedAt"], 0.0)
        waiting = (s.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff" and not crash_status_seen:
            crash_status_seen = get_row(rc, ns, "crash").get("STATUS") == "CrashLoopBackOff"
        return s.get("restartCount", 0) >= 3 and len(runs) >= 4 and crash_status_seen

    until("three restarts in back-off", note, timeout=120)
    starts = sorted(runs, key=ts)[:4]
    gaps = [ts(starts[i + 1]) - runs[starts[i]] for i in range(3)]
    assert all(runs[s] for s in starts[:3]), runs
    # Upstream's back-off between a run's end and the next start: the first restart at
    # once, then 10 s, then 20 s (doubling).
    assert gaps[0] < gaps[1] < gaps[2], gaps
    assert gaps[1] >= 9, gaps
    assert gaps[2] >= gaps[1] + 5, gaps
    last = status_of(get_pod(rc, ns, "crash"), "c")["lastState"]["terminated"]
    assert last["exitCode"] == 3 and last["reason"] == "Error"
    backoff = until("the BackOff event", lambda: event_with(rc, ns, "crash", "BackOff"))
    assert backoff["message"].startswith("Back-off restarting failed container c in pod crash_")
    assert backoff["count"] >= 1


# ---------------------------------------------------------------------------- init and sidecar


def test_init_containers_in_order_and_sidecar(rc: RealCluster, ns: str) -> None:
    work = {"name": "work", "mountPath": "/work"}
    spec = {
        "terminationGracePeriodSeconds": 2,
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [
            box("first", "echo first >> /work/order", volumeMounts=[work]),
            box("second", "echo second >> /work/order", volumeMounts=[work]),
            box(
                "side",
                f"echo side-$(cat /work/order | wc -l) >> /work/order; {IDLE}",
                volumeMounts=[work],
                restartPolicy="Always",
            ),
        ],
        "containers": [box("main", f"cat /work/order; {IDLE}", volumeMounts=[work])],
    }
    apply(rc, ns, pod_obj("ordered", spec))
    until("READY 2/2", lambda: get_row(rc, ns, "ordered").get("READY") == "2/2")
    row = get_row(rc, ns, "ordered")
    assert row["STATUS"] == "Running"

    pod = get_pod(rc, ns, "ordered")
    first = status_of(pod, "first", "initContainerStatuses")["state"]["terminated"]
    second = status_of(pod, "second", "initContainerStatuses")["state"]["terminated"]
    side = status_of(pod, "side", "initContainerStatuses")
    main = status_of(pod, "main")
    assert first["exitCode"] == 0 and second["exitCode"] == 0
    assert ts(first["finishedAt"]) <= ts(second["startedAt"])
    assert ts(second["finishedAt"]) <= ts(side["state"]["running"]["startedAt"])
    assert side["started"] is True and side["ready"] is True
    assert ts(side["state"]["running"]["startedAt"]) <= ts(main["state"]["running"]["startedAt"])
    # The sidecar ran after both init containers, and keeps running beside main.
    logs = until(
        "main's output", lambda: rc.kubectl("-n", ns, "logs", "ordered", "-c", "main").stdout
    )
    assert logs.splitlines()[:2] == ["first", "second"]
    assert rc.kubectl("-n", ns, "exec", "ordered", "-c", "side", "--", "cat", "/work/order").stdout[
        : len("first\nsecond\nside-2")
    ] == ("first\nsecond\nside-2")
    assert (
        "running" in status_of(get_pod(rc, ns, "ordered"), "side", "initContainerStatuses")["state"]
    )


# ---------------------------------------------------------------------------- environment


def test_env_from_configmap_secret_and_downward_api(rc: RealCluster, ns: str) -> None:
    secret_data = {"token": "hunter2", "user": "alice"}
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"color": "blue", "size": "L"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret_data.items()},
    }
    env = [
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {
            "name": "MEM_MI",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
        },
    ]
    env_from = [
        {"prefix": "CM_", "configMapRef": {"name": "settings"}},
        {"prefix": "SEC_", "secretRef": {"name": "creds"}},
    ]
    container = box(
        "c",
        IDLE,
        env=env,
        envFrom=env_from,
        resources={"limits": {"memory": "64Mi", "cpu": "100m"}},
    )
    spec = {"terminationGracePeriodSeconds": 2, "containers": [container]}
    apply(rc, ns, cm, secret, pod_obj("envy", spec))
    until("the pod running", lambda: running(rc, ns, "envy"))
    out = rc.kubectl("-n", ns, "exec", "envy", "--", "env").stdout
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    pod_ip = get_pod(rc, ns, "envy")["status"]["podIP"]
    assert pod_ip
    expected = {
        "COLOR": "blue",
        "TOKEN": "hunter2",
        "POD_NAME": "envy",
        "POD_IP": pod_ip,
        "MEM_MI": "64",
        "CM_color": "blue",
        "CM_size": "L",
        "SEC_token": "hunter2",
        "SEC_user": "alice",
    }
    assert {k: got.get(k) for k in expected} == expected


# ---------------------------------------------------------------------------- termination


def test_prestop_then_sigterm_within_grace_and_force_delete(
    rc: RealCluster, ns: str, tmp_path: Path
) -> None:
    host = tmp_path / "marks"
    host.mkdir()
    mount = {"name": "marks", "mountPath": "/marks"}
    app = (
        "trap '[ -e /marks/prestop-done ] && echo after-prestop > /marks/term "
        "|| echo before-prestop > /marks/term; exit 0' TERM; "
        "echo up > /marks/up; while true; do sleep 1 & wait $!; done"
    )
    pre_stop = "echo start > /marks/prestop-start; sleep 2; echo done > /marks/prestop-done"
    container = box(
        "c",
        app,
        volumeMounts=[mount],
        lifecycle={"preStop": {"exec": {"command": ["sh", "-c", pre_stop]}}},
    )
    spec = {
        "terminationGracePeriodSeconds": 20,
        "volumes": [{"name": "marks", "hostPath": {"path": str(host), "type": "Directory"}}],
        "containers": [container],
    }
    apply(rc, ns, pod_obj("graceful", spec))
    until("the app up", lambda: (host / "up").exists())

    started = time.monotonic()
    rc.kubectl("-n", ns, "delete", "pod", "graceful", "--wait=true", timeout=60)
    took = time.monotonic() - started
    assert (host / "prestop-start").read_text() == "start\n"
    assert (host / "prestop-done").read_text() == "done\n"
    # SIGTERM reached the app only after preStop had finished.
    assert (host / "term").read_text() == "after-prestop\n"
    assert took >= 2.0  # the preStop's sleep is part of the deletion

    # Forced: the API object is gone when kubectl returns; the node kills the container.
    for f in host.iterdir():
        f.unlink()
    apply(rc, ns, pod_obj("forced", spec))
    until("the app up", lambda: (host / "up").exists())
    cp = rc.kubectl("-n", ns, "delete", "pod", "forced", "--grace-period=0", "--force")
    assert 'pod "forced" force deleted' in cp.stdout
    gone = rc.kubectl("-n", ns, "get", "pod", "forced", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    until("the forced pod's app terminated", lambda: (host / "term").exists())


# ---------------------------------------------------------------------------- logs


def test_logs_follow_container_and_tail(rc: RealCluster, ns: str) -> None:
    ticker = "i=0; trap 'exit 0' TERM; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"
    spec = {
        "terminationGracePeriodSeconds": 2,
        "containers": [
            box("counter", f"seq 1 10; {IDLE}"),
            box("ticker", ticker),
        ],
    }
    apply(rc, ns, pod_obj("chatty", spec))
    until("both containers running", lambda: running(rc, ns, "chatty"))

    lines = until(
        "counter's output",
        lambda: rc.kubectl("-n", ns, "logs", "chatty", "-c", "counter").stdout.splitlines(),
    )
    assert lines == [str(i) for i in range(1, 11)]
    tail = rc.kubectl("-n", ns, "logs", "chatty", "-c", "counter", "--tail", "3").stdout
    assert tail.splitlines() == ["8", "9", "10"]
    # Without -c a two-container pod names its default container (the first one).
    assert rc.kubectl("-n", ns, "logs", "chatty", "--tail", "1").stdout == "10\n"

    cmd = [
        kubectl_binary(),
        "--kubeconfig",
        str(rc.kubeconfig),
        "-n",
        ns,
        "logs",
        "-f",
        "chatty",
        "-c",
        "ticker",
        "--tail",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            got.put(line.rstrip("\n"))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while len(seen) < 4:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"follow gave only {seen}"
            try:
                line = got.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line.startswith("tick "), line
            seen.append(int(line.split()[1]))
        # New lines arrive as they are written, in order, one after another.
        assert seen == list(range(seen[0], seen[0] + 4))
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
        thread.join(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# ---------------------------------------------------------------------------- images


@pytest.fixture(scope="module")
def registry(rc: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    reg = LocalRegistry(tmp_path_factory.mktemp("registry"))
    try:
        reg.start()
        reg.push_archive(rc.base / "images" / "testbox.tar", "testbox", "1.0")
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def auth_registry(
    rc: RealCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRegistry]:
    reg = LocalRegistry(tmp_path_factory.mktemp("authregistry"))
    try:
        reg.start(auth=("alice", "s3cret-pw"))
        reg.push_archive(rc.base / "images" / "testbox.tar", "private/testbox", "1.0")
        yield reg
    finally:
        reg.stop()


def test_pull_always_from_local_registry(rc: RealCluster, ns: str, registry: LocalRegistry) -> None:
    image = f"{registry.host}/testbox:1.0"
    c = box("c", IDLE, image=image, imagePullPolicy="Always")
    apply(rc, ns, pod_obj("pulled", {"terminationGracePeriodSeconds": 2, "containers": [c]}))
    until("the pulled image running", lambda: running(rc, ns, "pulled"))
    pulled = event_with(rc, ns, "pulled", "Pulled")
    assert pulled is not None
    assert pulled["message"].startswith(f'Successfully pulled image "{image}" in ')
    assert event_with(rc, ns, "pulled", "Pulling", f'Pulling image "{image}"')
    status = status_of(get_pod(rc, ns, "pulled"), "c")
    assert status["image"] == image
    assert status["imageID"].startswith(f"{registry.host}/testbox@sha256:")
    assert rc.kubectl("-n", ns, "exec", "pulled", "--", "cat", "/var/www/index.html").stdout


def test_pull_missing_tag_is_err_image_pull(
    rc: RealCluster, ns: str, registry: LocalRegistry
) -> None:
    image = f"{registry.host}/testbox:no-such-tag"
    c = box("c", IDLE, image=image, imagePullPolicy="IfNotPresent")
    apply(rc, ns, pod_obj("missing", {"containers": [c]}))
    until(
        "ErrImagePull",
        lambda: event_with(rc, ns, "missing", "Failed", "Error: ErrImagePull"),
    )
    failed = event_with(rc, ns, "missing", "Failed", f'Failed to pull image "{image}"')
    assert failed is not None and "not found" in failed["message"]
    until(
        "a pull error in STATUS",
        lambda: get_row(rc, ns, "missing")["STATUS"] in ("ErrImagePull", "ImagePullBackOff"),
    )


def test_pull_with_basic_auth_needs_pull_secret(
    rc: RealCluster, ns: str, auth_registry: LocalRegistry
) -> None:
    host = auth_registry.host
    image = f"{host}/private/testbox:1.0"
    assert auth_registry.auth is not None
    user, password = auth_registry.auth
    rc.kubectl(
        "-n",
        ns,
        "create",
        "secret",
        "docker-registry",
        "regcred",
        f"--docker-server={host}",
        f"--docker-username={user}",
        f"--docker-password={password}",
    )
    c = box("c", IDLE, image=image, imagePullPolicy="Always")
    anonymous = pod_obj("anonymous", {"containers": [c]})
    with_secret = pod_obj(
        "authorized",
        {
            "terminationGracePeriodSeconds": 2,
            "imagePullSecrets": [{"name": "regcred"}],
            "containers": [c],
        },
    )
    apply(rc, ns, anonymous, with_secret)
    until(
        "the anonymous pull refused",
        lambda: waiting_reason(rc, ns, "anonymous") in ("ErrImagePull", "ImagePullBackOff"),
    )
    failed = event_with(rc, ns, "anonymous", "Failed", f'Failed to pull image "{image}"')
    assert failed is not None and "401 Unauthorized" in failed["message"]
    until("the authorized pull running", lambda: running(rc, ns, "authorized"))
    assert event_with(rc, ns, "authorized", "Pulled", f'Successfully pulled image "{image}"')


def test_never_pull_and_invalid_image_name(rc: RealCluster, ns: str) -> None:
    never = box("c", IDLE, image="pyk8s.local/absent:1.0", imagePullPolicy="Never")
    invalid = box("c", IDLE, image="pyk8s.local/Not_Valid:1.0")
    apply(
        rc,
        ns,
        pod_obj("never", {"containers": [never]}),
        pod_obj("invalid", {"containers": [invalid]}),
    )
    until("ErrImageNeverPull", lambda: waiting_reason(rc, ns, "never") == "ErrImageNeverPull")
    until("InvalidImageName", lambda: waiting_reason(rc, ns, "invalid") == "InvalidImageName")
    assert get_row(rc, ns, "never")["STATUS"] == "ErrImageNeverPull"
    assert get_row(rc, ns, "invalid")["STATUS"] == "InvalidImageName"
    never_event = event_with(rc, ns, "never", "ErrImageNeverPull")
    assert never_event is not None
    assert never_event["message"] == (
        'Container image "pyk8s.local/absent:1.0" is not present with pull policy of Never'
    )
    msg = status_of(get_pod(rc, ns, "invalid"), "c")["state"]["waiting"]["message"]
    assert msg.startswith('Failed to apply default image tag "pyk8s.local/Not_Valid:1.0"')
