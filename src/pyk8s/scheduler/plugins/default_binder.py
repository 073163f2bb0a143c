"""DefaultBinder (Bind): write the decision through ``pods/binding``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.scheduler.framework import CycleState, Framework
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = ["DefaultBinder"]

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, fw: Framework) -> None:
        self.fw = fw

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> DefaultBinder:
        return cls(fw)

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        if self.fw.writer is None:
            return Status.error("no API writer to bind with", plugin=NAME)
        try:
            await self.fw.writer.bind(pod, node_name)
        except Exception as e:  # the API's error becomes the status the queue acts on
            return Status.error(str(e) or type(e).__name__, plugin=NAME)
        return Status.success()
