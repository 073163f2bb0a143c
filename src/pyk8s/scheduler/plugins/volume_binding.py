"""VolumeBinding (PreFilter, Filter, Reserve, PreBind): the pod's PersistentVolumeClaims
must be usable on the node.

PreFilter: a claim that does not exist or is being deleted, or an unbound claim whose
StorageClass binds immediately (the PV controller has not bound it yet), makes the pod
unschedulable everywhere. Filter: a bound claim's PV must exist and its
``nodeAffinity`` must match the node; an unbound ``WaitForFirstConsumer`` claim needs
either an Available PV of its class, size, access modes and node affinity, or a
StorageClass that can provision (not ``kubernetes.io/no-provisioner``) whose
``allowedTopologies`` admit the node. PreBind carries the decision out: it binds a chosen
PV (``spec.claimRef``) or asks for provisioning on the node (the
``volume.kubernetes.io/selected-node`` annotation on the claim).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.scheduler import resources
from pyk8s.scheduler.framework import CycleState, Framework
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.plugins.node_affinity import node_matches_terms, term_matches
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Status

__all__ = [
    "ERR_REASON_BIND_CONFLICT",
    "ERR_REASON_NODE_CONFLICT",
    "ERR_REASON_PV_NOT_EXIST",
    "VolumeBinding",
    "find_matching_pv",
    "pv_fits_node",
]

NAME = "VolumeBinding"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = (
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
)
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
Obj = Mapping[str, Any]


def pv_fits_node(pv: Obj, node: NodeInfo) -> bool:
    req = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not req:
        return True
    return node_matches_terms(req.get("nodeSelectorTerms") or (), node.labels, node.name)


def _storage(obj: Obj, path: str) -> int:
    spec = obj.get("spec") or {}
    raw = (
        spec.get("capacity")
        if path == "capacity"
        else (spec.get("resources") or {}).get("requests")
    ) or {}
    return resources.parse_resource_list(raw, only_tracked=False).get("storage", 0)


def find_matching_pv(pvc: Obj, node: NodeInfo, snapshot: Snapshot, taken: set[str]) -> str | None:
    """The smallest Available PV that can satisfy ``pvc`` on ``node`` (upstream's
    FindMatchingVolume, without label selectors on claims beyond matchLabels)."""
    meta, spec = pvc.get("metadata") or {}, pvc.get("spec") or {}
    want_class = spec.get("storageClassName") or ""
    want_size = _storage(pvc, "requests")
    want_modes = set(spec.get("accessModes") or ())
    want_mode = spec.get("volumeMode") or "Filesystem"
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    best: tuple[int, str] | None = None
    for name, pv in snapshot.pvs.items():
        pspec = pv.get("spec") or {}
        ref = pspec.get("claimRef")
        if name in taken or (pv.get("status") or {}).get("phase") not in (None, "Available"):
            continue
        if ref and (ref.get("namespace"), ref.get("name")) != (
            meta.get("namespace"),
            meta.get("name"),
        ):
            continue
        if (pspec.get("storageClassName") or "") != want_class:
            continue
        if (pspec.get("volumeMode") or "Filesystem") != want_mode:
            continue
        if not want_modes <= set(pspec.get("accessModes") or ()):
            continue
        labels = (pv.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        size = _storage(pv, "capacity")
        if size < want_size or not pv_fits_node(pv, node):
            continue
        if best is None or (size, name) < best:
            best = (size, name)
    return best[1] if best else None


def _can_provision(sc: Obj, node: NodeInfo) -> bool:
    if (sc.get("provisioner") or NO_PROVISIONER) == NO_PROVISIONER:
        return False
    topologies = sc.get("allowedTopologies") or ()
    if not topologies:
        return True
    for t in topologies:
        exprs = [
            {"key": e.get("key"), "operator": "In", "values": e.get("values") or []}
            for e in t.get("matchLabelExpressions") or ()
        ]
        if term_matches({"matchExpressions": exprs}, node.labels, node.name):
            return True
    return False


@dataclass
class _Claims:
    bound_pvs: list[str] = field(default_factory=list)
    delayed: list[Obj] = field(default_factory=list)
    decisions: dict[str, list[tuple[Obj, str | None]]] = field(default_factory=dict)

    def clone(self) -> _Claims:
        return self


def claim_names(pod: PodInfo) -> list[str]:
    out = []
    for v in pod.spec.get("volumes") or ():
        if v.get("persistentVolumeClaim"):
            out.append(str(v["persistentVolumeClaim"].get("claimName") or ""))
        elif v.get("ephemeral"):
            out.append(f"{pod.name}-{v.get('name')}")
    return out


class VolumeBinding:
    name = NAME

    def __init__(self, fw: Framework) -> None:
        self.fw = fw

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> VolumeBinding:
        return cls(fw)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        names = claim_names(pod)
        if not names:
            return Status.skip()
        snap, claims = state.snapshot, _Claims()
        immediate = False
        for n in names:
            pvc = snap.pvcs.get(f"{pod.namespace}/{n}")
            if pvc is None:
                return Status.unresolvable(f'persistentvolumeclaim "{n}" not found', plugin=NAME)
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return Status.unresolvable(
                    f'persistentvolumeclaim "{n}" is being deleted', plugin=NAME
                )
            spec = pvc.get("spec") or {}
            if spec.get("volumeName"):
                claims.bound_pvs.append(str(spec["volumeName"]))
                continue
            sc = snap.storage_classes.get(str(spec.get("storageClassName") or ""))
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                claims.delayed.append(pvc)
            else:
                immediate = True
        if immediate:
            return Status.unresolvable(ERR_UNBOUND_IMMEDIATE, plugin=NAME)
        state.write(NAME, claims)
        return Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        claims = state.read(NAME, _Claims)
        if claims is None:
            return Status.success()
        snap = state.snapshot
        for pv_name in claims.bound_pvs:
            pv = snap.pvs.get(pv_name)
            if pv is None:
                return Status.unresolvable(ERR_REASON_PV_NOT_EXIST, plugin=NAME)
            if not pv_fits_node(pv, node):
                return Status.unresolvable(ERR_REASON_NODE_CONFLICT, plugin=NAME)
        taken: set[str] = set()
        decisions: list[tuple[Obj, str | None]] = []
        for pvc in claims.delayed:
            found = find_matching_pv(pvc, node, snap, taken)
            if found is not None:
                taken.add(found)
                decisions.append((pvc, found))
                continue
            sc = snap.storage_classes.get(
                str((pvc.get("spec") or {}).get("storageClassName") or "")
            )
            if sc is None or not _can_provision(sc, node):
                return Status.unresolvable(ERR_REASON_BIND_CONFLICT, plugin=NAME)
            decisions.append((pvc, None))
        claims.decisions[node.name] = decisions
        return Status.success()

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        return Status.success()

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        return None

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        claims = state.read(NAME, _Claims)
        if claims is None or not claims.decisions.get(node_name):
            return Status.skip()
        writer = self.fw.writer
        if writer is None:
            return Status.error("no API writer for volume binding", plugin=NAME)
        for pvc, pv_name in claims.decisions[node_name]:
            meta = pvc.get("metadata") or {}
            ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
            if pv_name is not None:
                ref = {
                    "kind": "PersistentVolumeClaim",
                    "apiVersion": "v1",
                    "namespace": ns,
                    "name": name,
                    "uid": meta.get("uid"),
                }
                await writer.patch("persistentvolumes", "", pv_name, {"spec": {"claimRef": ref}})
            else:
                patch = {"metadata": {"annotations": {SELECTED_NODE: node_name}}}
                await writer.patch("persistentvolumeclaims", ns, name, patch)
        return Status.success()
