"""InterPodAffinity (PreFilter, Filter, PreScore, Score): place pods relative to other pods.

Filter, for the topology domain (``topologyKey`` value) of a node:
1. every required affinity term of the pod must find matching pods in that domain — or,
   when no pod anywhere matches and the pod matches its own terms, the first pod of a
   group may go anywhere that has the keys (unresolvable otherwise);
2. no required anti-affinity term of the pod may find a matching pod there;
3. no existing pod whose required anti-affinity matches this pod may be in that domain
   (symmetry).
Terms select pods by label selector in ``namespaces`` (default: the term owner's own)
or in namespaces matching ``namespaceSelector`` (``{}``: all).

Score: for every domain, the sum of the weights of the pod's preferred affinity terms
matched by pods there, minus its preferred anti-affinity weights, plus the existing pods'
preferred terms (and required affinity, with ``hardPodAffinityWeight``) that match this
pod; a node scores its domains' sums, min-max normalised to 0..100.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyk8s.scheduler.framework import MAX_NODE_SCORE, BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import AffinityTerm, PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Status

__all__ = [
    "ERR_REASON_AFFINITY",
    "ERR_REASON_ANTI_AFFINITY",
    "ERR_REASON_EXISTING_ANTI_AFFINITY",
    "InterPodAffinity",
    "matches_all",
]

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
Pair = tuple[str, str]


def matches_all(terms: Sequence[AffinityTerm], pod: PodInfo) -> bool:
    return bool(terms) and all(t.matches(pod, None) for t in terms)


def resolve_namespaces(term: AffinityTerm, snapshot: Snapshot) -> AffinityTerm:
    """Fold a namespaceSelector into the namespace list (as the incoming pod's PreFilter
    does upstream), using the namespaces the snapshot knows."""
    if term.namespace_selector.nothing:
        return term
    found = frozenset(
        ns for ns, labels in snapshot.namespaces.items() if term.namespace_selector.matches(labels)
    )
    return term.with_namespaces(found)


def pods_for(term: AffinityTerm, snapshot: Snapshot) -> Iterator[PodInfo]:
    for ns in sorted(term.namespaces):
        yield from snapshot.pods_matching(ns, term.selector)


@dataclass
class _FilterState:
    affinity: tuple[AffinityTerm, ...]
    anti: tuple[AffinityTerm, ...]
    ns_labels: Mapping[str, str]
    affinity_counts: dict[Pair, int] = field(default_factory=dict)
    anti_counts: dict[Pair, int] = field(default_factory=dict)
    existing_anti_counts: dict[Pair, int] = field(default_factory=dict)
    self_match: bool = False

    def clone(self) -> _FilterState:
        return _FilterState(
            self.affinity,
            self.anti,
            self.ns_labels,
            dict(self.affinity_counts),
            dict(self.anti_counts),
            dict(self.existing_anti_counts),
            self.self_match,
        )


def _bump(counts: dict[Pair, int], labels: Mapping[str, str], key: str, d: int) -> None:
    v = labels.get(key)
    if v is not None:
        n = counts.get((key, v), 0) + d
        if n:
            counts[(key, v)] = n
        else:
            counts.pop((key, v), None)


def _account(
    s: _FilterState, pod: PodInfo, other: PodInfo, labels: Mapping[str, str], d: int
) -> None:
    for t in other.required_anti_affinity:
        if t.matches(pod, s.ns_labels):
            _bump(s.existing_anti_counts, labels, t.topology_key, d)
    if matches_all(s.affinity, other):
        for t in s.affinity:
            _bump(s.affinity_counts, labels, t.topology_key, d)
    for t in s.anti:
        if t.matches(other, None):
            _bump(s.anti_counts, labels, t.topology_key, d)


class InterPodAffinity:
    name = NAME

    def __init__(self, *, hard_weight: int = 1, ignore_existing_preferred: bool = False) -> None:
        self.hard_weight = hard_weight
        self.ignore_existing_preferred = ignore_existing_preferred

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> InterPodAffinity:
        hw = args.get("hardPodAffinityWeight")
        return cls(
            hard_weight=1 if hw is None else int(hw),
            ignore_existing_preferred=bool(args.get("ignorePreferredTermsOfExistingPods")),
        )

    # ---- filter ----------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        snap = state.snapshot
        s = _FilterState(
            tuple(resolve_namespaces(t, snap) for t in pod.required_affinity),
            tuple(resolve_namespaces(t, snap) for t in pod.required_anti_affinity),
            snap.namespaces.get(pod.namespace, {}),
        )
        for other in snap.with_required_anti_affinity.values():
            labels = snap.node_labels_of(other.uid)
            if labels is not None and other.uid != pod.uid:
                for t in other.required_anti_affinity:
                    if t.matches(pod, s.ns_labels):
                        _bump(s.existing_anti_counts, labels, t.topology_key, 1)
        if not s.affinity and not s.anti and not s.existing_anti_counts:
            return Status.skip()
        if s.affinity:
            seen: set[str] = set()
            for other in pods_for(s.affinity[0], snap):
                labels = snap.node_labels_of(other.uid)
                if labels is None or other.uid in seen or not matches_all(s.affinity, other):
                    continue
                seen.add(other.uid)
                for t in s.affinity:
                    _bump(s.affinity_counts, labels, t.topology_key, 1)
            s.self_match = matches_all(s.affinity, pod)
        for t in s.anti:
            for other in pods_for(t, snap):
                labels = snap.node_labels_of(other.uid)
                if labels is not None:
                    _bump(s.anti_counts, labels, t.topology_key, 1)
        state.write(NAME, s)
        return Status.success()

    def _state(self, state: CycleState, pod: PodInfo) -> _FilterState | None:
        s = state.read(NAME, _FilterState)
        if s is None and NAME not in state.skip_filter:
            self.pre_filter(state, pod)
            s = state.read(NAME, _FilterState)
        return s

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s = self._state(state, pod)
        if s is None:
            return Status.success()
        labels = node.labels
        exist = True
        for t in s.affinity:
            v = labels.get(t.topology_key)
            if v is None:
                return Status.unresolvable(ERR_REASON_AFFINITY, plugin=NAME)
            if s.affinity_counts.get((t.topology_key, v), 0) <= 0:
                exist = False
        if not exist and not (not s.affinity_counts and s.self_match):
            return Status.unresolvable(ERR_REASON_AFFINITY, plugin=NAME)
        for t in s.anti:
            v = labels.get(t.topology_key)
            if v is not None and s.anti_counts.get((t.topology_key, v), 0) > 0:
                return Status.unschedulable(ERR_REASON_ANTI_AFFINITY, plugin=NAME)
        for (k, v), n in s.existing_anti_counts.items():
            if n > 0 and labels.get(k) == v:
                return Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY, plugin=NAME)
        return Status.success()

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        s = self._state(state, pod)
        ok = np.ones(rows.size, dtype=np.bool_)
        if s is None:
            return ok
        snap = state.snapshot
        if s.affinity:
            has_keys = np.ones(rows.size, dtype=np.bool_)
            exist = np.ones(rows.size, dtype=np.bool_)
            for t in s.affinity:
                col = snap.label_column(t.topology_key)[rows]
                has_keys &= col != None  # noqa: E711
                key = t.topology_key
                exist &= np.fromiter(
                    (s.affinity_counts.get((key, v), 0) > 0 for v in col), np.bool_, rows.size
                )
            free_pass = not s.affinity_counts and s.self_match
            ok &= has_keys & (exist | free_pass)
        bad: dict[Pair, int] = {}
        for t in s.anti:
            for (k, v), n in s.anti_counts.items():
                if k == t.topology_key and n > 0:
                    bad[(k, v)] = n
        bad.update({p: n for p, n in s.existing_anti_counts.items() if n > 0})
        for k, v in bad:
            ok &= snap.label_column(k)[rows] != v
        return ok

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, d: int
    ) -> None:
        s = state.read(NAME, _FilterState)
        if s is not None:
            _account(s, pod, other, node.labels, d)

    def add_pod(self, state: CycleState, pod: PodInfo, add: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, add, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, remove: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, remove, node, -1)

    # ---- score -----------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status:
        snap = state.snapshot
        has_own = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if self.ignore_existing_preferred and not has_own:
            return Status.skip()
        scores: dict[str, dict[str, int]] = {}
        ns_labels = snap.namespaces.get(pod.namespace, {})

        def add(labels: Mapping[str, str], key: str, w: int) -> None:
            v = labels.get(key)
            if v is not None:
                d = scores.setdefault(key, {})
                d[v] = d.get(v, 0) + w

        for sign, weighted in ((1, pod.preferred_affinity), (-1, pod.preferred_anti_affinity)):
            for wt in weighted:
                term = resolve_namespaces(wt.term, snap)
                for other in pods_for(term, snap):
                    labels = snap.node_labels_of(other.uid)
                    if labels:
                        add(labels, term.topology_key, sign * wt.weight)
        for other in snap.with_affinity.values():
            labels = snap.node_labels_of(other.uid)
            if not labels or other.uid == pod.uid:
                continue
            if self.hard_weight > 0:
                for t in other.required_affinity:
                    if t.matches(pod, ns_labels):
                        add(labels, t.topology_key, self.hard_weight)
            for sign, weighted in (
                (1, other.preferred_affinity),
                (-1, other.preferred_anti_affinity),
            ):
                for wt in weighted:
                    if wt.term.matches(pod, ns_labels):
                        add(labels, wt.term.topology_key, sign * wt.weight)
        scores = {k: d for k, d in scores.items() if any(d.values())}
        if not scores:
            return Status.skip()
        state.write(NAME + "/score", scores)
        return Status.success()

    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        scores = state.read(NAME + "/score", dict) or {}
        out = np.zeros(rows.size, dtype=np.int64)
        for key, per_value in scores.items():
            col = state.snapshot.label_column(key)[rows]
            out += np.fromiter((per_value.get(v, 0) for v in col), np.int64, rows.size)
        return out

    def normalize_scores(
        self, state: CycleState, pod: PodInfo, rows: IntArray, scores: IntArray
    ) -> IntArray:
        if scores.size == 0:
            return scores
        lo, hi = int(scores.min()), int(scores.max())
        if hi - lo <= 0:
            return np.zeros(scores.size, dtype=np.int64)
        frac = (scores - lo).astype(np.float64) / float(hi - lo)
        return np.trunc(MAX_NODE_SCORE * frac).astype(np.int64)
