"""The kubelet on a real containerd, in a real cluster: pods run, become Ready and serve;
crash loops back off; deletion stops and removes everything; a restarted kubelet adopts
its pods without restarting them and kills those that went away meanwhile; static pods
get mirror pods."""

from __future__ import annotations

import itertools
import re
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kubelet.cri_node.nodeharness import CGROUP_ROOT, Node, eventually
from pyk8s.client.testing import wait_until
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient
from pyk8s.kubelet.hostcleanup import CGROUP_FS

Obj = dict[str, Any]
TESTBOX = "pyk8s.local/testbox:1.0"
_ns = itertools.count()


@pytest.fixture
def ns(node: Node, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = re.sub("[^a-z0-9-]+", "-", request.node.name.lower())[:30].strip("-")
    name = f"kt{next(_ns)}-{slug}"
    status, body, _ = node.cluster.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    assert status == 201, body
    yield name
    # every test deletes its pods; make sure nothing is left running on the node
    status, body, _ = node.cluster.request("GET", f"/api/v1/namespaces/{name}/pods")
    for pod in body.get("items", []):
        node.cluster.request(
            "DELETE",
            f"/api/v1/namespaces/{name}/pods/{pod['metadata']['name']}",
            {"gracePeriodSeconds": 0},
        )


@pytest.fixture
async def cri(node: Node) -> AsyncIterator[CRIClient]:
    client = await node.cri()
    try:
        yield client
    finally:
        await client.close()


def make_pod(name: str, *containers: Obj, grace: int = 2, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": grace, "containers": list(containers), **spec},
    }


def create(node: Node, ns: str, pod: Obj) -> Obj:
    status, body, _ = node.cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert status == 201, body
    return dict(body)


def get(node: Node, ns: str, name: str) -> Obj | None:
    status, body, _ = node.cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    return dict(body) if status == 200 else None


def condition(pod: Obj | None, kind: str) -> str | None:
    for c in ((pod or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status"))
    return None


def container_status(pod: Obj | None, index: int = 0) -> Obj:
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[index])


async def runtime_things(cri: CRIClient, uid: str) -> tuple[list[Any], list[Any]]:
    selector = {"io.kubernetes.pod.uid": uid}
    sandboxes = await cri.call(
        cri.runtime.ListPodSandbox,
        api_pb2.ListPodSandboxRequest(filter=api_pb2.PodSandboxFilter(label_selector=selector)),
    )
    containers = await cri.call(
        cri.runtime.ListContainers,
        api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(label_selector=selector)),
    )
    return list(sandboxes.items), list(containers.containers)


def events_of(node: Node, ns: str, name: str) -> list[tuple[str, str]]:
    _, body, _ = node.cluster.request(
        "GET", f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{name}"
    )
    return [(e["reason"], e["message"]) for e in body.get("items", [])]


def kubelet_metric(node: Node, name: str) -> float:
    ctx = node.cluster.ssl_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(
        f"https://127.0.0.1:{node.port}/metrics", context=ctx, timeout=5
    ) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


WEB = {
    "name": "web",
    "image": TESTBOX,
    "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
    "ports": [{"containerPort": 8080}],
    "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
    "livenessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2},
}
SLEEPER = {
    "name": "s",
    "image": TESTBOX,
    "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
}


async def test_web_pod_runs_ready_and_serves(node: Node, ns: str, cri: CRIClient) -> None:
    create(node, ns, make_pod("web", WEB))
    await wait_until(lambda: condition(get(node, ns, "web"), "Ready") == "True", timeout=60)
    pod = get(node, ns, "web")
    assert pod is not None
    st = pod["status"]
    assert st["phase"] == "Running"
    assert st["hostIP"] == "127.0.0.1"
    assert st["podIP"].startswith("10.244.20")  # from the test cluster's pod CIDRs
    assert [c["type"] for c in st["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    cs = container_status(pod)
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["containerID"].startswith("containerd://")
    assert "running" in cs["state"]
    assert st["qosClass"] == "BestEffort"

    with urllib.request.urlopen(f"http://{st['podIP']}:8080/", timeout=5) as r:
        assert b"pyk8s testbox" in r.read()

    out = node.cluster.kubectl(
        "exec", "-n", ns, "web", "--", "sh", "-c", "echo hi from $(hostname)"
    )
    assert out.stdout.strip() == "hi from web"

    reasons = [r for r, _ in events_of(node, ns, "web")]
    for wanted in ("Scheduled", "Pulled", "Created", "Started"):
        assert wanted in reasons

    uid = pod["metadata"]["uid"]
    sandboxes, containers = await runtime_things(cri, uid)
    assert len(sandboxes) == 1 and len(containers) == 1
    assert dict(sandboxes[0].labels)["io.kubernetes.pod.name"] == "web"
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/web")
    await wait_until(lambda: get(node, ns, "web") is None, timeout=30)


async def test_crash_loop_backs_off(node: Node, ns: str) -> None:
    crash = {
        "name": "c",
        "image": TESTBOX,
        "command": ["sh", "-c", "echo run $(date +%s%N); echo bye > /dev/termination-log; exit 3"],
    }
    create(node, ns, make_pod("crash", crash, grace=1))

    def looping() -> bool:
        cs = container_status(get(node, ns, "crash"))
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return cs.get("restartCount", 0) >= 2 and waiting.get("reason") == "CrashLoopBackOff"

    await wait_until(looping, timeout=60)
    pod = get(node, ns, "crash")
    cs = container_status(pod)
    message = cs["state"]["waiting"]["message"]
    uid = pod["metadata"]["uid"] if pod else ""
    assert re.fullmatch(
        rf"back-off (10|20|40)s restarting failed container=c pod=crash_{ns}\({uid}\)", message
    ), message
    last = cs["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"], last["message"]) == (3, "Error", "bye\n")
    assert pod is not None and pod["status"]["phase"] == "Running"
    previous = node.cluster.kubectl("logs", "-n", ns, "crash", "--previous").stdout
    assert previous.startswith("run ")
    assert (
        "BackOff",
        f"Back-off restarting failed container c in pod crash_{ns}({uid})",
    ) in events_of(node, ns, "crash")
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/crash")
    await wait_until(lambda: get(node, ns, "crash") is None, timeout=30)


async def test_deletion_stops_and_removes_everything(node: Node, ns: str, cri: CRIClient) -> None:
    create(node, ns, make_pod("graceful", SLEEPER, grace=10))
    stubborn = {"name": "s", "image": TESTBOX, "command": ["sleep", "3600"]}  # ignores SIGTERM
    create(node, ns, make_pod("forced", stubborn, grace=300))
    for name in ("graceful", "forced"):
        await wait_until(lambda n=name: condition(get(node, ns, n), "Ready") == "True", timeout=60)
    uids = {n: (get(node, ns, n) or {})["metadata"]["uid"] for n in ("graceful", "forced")}
    for uid in uids.values():
        sandboxes, containers = await runtime_things(cri, uid)
        assert len(sandboxes) == 1 and len(containers) == 1

    node.cluster.kubectl("delete", "pod", "-n", ns, "graceful", "--wait=false")
    node.cluster.kubectl("delete", "pod", "-n", ns, "forced", "--grace-period=0", "--force")
    assert get(node, ns, "forced") is None  # gone from the API at once
    await wait_until(lambda: get(node, ns, "graceful") is None, timeout=30)
    assert ("Killing", "Stopping container s") in events_of(node, ns, "graceful")

    async def nothing_left() -> bool:
        for uid in uids.values():
            sandboxes, containers = await runtime_things(cri, uid)
            if sandboxes or containers:
                return False
        return True

    await eventually(nothing_left, timeout=30, node=node)
    for uid in uids.values():
        assert not list(CGROUP_FS.glob(f"*/{CGROUP_ROOT}/kubepods/*/pod{uid}"))


async def test_restarted_kubelet_adopts_its_pods(node: Node, ns: str, cri: CRIClient) -> None:
    create(node, ns, make_pod("keep", WEB))
    create(node, ns, make_pod("gone", SLEEPER))
    for name in ("keep", "gone"):
        await wait_until(lambda n=name: condition(get(node, ns, n), "Ready") == "True", timeout=60)
    keep = get(node, ns, "keep")
    gone = get(node, ns, "gone")
    assert keep is not None and gone is not None
    before = container_status(keep)
    sandboxes_before, _ = await runtime_things(cri, keep["metadata"]["uid"])

    node.stop()
    status, body, _ = node.cluster.request(
        "DELETE", f"/api/v1/namespaces/{ns}/pods/gone", {"gracePeriodSeconds": 0}
    )
    assert status == 200, body
    node.start()
    await wait_until(
        lambda: (
            kubelet_metric(node, 'kubelet_pod_worker_duration_seconds_count{operation="sync"}') >= 1
        ),
        timeout=30,
    )

    async def orphan_killed() -> bool:
        sandboxes, containers = await runtime_things(cri, gone["metadata"]["uid"])
        return not sandboxes and not containers

    await eventually(orphan_killed, timeout=30, node=node)

    after = container_status(get(node, ns, "keep"))
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == 0 and after["ready"]
    sandboxes_after, containers_after = await runtime_things(cri, keep["metadata"]["uid"])
    assert [s.id for s in sandboxes_after] == [s.id for s in sandboxes_before]
    assert len(containers_after) == 1
    starts = [m for r, m in events_of(node, ns, "keep") if r == "Started"]
    assert len(starts) == 1
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/keep")
    await wait_until(lambda: get(node, ns, "keep") is None, timeout=30)


async def test_static_pod_and_its_mirror(node: Node, cri: CRIClient) -> None:
    manifest = node.data_dir / "manifests" / "static.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: stat, namespace: default}\n"
        "spec:\n  terminationGracePeriodSeconds: 1\n  containers:\n"
        f"  - name: s\n    image: {TESTBOX}\n    imagePullPolicy: IfNotPresent\n"
        "    command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n"
    )
    name = f"stat-{node.name}"
    try:
        await wait_until(
            lambda: condition(get(node, "default", name), "Ready") == "True", timeout=60
        )
        mirror = get(node, "default", name)
        assert mirror is not None
        annotations = mirror["metadata"]["annotations"]
        assert annotations["kubernetes.io/config.source"] == "file"
        static_uid = annotations["kubernetes.io/config.mirror"]
        assert annotations["kubernetes.io/config.hash"] == static_uid
        assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
        sandboxes, _ = await runtime_things(cri, static_uid)
        assert len(sandboxes) == 1
    finally:
        manifest.unlink()
    await wait_until(lambda: get(node, "default", name) is None, timeout=30)


async def test_init_containers_config_and_volume_updates(node: Node, ns: str) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"greeting": "hello", "file.txt": "v1"},
    }
    status, body, _ = node.cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    assert status == 201, body
    init = {
        "name": "init",
        "image": TESTBOX,
        "command": ["sh", "-c", "echo prepared > /work/marker"],
        "volumeMounts": [{"name": "work", "mountPath": "/work"}],
    }
    main = {
        **SLEEPER,
        "name": "main",
        "env": [
            {
                "name": "GREETING",
                "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}},
            }
        ],
        "command": [
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo $GREETING $(cat /work/marker); while true; do sleep 1; done",
        ],
        "volumeMounts": [
            {"name": "work", "mountPath": "/work"},
            {"name": "cfg", "mountPath": "/cfg"},
        ],
    }
    pod = make_pod(
        "init",
        main,
        initContainers=[init],
        volumes=[{"name": "work", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}}],
    )
    create(node, ns, pod)
    await wait_until(lambda: condition(get(node, ns, "init"), "Ready") == "True", timeout=60)
    got = get(node, ns, "init")
    assert got is not None
    init_status = got["status"]["initContainerStatuses"][0]
    assert init_status["state"]["terminated"]["reason"] == "Completed"
    logs = node.cluster.kubectl("logs", "-n", ns, "init", "-c", "main").stdout
    assert logs.strip() == "hello prepared"

    def read_cfg() -> str:
        out = node.cluster.kubectl(
            "exec", "-n", ns, "init", "-c", "main", "--", "cat", "/cfg/file.txt"
        )
        return out.stdout

    assert read_cfg() == "v1"
    node.cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{ns}/configmaps/cfg",
        {"data": {"file.txt": "v2"}},
        content_type="application/merge-patch+json",
    )
    await wait_until(lambda: read_cfg() == "v2", timeout=40)
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/init")
    await wait_until(lambda: get(node, ns, "init") is None, timeout=30)


