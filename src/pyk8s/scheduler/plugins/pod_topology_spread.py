"""PodTopologySpread (PreFilter, Filter, PreScore, Score): spread matching pods evenly
over topology domains.

For a constraint ``(maxSkew, topologyKey, labelSelector)`` the *domains* are the values
of ``topologyKey`` on the nodes that carry every constraint key and pass the node
inclusion policies (``nodeAffinityPolicy: Honor`` — the default — keeps only nodes
matching the pod's nodeSelector/required affinity; ``nodeTaintsPolicy: Honor`` drops
nodes with NoSchedule/NoExecute taints the pod does not tolerate; ``Ignore`` keeps all).
A domain's count is the number of pods in the pod's namespace matching the selector
(terminating pods excluded; ``matchLabelKeys`` adds ``key in (pod's value)`` terms).

Filter (``whenUnsatisfiable: DoNotSchedule``): placing the pod in the node's domain must
keep ``count + selfMatch - globalMin <= maxSkew``; the global minimum is 0 while fewer
than ``minDomains`` domains exist. A node without the key is unresolvable.

Score (``ScheduleAnyway``): per constraint ``count * log(domains + 2) + maxSkew - 1``,
summed, rounded, then reversed and scaled so the emptiest domain scores 100. A pod with
no constraints of its own gets the defaults (system: hostname maxSkew 3 and zone maxSkew
5, ScheduleAnyway) when a Service, ReplicaSet, StatefulSet or ReplicationController
selects it, with that workload's selector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyk8s.api.label_selectors import LabelSelector, Operator, Requirement
from pyk8s.scheduler.framework import MAX_NODE_SCORE, BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.plugins.node_affinity import RequiredNodeAffinity
from pyk8s.scheduler.plugins.spread_defaults import default_selector
from pyk8s.scheduler.plugins.taint_toleration import find_untolerated
from pyk8s.scheduler.podinfo import PodInfo, parse_selector
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Status

__all__ = [
    "ERR_REASON_CONSTRAINTS_NOT_MATCH",
    "ERR_REASON_NODE_LABEL_NOT_MATCH",
    "SYSTEM_DEFAULT_CONSTRAINTS",
    "Constraint",
    "PodTopologySpread",
    "skew_ok",
]

NAME = "PodTopologySpread"
HOSTNAME = "kubernetes.io/hostname"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
SYSTEM_DEFAULT_CONSTRAINTS: tuple[Mapping[str, Any], ...] = (
    {"maxSkew": 3, "topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway"},
    {
        "maxSkew": 5,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
    },
)
_MAX_INT32 = 2**31 - 1


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    honor_affinity: bool = True
    honor_taints: bool = False

    @classmethod
    def of(
        cls, raw: Mapping[str, Any], pod: PodInfo, selector: LabelSelector | None = None
    ) -> Constraint:
        sel = selector if selector is not None else parse_selector(raw.get("labelSelector"))
        keys = [k for k in raw.get("matchLabelKeys") or () if k in pod.labels]
        if keys and not sel.nothing:
            extra = tuple(Requirement(k, Operator.IN, (pod.labels[k],)) for k in keys)
            sel = LabelSelector(sel.requirements + extra)
        return cls(
            max_skew=int(raw.get("maxSkew") or 1),
            topology_key=str(raw.get("topologyKey") or ""),
            selector=sel,
            min_domains=int(raw.get("minDomains") or 1),
            honor_affinity=(raw.get("nodeAffinityPolicy") or "Honor") == "Honor",
            honor_taints=(raw.get("nodeTaintsPolicy") or "Ignore") == "Honor",
        )

    def includes(self, pod: PodInfo, node: NodeInfo, affinity: RequiredNodeAffinity) -> bool:
        if self.honor_affinity and not affinity.matches(node.labels, node.name):
            return False
        return not (
            self.honor_taints
            and find_untolerated(node.taints, pod.tolerations, ("NoSchedule", "NoExecute"))
        )


def skew_ok(match_num: int, self_match: bool, min_match: int, max_skew: int) -> bool:
    """The spreading rule: the domain would not exceed the global minimum by maxSkew."""
    return match_num + int(self_match) - min_match <= max_skew


@dataclass
class _Counts:
    constraints: list[Constraint]
    counts: list[dict[str, int]] = field(default_factory=list)  # per constraint: domain -> n

    def clone(self) -> _Counts:
        return _Counts(self.constraints, [dict(c) for c in self.counts])

    def min_match(self, i: int) -> int:
        c = self.counts[i]
        if len(c) < self.constraints[i].min_domains:
            return 0
        return min(c.values()) if c else _MAX_INT32


def _matching_counts(snapshot: Snapshot, pod: PodInfo, c: Constraint) -> IntArray:
    pods = [p for p in snapshot.pods_matching(pod.namespace, c.selector) if not p.terminating]
    return snapshot.count_per_node(pods)


def _eligible(
    snapshot: Snapshot,
    pod: PodInfo,
    cs: Sequence[Constraint],
    c: Constraint,
    affinity: RequiredNodeAffinity,
) -> BoolArray:
    rows = np.arange(len(snapshot), dtype=np.int64)
    ok = np.ones(rows.size, dtype=np.bool_)
    for other in cs:
        ok &= snapshot.label_column(other.topology_key) != None  # noqa: E711
    if c.honor_affinity and not affinity.empty:
        ok &= affinity.mask(snapshot, rows)
    if c.honor_taints:
        for r in np.flatnonzero(ok & snapshot.columns.hard_taints[: len(snapshot)]).tolist():
            ok[r] = not find_untolerated(
                snapshot.nodes[r].taints, pod.tolerations, ("NoSchedule", "NoExecute")
            )
    return ok


class PodTopologySpread:
    name = NAME

    def __init__(self, *, defaults: Sequence[Mapping[str, Any]], system_defaulted: bool) -> None:
        self.defaults = list(defaults)
        self.system_defaulted = system_defaulted

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> PodTopologySpread:
        kind = args.get("defaultingType") or "System"
        if kind == "System":
            return cls(defaults=SYSTEM_DEFAULT_CONSTRAINTS, system_defaulted=True)
        return cls(defaults=list(args.get("defaultConstraints") or ()), system_defaulted=False)

    def constraints(self, snapshot: Snapshot, pod: PodInfo, when: str) -> list[Constraint]:
        own = pod.spec.get("topologySpreadConstraints") or ()
        if own:
            return [Constraint.of(c, pod) for c in own if c.get("whenUnsatisfiable") == when]
        if not self.defaults:
            return []
        sel = default_selector(snapshot, pod)
        if sel.empty:
            return []
        return [
            Constraint.of(c, pod, sel) for c in self.defaults if c.get("whenUnsatisfiable") == when
        ]

    # ---- filter ----------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        snap = state.snapshot
        cs = self.constraints(snap, pod, "DoNotSchedule")
        if not cs:
            return Status.skip()
        affinity = RequiredNodeAffinity(pod.spec)
        counts = _Counts(cs)
        for c in cs:
            ok = _eligible(snap, pod, cs, c, affinity)
            per_node = _matching_counts(snap, pod, c)
            col = snap.label_column(c.topology_key)
            domains: dict[str, int] = {}
            for r in np.flatnonzero(ok).tolist():
                v = col[r]
                domains[v] = domains.get(v, 0) + int(per_node[r])
            counts.counts.append(domains)
        state.write(NAME, counts)
        state.write(NAME + "/affinity", affinity)
        return Status.success()

    def _state(self, state: CycleState, pod: PodInfo) -> _Counts:
        s = state.read(NAME, _Counts)
        if s is None:
            self.pre_filter(state, pod)
            s = state.read(NAME, _Counts) or _Counts([])
        return s

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s = self._state(state, pod)
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return Status.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH, plugin=NAME)
            match = s.counts[i].get(value, 0)
            if not skew_ok(match, c.selector.matches(pod.labels), s.min_match(i), c.max_skew):
                return Status.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH, plugin=NAME)
        return Status.success()

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        s = self._state(state, pod)
        ok = np.ones(rows.size, dtype=np.bool_)
        for i, c in enumerate(s.constraints):
            col = state.snapshot.label_column(c.topology_key)[rows]
            d = s.counts[i]
            match = np.fromiter((d.get(v, 0) for v in col), dtype=np.int64, count=rows.size)
            limit = c.max_skew + s.min_match(i) - int(c.selector.matches(pod.labels))
            ok &= (col != None) & (match <= limit)  # noqa: E711
        return ok

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, d: int
    ) -> None:
        s = state.read(NAME, _Counts)
        affinity = state.read(NAME + "/affinity", RequiredNodeAffinity)
        if s is None or affinity is None or other.namespace != pod.namespace or other.terminating:
            return
        if any(c.topology_key not in node.labels for c in s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if c.selector.matches(other.labels) and c.includes(pod, node, affinity):
                v = node.labels[c.topology_key]
                s.counts[i][v] = s.counts[i].get(v, 0) + d

    def add_pod(self, state: CycleState, pod: PodInfo, add: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, add, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, remove: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, remove, node, -1)

    # ---- score -----------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status:
        snap = state.snapshot
        cs = self.constraints(snap, pod, "ScheduleAnyway")
        if not cs:
            return Status.skip()
        require_all = bool(pod.spec.get("topologySpreadConstraints")) or not self.system_defaulted
        ignored = np.zeros(rows.size, dtype=np.bool_)
        if require_all:
            for c in cs:
                ignored |= snap.label_column(c.topology_key)[rows] == None  # noqa: E711
        kept = rows[~ignored]
        affinity = RequiredNodeAffinity(pod.spec)
        per_constraint: list[tuple[Constraint, float, IntArray, dict[str, int] | None]] = []
        for c in cs:
            per_node = _matching_counts(snap, pod, c)
            if c.topology_key == HOSTNAME:
                size = int(kept.size)
                domains = None
            else:
                col = snap.label_column(c.topology_key)
                domains = {v: 0 for v in col[kept].tolist() if v is not None}
                size = len(domains)
                all_rows = np.arange(len(snap), dtype=np.int64)
                ok = np.ones(len(snap), dtype=np.bool_)
                if require_all:
                    for other in cs:
                        ok &= snap.label_column(other.topology_key) != None  # noqa: E711
                if c.honor_affinity and not affinity.empty:
                    ok &= affinity.mask(snap, all_rows)
                for r in np.flatnonzero(ok & (per_node > 0)).tolist():
                    v = col[r]
                    if v in domains and c.includes(pod, snap.nodes[r], affinity):
                        domains[v] += int(per_node[r])
            per_constraint.append((c, math.log(size + 2), per_node, domains))
        state.write(NAME + "/score", (per_constraint, ignored))
        return Status.success()

    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        data = state.read(NAME + "/score", tuple)
        if data is None:
            return np.zeros(rows.size, dtype=np.int64)
        per_constraint, _ = data
        total = np.zeros(rows.size, dtype=np.float64)
        for c, weight, per_node, domains in per_constraint:
            col = state.snapshot.label_column(c.topology_key)[rows]
            has = col != None  # noqa: E711
            if domains is None:
                cnt = per_node[rows]
            else:
                cnt = np.fromiter((domains.get(v, 0) for v in col), np.int64, count=rows.size)
            total += np.where(has, cnt * weight + (c.max_skew - 1), 0.0)
        return np.floor(total + 0.5).astype(np.int64)

    def normalize_scores(
        self, state: CycleState, pod: PodInfo, rows: IntArray, scores: IntArray
    ) -> IntArray:
        data = state.read(NAME + "/score", tuple)
        ignored: BoolArray = data[1] if data is not None else np.zeros(rows.size, np.bool_)
        valid = scores[~ignored]
        if valid.size == 0:
            return np.zeros(rows.size, dtype=np.int64)
        lo, hi = int(valid.min()), int(valid.max())
        if hi == 0:
            out = np.full(rows.size, MAX_NODE_SCORE, dtype=np.int64)
        else:
            out = MAX_NODE_SCORE * (hi + lo - scores) // hi
        out[ignored] = 0
        return out
