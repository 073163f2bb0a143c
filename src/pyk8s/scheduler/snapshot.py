"""Snapshot: the scheduler's model of the cluster, kept current by informer events.

It plays upstream's scheduler Cache and Snapshot at once: the scheduler runs on one event
loop and ``schedule_one`` never awaits, so a cycle always sees a consistent state and no
copy per cycle is needed. Contract:

- ``add_node``/``update_node``/``remove_node`` and ``add_pod``/``update_pod``/``remove_pod``
  mirror the informers. Only pods with ``spec.nodeName`` occupy a node; a pod bound to a
  node not yet known is held and counted once the node arrives.
- ``assume_pod`` puts a pod on a node the moment the scheduler picks it, before the
  binding is written, so the next cycle already sees the resources taken; the informer's
  bound pod later replaces the assumed copy (same uid); ``forget_pod`` undoes a failed
  binding.
- ``columns`` is a numpy view of every node's allocatable and requested resources and
  flags, one row per node, updated in place on every change (O(1) per event), so that
  NodeResourcesFit and BalancedAllocation run over all nodes as array arithmetic.
  ``label_column(key)`` gives every node's value of one label (``None`` if absent),
  cached until node labels change.
- ``pods_matching`` answers "which pods in this namespace match this selector" from a
  label index instead of a scan, which InterPodAffinity and PodTopologySpread rely on.
- PVs, PVCs, StorageClasses, PDBs, PriorityClasses, namespaces and the workload objects
  default spreading reads (Services, ReplicaSets, StatefulSets, ReplicationControllers)
  are kept as plain dicts for the plugins to read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from pyk8s.api.label_selectors import LabelSelector
from pyk8s.scheduler import resources
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo

__all__ = ["NodeColumns", "Snapshot"]

Obj = dict[str, Any]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]
_HARD_EFFECTS = ("NoSchedule", "NoExecute")


class NodeColumns:
    """Columnar per-node resource state; row ``i`` is ``snapshot.nodes[i]``."""

    BASE = (resources.CPU, resources.MEMORY, resources.EPHEMERAL_STORAGE)

    def __init__(self, capacity: int = 64) -> None:
        self.n = 0
        self._cap = capacity
        self.alloc: dict[str, IntArray] = {r: np.zeros(capacity, np.int64) for r in self.BASE}
        self.req: dict[str, IntArray] = {r: np.zeros(capacity, np.int64) for r in self.BASE}
        self.non_zero_cpu = np.zeros(capacity, np.int64)
        self.non_zero_memory = np.zeros(capacity, np.int64)
        self.pod_count = np.zeros(capacity, np.int64)
        self.allowed_pods = np.zeros(capacity, np.int64)
        self.unschedulable = np.zeros(capacity, np.bool_)
        self.hard_taints = np.zeros(capacity, np.bool_)
        self.prefer_taints = np.zeros(capacity, np.bool_)

    def _arrays(self) -> Iterator[tuple[str, npt.NDArray[Any]]]:
        for r, a in self.alloc.items():
            yield f"alloc:{r}", a
        for r, a in self.req.items():
            yield f"req:{r}", a
        for name in (
            "non_zero_cpu",
            "non_zero_memory",
            "pod_count",
            "allowed_pods",
            "unschedulable",
            "hard_taints",
            "prefer_taints",
        ):
            yield name, getattr(self, name)

    def _grow(self) -> None:
        self._cap *= 2
        for key, arr in list(self._arrays()):
            new = np.zeros(self._cap, arr.dtype)
            new[: arr.shape[0]] = arr
            kind, _, r = key.partition(":")
            if kind == "alloc":
                self.alloc[r] = new
            elif kind == "req":
                self.req[r] = new
            else:
                setattr(self, key, new)

    def ensure_resource(self, name: str) -> None:
        if name not in self.alloc:
            self.alloc[name] = np.zeros(self._cap, np.int64)
            self.req[name] = np.zeros(self._cap, np.int64)

    def append(self) -> int:
        if self.n == self._cap:
            self._grow()
        self.n += 1
        return self.n - 1

    def move(self, src: int, dst: int) -> None:
        for _, arr in self._arrays():
            arr[dst] = arr[src]

    def write(self, i: int, ni: NodeInfo) -> None:
        for r in set(ni.allocatable) | set(ni.requested):
            self.ensure_resource(r)
        for r, a in self.alloc.items():
            a[i] = ni.allocatable.get(r, 0)
            self.req[r][i] = ni.requested.get(r, 0)
        self.non_zero_cpu[i] = ni.non_zero_cpu
        self.non_zero_memory[i] = ni.non_zero_memory
        self.pod_count[i] = len(ni.pods)
        self.allowed_pods[i] = ni.allowed_pods
        self.unschedulable[i] = ni.unschedulable
        self.hard_taints[i] = any(t.effect in _HARD_EFFECTS for t in ni.taints)
        self.prefer_taints[i] = any(t.effect == "PreferNoSchedule" for t in ni.taints)

    def allocatable(self, name: str) -> IntArray:
        a = self.alloc.get(name)
        return a[: self.n] if a is not None else np.zeros(self.n, np.int64)

    def requested(self, name: str) -> IntArray:
        a = self.req.get(name)
        return a[: self.n] if a is not None else np.zeros(self.n, np.int64)


class Snapshot:
    def __init__(self) -> None:
        self.nodes: list[NodeInfo] = []
        self._slot: dict[str, int] = {}
        self.columns = NodeColumns()
        self._label_columns: dict[str, ObjArray] = {}
        self._names: ObjArray | None = None
        self._pods: dict[str, tuple[PodInfo, str]] = {}  # uid -> (pod, node name)
        self._orphans: dict[str, dict[str, PodInfo]] = {}  # node name -> pods on it
        self._assumed: set[str] = set()
        self._by_label: dict[tuple[str, str, str], set[str]] = {}
        self._by_namespace: dict[str, set[str]] = {}
        self._image_nodes: dict[str, int] = {}
        self.with_affinity: dict[str, PodInfo] = {}  # uid -> pod with any pod (anti-)affinity
        self.with_required_anti_affinity: dict[str, PodInfo] = {}
        self.nominated: dict[str, dict[str, PodInfo]] = {}  # node name -> uid -> pod
        self.namespaces: dict[str, Mapping[str, str]] = {}
        self.pvs: dict[str, Obj] = {}
        self.pvcs: dict[str, Obj] = {}
        self.storage_classes: dict[str, Obj] = {}
        self.pdbs: dict[str, Obj] = {}
        self.priority_classes: dict[str, Obj] = {}
        self.services: dict[str, Obj] = {}
        self.workloads: dict[str, Obj] = {}  # "Kind/ns/name" -> RS, STS, RC

    # ---- nodes -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, name: str) -> NodeInfo | None:
        i = self._slot.get(name)
        return self.nodes[i] if i is not None else None

    def index_of(self, name: str) -> int | None:
        return self._slot.get(name)

    def add_node(self, node: Obj) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        i = self._slot.get(name)
        if i is not None:
            ni = self.nodes[i]
            old_labels, old_images = ni.labels, ni.images
            ni.set_node(node)
            if ni.labels != old_labels:
                self._label_columns.clear()
            if ni.images != old_images:
                self._count_images(old_images, -1)
                self._count_images(ni.images, 1)
        else:
            ni = NodeInfo(node)
            i = self.columns.append()
            self.nodes.append(ni)
            self._slot[name] = i
            self._label_columns.clear()
            self._names = None
            self._count_images(ni.images, 1)
            for pi in self._orphans.pop(name, {}).values():
                ni.add_pod(pi)
        self.columns.write(i, ni)
        return ni

    update_node = add_node

    def remove_node(self, name: str) -> None:
        i = self._slot.pop(name, None)
        if i is None:
            return
        ni = self.nodes[i]
        self._count_images(ni.images, -1)
        if ni.pods:  # pods still bound to it stay counted until they are deleted
            self._orphans[name] = dict(ni.pods)
        last = len(self.nodes) - 1
        if i != last:
            moved = self.nodes[last]
            self.nodes[i] = moved
            self._slot[moved.name] = i
            self.columns.move(last, i)
        self.nodes.pop()
        self.columns.n -= 1
        self._label_columns.clear()
        self._names = None

    def _count_images(self, images: Mapping[str, int], delta: int) -> None:
        for name in images:
            self._image_nodes[name] = self._image_nodes.get(name, 0) + delta

    def image_num_nodes(self, image: str) -> int:
        return self._image_nodes.get(image, 0)

    def names(self) -> ObjArray:
        if self._names is None:
            self._names = np.array([ni.name for ni in self.nodes], dtype=object)
        return self._names

    def label_column(self, key: str) -> ObjArray:
        col = self._label_columns.get(key)
        if col is None:
            col = np.array([ni.labels.get(key) for ni in self.nodes] + [None], dtype=object)[:-1]
            self._label_columns[key] = col
        return col

    # ---- pods ------------------------------------------------------------------------
    def pod(self, uid: str) -> PodInfo | None:
        entry = self._pods.get(uid)
        return entry[0] if entry else None

    def node_of(self, uid: str) -> str | None:
        entry = self._pods.get(uid)
        return entry[1] if entry else None

    def add_pod(self, pod: Obj | PodInfo) -> PodInfo | None:
        """A pod from the informer: counted on its node if bound, else ignored."""
        pi = pod if isinstance(pod, PodInfo) else PodInfo.of(pod)
        phase = (pi.pod.get("status") or {}).get("phase")
        if not pi.node_name or phase in ("Succeeded", "Failed"):
            self.remove_pod(pi.uid)
            return None
        self._assumed.discard(pi.uid)
        self._place(pi, pi.node_name)
        return pi

    update_pod = add_pod

    def _place(self, pi: PodInfo, node_name: str) -> None:
        self.remove_pod(pi.uid)
        self._pods[pi.uid] = (pi, node_name)
        self._by_namespace.setdefault(pi.namespace, set()).add(pi.uid)
        if pi.has_affinity:
            self.with_affinity[pi.uid] = pi
        if pi.required_anti_affinity:
            self.with_required_anti_affinity[pi.uid] = pi
        for k, v in pi.labels.items():
            self._by_label.setdefault((pi.namespace, k, v), set()).add(pi.uid)
        i = self._slot.get(node_name)
        if i is None:
            self._orphans.setdefault(node_name, {})[pi.uid] = pi
            return
        ni = self.nodes[i]
        ni.add_pod(pi)
        self._write_pod_row(i, ni)

    def _write_pod_row(self, i: int, ni: NodeInfo) -> None:
        cols = self.columns
        for r in ni.requested:
            if r not in cols.req:
                cols.write(i, ni)
                return
        for r, a in cols.req.items():
            a[i] = ni.requested.get(r, 0)
        cols.non_zero_cpu[i] = ni.non_zero_cpu
        cols.non_zero_memory[i] = ni.non_zero_memory
        cols.pod_count[i] = len(ni.pods)

    def remove_pod(self, pod: Obj | PodInfo | str) -> None:
        if isinstance(pod, str):
            uid = pod
        elif isinstance(pod, PodInfo):
            uid = pod.uid
        else:
            meta = pod.get("metadata") or {}
            uid = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
        entry = self._pods.pop(uid, None)
        self._assumed.discard(uid)
        if entry is None:
            return
        pi, node_name = entry
        self._by_namespace.get(pi.namespace, set()).discard(uid)
        self.with_affinity.pop(uid, None)
        self.with_required_anti_affinity.pop(uid, None)
        for k, v in pi.labels.items():
            s = self._by_label.get((pi.namespace, k, v))
            if s is not None:
                s.discard(uid)
                if not s:
                    del self._by_label[(pi.namespace, k, v)]
        i = self._slot.get(node_name)
        if i is None:
            self._orphans.get(node_name, {}).pop(uid, None)
            return
        ni = self.nodes[i]
        ni.remove_pod(uid)
        self._write_pod_row(i, ni)

    def assume_pod(self, pi: PodInfo, node_name: str) -> PodInfo:
        assumed = pi.on_node(node_name)
        self._place(assumed, node_name)
        self._assumed.add(pi.uid)
        self.clear_nomination(pi.uid)
        return assumed

    def forget_pod(self, uid: str) -> None:
        if uid in self._assumed:
            self.remove_pod(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def pods_matching(self, namespace: str, selector: LabelSelector) -> Iterator[PodInfo]:
        """Pods (bound or assumed) in ``namespace`` whose labels match ``selector``."""
        if selector.nothing:
            return
        candidates: set[str] | None = None
        for req in selector.requirements:
            values = selector.exact_values(req.key)
            if values is None:
                continue
            found: set[str] = set()
            for v in values:
                found |= self._by_label.get((namespace, req.key, v), set())
            if candidates is None or len(found) < len(candidates):
                candidates = found
        if candidates is None:
            candidates = self._by_namespace.get(namespace, set())
        for uid in list(candidates):
            pi = self._pods[uid][0]
            if pi.namespace == namespace and selector.matches(pi.labels):
                yield pi

    def node_labels_of(self, uid: str) -> Mapping[str, str] | None:
        """Labels of the node a pod sits on (None: unknown node or pod)."""
        entry = self._pods.get(uid)
        if entry is None:
            return None
        i = self._slot.get(entry[1])
        return self.nodes[i].labels if i is not None else None

    def count_per_node(self, pods: Iterable[PodInfo]) -> IntArray:
        """How many of ``pods`` sit on each node (row order of ``columns``)."""
        slots = [self._slot.get(self._pods[p.uid][1], -1) for p in pods if p.uid in self._pods]
        arr = np.asarray([s for s in slots if s >= 0], dtype=np.int64)
        return np.bincount(arr, minlength=len(self.nodes)).astype(np.int64)

    def all_pods(self) -> Iterator[tuple[PodInfo, str]]:
        yield from self._pods.values()

    # ---- nominations (pods that preempted others and wait for the room) ------------------
    def nominate(self, pi: PodInfo, node_name: str) -> None:
        self.clear_nomination(pi.uid)
        if node_name:
            self.nominated.setdefault(node_name, {})[pi.uid] = pi

    def clear_nomination(self, uid: str) -> None:
        for node_name, pods in list(self.nominated.items()):
            if pods.pop(uid, None) is not None and not pods:
                del self.nominated[node_name]

    # ---- other objects ---------------------------------------------------------------
    def set_object(self, kind: str, obj: Obj, *, deleted: bool = False) -> None:
        """Store (or drop) a PV, PVC, StorageClass, PDB, PriorityClass, Namespace,
        Service, ReplicaSet, StatefulSet or ReplicationController."""
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        ns = str(meta.get("namespace") or "")
        table: dict[str, Any]
        key = f"{ns}/{name}" if ns else name
        if kind == "Namespace":
            table, value = self.namespaces, meta.get("labels") or {}
        elif kind in ("ReplicaSet", "StatefulSet", "ReplicationController"):
            table, key, value = self.workloads, f"{kind}/{ns}/{name}", obj
        else:
            table = {
                "PersistentVolume": self.pvs,
                "PersistentVolumeClaim": self.pvcs,
                "StorageClass": self.storage_classes,
                "PodDisruptionBudget": self.pdbs,
                "PriorityClass": self.priority_classes,
                "Service": self.services,
            }[kind]
            value = obj
        if deleted:
            table.pop(key, None)
        else:
            table[key] = value