async def test_host_network_pod(node: Node, ns: str) -> None:
    from cluster import free_port

    port = free_port()
    web = {
        "name": "web",
        "image": TESTBOX,
        "command": ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/var/www"],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    }
    create(node, ns, make_pod("hostnet", web, hostNetwork=True))
    await wait_until(lambda: condition(get(node, ns, "hostnet"), "Ready") == "True", timeout=60)
    got = get(node, ns, "hostnet")
    assert got is not None and got["status"]["podIP"] == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        assert b"pyk8s testbox" in r.read()
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/hostnet")
    await wait_until(lambda: get(node, ns, "hostnet") is None, timeout=30)


async def test_pod_that_completes_succeeds_and_keeps_its_logs(
    node: Node, ns: str, cri: CRIClient
) -> None:
    job = {"name": "c", "image": TESTBOX, "command": ["sh", "-c", "echo done"]}
    create(node, ns, make_pod("once", job, restartPolicy="Never"))

    def phase() -> str | None:
        return ((get(node, ns, "once") or {}).get("status") or {}).get("phase")

    await wait_until(lambda: phase() == "Succeeded", timeout=60)
    pod = get(node, ns, "once")
    assert pod is not None
    cs = container_status(pod)
    assert cs["state"]["terminated"]["reason"] == "Completed"
    assert cs["state"]["terminated"]["exitCode"] == 0
    assert condition(pod, "Ready") == "False"
    assert node.cluster.kubectl("logs", "-n", ns, "once").stdout == "done\n"
    sandboxes, _ = await runtime_things(cri, pod["metadata"]["uid"])
    assert [s.state for s in sandboxes] == [api_pb2.SANDBOX_NOTREADY]
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/once")
    await wait_until(lambda: get(node, ns, "once") is None, timeout=30)

    async def removed() -> bool:
        sandboxes, containers = await runtime_things(cri, pod["metadata"]["uid"])
        return not sandboxes and not containers

    await eventually(removed, timeout=30, node=node)


async def test_resources_reach_the_cgroups_and_oom_kills_show(node: Node, ns: str) -> None:
    limits = {"cpu": "250m", "memory": "32Mi"}
    hog = {
        "name": "hog",
        "image": TESTBOX,
        "command": ["sh", "-c", "sleep 1; head -c 200000000 /dev/zero | tail"],
        "resources": {"requests": limits, "limits": limits},
    }
    create(node, ns, make_pod("oom", hog, restartPolicy="Never"))

    def terminated() -> Obj:
        return dict(
            (container_status(get(node, ns, "oom")).get("state") or {}).get("terminated") or {}
        )

    await wait_until(lambda: bool(terminated()), timeout=60)
    pod = get(node, ns, "oom")
    assert pod is not None
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert (terminated()["reason"], terminated()["exitCode"]) == ("OOMKilled", 137)
    assert pod["status"]["phase"] == "Failed"
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/oom")
    await wait_until(lambda: get(node, ns, "oom") is None, timeout=30)


async def test_container_limits_are_applied(node: Node, ns: str) -> None:
    limits = {"cpu": "250m", "memory": "64Mi"}
    ctr = {
        **SLEEPER,
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": limits},
    }
    create(node, ns, make_pod("limited", ctr))
    await wait_until(lambda: condition(get(node, ns, "limited"), "Ready") == "True", timeout=60)
    pod = get(node, ns, "limited")
    assert pod is not None and pod["status"]["qosClass"] == "Burstable"
    uid = pod["metadata"]["uid"]
    cid = container_status(pod)["containerID"].removeprefix("containerd://")
    base = CGROUP_FS / "memory" / CGROUP_ROOT / "kubepods" / "burstable" / f"pod{uid}" / cid
    assert (base / "memory.limit_in_bytes").read_text().strip() == str(64 * 1024 * 1024)
    cpu = CGROUP_FS / "cpu" / CGROUP_ROOT / "kubepods" / "burstable" / f"pod{uid}" / cid
    assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "25000"
    assert (cpu / "cpu.shares").read_text().strip() == "102"
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/limited")
    await wait_until(lambda: get(node, ns, "limited") is None, timeout=30)


async def test_missing_config_waits_then_starts(node: Node, ns: str) -> None:
    ctr = {
        **SLEEPER,
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "x"}}}],
    }
    create(node, ns, make_pod("waiter", ctr))

    def waiting_reason() -> str | None:
        state = container_status(get(node, ns, "waiter")).get("state") or {}
        return (state.get("waiting") or {}).get("reason")

    await wait_until(lambda: waiting_reason() == "CreateContainerConfigError", timeout=60)
    state = container_status(get(node, ns, "waiter"))["state"]["waiting"]
    assert state["message"] == 'configmap "later" not found'
    assert ("Failed", 'Error: configmap "later" not found') in events_of(node, ns, "waiter")
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "later"},
        "data": {"x": "1"},
    }
    status, body, _ = node.cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    assert status == 201, body
    await wait_until(lambda: condition(get(node, ns, "waiter"), "Ready") == "True", timeout=60)
    node.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/waiter")
    await wait_until(lambda: get(node, ns, "waiter") is None, timeout=30)
