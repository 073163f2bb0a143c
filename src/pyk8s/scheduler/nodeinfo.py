"""NodeInfo: one node and the pods on it, with the aggregates the plugins need.

Upstream's ``framework.NodeInfo``: ``requested`` is the sum of the pods' effective requests
(what NodeResourcesFit filters against), ``non_zero_cpu``/``non_zero_memory`` the same
with the 100m / 200Mi defaults for requests a container leaves out (what the scorers
use), ``allocatable`` the node's ``status.allocatable``, ``used_ports`` the host ports
taken, ``pods_with_affinity`` / ``pods_with_required_anti_affinity`` the subsets
InterPodAffinity walks. ``generation`` changes on every mutation.

A NodeInfo belongs to the ``Snapshot`` that owns it; only ``clone()`` copies (preemption
simulates removing victims on a clone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.scheduler import resources
from pyk8s.scheduler.podinfo import HostPort, PodInfo

__all__ = ["NodeInfo", "Taint", "node_images", "parse_taints", "ports_conflict"]

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


def parse_taints(node: Mapping[str, Any]) -> tuple[Taint, ...]:
    raw = (node.get("spec") or {}).get("taints") or ()
    return tuple(
        Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
        for t in raw
        if isinstance(t, Mapping)
    )


def node_images(node: Mapping[str, Any]) -> dict[str, int]:
    """Image name → size in bytes, for every name of every image in status.images."""
    out: dict[str, int] = {}
    for img in (node.get("status") or {}).get("images") or ():
        size = img.get("sizeBytes") or 0
        for name in img.get("names") or ():
            out[str(name)] = int(size)
    return out


def ports_conflict(used: Iterable[HostPort], wanted: Iterable[HostPort]) -> bool:
    """Upstream HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every address."""
    used_set = set(used)
    if not used_set:
        return False
    by_proto_port: dict[tuple[str, int], set[str]] = {}
    for hp in used_set:
        by_proto_port.setdefault((hp.protocol, hp.port), set()).add(hp.ip)
    for hp in wanted:
        ips = by_proto_port.get((hp.protocol, hp.port))
        if not ips:
            continue
        if hp.ip == "0.0.0.0" or "0.0.0.0" in ips or hp.ip in ips:
            return True
    return False


class NodeInfo:
    __slots__ = (
        "allocatable",
        "allowed_pods",
        "generation",
        "images",
        "labels",
        "name",
        "node",
        "non_zero_cpu",
        "non_zero_memory",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Obj) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested: dict[str, int] = {}
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.used_ports: list[HostPort] = []
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.generation = 0
        self.set_node(node)

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        self.node = node
        self.name = str(meta.get("name") or "")
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        alloc = resources.parse_resource_list((node.get("status") or {}).get("allocatable"))
        self.allowed_pods = alloc.pop(resources.PODS, 0)
        self.allocatable: dict[str, int] = alloc
        self.taints = parse_taints(node)
        self.unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        self.images = node_images(node)
        self.generation += 1

    def add_pod(self, pi: PodInfo) -> None:
        if pi.uid in self.pods:
            self.remove_pod(pi.uid)
        self.pods[pi.uid] = pi
        resources.add_into(self.requested, pi.requests)
        self.non_zero_cpu += pi.non_zero_cpu
        self.non_zero_memory += pi.non_zero_memory
        self.used_ports.extend(pi.host_ports)
        if pi.has_affinity:
            self.pods_with_affinity[pi.uid] = pi
        if pi.required_anti_affinity:
            self.pods_with_required_anti_affinity[pi.uid] = pi
        self.generation += 1

    def remove_pod(self, uid: str) -> PodInfo | None:
        pi = self.pods.pop(uid, None)
        if pi is None:
            return None
        for k, v in pi.requests.items():
            left = self.requested.get(k, 0) - v
            if left:
                self.requested[k] = left
            else:
                self.requested.pop(k, None)
        self.non_zero_cpu -= pi.non_zero_cpu
        self.non_zero_memory -= pi.non_zero_memory
        for hp in pi.host_ports:
            self.used_ports.remove(hp)
        self.pods_with_affinity.pop(uid, None)
        self.pods_with_required_anti_affinity.pop(uid, None)
        self.generation += 1
        return pi

    def clone(self) -> NodeInfo:
        c = NodeInfo.__new__(NodeInfo)
        c.node = self.node
        c.name = self.name
        c.labels = self.labels
        c.allocatable = self.allocatable
        c.allowed_pods = self.allowed_pods
        c.taints = self.taints
        c.unschedulable = self.unschedulable
        c.images = self.images
        c.pods = dict(self.pods)
        c.requested = dict(self.requested)
        c.non_zero_cpu = self.non_zero_cpu
        c.non_zero_memory = self.non_zero_memory
        c.used_ports = list(self.used_ports)
        c.pods_with_affinity = dict(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name!r}, pods={len(self.pods)})"
