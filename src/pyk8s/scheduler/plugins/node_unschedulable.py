"""NodeUnschedulable (Filter): a cordoned node (``spec.unschedulable``) takes only pods
that tolerate the ``node.kubernetes.io/unschedulable:NoSchedule`` taint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pyk8s.scheduler.framework import BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo, Taint
from pyk8s.scheduler.plugins.taint_toleration import tolerates_taint
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["ERR_REASON", "NodeUnschedulable", "fits"]

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


def _tolerated(pod: PodInfo) -> bool:
    return any(tolerates_taint(t, _TAINT) for t in pod.tolerations)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not node.unschedulable or _tolerated(pod)


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if fits(pod, node):
            return Status.success()
        return Status.unresolvable(ERR_REASON, plugin=NAME)

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        cordoned = state.snapshot.columns.unschedulable[rows]
        if not cordoned.any() or _tolerated(pod):
            return np.ones(rows.size, dtype=np.bool_)
        return ~cordoned

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> NodeUnschedulable:
        return cls()
