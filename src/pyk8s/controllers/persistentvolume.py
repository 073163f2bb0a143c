"""PersistentVolume binder and host-path provisioner (upstream's persistentvolume
controller plus minikube's storage-provisioner, in one controller).

Contract:
- A Pending claim without ``spec.volumeName`` binds to the smallest Available volume that
  fits it (``match_volume``: same storageClassName, every requested access mode, capacity
  at least the request, the claim's selector, same volumeMode). Binding writes the
  volume's ``claimRef`` and phase Bound first, then the claim's ``volumeName`` and status
  Bound with the volume's capacity and access modes, with upstream's annotations.
- No fit, and the claim's class is provisioned by ``PROVISIONER`` with binding mode
  Immediate (or WaitForFirstConsumer once the scheduler picked a node): a hostPath volume
  ``pvc-<claim uid>`` is created under ``root/<namespace>/<claim>``, pre-bound to the claim.
- A Bound volume whose claim is gone becomes Released; with reclaimPolicy Delete it is
  deleted (and a directory this controller provisioned is removed).
- The default StorageClass ``standard`` (like minikube's) exists while the controller
  runs; it is created when missing and never modified.
``match_volume`` and ``plan_*`` are pure; ``sync`` applies what they decide.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pyk8s.api import selectors
from pyk8s.api.validation.quantity import parse_quantity
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext

__all__ = ["PROVISIONER", "PersistentVolumeController", "match_volume", "new"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PVS = paths.resource_for("", "v1", "persistentvolumes", namespaced=False, kind="PersistentVolume")
PVCS = paths.resource_for("", "v1", "persistentvolumeclaims", kind="PersistentVolumeClaim")
CLASSES = paths.resource_for(
    "storage.k8s.io", "v1", "storageclasses", namespaced=False, kind="StorageClass"
)
PROVISIONER = "k8s.io/minikube-hostpath"
DEFAULT_CLASS: Obj = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "standard",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"},
    },
    "provisioner": PROVISIONER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def new(ctx: ControllerContext) -> Controller:
    root = ctx.options.extra.get("hostpath-root", "/tmp/hostpath-provisioner")
    return PersistentVolumeController(
        client=ctx.client, informers=ctx.informers, clock=ctx.clock, root=Path(root)
    )


def _quantity(v: Any) -> float:
    try:
        return float(parse_quantity(v).value)
    except Exception:
        return 0.0


def _class_of(obj: Mapping[str, Any]) -> str:
    spec = obj.get("spec") or {}
    return str(spec.get("storageClassName") or "")


def match_volume(claim: Mapping[str, Any], volumes: Iterable[Mapping[str, Any]]) -> Obj | None:
    """The smallest Available volume that satisfies the claim, or None."""
    spec = claim.get("spec") or {}
    request = _quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage", 0))
    modes = set(spec.get("accessModes") or [])
    mode = spec.get("volumeMode") or "Filesystem"
    sel_obj = spec.get("selector")
    sel = selectors.from_label_selector_obj(sel_obj) if sel_obj else None
    best: Obj | None = None
    best_size = 0.0
    for v in volumes:
        vs = v.get("spec") or {}
        if (v.get("status") or {}).get("phase", "Available") != "Available" or vs.get("claimRef"):
            continue
        if _class_of(v) != _class_of(claim):
            continue
        if not modes <= set(vs.get("accessModes") or []):
            continue
        if (vs.get("volumeMode") or "Filesystem") != mode:
            continue
        size = _quantity((vs.get("capacity") or {}).get("storage", 0))
        if size < request:
            continue
        if sel is not None and not sel.matches((v.get("metadata") or {}).get("labels") or {}):
            continue
        if best is None or size < best_size:
            best, best_size = dict(v), size
    return best


def claim_ref(claim: Mapping[str, Any]) -> Obj:
    meta = claim.get("metadata") or {}
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "apiVersion": "v1",
        "resourceVersion": meta.get("resourceVersion"),
    }


def provisioned_volume(claim: Mapping[str, Any], cls: Mapping[str, Any], root: Path) -> Obj:
    meta = claim.get("metadata") or {}
    spec = claim.get("spec") or {}
    path = root / str(meta.get("namespace")) / str(meta.get("name"))
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta.get('uid')}",
            "annotations": {
                "pv.kubernetes.io/provisioned-by": PROVISIONER,
                "hostPathProvisionerIdentity": "pyk8s",
            },
        },
        "spec": {
            "capacity": {
                "storage": ((spec.get("resources") or {}).get("requests") or {}).get(
                    "storage", "1Gi"
                )
            },
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": cls.get("reclaimPolicy") or "Delete",
            "storageClassName": _class_of(claim),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": str(path), "type": ""},
            "claimRef": claim_ref(claim),
        },
    }


class PersistentVolumeController:
    name = "persistentvolume-binder-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        root: Path = Path("/tmp/hostpath-provisioner"),
    ) -> None:
        self.client = client
        self.root = root
        self.pvs = informers.informer(PVS)
        self.pvcs = informers.informer(PVCS)
        self.classes = informers.informer(CLASSES)
        self.queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(name=self.name, clock=clock)
        self.pvcs.on_change(self._claim_changed)
        self.pvs.on_change(self._volume_changed)
        self.classes.on_change(lambda _c: self._claims_again())

    def _claim_changed(self, claim: Obj) -> None:
        self.queue.add("claim/" + str(ObjectKey.of(claim)))
        volume = (claim.get("spec") or {}).get("volumeName")
        if volume:  # a deleted claim releases its volume
            self.queue.add("volume/" + volume)

    def _volume_changed(self, volume: Obj) -> None:
        self.queue.add("volume/" + str(ObjectKey.of(volume)))
        if (volume.get("status") or {}).get("phase") == "Available":
            self._claims_again()  # a volume became free: unbound claims may fit now

    def _claims_again(self) -> None:
        for c in self.pvcs.list():
            if not (c.get("spec") or {}).get("volumeName"):
                self.queue.add("claim/" + str(ObjectKey.of(c)))

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        await self.pvs.wait_synced()
        await self.pvcs.wait_synced()
        await self.classes.wait_synced()
        if self.classes.get(ObjectKey("", "standard")) is None:
            try:
                await self.client.create(CLASSES, DEFAULT_CLASS)
            except errors.AlreadyExists:
                pass
        await workqueue.run_workers(self.queue, self.sync, 1)

    async def sync(self, item: str) -> None:
        kind, _, key = item.partition("/")
        if kind == "claim":
            ns, _, name = key.partition("/")
            claim = self.pvcs.get(ObjectKey(ns, name))
            if claim is not None:
                await self._sync_claim(claim)
        else:
            volume = self.pvs.get(ObjectKey("", key))
            if volume is not None:
                await self._sync_volume(volume)

    async def _sync_claim(self, claim: Obj) -> None:
        spec = claim.get("spec") or {}
        if spec.get("volumeName") or (claim["metadata"].get("deletionTimestamp")):
            return
        volume = match_volume(claim, self.pvs.list())
        if volume is None:
            cls = self.classes.get(ObjectKey("", _class_of(claim))) if _class_of(claim) else None
            if cls is None or cls.get("provisioner") != PROVISIONER:
                return
            if cls.get("volumeBindingMode") == "WaitForFirstConsumer" and SELECTED_NODE not in (
                claim["metadata"].get("annotations") or {}
            ):
                return
            volume = provisioned_volume(claim, cls, self.root)
            os.makedirs(volume["spec"]["hostPath"]["path"], mode=0o777, exist_ok=True)
            try:
                volume = await self.client.create(PVS, volume)
            except errors.AlreadyExists:
                return
            log.info(
                "provisioned %s for claim %s/%s",
                volume["metadata"]["name"],
                claim["metadata"]["namespace"],
                claim["metadata"]["name"],
            )
        await self._bind(claim, volume)

    async def _bind(self, claim: Obj, volume: Obj) -> None:
        vname = volume["metadata"]["name"]
        vspec = volume.get("spec") or {}
        if not vspec.get("claimRef"):
            try:
                volume = await self.client.patch(
                    PVS,
                    vname,
                    {
                        "metadata": {
                            "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}
                        },
                        "spec": {"claimRef": claim_ref(claim)},
                    },
                )
            except errors.ApiError:
                return
        await self.client.patch(PVS, vname, {"status": {"phase": "Bound"}}, subresource="status")
        meta = claim["metadata"]
        await self.client.patch(
            PVCS,
            meta["name"],
            namespace=meta["namespace"],
            patch={
                "metadata": {
                    "annotations": {
                        "pv.kubernetes.io/bind-completed": "yes",
                        "pv.kubernetes.io/bound-by-controller": "yes",
                    }
                },
                "spec": {"volumeName": vname},
            },
        )
        await self.client.patch(
            PVCS,
            meta["name"],
            namespace=meta["namespace"],
            subresource="status",
            patch={
                "status": {
                    "phase": "Bound",
                    "accessModes": vspec.get("accessModes") or [],
                    "capacity": vspec.get("capacity") or {},
                }
            },
        )
        log.info("bound claim %s/%s to volume %s", meta["namespace"], meta["name"], vname)

    async def _sync_volume(self, volume: Obj) -> None:
        spec = volume.get("spec") or {}
        ref = spec.get("claimRef")
        phase = (volume.get("status") or {}).get("phase")
        name = volume["metadata"]["name"]
        if not ref:
            if phase in (None, "Pending"):
                await self.client.patch(
                    PVS, name, {"status": {"phase": "Available"}}, subresource="status"
                )
            return
        claim = self.pvcs.get(ObjectKey(ref.get("namespace", ""), ref.get("name", "")))
        if claim is not None and claim["metadata"].get("uid") == ref.get("uid"):
            if phase != "Bound":
                self.queue.add("claim/" + str(ObjectKey.of(claim)))
            return
        if (claim is None and phase == "Bound") or phase == "Released":
            if phase != "Released":
                await self.client.patch(
                    PVS, name, {"status": {"phase": "Released"}}, subresource="status"
                )
            if spec.get("persistentVolumeReclaimPolicy") == "Delete":
                path = (spec.get("hostPath") or {}).get("path")
                ours = (volume["metadata"].get("annotations") or {}).get(
                    "pv.kubernetes.io/provisioned-by"
                ) == PROVISIONER
                if ours and path and Path(path).is_relative_to(self.root):
                    shutil.rmtree(path, ignore_errors=True)
                try:
                    await self.client.delete(PVS, name)
                except errors.NotFound:
                    pass
