"""PrioritySort (QueueSort): higher ``spec.priority`` first, then earlier enqueue time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import Framework, QueuedPodInfo

__all__ = ["PrioritySort", "less"]

NAME = "PrioritySort"


def less(a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
    """Upstream's Less: priority descending, ties by the time the pod was queued."""
    pa, pb = a.pod.priority, b.pod.priority
    return pa > pb or (pa == pb and a.timestamp < b.timestamp)


class PrioritySort:
    name = NAME

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        return less(a, b)

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> PrioritySort:
        return cls()
