"""What a simulated node looks like on the API: its Node object, its status, its Lease,
and the patches that keep them current. Pure functions of the ``config.NodeTemplate``,
the node's index and the time; no I/O.

Shapes follow the kubelet (pkg/kubelet/kubelet_node_status.go, nodestatus setters,
nodelease): the well-known labels (hostname, os, arch and their beta twins, instance type,
zone spread round-robin over the template's zones, region), registration taints, capacity
= allocatable (cpu, memory, pods, ephemeral-storage, hugepages at 0, extra resources),
the four conditions with upstream's reasons and messages, InternalIP and Hostname
addresses, the kubelet endpoint on port 10250 and nodeInfo with ``kubeletVersion``
``v1.33.0-sim``. The Lease lives in ``kube-node-lease``, is named and held by the node,
and is owned by the Node object (so it goes when the node goes).

``status_patch(current, desired)`` is the kubelet's status update: conditions always
(their ``lastHeartbeatTime`` is the heartbeat), other fields only when they differ;
``status_changed`` says whether anything but heartbeat times differs — upstream posts an
unchanged status only every ``nodeStatusReportFrequency``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pyk8s import __version__
from pyk8s.kubelet.sim import config, ipam
from pyk8s.kubelet.sim.containers import rfc3339

__all__ = [
    "LEASE_NAMESPACE",
    "lease_object",
    "micro_time",
    "node_conditions",
    "node_labels",
    "node_object",
    "node_status",
    "renewed_lease",
    "static_status",
    "status_changed",
    "status_patch",
]

Obj = dict[str, Any]

LEASE_NAMESPACE = "kube-node-lease"
_CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)
_STATUS_KEYS = ("capacity", "allocatable", "addresses", "daemonEndpoints", "nodeInfo")


def micro_time(t: float) -> str:
    """metav1.MicroTime on the wire: ``2006-01-02T15:04:05.000000Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_labels(template: config.NodeTemplate, index: int) -> dict[str, str]:
    name = template.name(index)
    labels = {
        "beta.kubernetes.io/arch": template.arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": template.arch,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": template.instance_type,
    }
    if template.zones:
        labels["topology.kubernetes.io/zone"] = template.zones[index % len(template.zones)]
    if template.region:
        labels["topology.kubernetes.io/region"] = template.region
    labels.update(template.labels)
    return labels


def capacity(template: config.NodeTemplate) -> dict[str, str]:
    out = {
        "cpu": template.cpu,
        "ephemeral-storage": template.ephemeral_storage,
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": template.memory,
        "pods": template.pods,
    }
    out.update(template.extra_capacity)
    return out


def node_conditions(
    now: float, previous: list[Obj] | None = None, *, ready: bool = True
) -> list[Obj]:
    """The kubelet's four conditions at ``now``; a transition time moves only on change."""
    before = {c.get("type"): c for c in previous or ()}
    beat = rfc3339(now)
    rows = [(kind, "False", reason, message) for kind, reason, message in _CONDITIONS]
    if ready:
        rows.append(("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
    else:
        rows.append(("Ready", "False", "KubeletNotReady", "container runtime is down"))
    out = []
    for kind, status, reason, message in rows:
        old = before.get(kind)
        same = old is not None and old.get("status") == status and old.get("lastTransitionTime")
        out.append(
            {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": beat,
                "lastTransitionTime": old["lastTransitionTime"] if same and old else beat,
                "reason": reason,
                "message": message,
            }
        )
    return out


def _node_info(template: config.NodeTemplate, index: int, boot_id: str) -> Obj:
    name = template.name(index)
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return {
        "architecture": template.arch,
        "bootID": boot_id,
        "containerRuntimeVersion": f"sim://{__version__}",
        "kernelVersion": "6.1.0-pyk8s-sim",
        "kubeProxyVersion": "",
        "kubeletVersion": template.kubelet_version,
        "machineID": digest,
        "operatingSystem": "linux",
        "osImage": "pyk8s simulated node",
        "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
    }


def static_status(template: config.NodeTemplate, index: int, *, boot_id: str) -> Obj:
    """The parts of a node's status that do not change while the agent runs."""
    cap = capacity(template)
    return {
        "capacity": cap,
        "allocatable": dict(cap),
        "addresses": [
            {"type": "InternalIP", "address": ipam.node_internal_ip(template.node_ip_range, index)},
            {"type": "Hostname", "address": template.name(index)},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": template.kubelet_port}},
        "nodeInfo": _node_info(template, index, boot_id),
    }


def node_status(
    static: Mapping[str, Any], now: float, *, previous: Mapping[str, Any] | None = None
) -> Obj:
    """The status to post at ``now``: ``static_status`` and fresh conditions."""
    prev_conditions = (previous or {}).get("conditions")
    return {
        "capacity": static["capacity"],
        "allocatable": static["allocatable"],
        "conditions": node_conditions(now, prev_conditions),
        "addresses": static["addresses"],
        "daemonEndpoints": static["daemonEndpoints"],
        "nodeInfo": static["nodeInfo"],
    }


def node_object(template: config.NodeTemplate, index: int, now: float, *, boot_id: str) -> Obj:
    """The Node the kubelet registers (with its status, as upstream's initialNode)."""
    spec: Obj = {}
    if template.taints:
        spec["taints"] = [dict(t) for t in template.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": template.name(index),
            "labels": node_labels(template, index),
            "annotations": {
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                config.SIM_NODE_ANNOTATION: "true",
            },
        },
        "spec": spec,
        "status": node_status(static_status(template, index, boot_id=boot_id), now),
    }


def lease_object(name: str, node_uid: str, now: float, *, duration: int) -> Obj:
    meta: Obj = {"name": name, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}
        ]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": duration,
            "renewTime": micro_time(now),
        },
    }


def renewed_lease(lease: Obj, now: float, *, duration: int) -> Obj:
    """``lease`` (as last read or written) with a fresh renewTime, for a PUT."""
    meta = {k: v for k, v in (lease.get("metadata") or {}).items() if k != "managedFields"}
    spec = dict(lease.get("spec") or {})
    spec["holderIdentity"] = meta.get("name")
    spec["leaseDurationSeconds"] = duration
    spec["renewTime"] = micro_time(now)
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": spec,
    }


def _strip_times(conditions: list[Obj] | None) -> list[tuple[Any, ...]]:
    return sorted(
        (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
        for c in conditions or ()
    )


def status_changed(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Does ``desired`` differ from ``current`` in anything but heartbeat times?"""
    current = current or {}
    if any(current.get(k) != desired.get(k) for k in _STATUS_KEYS):
        return True
    return _strip_times(current.get("conditions")) != _strip_times(desired.get("conditions"))


def status_patch(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> Obj:
    """A strategic merge patch for nodes/status: conditions, and whatever else changed."""
    current = current or {}
    status: Obj = {"conditions": desired["conditions"]}
    for key in _STATUS_KEYS:
        if current.get(key) != desired.get(key):
            status[key] = desired[key]
    return {"status": status}
