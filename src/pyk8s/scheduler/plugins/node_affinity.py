"""NodeAffinity (PreFilter, Filter, PreScore, Score): ``spec.nodeSelector`` and node
affinity.

Required: every ``nodeSelector`` label must match, and at least one
``nodeSelectorTerm`` must match (a term is an AND of its ``matchExpressions`` —
In/NotIn/Exists/DoesNotExist/Gt/Lt over labels — and ``matchFields`` — In/NotIn over
``metadata.name``; an empty or invalid term matches nothing). Preferred: the node's
score is the sum of the weights of the preferred terms it matches, normalised to 0..100.

``node_matches_terms`` and ``RequiredNodeAffinity`` are the pure checks; PersistentVolume
node affinity (VolumeBinding) and PodTopologySpread's nodeAffinityPolicy reuse them.
The batch forms evaluate a term over all nodes at once from the snapshot's label columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pyk8s.scheduler.framework import BoolArray, CycleState, Framework, IntArray
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.plugins.helpers import default_normalize
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.snapshot import Snapshot
from pyk8s.scheduler.status import Status

__all__ = [
    "ERR_REASON_POD",
    "NodeAffinity",
    "RequiredNodeAffinity",
    "node_matches_terms",
    "requirement_matches",
]

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
Obj = Mapping[str, Any]


def _int64(s: object) -> int | None:
    try:
        return int(str(s))
    except ValueError:
        return None


def requirement_matches(expr: Obj, value: str | None) -> bool:
    """One NodeSelectorRequirement against the label's value (None: label absent)."""
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or ()]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        have, want = _int64(value), _int64(values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _term_empty(term: Obj) -> bool:
    return not term.get("matchExpressions") and not term.get("matchFields")


def term_matches(term: Obj, labels: Mapping[str, str], name: str) -> bool:
    if _term_empty(term):
        return False
    for expr in term.get("matchExpressions") or ():
        if not requirement_matches(expr, labels.get(str(expr.get("key") or ""))):
            return False
    for expr in term.get("matchFields") or ():
        if expr.get("key") != "metadata.name" or expr.get("operator") not in ("In", "NotIn"):
            return False
        if not requirement_matches(expr, name):
            return False
    return True


def node_matches_terms(terms: Sequence[Obj], labels: Mapping[str, str], name: str) -> bool:
    """A NodeSelector: the OR of its terms."""
    return any(term_matches(t, labels, name) for t in terms)


def _column_mask(expr: Obj, col: np.ndarray[Any, Any]) -> BoolArray:
    return np.fromiter((requirement_matches(expr, v) for v in col), dtype=np.bool_, count=col.size)


def term_mask(term: Obj, snapshot: Snapshot, rows: IntArray) -> BoolArray:
    ok = np.full(rows.size, not _term_empty(term), dtype=np.bool_)
    for expr in term.get("matchExpressions") or ():
        if not ok.any():
            break
        ok &= _column_mask(expr, snapshot.label_column(str(expr.get("key") or ""))[rows])
    for expr in term.get("matchFields") or ():
        if expr.get("key") != "metadata.name" or expr.get("operator") not in ("In", "NotIn"):
            ok[:] = False
        else:
            ok &= _column_mask(expr, snapshot.names()[rows])
    return ok


class RequiredNodeAffinity:
    """nodeSelector AND required node affinity of one pod (upstream's helper of that name)."""

    def __init__(self, spec: Obj) -> None:
        self.selector: Mapping[str, str] = spec.get("nodeSelector") or {}
        na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.terms: list[Obj] | None = (
            None if req is None else list(req.get("nodeSelectorTerms") or ())
        )

    @property
    def empty(self) -> bool:
        return not self.selector and self.terms is None

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        for k, v in self.selector.items():
            if labels.get(k) != v:
                return False
        return self.terms is None or node_matches_terms(self.terms, labels, name)

    def mask(self, snapshot: Snapshot, rows: IntArray) -> BoolArray:
        ok = np.ones(rows.size, dtype=np.bool_)
        for k, v in self.selector.items():
            ok &= snapshot.label_column(k)[rows] == v
        if self.terms is not None:
            any_term = np.zeros(rows.size, dtype=np.bool_)
            for t in self.terms:
                any_term |= term_mask(t, snapshot, rows)
            ok &= any_term
        return ok


def _preferred(spec: Obj) -> list[tuple[int, Obj]]:
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    out = []
    for p in na.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
        w, term = p.get("weight") or 0, p.get("preference") or {}
        if w and not _term_empty(term):
            out.append((int(w), term))
    return out


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        req = RequiredNodeAffinity(pod.spec)
        if req.empty:
            return Status.skip()
        state.write(NAME, req)
        return Status.success()

    def _required(self, state: CycleState, pod: PodInfo) -> RequiredNodeAffinity:
        return state.read(NAME, RequiredNodeAffinity) or RequiredNodeAffinity(pod.spec)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self._required(state, pod).matches(node.labels, node.name):
            return Status.success()
        return Status.unresolvable(ERR_REASON_POD, plugin=NAME)

    def filter_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> BoolArray:
        return self._required(state, pod).mask(state.snapshot, rows)

    def pre_score(self, state: CycleState, pod: PodInfo, rows: IntArray) -> Status:
        prefs = _preferred(pod.spec)
        if not prefs:
            return Status.skip()
        state.write(NAME + "/preferred", prefs)
        return Status.success()

    def _prefs(self, state: CycleState, pod: PodInfo) -> list[tuple[int, Obj]]:
        prefs = state.read(NAME + "/preferred", list)
        return prefs if prefs is not None else _preferred(pod.spec)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(w for w, t in self._prefs(state, pod) if term_matches(t, node.labels, node.name))

    def score_nodes(self, state: CycleState, pod: PodInfo, rows: IntArray) -> IntArray:
        out = np.zeros(rows.size, dtype=np.int64)
        for w, t in self._prefs(state, pod):
            out += w * term_mask(t, state.snapshot, rows)
        return out

    def normalize_scores(
        self, state: CycleState, pod: PodInfo, rows: IntArray, scores: IntArray
    ) -> IntArray:
        return default_normalize(scores)

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> NodeAffinity:
        return cls()
