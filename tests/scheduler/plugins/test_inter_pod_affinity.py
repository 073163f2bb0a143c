"""InterPodAffinity: required and preferred affinity/anti-affinity, symmetry, namespaces."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import Framework
from pyk8s.scheduler.plugins.inter_pod_affinity import (
    ERR_REASON_AFFINITY,
    ERR_REASON_ANTI_AFFINITY,
    ERR_REASON_EXISTING_ANTI_AFFINITY,
    InterPodAffinity,
)
from pyk8s.scheduler.testing import filter_all, make_node, make_pod, score_all, snapshot_of

FW: Framework = None  # type: ignore[assignment]
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def term(labels: dict[str, str], key: str = ZONE, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def aff(kind: str, *terms: dict[str, Any], preferred: bool = False) -> dict[str, Any]:
    if preferred:
        body = {"preferredDuringSchedulingIgnoredDuringExecution": list(terms)}
    else:
        body = {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}
    return {"affinity": {kind: body}}


NODES = [
    make_node("a1", labels={ZONE: "a"}),
    make_node("a2", labels={ZONE: "a"}),
    make_node("b1", labels={ZONE: "b"}),
    make_node("nozone"),
]


def run(
    pod: dict[str, Any], existing: list[dict[str, Any]], nodes: list[Any] = NODES
) -> dict[str, str]:
    got = filter_all(InterPodAffinity(), pod, snapshot_of(nodes, existing))
    return {n: ("ok" if st.is_success else st.reasons[0]) for n, st in got.items()}


def test_required_affinity_follows_the_zone() -> None:
    got = run(
        make_pod("p", spec=aff("podAffinity", term({"app": "db"}))),
        [make_pod("db", node="a2", labels={"app": "db"})],
    )
    assert got == {"a1": "ok", "a2": "ok", "b1": ERR_REASON_AFFINITY, "nozone": ERR_REASON_AFFINITY}


def test_first_pod_of_self_affine_group_goes_anywhere_with_the_key() -> None:
    got = run(
        make_pod("p", labels={"app": "web"}, spec=aff("podAffinity", term({"app": "web"}))), []
    )
    assert got == {"a1": "ok", "a2": "ok", "b1": "ok", "nozone": ERR_REASON_AFFINITY}


def test_affinity_without_match_and_not_self() -> None:
    got = run(make_pod("p", spec=aff("podAffinity", term({"app": "db"}))), [])
    assert set(got.values()) == {ERR_REASON_AFFINITY}


def test_required_anti_affinity() -> None:
    got = run(
        make_pod("p", spec=aff("podAntiAffinity", term({"app": "web"}))),
        [make_pod("w", node="a1", labels={"app": "web"})],
    )
    assert got == {
        "a1": ERR_REASON_ANTI_AFFINITY,
        "a2": ERR_REASON_ANTI_AFFINITY,
        "b1": "ok",
        "nozone": "ok",
    }


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    guard = make_pod("guard", node="b1", spec=aff("podAntiAffinity", term({"app": "web"}, HOST)))
    got = run(make_pod("p", labels={"app": "web"}), [guard])
    assert got == {"a1": "ok", "a2": "ok", "b1": ERR_REASON_EXISTING_ANTI_AFFINITY, "nozone": "ok"}


@pytest.mark.parametrize(
    ("extra", "blocked"),
    [
        pytest.param({}, False, id="default-is-own-namespace"),
        pytest.param({"namespaces": ["other"]}, True, id="explicit-namespace"),
        pytest.param({"namespaceSelector": {}}, True, id="empty-selector-all-namespaces"),
        pytest.param(
            {"namespaceSelector": {"matchLabels": {"team": "x"}}}, True, id="namespace-labels"
        ),
        pytest.param(
            {"namespaceSelector": {"matchLabels": {"team": "y"}}}, False, id="namespace-labels-miss"
        ),
    ],
)
def test_namespaces(extra: dict[str, Any], blocked: bool) -> None:
    snap = snapshot_of(NODES, [make_pod("w", namespace="other", node="a1", labels={"app": "web"})])
    snap.set_object("Namespace", {"metadata": {"name": "other", "labels": {"team": "x"}}})
    snap.set_object("Namespace", {"metadata": {"name": "default"}})
    pod = make_pod("p", spec=aff("podAntiAffinity", term({"app": "web"}, **extra)))
    got = filter_all(InterPodAffinity(), pod, snap)
    assert (not got["a1"].is_success) is blocked


def test_skipped_without_any_affinity() -> None:
    got = run(make_pod("p"), [make_pod("w", node="a1", labels={"app": "web"})])
    assert set(got.values()) == {"ok"}


def test_preferred_scores_by_zone() -> None:
    spec = aff(
        "podAffinity", {"weight": 10, "podAffinityTerm": term({"app": "db"})}, preferred=True
    )
    spec["affinity"]["podAntiAffinity"] = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "podAffinityTerm": term({"app": "noisy"}, HOST)}
        ]
    }
    existing = [
        make_pod("db", node="a1", labels={"app": "db"}),
        make_pod("n", node="a2", labels={"app": "noisy"}),
    ]
    got = score_all(
        InterPodAffinity.new({}, FW), make_pod("p", spec=spec), snapshot_of(NODES, existing)
    )
    # raw: a1 10, a2 10-5=5, b1 0, nozone 0 -> min-max normalised
    assert got == {"a1": 100, "a2": 50, "b1": 0, "nozone": 0}


def test_existing_pods_preferred_and_hard_affinity_attract() -> None:
    hard = make_pod("h", node="b1", spec=aff("podAffinity", term({"app": "web"})))
    got = score_all(
        InterPodAffinity.new({"hardPodAffinityWeight": 3}, FW),
        make_pod("p", labels={"app": "web"}),
        snapshot_of(NODES, [hard]),
    )
    assert got == {"a1": 0, "a2": 0, "b1": 100, "nozone": 0}
    assert (
        score_all(
            InterPodAffinity.new({"hardPodAffinityWeight": 0}, FW),
            make_pod("p", labels={"app": "web"}),
            snapshot_of(NODES, [hard]),
        )
        == {}
    )
