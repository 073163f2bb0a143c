"""The extension points of the scheduling framework (upstream's framework/interface.go).

Every extension point is a one-method Protocol; a plugin is any object with a ``name``
and the methods of the points it serves. Two optional batch forms let hot plugins work
over all nodes at once with numpy: ``BatchFilterPlugin.filter_nodes`` (a pass/fail mask
over node rows) and ``BatchScorePlugin.score_nodes`` (a score array); the per-node
``filter`` of a batch plugin stays the definition (it gives the reasons and serves
preemption's what-if runs) and the batch form must agree with it. ``CycleState`` is the
per-cycle scratch space; data that preemption changes through
``PreFilterExtensions.add_pod/remove_pod`` must implement ``clone()``.
``ClusterWriter`` is the one seam through which plugins write to the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Diagnosis, Status

__all__ = [
    "MAX_NODE_SCORE",
    "BatchFilterPlugin",
    "BatchScorePlugin",
    "BindPlugin",
    "BoolArray",
    "ClusterWriter",
    "CycleState",
    "FilterPlugin",
    "IntArray",
    "PermitPlugin",
    "Plugin",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreBindPlugin",
    "PreEnqueuePlugin",
    "PreFilterExtensions",
    "PreFilterPlugin",
    "PreScorePlugin",
    "QueueSortPlugin",
    "QueuedPodInfo",
    "ReservePlugin",
    "ScheduleResult",
    "ScoreExtensions",
    "ScorePlugin",
    "StateData",
]

MAX_NODE_SCORE = 100
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
T = TypeVar("T")


class StateData(Protocol):
    def clone(self) -> StateData: ...


class CycleState:
    """Per-cycle scratch space shared by the plugins, plus the snapshot they read."""

    __slots__ = ("_data", "skip_filter", "skip_score", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._data: dict[str, object] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: object) -> None:
        self._data[key] = value

    def read(self, key: str, kind: type[T]) -> T | None:
        v = self._data.get(key)
        return v if isinstance(v, kind) else None

    def clone(self) -> CycleState:
        c = CycleState(self.snapshot)
        for k, v in self._data.items():
            cl = getattr(v, "clone", None)
            c._data[k] = cl() if callable(cl) else v
        c.skip_filter = set(self.skip_filter)
        c.skip_score = set(self.skip_score)
        return c


@dataclass
class QueuedPodInfo:
    """A pod in the scheduling queue (upstream's QueuedPodInfo)."""

    pod: PodInfo
    timestamp: float
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    gated: bool = False
    backoff_expiry: float = 0.0
    cycle: int = 0


@dataclass
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int
    state: CycleState
    scores: Mapping[str, int] = field(default_factory=dict)


@dataclass
class PostFilterResult:
    nominated_node: str | None = None
    victims: list[PodInfo] = field(default_factory=list)


@runtime_checkable
class Plugin(Protocol):
    @property
    def name(self) -> str: ...


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status: ...


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status: ...


@runtime_checkable
class PreFilterExtensions(Plugin, Protocol):
    def add_pod(self, state: CycleState, pod: PodInfo, add: PodInfo, node: NodeInfo) -> None: ...
    def remove_pod(
        self, state: CycleState, pod: PodInfo, remove: PodInfo, node: NodeInfo
    ) -> None: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class BatchFilterPlugin(FilterPlugin, Protocol):
    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray: ...


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> tuple[PostFilterResult, Status]: ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class BatchScorePlugin(Plugin, Protocol):
    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray: ...


@runtime_checkable
class ScoreExtensions(Plugin, Protocol):
    def normalize_scores(
        self, state: CycleState, pod: PodInfo, rows: IntArray, scores: IntArray
    ) -> IntArray: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...
    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


class ClusterWriter(Protocol):
    """The API writes plugins make (bind, volume binding, preemption); injected by the
    scheduler process, a fake in tests."""

    async def bind(self, pod: PodInfo, node_name: str) -> None: ...
    async def patch(
        self, resource: str, namespace: str, name: str, patch: dict[str, Any]
    ) -> None: ...
    async def delete_pod(self, pod: PodInfo) -> None: ...
