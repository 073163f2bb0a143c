"""TaintToleration (Filter, PreScore, Score): taints repel pods that do not tolerate them.

Filter: the first ``NoSchedule`` or ``NoExecute`` taint the pod does not tolerate rejects
the node (unresolvable: preemption cannot remove a taint). Score: the number of
``PreferNoSchedule`` taints the pod does not tolerate, normalised in reverse — fewer is
better, a node with none gets 100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from pyk8s.scheduler.framework import BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo, Taint
from pyk8s.scheduler.plugins.helpers import default_normalize
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Status

__all__ = [
    "TaintToleration",
    "count_intolerable_prefer_no_schedule",
    "find_untolerated",
    "tolerates_taint",
]

NAME = "TaintToleration"
_HARD = ("NoSchedule", "NoExecute")


def tolerates_taint(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """Upstream's Toleration.ToleratesTaint (an empty operator means Equal)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    if key and key != taint.key:
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == taint.value
    return False


def find_untolerated(
    taints: Iterable[Taint], tolerations: Iterable[Mapping[str, Any]], effects: tuple[str, ...]
) -> Taint | None:
    tols = list(tolerations)
    for taint in taints:
        if taint.effect not in effects:
            continue
        if not any(tolerates_taint(t, taint) for t in tols):
            return taint
    return None


def count_intolerable_prefer_no_schedule(
    taints: Iterable[Taint], tolerations: Iterable[Mapping[str, Any]]
) -> int:
    tols = [t for t in tolerations if (t.get("effect") or "") in ("", "PreferNoSchedule")]
    return sum(
        1
        for taint in taints
        if taint.effect == "PreferNoSchedule" and not any(tolerates_taint(t, taint) for t in tols)
    )


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taint = find_untolerated(node.taints, pod.tolerations, _HARD)
        if taint is None:
            return Status.success()
        return Status.unresolvable(
            f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}", plugin=NAME
        )

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        ok = np.ones(rows.size, dtype=np.bool_)
        tainted = np.flatnonzero(state.snapshot.columns.hard_taints[rows])
        nodes = state.snapshot.nodes
        for j in tainted.tolist():
            if find_untolerated(nodes[rows[j]].taints, pod.tolerations, _HARD) is not None:
                ok[j] = False
        return ok

    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status:
        return Status.success()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return count_intolerable_prefer_no_schedule(node.taints, pod.tolerations)

    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        out = np.zeros(rows.size, dtype=np.int64)
        nodes = state.snapshot.nodes
        for j in np.flatnonzero(state.snapshot.columns.prefer_taints[rows]).tolist():
            out[j] = count_intolerable_prefer_no_schedule(nodes[rows[j]].taints, pod.tolerations)
        return out

    def normalize_scores(
        self, state: CycleState, pod: PodInfo, rows: IntArray, scores: IntArray
    ) -> IntArray:
        return default_normalize(scores, reverse=True)

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> TaintToleration:
        return cls()
