"""SchedulingGates (PreEnqueue): a pod with ``spec.schedulingGates`` stays out of the
active queue until every gate is removed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import Framework
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["SchedulingGates", "gate_names"]

NAME = "SchedulingGates"


def gate_names(pod: PodInfo) -> list[str]:
    return [str(g.get("name") or "") for g in pod.spec.get("schedulingGates") or ()]


class SchedulingGates:
    name = NAME

    def pre_enqueue(self, pod: PodInfo) -> Status:
        gates = gate_names(pod)
        if not gates:
            return Status.success()
        # Go's %v of a []string: "[a b]".
        return Status.unresolvable(
            f"waiting for scheduling gates: [{' '.join(gates)}]", plugin=NAME
        )

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> SchedulingGates:
        return cls()
