"""DefaultPreemption (PostFilter): when a pod fits nowhere, find a node where evicting
lower-priority pods would make room, and nominate it.

As upstream's preemption Evaluator: only nodes whose filter failure was
``Unschedulable`` (not unresolvable) are candidates. On each, all lower-priority pods
are removed in a what-if copy; if the pod then fits, victims are reprieved one by one
from the most important down (PDB-violating ones first), keeping each whose return still
lets the pod fit. Among candidates the node is chosen by, in order: fewest PDB
violations, lowest highest-victim priority, lowest sum of victim priorities, fewest
victims, latest start of the highest-priority victims, then the first found. The result
names the node (``nominatedNodeName``) and the victims for the caller to delete.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.api.label_selectors import SelectorError, from_label_selector_obj
from pyk8s.scheduler.framework import CycleState, Framework, PostFilterResult
from pyk8s.scheduler.nodeinfo import NodeInfo
from pyk8s.scheduler.podinfo import PodInfo
from pyk8s.scheduler.status import Code, Diagnosis, Status, fit_message

__all__ = ["Candidate", "DefaultPreemption", "pick_one_node", "pods_violating_pdbs"]

NAME = "DefaultPreemption"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
_MAX_INT32 = 2**31 - 1


@dataclass
class Candidate:
    node: str
    victims: list[PodInfo]
    pdb_violations: int


def more_important(a: PodInfo, b: PodInfo) -> bool:
    if a.priority != b.priority:
        return a.priority > b.priority
    return a.start_time() < b.start_time()


def _by_importance(a: PodInfo, b: PodInfo) -> int:
    return -1 if more_important(a, b) else 1


def _sort_important(pods: Sequence[PodInfo]) -> list[PodInfo]:
    return sorted(pods, key=functools.cmp_to_key(_by_importance))


def pods_violating_pdbs(
    pods: Sequence[PodInfo], pdbs: Sequence[Mapping[str, Any]]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """Split ``pods`` (kept in order) into those whose eviction would exceed a
    PodDisruptionBudget's ``disruptionsAllowed`` and those that would not."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for pod in pods:
        bad = False
        for i, pdb in enumerate(pdbs):
            meta = pdb.get("metadata") or {}
            if meta.get("namespace") != pod.namespace:
                continue
            try:
                sel = from_label_selector_obj((pdb.get("spec") or {}).get("selector"))
            except SelectorError:
                continue
            if sel.empty or not sel.matches(pod.labels):
                continue
            if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                bad = True
        (violating if bad else ok).append(pod)
    return violating, ok


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate | None:
    """Upstream's pickOneNodeForPreemption criteria, applied in order."""
    if not candidates:
        return None

    def highest(c: Candidate) -> int:
        return c.victims[0].priority if c.victims else -_MAX_INT32 - 1

    def earliest_top_start(c: Candidate) -> str:
        if not c.victims:
            return ""
        top = c.victims[0].priority
        return min(v.start_time() for v in c.victims if v.priority == top)

    steps = (
        lambda c: c.pdb_violations,
        highest,
        lambda c: sum(v.priority + _MAX_INT32 + 1 for v in c.victims),
        lambda c: len(c.victims),
    )
    pool = list(candidates)
    for key in steps:
        best = min(key(c) for c in pool)
        pool = [c for c in pool if key(c) == best]
        if len(pool) == 1:
            return pool[0]
    latest = max(earliest_top_start(c) for c in pool)
    return next(c for c in pool if earliest_top_start(c) == latest)


class DefaultPreemption:
    name = NAME

    def __init__(self, fw: Framework, *, min_percentage: int = 10, min_absolute: int = 100) -> None:
        self.fw = fw
        self.min_percentage = min_percentage
        self.min_absolute = min_absolute

    @classmethod
    def new(cls, args: Mapping[str, Any], fw: Framework) -> DefaultPreemption:
        return cls(
            fw,
            min_percentage=int(args.get("minCandidateNodesPercentage", 10)),
            min_absolute=int(args.get("minCandidateNodesAbsolute", 100)),
        )

    def eligible(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis) -> str:
        """'' when the pod may preempt, else upstream's reason."""
        if pod.spec.get("preemptionPolicy") == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            if diagnosis.status_of(nominated).code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return ""
            node = state.snapshot.get(nominated)
            for p in node.pods.values() if node else ():
                if p.priority < pod.priority and p.terminating:
                    return "not eligible due to a terminating pod on the nominated node."
        return ""

    def select_victims(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, pdbs: Sequence[Mapping[str, Any]]
    ) -> tuple[list[PodInfo], int, Status]:
        """Victims on (a clone of) ``node``; the status says why there are none."""
        state, node = state.clone(), node.clone()
        extensions = self.fw._extensions
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], 0, Status.unresolvable(NO_VICTIMS)
        for p in potential:
            node.remove_pod(p.uid)
            for ext in extensions:
                ext.remove_pod(state, pod, p, node)
        st = self.fw.run_filter_with_nominated(state, pod, node)
        if not st.is_success:
            return [], 0, st
        victims: list[PodInfo] = []
        violating, non_violating = pods_violating_pdbs(_sort_important(potential), pdbs)
        n_violating = 0
        for group, counts in ((violating, True), (non_violating, False)):
            for p in group:
                node.add_pod(p)
                for ext in extensions:
                    ext.add_pod(state, pod, p, node)
                if not self.fw.run_filter_with_nominated(state, pod, node).is_success:
                    node.remove_pod(p.uid)
                    for ext in extensions:
                        ext.remove_pod(state, pod, p, node)
                    victims.append(p)
                    n_violating += counts
        if violating and non_violating:
            victims = _sort_important(victims)
        return victims, n_violating, Status.success()

    def post_filter(
        self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> tuple[PostFilterResult, Status]:
        reason = self.eligible(state, pod, diagnosis)
        if reason:
            return PostFilterResult(), Status.unschedulable(f"preemption: {reason}", plugin=NAME)
        snap = state.snapshot
        nodes = snap.nodes
        potential = [
            ni
            for ni in nodes
            if diagnosis.status_of(ni.name).code is not Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        ]
        statuses: dict[str, Status] = {}
        candidates: list[Candidate] = []
        if potential:
            want = min(
                max(len(potential) * self.min_percentage // 100, self.min_absolute), len(potential)
            )
            offset = self.fw.rng.randrange(len(potential))
            pdbs = list(snap.pdbs.values())
            non_violating = 0
            for k in range(len(potential)):
                ni = potential[(offset + k) % len(potential)]
                victims, n_violating, st = self.select_victims(state, pod, ni, pdbs)
                if not st.is_success:
                    statuses[ni.name] = st
                    continue
                candidates.append(Candidate(ni.name, victims, n_violating))
                non_violating += n_violating == 0
                if non_violating and len(candidates) >= want:
                    break
        best = pick_one_node(candidates)
        if best is None:
            msg = fit_message(len(nodes), statuses, absent=Status.unresolvable(NOT_HELPFUL))
            return PostFilterResult(nominated_node=""), Status.unschedulable(
                f"preemption: {msg}", plugin=NAME
            )
        return PostFilterResult(best.node, best.victims), Status.success()
