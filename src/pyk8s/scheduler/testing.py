"""Builders for scheduler tests and benchmarks: nodes, pods and snapshots as plain dicts,
in the shapes the apiserver serves (``status.allocatable``, ``spec.containers[].resources``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pyk8s.scheduler.framework import CycleState
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Status

__all__ = ["filter_all", "make_node", "make_pod", "score_all", "snapshot_of"]

Obj = dict[str, Any]
_uid = itertools.count(1)


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "16Gi",
    pods: int = 110,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    unschedulable: bool = False,
    extra: Mapping[str, str] | None = None,
    images: Sequence[tuple[Sequence[str], int]] = (),
) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods), **(extra or {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
        },
        "spec": {"taints": [dict(t) for t in taints], "unschedulable": unschedulable},
        "status": {
            "allocatable": alloc,
            "capacity": alloc,
            "conditions": [{"type": "Ready", "status": "True"}],
            "images": [{"names": list(n), "sizeBytes": s} for n, s in images],
        },
    }


def make_pod(
    name: str,
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    requests: Mapping[str, str] | None = None,
    node: str = "",
    labels: Mapping[str, str] | None = None,
    priority: int | None = None,
    spec: Mapping[str, Any] | None = None,
    uid: str | None = None,
    containers: int = 1,
) -> Obj:
    reqs = dict(requests or {})
    if cpu is not None:
        reqs["cpu"] = cpu
    if memory is not None:
        reqs["memory"] = memory
    container: Obj = {"name": "c", "image": "busybox"}
    if reqs:
        container["resources"] = {"requests": reqs}
    body: Obj = {"containers": [dict(container, name=f"c{i}") for i in range(containers)]}
    if node:
        body["nodeName"] = node
    if priority is not None:
        body["priority"] = priority
    body.update(spec or {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{next(_uid)}",
            "labels": dict(labels or {}),
            "creationTimestamp": "2025-01-01T00:00:00Z",
        },
        "spec": body,
        "status": {"phase": "Running" if node else "Pending"},
    }


def snapshot_of(nodes: Iterable[Obj], pods: Iterable[Obj] = ()) -> Snapshot:
    snap = Snapshot()
    for n in nodes:
        snap.add_node(n)
    for p in pods:
        snap.add_pod(p)
    return snap


def filter_all(plugin: Any, pod: Obj | PodInfo, snap: Snapshot) -> dict[str, Status]:
    """Run one plugin's PreFilter and Filter on every node; where the plugin also has a
    batch form, check that it agrees with the per-node one."""
    pi = pod if isinstance(pod, PodInfo) else PodInfo.of(pod)
    state = CycleState(snap)
    if hasattr(plugin, "pre_filter"):
        st = plugin.pre_filter(state, pi)
        if st.is_skip:
            return {ni.name: Status.success() for ni in snap.nodes}
        if not st.is_success:
            return {ni.name: st for ni in snap.nodes}
    out: dict[str, Status] = {ni.name: plugin.filter(state, pi, ni) for ni in snap.nodes}
    if hasattr(plugin, "filter_nodes"):
        rows = np.arange(len(snap), dtype=np.int64)
        mask = plugin.filter_nodes(state, pi, rows)
        assert [bool(m) for m in mask] == [out[ni.name].is_success for ni in snap.nodes]
        if hasattr(plugin, "statuses_for"):
            bad = rows[~mask]
            for r, st in zip(bad.tolist(), plugin.statuses_for(state, pi, bad), strict=True):
                assert st == out[snap.nodes[r].name]
    return out


def score_all(
    plugin: Any, pod: Obj | PodInfo, snap: Snapshot, *, normalize: bool = True
) -> dict[str, int]:
    """PreScore, Score (batch or per node) and NormalizeScore over every node; {} when
    the plugin skips the pod."""
    pi = pod if isinstance(pod, PodInfo) else PodInfo.of(pod)
    state = CycleState(snap)
    rows = np.arange(len(snap), dtype=np.int64)
    if hasattr(plugin, "pre_filter"):
        plugin.pre_filter(state, pi)
    if hasattr(plugin, "pre_score") and plugin.pre_score(state, pi, rows).is_skip:
        return {}
    if hasattr(plugin, "score_nodes"):
        scores = plugin.score_nodes(state, pi, rows)
    else:
        scores = np.array([plugin.score(state, pi, ni) for ni in snap.nodes], dtype=np.int64)
    if normalize and hasattr(plugin, "normalize_scores"):
        scores = plugin.normalize_scores(state, pi, rows, scores)
    return {ni.name: int(s) for ni, s in zip(snap.nodes, scores.tolist(), strict=True)}
