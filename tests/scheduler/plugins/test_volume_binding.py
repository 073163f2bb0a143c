"""VolumeBinding: bound claims with PV node affinity, WaitForFirstConsumer claims,
immediate unbound claims, and PreBind's API writes."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import CycleState
from pyk8s.scheduler.plugins.volume_binding import (
    ERR_REASON_BIND_CONFLICT,
    ERR_REASON_NODE_CONFLICT,
    ERR_REASON_PV_NOT_EXIST,
    VolumeBinding,
)
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.testing import filter_all, make_node, make_pod, snapshot_of

ZONE = "topology.kubernetes.io/zone"


class FakeWriter:
    def __init__(self) -> None:
        self.patches: list[tuple[str, str, str, dict[str, Any]]] = []

    async def bind(self, pod: PodInfo, node_name: str) -> None:
        raise AssertionError("not used")

    async def patch(self, resource: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.patches.append((resource, namespace, name, patch))

    async def delete_pod(self, pod: PodInfo) -> None:
        raise AssertionError("not used")


class FakeFw:
    def __init__(self) -> None:
        self.writer = FakeWriter()


def pvc(name: str, *, volume: str = "", sc: str = "local", size: str = "1Gi") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "storageClassName": sc,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"}, "spec": spec}


def pv(
    name: str, *, zone: str | None = None, sc: str = "local", size: str = "1Gi", claim: str = ""
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "storageClassName": sc,
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": size},
    }
    if zone:
        spec["nodeAffinity"] = {
            "required": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
                ]
            }
        }
    if claim:
        spec["claimRef"] = {"namespace": "default", "name": claim}
    return {
        "metadata": {"name": name},
        "spec": spec,
        "status": {"phase": "Bound" if claim else "Available"},
    }


def sc(
    name: str, mode: str, provisioner: str = "kubernetes.io/no-provisioner", **extra: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "provisioner": provisioner,
        "volumeBindingMode": mode,
        **extra,
    }


def with_claims(*names: str) -> dict[str, Any]:
    return make_pod(
        "p",
        spec={"volumes": [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in names]},
    )


def world(objs: list[tuple[str, dict[str, Any]]]) -> Snapshot:
    snap = snapshot_of([make_node("n1", labels={ZONE: "z1"}), make_node("n2", labels={ZONE: "z2"})])
    for kind, o in objs:
        snap.set_object(kind, o)
    return snap


def run(pod: dict[str, Any], objs: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    got = filter_all(VolumeBinding(FakeFw()), pod, world(objs))  # type: ignore[arg-type]
    return {n: "ok" if st.is_success else st.reasons[0] for n, st in got.items()}


WFFC = ("StorageClass", sc("local", "WaitForFirstConsumer"))


@pytest.mark.parametrize(
    ("objs", "expected"),
    [
        pytest.param(
            [],
            {"n1": 'persistentvolumeclaim "data" not found'}
            | {"n2": 'persistentvolumeclaim "data" not found'},
            id="missing-claim",
        ),
        pytest.param(
            [
                ("PersistentVolumeClaim", pvc("data", volume="pv1")),
                ("PersistentVolume", pv("pv1", zone="z2", claim="data")),
            ],
            {"n1": ERR_REASON_NODE_CONFLICT, "n2": "ok"},
            id="bound-pv-node-affinity",
        ),
        pytest.param(
            [("PersistentVolumeClaim", pvc("data", volume="gone"))],
            {"n1": ERR_REASON_PV_NOT_EXIST, "n2": ERR_REASON_PV_NOT_EXIST},
            id="bound-to-missing-pv",
        ),
        pytest.param(
            [("PersistentVolumeClaim", pvc("data")), ("StorageClass", sc("local", "Immediate"))],
            {
                "n1": "pod has unbound immediate PersistentVolumeClaims",
                "n2": "pod has unbound immediate PersistentVolumeClaims",
            },
            id="immediate-unbound",
        ),
        pytest.param(
            [
                ("PersistentVolumeClaim", pvc("data")),
                WFFC,
                ("PersistentVolume", pv("pv1", zone="z1")),
            ],
            {"n1": "ok", "n2": ERR_REASON_BIND_CONFLICT},
            id="wffc-static-pv",
        ),
        pytest.param(
            [
                ("PersistentVolumeClaim", pvc("data", size="5Gi")),
                WFFC,
                ("PersistentVolume", pv("pv1", zone="z1")),
            ],
            {"n1": ERR_REASON_BIND_CONFLICT, "n2": ERR_REASON_BIND_CONFLICT},
            id="wffc-pv-too-small",
        ),
        pytest.param(
            [
                ("PersistentVolumeClaim", pvc("data", sc="csi")),
                (
                    "StorageClass",
                    sc(
                        "csi",
                        "WaitForFirstConsumer",
                        "csi.example.com",
                        allowedTopologies=[
                            {"matchLabelExpressions": [{"key": ZONE, "values": ["z2"]}]}
                        ],
                    ),
                ),
            ],
            {"n1": ERR_REASON_BIND_CONFLICT, "n2": "ok"},
            id="wffc-provisioning-topology",
        ),
    ],
)
def test_filter(objs: list[tuple[str, dict[str, Any]]], expected: dict[str, str]) -> None:
    assert run(with_claims("data"), objs) == expected


def test_no_claims_skips() -> None:
    assert run(make_pod("p"), []) == {"n1": "ok", "n2": "ok"}


async def test_pre_bind_binds_chosen_pv_and_requests_provisioning() -> None:
    snap = world(
        [
            ("PersistentVolumeClaim", pvc("static")),
            ("PersistentVolumeClaim", pvc("dyn", sc="csi")),
            WFFC,
            ("StorageClass", sc("csi", "WaitForFirstConsumer", "csi.example.com")),
            ("PersistentVolume", pv("pv1", zone="z1")),
        ]
    )
    fw = FakeFw()
    pl = VolumeBinding(fw)  # type: ignore[arg-type]
    state = CycleState(snap)
    pod = PodInfo.of(with_claims("static", "dyn"))
    assert pl.pre_filter(state, pod).is_success
    node = snap.get("n1")
    assert node is not None and pl.filter(state, pod, node).is_success
    assert (await pl.pre_bind(state, pod, "n1")).is_success
    assert fw.writer.patches == [
        (
            "persistentvolumes",
            "",
            "pv1",
            {
                "spec": {
                    "claimRef": {
                        "kind": "PersistentVolumeClaim",
                        "apiVersion": "v1",
                        "namespace": "default",
                        "name": "static",
                        "uid": "uid-static",
                    }
                }
            },
        ),
        (
            "persistentvolumeclaims",
            "default",
            "dyn",
            {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n1"}}},
        ),
    ]
