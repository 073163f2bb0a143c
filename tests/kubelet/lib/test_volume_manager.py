"""VolumeManager in a temp dir: layout, refresh, PVCs, errors, container mounts, teardown."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.kubelet.envvars import ContainerConfigError
from pyk8s.kubelet.volumes import emptydir
from pyk8s.kubelet.volumes.manager import Mount, VolumeManager, VolumeMountError, container_mounts

Obj = dict[str, Any]


class Cluster:
    """Objects the lookups answer from."""

    def __init__(self) -> None:
        self.configmaps: dict[str, Obj] = {}
        self.secrets: dict[str, Obj] = {}
        self.pvcs: dict[str, Obj] = {}
        self.pvs: dict[str, Obj] = {}
        self.token = "tok-1"
        self.token_calls: list[tuple[str, int]] = []

    async def get_configmap(self, ns: str, name: str) -> Obj | None:
        return self.configmaps.get(name)

    async def get_secret(self, ns: str, name: str) -> Obj | None:
        return self.secrets.get(name)

    async def get_pvc(self, ns: str, name: str) -> Obj | None:
        return self.pvcs.get(name)

    async def get_pv(self, name: str) -> Obj | None:
        return self.pvs.get(name)

    async def token_for(self, pod: Obj, audience: str, expiration: int) -> str:
        self.token_calls.append((audience, expiration))
        return self.token

    def lookups(self) -> dict[str, Any]:
        return {
            "get_configmap": self.get_configmap,
            "get_secret": self.get_secret,
            "token_for": self.token_for,
        }


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[VolumeManager]:
    m = VolumeManager(tmp_path / "pods", node_allocatable={"memory": "1Gi", "cpu": "2"})
    yield m
    for uid in m.pod_uids_on_disk():
        await m.teardown(uid)
    assert emptydir.mounts_under(tmp_path) == []


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def make_pod(volumes: list[Obj], containers: list[Obj] | None = None, uid: str = "uid-1") -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": uid, "labels": {"app": "web"}},
        "spec": {"volumes": volumes, "containers": containers or [{"name": "c"}]},
    }


async def setup(m: VolumeManager, cluster: Cluster, pod: Obj) -> dict[str, str]:
    return await m.setup(pod, get_pvc=cluster.get_pvc, get_pv=cluster.get_pv, **cluster.lookups())


async def test_layout_of_every_kind(manager: VolumeManager, tmp_path: Path) -> None:
    cluster = Cluster()
    cluster.configmaps["cfg"] = {"data": {"app.conf": "x=1"}}
    cluster.secrets["creds"] = {"data": {"password": b64("pw")}}
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    pod = make_pod(
        [
            {"name": "config", "configMap": {"name": "cfg"}},
            {"name": "secret", "secret": {"secretName": "creds", "defaultMode": 0o400}},
            {
                "name": "meta",
                "downwardAPI": {
                    "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
                },
            },
            {
                "name": "token",
                "projected": {
                    "sources": [{"serviceAccountToken": {"path": "token", "audience": "vault"}}]
                },
            },
            {"name": "scratch", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory"}},
            {"name": "host", "hostPath": {"path": str(host_dir), "type": "Directory"}},
        ]
    )
    paths = await setup(manager, cluster, pod)
    base = tmp_path / "pods" / "uid-1" / "volumes"
    assert paths == {
        "config": str(base / "kubernetes.io~configmap" / "config"),
        "secret": str(base / "kubernetes.io~secret" / "secret"),
        "meta": str(base / "kubernetes.io~downward-api" / "meta"),
        "token": str(base / "kubernetes.io~projected" / "token"),
        "scratch": str(base / "kubernetes.io~empty-dir" / "scratch"),
        "mem": str(base / "kubernetes.io~empty-dir" / "mem"),
        "host": str(host_dir),
    }
    assert Path(paths["config"], "app.conf").read_text() == "x=1"
    assert Path(paths["secret"], "password").read_bytes() == b"pw"
    assert os.stat(Path(paths["secret"], "password")).st_mode & 0o777 == 0o400
    assert Path(paths["meta"], "labels").read_text() == 'app="web"'
    assert Path(paths["token"], "token").read_text() == "tok-1"
    assert cluster.token_calls == [("vault", 3600)]
    fstypes = {str(p): t for p, t in emptydir.mounts_under(tmp_path)}
    assert fstypes == {paths["secret"]: "tmpfs", paths["token"]: "tmpfs", paths["mem"]: "tmpfs"}
    # idempotent: a restarted kubelet sets up the same pod again
    assert await setup(manager, cluster, pod) == paths
    assert len(emptydir.mounts_under(tmp_path)) == 3

    await manager.teardown("uid-1")
    assert not (tmp_path / "pods" / "uid-1").exists()
    assert emptydir.mounts_under(tmp_path) == []
    assert host_dir.is_dir()


async def test_refresh_rewrites_changed_contents(manager: VolumeManager) -> None:
    cluster = Cluster()
    cluster.configmaps["cfg"] = {"data": {"k": "v1"}}
    pod = make_pod(
        [
            {"name": "config", "configMap": {"name": "cfg"}},
            {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            {"name": "scratch", "emptyDir": {}},
        ]
    )
    paths = await setup(manager, cluster, pod)
    assert not await manager.refresh(pod, **cluster.lookups())
    cluster.configmaps["cfg"] = {"data": {"k": "v2", "new": "n"}}
    assert await manager.refresh(pod, **cluster.lookups())
    assert Path(paths["config"], "k").read_text() == "v2"
    assert Path(paths["config"], "new").read_text() == "n"
    cluster.token = "tok-2"
    assert await manager.refresh(pod, **cluster.lookups())
    assert Path(paths["tok"], "t").read_text() == "tok-2"
    # a vanished ConfigMap keeps the old files and reports the failure
    del cluster.configmaps["cfg"]
    with pytest.raises(VolumeMountError) as e:
        await manager.refresh(pod, **cluster.lookups())
    assert e.value.messages() == [
        'MountVolume.SetUp failed for volume "config" : configmap "cfg" not found'
    ]
    assert Path(paths["config"], "k").read_text() == "v2"


async def test_setup_failures_name_each_volume(manager: VolumeManager, tmp_path: Path) -> None:
    cluster = Cluster()
    pod = make_pod(
        [
            {"name": "config", "configMap": {"name": "missing"}},
            {"name": "fine", "emptyDir": {}},
            {"name": "host", "hostPath": {"path": str(tmp_path / "nope"), "type": "File"}},
            {"name": "nfs", "nfs": {"server": "x", "path": "/"}},
        ]
    )
    with pytest.raises(VolumeMountError) as e:
        await setup(manager, cluster, pod)
    assert e.value.messages() == [
        'MountVolume.SetUp failed for volume "config" : configmap "missing" not found',
        f'MountVolume.SetUp failed for volume "host" : hostPath type check failed: {tmp_path / "nope"} is not a file',
        'MountVolume.SetUp failed for volume "nfs" : volume "nfs" has an unsupported type',
    ]


def bound(claim: str, pv: str, *, uid: str = "pvc-uid") -> Obj:
    return {
        "metadata": {"name": claim, "namespace": "ns", "uid": uid},
        "spec": {"volumeName": pv},
        "status": {"phase": "Bound"},
    }


async def test_pvc_resolves_to_host_path(manager: VolumeManager, tmp_path: Path) -> None:
    cluster = Cluster()
    data = tmp_path / "pv-data"
    cluster.pvcs["claim"] = bound("claim", "pv-1")
    cluster.pvs["pv-1"] = {
        "metadata": {"name": "pv-1"},
        "spec": {
            "hostPath": {"path": str(data), "type": "DirectoryOrCreate"},
            "claimRef": {"uid": "pvc-uid"},
        },
    }
    local = tmp_path / "local"
    local.mkdir()
    cluster.pvcs["web-scratch"] = {
        **bound("web-scratch", "pv-2", uid="eph"),
        "metadata": {
            "name": "web-scratch",
            "uid": "eph",
            "ownerReferences": [{"kind": "Pod", "name": "web", "uid": "uid-1", "controller": True}],
        },
    }
    cluster.pvs["pv-2"] = {
        "metadata": {"name": "pv-2"},
        "spec": {"local": {"path": str(local)}, "claimRef": {"uid": "eph"}},
    }
    pod = make_pod(
        [
            {"name": "data", "persistentVolumeClaim": {"claimName": "claim", "readOnly": True}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
        ]
    )
    paths = await setup(manager, cluster, pod)
    assert paths == {"data": str(data), "scratch": str(local)}
    assert data.is_dir()


@pytest.mark.parametrize(
    ("pvcs", "pvs", "reason"),
    [
        pytest.param(
            {},
            {},
            'error processing PVC ns/claim: failed to fetch PVC from API server: persistentvolumeclaims "claim" not found',
            id="no-claim",
        ),
        pytest.param(
            {"claim": {"metadata": {"uid": "x"}, "spec": {}, "status": {"phase": "Pending"}}},
            {},
            "error processing PVC ns/claim: PVC is not bound",
            id="unbound",
        ),
        pytest.param(
            {
                "claim": {
                    "metadata": {"uid": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                    "spec": {},
                    "status": {},
                }
            },
            {},
            "error processing PVC ns/claim: PVC is being deleted",
            id="deleting",
        ),
        pytest.param(
            {"claim": bound("claim", "pv-9")},
            {},
            'error processing PVC ns/claim: failed to fetch PV pv-9 from API server: persistentvolumes "pv-9" not found',
            id="no-pv",
        ),
        pytest.param(
            {"claim": bound("claim", "pv-9")},
            {"pv-9": {"spec": {"hostPath": {"path": "/tmp"}, "claimRef": {"uid": "other"}}}},
            "error processing PVC ns/claim: found PV object pv-9 but its pv.Spec.ClaimRef.UID other does not point to claim.UID pvc-uid",
            id="claimref-mismatch",
        ),
    ],
)
async def test_pvc_errors(
    manager: VolumeManager, pvcs: dict[str, Obj], pvs: dict[str, Obj], reason: str
) -> None:
    cluster = Cluster()
    cluster.pvcs, cluster.pvs = pvcs, pvs
    with pytest.raises(VolumeMountError) as e:
        await setup(
            manager,
            cluster,
            make_pod([{"name": "v", "persistentVolumeClaim": {"claimName": "claim"}}]),
        )
    assert e.value.failures == {"v": reason}


# --- container mounts ------------------------------------------------------------------

VOLUMES = [
    {"name": "config", "configMap": {"name": "cfg"}},
    {"name": "data", "emptyDir": {}},
    {"name": "claim", "persistentVolumeClaim": {"claimName": "c", "readOnly": True}},
]
PATHS = {"config": "/v/config", "data": "/v/data", "claim": "/srv/pv"}


@pytest.mark.parametrize(
    ("vm", "expected"),
    [
        pytest.param(
            {"name": "data", "mountPath": "/data"}, Mount("data", "/data", "/v/data"), id="plain"
        ),
        pytest.param(
            {"name": "config", "mountPath": "/etc/app"},
            Mount("config", "/etc/app", "/v/config", readonly=True),
            id="configmap-read-only",
        ),
        pytest.param(
            {"name": "claim", "mountPath": "/srv"},
            Mount("claim", "/srv", "/srv/pv", readonly=True),
            id="pvc-read-only",
        ),
        pytest.param(
            {
                "name": "data",
                "mountPath": "rel",
                "readOnly": True,
                "mountPropagation": "HostToContainer",
            },
            Mount(
                "data",
                "/rel",
                "/v/data",
                readonly=True,
                propagation="PROPAGATION_HOST_TO_CONTAINER",
            ),
            id="relative-path-propagation",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/m", "mountPropagation": "Bidirectional"},
            Mount("data", "/m", "/v/data", propagation="PROPAGATION_BIDIRECTIONAL"),
            id="bidirectional",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/logs", "subPath": "a/b"},
            Mount("data", "/logs", "/v/data/a/b", subpath_of="/v/data"),
            id="subpath",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/logs", "subPathExpr": "$(POD_NAME)"},
            Mount("data", "/logs", "/v/data/web-0", subpath_of="/v/data"),
            id="subpath-expr",
        ),
    ],
)
def test_container_mounts(vm: Obj, expected: Mount) -> None:
    pod = {"spec": {"volumes": VOLUMES}}
    got = container_mounts(
        pod, {"name": "c", "volumeMounts": [vm]}, PATHS, env=[("POD_NAME", "web-0")]
    )
    assert got == [expected]


@pytest.mark.parametrize(
    ("vm", "message"),
    [
        pytest.param(
            {"name": "nope", "mountPath": "/x"},
            'cannot find volume "nope" to mount into container "c"',
            id="unknown-volume",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/x", "subPath": "/abs"},
            "error SubPath `/abs` must not be an absolute path",
            id="absolute-subpath",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/x", "subPath": "a/../../b"},
            "unable to provision SubPath `a/../../b`: must not contain '..'",
            id="backstep",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/x", "subPathExpr": "$(NOPE)"},
            "missing value for NOPE",
            id="subpath-expr-missing",
        ),
        pytest.param(
            {"name": "data", "mountPath": "/x", "mountPropagation": "Sideways"},
            'invalid MountPropagation mode: "Sideways"',
            id="propagation",
        ),
    ],
)
def test_container_mount_errors(vm: Obj, message: str) -> None:
    with pytest.raises(ContainerConfigError) as e:
        container_mounts({"spec": {"volumes": VOLUMES}}, {"name": "c", "volumeMounts": [vm]}, PATHS)
    assert str(e.value) == message


def test_hosts_and_termination_log_mounts() -> None:
    container = {
        "name": "c",
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "terminationMessagePath": "/tmp/msg",
    }
    got = container_mounts(
        {"spec": {"volumes": VOLUMES}},
        container,
        PATHS,
        hosts_file="/p/etc-hosts",
        termination_log="/p/containers/c/1",
    )
    assert got[1:] == [
        Mount("k8s-managed-etc-hosts", "/etc/hosts", "/p/etc-hosts"),
        Mount("termination-log", "/tmp/msg", "/p/containers/c/1"),
    ]
    # a volume mounted over /etc/hosts wins; an empty terminationMessagePath means none
    container = {
        "name": "c",
        "volumeMounts": [{"name": "data", "mountPath": "/etc/hosts"}],
        "terminationMessagePath": "",
    }
    got = container_mounts(
        {"spec": {"volumes": VOLUMES}},
        container,
        PATHS,
        hosts_file="/p/etc-hosts",
        termination_log="/p/x",
    )
    assert [m.container_path for m in got] == ["/etc/hosts"]
    assert got[0].name == "data"


async def test_prepare_container(manager: VolumeManager, tmp_path: Path) -> None:
    cluster = Cluster()
    cluster.configmaps["cfg"] = {"data": {"app.conf": "v1"}}
    pod = make_pod(
        [{"name": "config", "configMap": {"name": "cfg"}}, {"name": "data", "emptyDir": {}}],
        containers=[
            {
                "name": "app",
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
                    {"name": "data", "mountPath": "/logs", "subPathExpr": "logs/$(POD)"},
                ],
            }
        ],
    )
    pod["spec"]["hostname"] = "web-0"
    paths = await setup(manager, cluster, pod)
    container = pod["spec"]["containers"][0]
    mounts = await manager.prepare_container(
        pod, container, paths, env=[("POD", "web")], pod_ips=["10.244.0.9"]
    )
    by_path = {m.container_path: m for m in mounts}
    # the configMap subPath is pinned to the file of this ..data generation
    pinned = Path(by_path["/etc/app.conf"].host_path)
    assert pinned.read_text() == "v1" and "..20" in str(pinned) and not pinned.is_symlink()
    created = Path(by_path["/logs"].host_path)
    assert created == Path(paths["data"]) / "logs" / "web" and created.is_dir()
    hosts = Path(by_path["/etc/hosts"].host_path)
    assert hosts == tmp_path / "pods" / "uid-1" / "etc-hosts"
    assert "10.244.0.9\tweb-0\n" in hosts.read_text()
    log = Path(by_path["/dev/termination-log"].host_path)
    assert log.parent == tmp_path / "pods" / "uid-1" / "containers" / "app"
    assert log.is_file() and log.stat().st_mode & 0o777 == 0o666
    # a second instance of the container gets its own termination-log file
    again = await manager.prepare_container(
        pod, container, paths, env=[("POD", "web")], pod_ips=["10.244.0.9"]
    )
    assert {m.host_path for m in again if m.container_path == "/dev/termination-log"} != {str(log)}
    # the configMap changes: the volume follows, the subPath mount does not
    cluster.configmaps["cfg"] = {"data": {"app.conf": "v2"}}
    assert await manager.refresh(pod, **cluster.lookups())
    assert Path(paths["config"], "app.conf").read_text() == "v2"
    assert not pinned.exists()  # the old generation is gone; the running container keeps its inode


async def test_subpath_symlink_escape_is_refused(manager: VolumeManager, tmp_path: Path) -> None:
    cluster = Cluster()
    pod = make_pod(
        [{"name": "data", "emptyDir": {}}],
        containers=[
            {"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "evil"}]}
        ],
    )
    paths = await setup(manager, cluster, pod)
    os.symlink("/etc", Path(paths["data"]) / "evil")
    with pytest.raises(
        ContainerConfigError,
        match=r'^failed to prepare subPath for volumeMount "data" of container "c"$',
    ):
        await manager.prepare_container(pod, pod["spec"]["containers"][0], paths)


async def test_no_hosts_file_without_pod_ip(manager: VolumeManager) -> None:
    pod = make_pod([])
    mounts = await manager.prepare_container(pod, {"name": "c"}, {})
    assert [m.container_path for m in mounts] == ["/dev/termination-log"]


async def test_teardown_is_idempotent(manager: VolumeManager) -> None:
    await manager.teardown("never-existed")
    assert manager.pod_uids_on_disk() == []


async def test_node_allocatable_may_be_a_callable(tmp_path: Path) -> None:
    allocatable = {"cpu": "3"}
    manager = VolumeManager(tmp_path / "pods", node_allocatable=lambda: allocatable)
    item = {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}}
    pod = make_pod([{"name": "meta", "downwardAPI": {"items": [item]}}])
    try:
        paths = await setup(manager, Cluster(), pod)
        assert Path(paths["meta"], "cpu").read_text() == "3"
        allocatable["cpu"] = "5"
        assert await manager.refresh(pod, **Cluster().lookups())
        assert Path(paths["meta"], "cpu").read_text() == "5"
    finally:
        await manager.teardown("uid-1")


async def test_invalid_item_path_is_a_mount_failure(manager: VolumeManager) -> None:
    cluster = Cluster()
    cluster.configmaps["cfg"] = {"data": {"k": "v"}}
    pod = make_pod(
        [{"name": "config", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "../k"}]}}]
    )
    with pytest.raises(VolumeMountError) as e:
        await setup(manager, cluster, pod)
    assert e.value.failures == {"config": "invalid path: must not contain '..': ../k"}
