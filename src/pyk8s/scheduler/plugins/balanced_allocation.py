"""NodeResourcesBalancedAllocation (PreScore, Score): prefer nodes whose resources would
be used in equal proportions after placing the pod — score ``(1 - std) * 100`` of the
requested/allocatable fractions of ``resources`` (default cpu and memory). Uses the real
requests (no 100m/200Mi defaults); a BestEffort pod (requests nothing of them) is skipped,
as upstream does since 1.32, so such pods do not all pile onto one node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import CycleState, Framework, IntArray
from pyk8s.scheduler.plugins import resource_allocation as ra
from pyk8s.scheduler.plugins.node_resources_fit import DEFAULT_RESOURCES
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["NodeResourcesBalancedAllocation"]

NAME = "NodeResourcesBalancedAllocation"


class NodeResourcesBalancedAllocation:
    name = NAME

    def __init__(self, names: list[str]) -> None:
        self.names = names

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> NodeResourcesBalancedAllocation:
        res = [str(r["name"]) for r in args.get("resources") or ()]
        return cls(res or [r for r, _ in DEFAULT_RESOURCES])

    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status:
        if not any(pod.requests.get(r, 0) for r in self.names):
            return Status.skip()
        return Status.success()

    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        want = [pod.requests.get(r, 0) for r in self.names]
        return ra.balanced_allocation(
            ra.gather(state.snapshot, rows, self.names, want, use_requested=True)
        )
