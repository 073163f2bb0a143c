"""Static pods and mirror pods; the Node object; probe results as the sync sees them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubelet.core.builders import container, ctr, pod, state
from pyk8s.kubelet import node, podsync, staticpods
from pyk8s.kubelet.probes import ProbeKind, Result

Obj = dict[str, Any]
RAW = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "Etcd"},
    "spec": {"containers": [{"name": "c", "image": "pyk8s.local/testbox:1.0"}]},
}


def test_static_pod() -> None:
    p = staticpods.static_pod(RAW, node_name="n1", source="/m/etcd.yaml", now=0)
    meta = p["metadata"]
    assert (meta["name"], meta["namespace"]) == ("etcd-n1", "default")
    assert meta["annotations"][staticpods.CONFIG_HASH] == meta["uid"]
    assert meta["annotations"][staticpods.CONFIG_SOURCE] == "file"
    assert p["spec"]["nodeName"] == "n1"
    assert {"operator": "Exists", "effect": "NoExecute"} in p["spec"]["tolerations"]
    assert p["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"  # API defaults
    again = staticpods.static_pod(RAW, node_name="n1", source="/m/etcd.yaml", now=5)
    assert again["metadata"]["uid"] == meta["uid"]
    other = staticpods.static_pod(RAW, node_name="n2", source="/m/etcd.yaml", now=0)
    assert other["metadata"]["uid"] != meta["uid"]


def test_mirror_pod() -> None:
    p = staticpods.static_pod(RAW, node_name="n1", source="/m/etcd.yaml", now=0)
    m = staticpods.mirror_pod(p, "n1", "node-uid")
    assert "uid" not in m["metadata"] and "status" not in m
    assert m["metadata"]["annotations"][staticpods.CONFIG_MIRROR] == p["metadata"]["uid"]
    assert m["metadata"]["ownerReferences"][0]["uid"] == "node-uid"
    assert staticpods.is_mirror(m) and not staticpods.is_mirror(p)


async def test_static_pods_reads_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x:1}]}\n"
    )
    (tmp_path / ".hidden.yaml").write_text("not: [valid")
    (tmp_path / "broken.yaml").write_text("{{{")
    sp = staticpods.StaticPods(tmp_path, node_name="n1")
    assert await sp.refresh()
    assert [p["metadata"]["name"] for p in sp.pods.values()] == ["a-n1"]
    assert not await sp.refresh()
    (tmp_path / "a.yaml").unlink()
    assert await sp.refresh()
    assert sp.pods == {}


MACHINE = node.Machine(
    cpus=4,
    memory=8 * 1024**3,
    storage=100 * 1024**3,
    kernel="6.1.0",
    os_image="Debian GNU/Linux 12 (bookworm)",
    machine_id="m" * 32,
    boot_id="b",
    system_uuid="s",
    arch="amd64",
)


def test_node_object() -> None:
    settings = node.NodeSettings(
        name="n1",
        node_ip="127.0.0.2",
        kubelet_port=10250,
        labels={"zone": "a"},
        taints=[{"key": "k", "effect": "NoSchedule"}],
    )
    n = node.node_object(settings, MACHINE, "containerd://1.6.20", 0.0, None)
    assert n["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    assert n["metadata"]["labels"]["zone"] == "a"
    assert n["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]
    st = n["status"]
    assert st["capacity"]["cpu"] == "4" and st["capacity"]["pods"] == "110"
    assert st["capacity"]["memory"] == "8388608Ki"
    assert st["allocatable"]["memory"] == "8286208Ki"  # less the 100Mi eviction threshold
    assert st["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.2"}
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert st["nodeInfo"]["kubeletVersion"] == "v1.33.0-pyk8s"
    assert st["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20"
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    )


def test_node_conditions_keep_transition_times() -> None:
    first = node.node_conditions(10.0, None, "network not ready")
    later = node.node_conditions(20.0, first, "network not ready")
    ready = next(c for c in later if c["type"] == "Ready")
    assert ready["reason"] == "KubeletNotReady" and ready["message"] == "network not ready"
    assert ready["lastTransitionTime"] == "1970-01-01T00:00:10Z"
    assert ready["lastHeartbeatTime"] == "1970-01-01T00:00:20Z"
    flipped = next(c for c in node.node_conditions(30.0, later, None) if c["type"] == "Ready")
    assert flipped["lastTransitionTime"] == "1970-01-01T00:00:30Z"


class FakeProber:
    def __init__(self, results: dict[tuple[str, ProbeKind], tuple[str, Result]]) -> None:
        self.results = results

    def result(self, uid: str, name: str, kind: ProbeKind) -> tuple[str, Result] | None:
        return self.results.get((name, kind))


def test_probe_state() -> None:
    readiness = {"httpGet": {"port": 80}}
    p = pod(
        container("plain"),
        container("probed", readinessProbe=readiness, livenessProbe=readiness),
        container("slow", startupProbe=readiness, readinessProbe=readiness),
    )
    st = state(ctr("plain", cid="p1"), ctr("probed", cid="p2"), ctr("slow", cid="p3"))
    prober = FakeProber(
        {
            ("probed", ProbeKind.READINESS): ("p2", Result.SUCCESS),
            ("probed", ProbeKind.LIVENESS): ("p2", Result.FAILURE),
            ("slow", ProbeKind.STARTUP): ("old", Result.SUCCESS),  # another instance's
        }
    )
    ps = podsync.probe_state(p, st, prober)  # type: ignore[arg-type]
    assert ps.started == {"p1", "p2"}
    assert ps.ready == {"p1", "p2"}
    assert ps.liveness_failed == {"p2"}


def test_probe_state_keeps_ready_across_a_kubelet_restart() -> None:
    p = pod(
        container("c", readinessProbe={"httpGet": {"port": 80}}),
        status={
            "containerStatuses": [{"name": "c", "containerID": "containerd://c1", "ready": True}]
        },
    )
    ps = podsync.probe_state(p, state(ctr("c", cid="c1")), FakeProber({}))  # type: ignore[arg-type]
    assert ps.ready == {"c1"}
