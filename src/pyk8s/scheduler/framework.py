"""One profile's run of the scheduling framework (the extension points themselves are in
``interface``, re-exported here).

``Framework.schedule_one(pod, snapshot)`` is the pure part of a scheduling cycle
(upstream's ``schedulePod`` plus PostFilter): PreFilter → Filter over every node →
(no node: PostFilter, ``FitError``) → PreScore → Score + NormalizeScore on *every*
feasible node → weighted sum → the best node, ties broken uniformly at random. It does
no I/O and never awaits; Reserve/Permit are sync, PreBind/Bind are ``async`` because
they write to the API. Filter plugins run in profile order and a node's first rejection
is its reason, as upstream; batch plugins are asked for reasons only when the pod fits
nowhere.

Plugins read the cluster through ``state.snapshot``; state they compute in PreFilter or
PreScore goes into the ``CycleState`` under their name.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pyk8s.scheduler.interface import (
    MAX_NODE_SCORE,
    BatchFilterPlugin,
    BatchScorePlugin,
    BindPlugin,
    BoolArray,
    ClusterWriter,
    CycleState,
    FilterPlugin,
    IntArray,
    PermitPlugin,
    Plugin,
    PostFilterPlugin,
    PostFilterResult,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreScorePlugin,
    QueuedPodInfo,
    QueueSortPlugin,
    ReservePlugin,
    ScheduleResult,
    ScoreExtensions,
    ScorePlugin,
)
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Code, Diagnosis, FitError, Status

__all__ = [
    "MAX_NODE_SCORE",
    "BatchFilterPlugin",
    "BatchScorePlugin",
    "BindPlugin",
    "BoolArray",
    "ClusterWriter",
    "CycleState",
    "FilterPlugin",
    "Framework",
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
    "SchedulingError",
    "ScoreExtensions",
    "ScorePlugin",
]

PluginFactory = Callable[[Mapping[str, Any], "Framework"], Plugin]


class Framework:
    """One profile: its plugins per extension point, in order, with score weights."""

    def __init__(
        self,
        profile_name: str,
        *,
        plugins: Mapping[str, Sequence[str]],
        registry: Mapping[str, PluginFactory],
        plugin_args: Mapping[str, Mapping[str, Any]] | None = None,
        score_weights: Mapping[str, int] | None = None,
        rng: random.Random | None = None,
        writer: ClusterWriter | None = None,
    ) -> None:
        self.profile_name = profile_name
        self.writer = writer
        self.rng = rng or random.Random()
        self.weights: dict[str, int] = dict(score_weights or {})
        args = plugin_args or {}
        self._instances: dict[str, Plugin] = {}

        def get(name: str) -> Plugin:
            if name not in self._instances:
                if name not in registry:
                    raise ValueError(f"plugin {name!r} is not registered")
                self._instances[name] = registry[name](args.get(name) or {}, self)
            return self._instances[name]

        # Protocol classes as runtime checks (mypy wants concrete types for type[T]).
        def at(point: str, kind: Any) -> list[Any]:
            out: list[Any] = []
            for name in plugins.get(point, ()):
                pl = get(name)
                if not isinstance(pl, kind):
                    raise ValueError(f"plugin {name!r} does not implement {point}")
                out.append(pl)
            return out

        self.pre_enqueue: list[PreEnqueuePlugin] = at("preEnqueue", PreEnqueuePlugin)
        sorts = at("queueSort", QueueSortPlugin)
        self.queue_sort: QueueSortPlugin | None = sorts[0] if sorts else None
        self.pre_filter: list[PreFilterPlugin] = at("preFilter", PreFilterPlugin)
        self.filter: list[FilterPlugin] = at("filter", FilterPlugin)
        self.post_filter: list[PostFilterPlugin] = at("postFilter", PostFilterPlugin)
        self.pre_score: list[PreScorePlugin] = at("preScore", PreScorePlugin)
        self.score: list[Plugin] = at("score", Plugin)
        self.reserve: list[ReservePlugin] = at("reserve", ReservePlugin)
        self.permit: list[PermitPlugin] = at("permit", PermitPlugin)
        self.pre_bind: list[PreBindPlugin] = at("preBind", PreBindPlugin)
        self.bind: list[BindPlugin] = at("bind", BindPlugin)
        for pl in self.score:
            if not isinstance(pl, ScorePlugin | BatchScorePlugin):
                raise ValueError(f"plugin {pl.name!r} does not implement score")
            self.weights.setdefault(pl.name, 1)
        self._extensions = [p for p in self.pre_filter if isinstance(p, PreFilterExtensions)]
        # isinstance on runtime Protocols is slow: classify once, not per cycle.
        self._filters = [(p, isinstance(p, BatchFilterPlugin)) for p in self.filter]
        self._scorers = [
            (p, isinstance(p, BatchScorePlugin), isinstance(p, ScoreExtensions)) for p in self.score
        ]

    def plugin(self, name: str) -> Plugin | None:
        return self._instances.get(name)

    @property
    def plugin_names(self) -> list[str]:
        return list(self._instances)

    # ---- queue-side points -------------------------------------------------------------
    def run_pre_enqueue(self, pod: PodInfo) -> Status:
        for pl in self.pre_enqueue:
            st = pl.pre_enqueue(pod)
            if not st.is_success:
                return st.with_plugin(pl.name)
        return Status.success()

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        if self.queue_sort is None:
            return a.timestamp < b.timestamp
        return self.queue_sort.less(a, b)

    # ---- filtering -------------------------------------------------------------------
    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        for pl in self.pre_filter:
            st = pl.pre_filter(state, pod)
            if st.is_skip:
                state.skip_filter.add(pl.name)
            elif not st.is_success:
                return st.with_plugin(pl.name)
        return Status.success()

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """All Filter plugins on one node, stopping at the first that rejects it."""
        for pl in self.filter:
            if pl.name in state.skip_filter:
                continue
            st = pl.filter(state, pod, node)
            if not st.is_success:
                return st.with_plugin(pl.name)
        return Status.success()

    def run_filter_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Filter as if the pods nominated to this node with priority >= the pod's ran
        there already (upstream's RunFilterPluginsWithNominatedPods)."""
        nominated = [
            p
            for p in state.snapshot.nominated.get(node.name, {}).values()
            if p.uid != pod.uid and p.priority >= pod.priority
        ]
        if nominated:
            state2, node2 = state.clone(), node.clone()
            for p in nominated:
                node2.add_pod(p)
                for ext in self._extensions:
                    ext.add_pod(state2, pod, p, node2)
            st = self.run_filter(state2, pod, node2)
            if not st.is_success:
                return st
        return self.run_filter(state, pod, node)

    def find_feasible(
        self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> tuple[IntArray, list[tuple[FilterPlugin, IntArray]]]:
        """Rows of the nodes that pass every Filter. Nodes rejected by per-node plugins
        are recorded in ``diagnosis`` at once; those a batch plugin turned away come back
        as ``(plugin, rows)`` for ``explain`` — their reasons cost a per-node call, paid
        only when the pod fits nowhere."""
        snapshot = state.snapshot
        nodes = snapshot.nodes
        rows: IntArray = np.arange(len(nodes), dtype=np.int64)
        deferred: list[tuple[FilterPlugin, IntArray]] = []
        for pl, batch in self._filters:
            if pl.name in state.skip_filter or rows.size == 0:
                continue
            if batch:
                ok = pl.filter_nodes(state, pod, rows)  # type: ignore[attr-defined]
                if not ok.all():
                    deferred.append((pl, rows[~ok]))
                    rows = rows[ok]
            else:
                keep = np.ones(rows.size, dtype=np.bool_)
                for j, r in enumerate(rows.tolist()):
                    st = pl.filter(state, pod, nodes[r])
                    if not st.is_success:
                        keep[j] = False
                        diagnosis.record(nodes[r].name, st.with_plugin(pl.name))
                rows = rows[keep]
        if snapshot.nominated and rows.size:
            keep = np.ones(rows.size, dtype=np.bool_)
            for j, r in enumerate(rows.tolist()):
                if nodes[r].name in snapshot.nominated:
                    st = self.run_filter_with_nominated(state, pod, nodes[r])
                    if not st.is_success:
                        keep[j] = False
                        diagnosis.record(nodes[r].name, st)
            rows = rows[keep]
        return rows, deferred

    def explain(
        self,
        state: CycleState,
        pod: PodInfo,
        deferred: Sequence[tuple[FilterPlugin, IntArray]],
        diagnosis: Diagnosis,
    ) -> None:
        nodes = state.snapshot.nodes
        for pl, bad in deferred:
            explain_rows = getattr(pl, "statuses_for", None)
            rows = bad.tolist()
            if callable(explain_rows):
                statuses: Sequence[Status] = explain_rows(state, pod, bad)
            else:
                statuses = [pl.filter(state, pod, nodes[r]) for r in rows]
            for r, st in zip(rows, statuses, strict=True):
                diagnosis.record(nodes[r].name, st.with_plugin(pl.name))

    # ---- scoring ---------------------------------------------------------------------
    def prioritize(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        for pre in self.pre_score:
            st = pre.pre_score(state, pod, rows)
            if st.is_skip:
                state.skip_score.add(pre.name)
            elif not st.is_success:
                raise SchedulingError(st.with_plugin(pre.name))
        total = np.zeros(rows.size, dtype=np.int64)
        nodes = state.snapshot.nodes
        for pl, batch, normalizes in self._scorers:
            if pl.name in state.skip_score:
                continue
            if batch:
                scores = pl.score_nodes(state, pod, rows)  # type: ignore[attr-defined]
            else:
                scores = np.fromiter(
                    (pl.score(state, pod, nodes[r]) for r in rows.tolist()),  # type: ignore[attr-defined]
                    dtype=np.int64,
                    count=rows.size,
                )
            if normalizes:
                scores = pl.normalize_scores(state, pod, rows, scores)  # type: ignore[attr-defined]
            total += scores * self.weights.get(pl.name, 1)
        return total

    def select_host(self, rows: IntArray, totals: IntArray) -> int:
        """The row with the highest total; ties uniformly at random (upstream's
        reservoir sampling over the top scores)."""
        best = np.flatnonzero(totals == totals.max())
        if best.size == 1:
            return int(rows[best[0]])
        return int(rows[best[self.rng.randrange(best.size)]])

    def schedule_one(
        self, pod: PodInfo | dict[str, Any], snapshot: Snapshot
    ) -> ScheduleResult | FitError:
        pi = pod if isinstance(pod, PodInfo) else PodInfo.of(pod)
        state = CycleState(snapshot)
        diagnosis = Diagnosis()
        n = len(snapshot)
        if n == 0:
            diagnosis.absent_status = Status.unresolvable()
            return FitError(pi, 0, diagnosis)
        st = self.run_pre_filter(state, pi)
        if not st.is_success:
            if st.code is Code.ERROR:
                raise SchedulingError(st)
            diagnosis.pre_filter_msg = st.message
            diagnosis.absent_status = st
            if st.plugin:
                diagnosis.unschedulable_plugins.add(st.plugin)
            return self._post_filter(state, pi, FitError(pi, n, diagnosis))
        rows, deferred = self.find_feasible(state, pi, diagnosis)
        if rows.size == 0:
            self.explain(state, pi, deferred, diagnosis)
            return self._post_filter(state, pi, FitError(pi, n, diagnosis))
        names = snapshot.names()
        if rows.size == 1:
            return ScheduleResult(str(names[rows[0]]), n, 1, state)
        totals = self.prioritize(state, pi, rows)
        best = self.select_host(rows, totals)
        return ScheduleResult(
            suggested_host=str(names[best]),
            evaluated_nodes=n,
            feasible_nodes=int(rows.size),
            state=state,
        )

    def score_table(self, pod: PodInfo | dict[str, Any], snapshot: Snapshot) -> dict[str, int]:
        """Every feasible node's weighted total (for tests and debugging)."""
        pi = pod if isinstance(pod, PodInfo) else PodInfo.of(pod)
        state = CycleState(snapshot)
        if not self.run_pre_filter(state, pi).is_success:
            return {}
        rows, _ = self.find_feasible(state, pi, Diagnosis())
        totals = self.prioritize(state, pi, rows)
        names = snapshot.names()
        return {str(names[r]): int(t) for r, t in zip(rows.tolist(), totals.tolist(), strict=True)}

    def _post_filter(self, state: CycleState, pod: PodInfo, err: FitError) -> FitError:
        for pl in self.post_filter:
            result, st = pl.post_filter(state, pod, err.diagnosis)
            if st.message:
                err.diagnosis.post_filter_msg = st.message
            if result.nominated_node is not None:  # "" asks to clear a stale nomination
                err.nominated_node = result.nominated_node
            if st.is_success:
                err.victims = list(result.victims)
                break
            if not st.is_rejected:
                break
        return err

    # ---- after a node is chosen ------------------------------------------------------
    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for pl in self.reserve:
            st = pl.reserve(state, pod, node_name)
            if not st.is_success:
                self.run_unreserve(state, pod, node_name)
                return st.with_plugin(pl.name)
        return Status.success()

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for pl in reversed(self.reserve):
            pl.unreserve(state, pod, node_name)

    def run_permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for pl in self.permit:
            st = pl.permit(state, pod, node_name)
            if not st.is_success:
                return st.with_plugin(pl.name)
        return Status.success()

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for pl in self.pre_bind:
            st = await pl.pre_bind(state, pod, node_name)
            if not st.is_success and not st.is_skip:
                return st.with_plugin(pl.name)
        return Status.success()

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for pl in self.bind:
            st = await pl.bind(state, pod, node_name)
            if not st.is_skip:
                return st.with_plugin(pl.name)
        return Status.error("no bind plugin bound the pod")


class SchedulingError(Exception):
    """A plugin returned Error: the pod goes to back-off (not to unschedulable)."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message)
        self.status = status
