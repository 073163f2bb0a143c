"""NodeResourcesFit (PreFilter, Filter, PreScore, Score): the node must have room for the
pod's requests, and nodes are ranked by a scoring strategy.

Filter: ``Too many pods`` when the node is at ``allocatable.pods``; ``Insufficient <r>``
for every resource whose free amount (allocatable minus the requests of the pods on the
node, assumed ones included) is below the pod's effective request (init containers,
sidecars and overhead counted as upstream, see ``resources.pod_requests``). Extended
resources listed in ``ignoredResources`` (or whose prefix is in
``ignoredResourceGroups``) are not checked.

Score: ``scoringStrategy.type`` LeastAllocated (default; spread), MostAllocated (bin
packing) or RequestedToCapacityRatio (a piecewise-linear shape), over
``scoringStrategy.resources`` (default cpu and memory, weight 1 each). Both the filter
and the scorers run over all nodes at once on the snapshot's columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pyk8s.scheduler import resources
from pyk8s.scheduler.framework import BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.plugins import resource_allocation as ra
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["DEFAULT_RESOURCES", "NodeResourcesFit", "insufficient_resources"]

NAME = "NodeResourcesFit"
DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = ((resources.CPU, 1), (resources.MEMORY, 1))
_BASE = (resources.CPU, resources.MEMORY, resources.EPHEMERAL_STORAGE)


def _checked(
    pod_requests: Mapping[str, int], ignored: frozenset[str], groups: frozenset[str]
) -> list[str]:
    """Resource names to check, in upstream's order (scalars sorted by name). A pod that
    requests nothing is only checked against the pod count; otherwise cpu, memory and
    ephemeral-storage are always checked (an overcommitted node fails even a 0 request)."""
    if not pod_requests:
        return []
    names = list(_BASE)
    for r in sorted(set(pod_requests) - set(_BASE)):
        if r in ignored or r.split("/", 1)[0] in groups:
            continue
        names.append(r)
    return names


def insufficient_resources(
    pod_requests: Mapping[str, int],
    node: NodeInfo,
    *,
    ignored: frozenset[str] = frozenset(),
    ignored_groups: frozenset[str] = frozenset(),
) -> list[str]:
    """The reasons the pod does not fit on ``node`` (empty: it fits)."""
    reasons = []
    if len(node.pods) + 1 > node.allowed_pods:
        reasons.append("Too many pods")
    for r in _checked(pod_requests, ignored, ignored_groups):
        if node.allocatable.get(r, 0) < pod_requests.get(r, 0) + node.requested.get(r, 0):
            reasons.append(f"Insufficient {r}")
    return reasons


def parse_scoring_strategy(
    args: Mapping[str, Any],
) -> tuple[str, list[tuple[str, int]], list[tuple[int, int]]]:
    ss = args.get("scoringStrategy") or {}
    kind = str(ss.get("type") or "LeastAllocated")
    if kind not in ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"):
        raise ValueError(f"scoringStrategy.type: Unsupported value: {kind!r}")
    res = [(str(r["name"]), int(r.get("weight") or 1)) for r in ss.get("resources") or ()]
    shape: list[tuple[int, int]] = []
    if kind == "RequestedToCapacityRatio":
        raw = (ss.get("requestedToCapacityRatio") or {}).get("shape") or ()
        shape = [(int(p.get("utilization") or 0), int(p.get("score") or 0)) for p in raw]
        if not shape:
            raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: Required value")
    return kind, res or list(DEFAULT_RESOURCES), shape


class NodeResourcesFit:
    name = NAME

    def __init__(
        self,
        *,
        strategy: str = "LeastAllocated",
        scoring_resources: Sequence[tuple[str, int]] = DEFAULT_RESOURCES,
        shape: Sequence[tuple[int, int]] = (),
        ignored: frozenset[str] = frozenset(),
        ignored_groups: frozenset[str] = frozenset(),
    ) -> None:
        self.strategy = strategy
        self.names = [r for r, _ in scoring_resources]
        self.weights = [w for _, w in scoring_resources]
        self.shape = list(shape)
        self.ignored = ignored
        self.ignored_groups = ignored_groups

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> NodeResourcesFit:
        kind, res, shape = parse_scoring_strategy(args)
        return cls(
            strategy=kind,
            scoring_resources=res,
            shape=shape,
            ignored=frozenset(args.get("ignoredResources") or ()),
            ignored_groups=frozenset(args.get("ignoredResourceGroups") or ()),
        )

    # ---- filter ----------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        return Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        reasons = insufficient_resources(
            pod.requests, node, ignored=self.ignored, ignored_groups=self.ignored_groups
        )
        return Status.unschedulable(*reasons, plugin=NAME) if reasons else Status.success()

    def _failure_bits(
        self, state: CycleState, pod: PodInfo, rows: IntArray
    ) -> tuple[IntArray, list[str]]:
        cols = state.snapshot.columns
        n = cols.n
        bits = np.where(cols.pod_count[:n][rows] + 1 > cols.allowed_pods[:n][rows], 1, 0)
        labels = ["Too many pods"]
        for i, r in enumerate(_checked(pod.requests, self.ignored, self.ignored_groups), start=1):
            short = cols.allocatable(r)[rows] < pod.requests.get(r, 0) + cols.requested(r)[rows]
            bits |= short.astype(np.int64) << i
            labels.append(f"Insufficient {r}")
        return bits.astype(np.int64), labels

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        cols = state.snapshot.columns
        n = cols.n
        sel: slice | IntArray = slice(0, n) if rows.size == n else rows
        ok: BoolArray = cols.pod_count[:n][sel] < cols.allowed_pods[:n][sel]
        for r in _checked(pod.requests, self.ignored, self.ignored_groups):
            free = cols.allocatable(r)[sel] - cols.requested(r)[sel]
            ok &= free >= pod.requests.get(r, 0)
        return ok

    def statuses_for(self, state: CycleState, pod: PodInfo, rows: IntArray) -> list[Status]:
        bits, labels = self._failure_bits(state, pod, rows)
        palette: dict[int, Status] = {}
        for b in np.unique(bits).tolist():
            reasons = [lab for i, lab in enumerate(labels) if b >> i & 1]
            palette[b] = (
                Status.unschedulable(*reasons, plugin=NAME) if reasons else Status.success()
            )
        return [palette[b] for b in bits.tolist()]

    # ---- score -----------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status:
        return Status.success()

    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        # cpu and memory with the 100m / 200Mi defaults for containers that omit them
        want = [
            pod.non_zero_cpu
            if r == resources.CPU
            else pod.non_zero_memory
            if r == resources.MEMORY
            else pod.requests.get(r, 0)
            for r in self.names
        ]
        columns = ra.gather(state.snapshot, rows, self.names, want, use_requested=False)
        if self.strategy == "MostAllocated":
            return ra.most_allocated(columns, self.weights)
        if self.strategy == "RequestedToCapacityRatio":
            return ra.requested_to_capacity_ratio(columns, self.weights, self.shape)
        return ra.least_allocated(columns, self.weights)
