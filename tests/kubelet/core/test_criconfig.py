"""CRI sandbox and container configs built from a pod (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.core.builders import container, pod
from pyk8s.kubelet import criconfig, podstate
from pyk8s.kubelet.cri import api_pb2

Obj = dict[str, Any]
GIB = 1024**3


def res(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    out: Obj = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


@pytest.mark.parametrize(
    ("resources", "shares", "quota", "memory"),
    [
        pytest.param({}, 2, 0, 0, id="nothing-min-shares"),
        pytest.param(res({"cpu": "250m"}), 256, 0, 0, id="request-shares"),
        pytest.param(res(limits={"cpu": "500m"}), 512, 50_000, 0, id="limit-only"),
        pytest.param(res({"cpu": "1"}, {"cpu": "2"}), 1024, 200_000, 0, id="request-and-limit"),
        pytest.param(res(limits={"cpu": "1m"}), 2, 1000, 0, id="tiny-limit-min-quota"),
        pytest.param(res(limits={"memory": "64Mi"}), 2, 0, 64 * 1024**2, id="memory-limit"),
    ],
)
def test_container_resources(resources: Obj, shares: int, quota: int, memory: int) -> None:
    p = pod(container("c", resources=resources))
    r = criconfig.container_resources(p, p["spec"]["containers"][0], memory_capacity=8 * GIB)
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes) == (
        shares,
        quota,
        100_000,
        memory,
    )


@pytest.mark.parametrize(
    ("resources", "qos", "parent", "oom"),
    [
        pytest.param({}, "BestEffort", "/kp/besteffort/poduid-1", 1000, id="besteffort"),
        pytest.param(
            res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}),
            "Guaranteed",
            "/kp/poduid-1",
            -997,
            id="guaranteed",
        ),
        pytest.param(
            res({"memory": "2Gi"}), "Burstable", "/kp/burstable/poduid-1", 750, id="burstable"
        ),
    ],
)
def test_qos_parent_and_oom_score(resources: Obj, qos: str, parent: str, oom: int) -> None:
    p = pod(container("c", resources=resources))
    assert criconfig.cgroup_parent(p, "/kp") == parent
    assert criconfig.oom_score_adj(p, p["spec"]["containers"][0], 8 * GIB) == oom


def test_sandbox_config() -> None:
    p = pod(
        container("c", ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]),
        securityContext={
            "runAsUser": 1000,
            "fsGroup": 2000,
            "sysctls": [{"name": "a", "value": "1"}],
        },
    )
    p["metadata"]["labels"] = {"app": "web"}
    p["metadata"]["annotations"] = {"note": "x"}
    cfg = criconfig.sandbox_config(
        p,
        attempt=2,
        log_dir="/logs/ns_web_uid-1",
        dns=(["10.96.0.10"], ["ns.svc"], ["ndots:5"]),
        hostname="web",
        cgroup_root="/kubepods",
    )
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid, cfg.metadata.attempt) == (
        "web",
        "ns",
        "uid-1",
        2,
    )
    assert cfg.hostname == "web"
    assert dict(cfg.labels) == {
        "app": "web",
        podstate.POD_NAME: "web",
        podstate.POD_NAMESPACE: "ns",
        podstate.POD_UID: "uid-1",
    }
    assert dict(cfg.annotations) == {"note": "x"}
    assert [(m.container_port, m.host_port) for m in cfg.port_mappings] == [(80, 8080)]
    assert list(cfg.dns_config.servers) == ["10.96.0.10"]
    sc = cfg.linux.security_context
    assert sc.run_as_user.value == 1000 and list(sc.supplemental_groups) == [2000]
    assert sc.namespace_options.network == api_pb2.POD
    assert cfg.linux.cgroup_parent == "/kubepods/besteffort/poduid-1"
    assert dict(cfg.linux.sysctls) == {"a": "1"}


def test_host_network_sandbox_has_no_hostname() -> None:
    p = pod(container("c"), host_network=True, hostPID=True)
    cfg = criconfig.sandbox_config(p, attempt=0, log_dir="/l", dns=None, hostname="web")
    assert cfg.hostname == ""
    opts = cfg.linux.security_context.namespace_options
    assert (opts.network, opts.pid, opts.ipc) == (api_pb2.NODE, api_pb2.NODE, api_pb2.POD)


def test_container_config_labels_annotations_and_security() -> None:
    spec = container(
        "c",
        terminationGracePeriodSeconds=None,
        securityContext={"capabilities": {"add": ["NET_ADMIN"]}, "allowPrivilegeEscalation": False},
        lifecycle={"preStop": {"exec": {"command": ["sleep", "1"]}}},
        tty=True,
    )
    p = pod(spec, terminationGracePeriodSeconds=5, securityContext={"runAsUser": 7})
    cfg = criconfig.container_config(
        p,
        spec,
        restart_count=3,
        image_ref="sha256:abc",
        command=["sh"],
        args=["-c", "true"],
        env=[("A", "1")],
        mounts=[],
        memory_capacity=GIB,
    )
    assert cfg.metadata.attempt == 3 and cfg.log_path == "c/3.log"
    assert cfg.image.image == "sha256:abc"
    assert cfg.image.user_specified_image == "pyk8s.local/testbox:1.0"
    assert dict(cfg.labels)[podstate.CONTAINER_NAME] == "c"
    ann = dict(cfg.annotations)
    assert ann[podstate.RESTART_COUNT] == "3"
    assert ann[podstate.CONTAINER_HASH] == podstate.container_hash(spec)
    assert ann[podstate.TERMINATION_GRACE] == "5"
    assert ann["io.kubernetes.container.preStopHandler"] == '{"exec":{"command":["sleep","1"]}}'
    assert cfg.tty and [(e.key, e.value) for e in cfg.envs] == [("A", "1")]
    sc = cfg.linux.security_context
    assert list(sc.capabilities.add_capabilities) == ["NET_ADMIN"]
    assert sc.no_new_privs and sc.run_as_user.value == 7
    assert "/proc/kcore" in sc.masked_paths


def test_container_hash_tracks_name_and_image_only() -> None:
    a = container("c")
    assert podstate.container_hash(a) == podstate.container_hash({**a, "env": [{"name": "X"}]})
    assert podstate.container_hash(a) != podstate.container_hash({**a, "image": "other:1"})
