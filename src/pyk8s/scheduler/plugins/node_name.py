"""NodeName (Filter): a pod that names a node in ``spec.nodeName`` fits only there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["ERR_REASON", "NodeName", "fits"]

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not pod.node_name or pod.node_name == node.name


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        return Status.success() if pod.node_name else Status.skip()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if fits(pod, node):
            return Status.success()
        return Status.unresolvable(ERR_REASON, plugin=NAME)

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        ok: BoolArray = state.snapshot.names()[rows] == pod.node_name
        return ok

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> NodeName:
        return cls()
