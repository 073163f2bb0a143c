"""NodePorts (PreFilter, Filter): the pod's host ports must be free on the node. An
address of 0.0.0.0 (the default) conflicts with every address for the same protocol and
port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import CycleState, Framework
from pyk8s.scheduler.nodeinfo import NodeInfo, ports_conflict
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["ERR_REASON", "NodePorts", "fits"]

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not ports_conflict(node.used_ports, pod.host_ports)


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        return Status.success() if pod.host_ports else Status.skip()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if fits(pod, node):
            return Status.success()
        return Status.unschedulable(ERR_REASON, plugin=NAME)

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> NodePorts:
        return cls()
