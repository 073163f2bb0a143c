"""PV binder and host-path provisioner against a real apiserver: static binding, dynamic
provisioning through the default StorageClass, reclaim on claim deletion."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import ctlharness

from cluster import Cluster
from pyk8s.controllers import persistentvolume as pvc_ctl
from pyk8s.controllers.context import Options


async def test_static_and_dynamic_binding(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    opts = dataclasses.replace(Options(), extra={"hostpath-root": str(tmp_path / "hp")})
    async with ctlharness.running(cluster, pvc_ctl.new, options=opts) as h:
        await h.wait(
            lambda: h.get(pvc_ctl.CLASSES, "", "standard") is not None, message="default class"
        )
        static = f"static-{namespace}"
        await h.client.create(
            pvc_ctl.PVS,
            {
                "metadata": {"name": static},
                "spec": {
                    "capacity": {"storage": "2Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "manual",
                    "hostPath": {"path": str(tmp_path / "static")},
                },
            },
        )
        await h.client.create(
            pvc_ctl.PVCS,
            {
                "metadata": {"name": "s", "namespace": namespace},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "manual",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        await h.wait(
            lambda: (
                ((h.get(pvc_ctl.PVCS, namespace, "s") or {}).get("status") or {}).get("phase")
                == "Bound"
            ),
            message="static bind",
        )
        assert h.get(pvc_ctl.PVCS, namespace, "s")["spec"]["volumeName"] == static  # type: ignore[index]
        # no class named: DefaultStorageClass admission picks "standard", which provisions
        created = await h.client.create(
            pvc_ctl.PVCS,
            {
                "metadata": {"name": "d", "namespace": namespace},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "100Mi"}},
                },
            },
        )
        assert created["spec"]["storageClassName"] == "standard"
        name = f"pvc-{created['metadata']['uid']}"
        await h.wait(
            lambda: (
                ((h.get(pvc_ctl.PVCS, namespace, "d") or {}).get("status") or {}).get("phase")
                == "Bound"
            ),
            message="dynamic bind",
        )
        assert (tmp_path / "hp" / namespace / "d").is_dir()
        await h.client.delete(pvc_ctl.PVCS, "d", namespace=namespace)
        await h.wait(lambda: h.get(pvc_ctl.PVS, "", name) is None, message="reclaimed")
        assert not (tmp_path / "hp" / namespace / "d").exists()
        await h.client.delete(pvc_ctl.PVCS, "s", namespace=namespace)
        await h.wait(
            lambda: (
                ((h.get(pvc_ctl.PVS, "", static) or {}).get("status") or {}).get("phase")
                == "Released"
            ),
            message="retained volume released",
        )
        await h.client.delete(pvc_ctl.PVS, static)
