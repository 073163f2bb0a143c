"""PodTopologySpread: hard (DoNotSchedule) and soft (ScheduleAnyway) spreading,
minDomains, node inclusion policies, matchLabelKeys, and the system defaults."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.scheduler.framework import Framework
from pyk8s.scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    PodTopologySpread,
    skew_ok,
)
from pyk8s.scheduler.testing import filter_all, make_node, make_pod, score_all, snapshot_of

FW: Framework = None  # type: ignore[assignment]
ZONE = "zone"
HOST = "kubernetes.io/hostname"


def tsc(
    key: str = ZONE, skew: int = 1, when: str = "DoNotSchedule", **extra: Any
) -> dict[str, Any]:
    return {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "foo"}},
        **extra,
    }


def foo(name: str, node: str = "", **kw: Any) -> dict[str, Any]:
    return make_pod(name, node=node, labels={"app": "foo", **kw.pop("labels", {})}, **kw)


NODES = [
    make_node("a", labels={ZONE: "z1"}),
    make_node("b", labels={ZONE: "z1"}),
    make_node("x", labels={ZONE: "z2"}),
    make_node("y", labels={ZONE: "z2"}),
]


def fits(
    pod: dict[str, Any],
    existing: list[Any],
    nodes: list[Any] = NODES,
    args: dict[str, Any] | None = None,
) -> dict[str, str]:
    got = filter_all(PodTopologySpread.new(args or {}, FW), pod, snapshot_of(nodes, existing))
    return {n: "ok" if st.is_success else st.reasons[0] for n, st in got.items()}


@pytest.mark.parametrize(
    ("count", "self_match", "minimum", "skew", "ok"),
    [
        pytest.param(1, True, 0, 1, False, id="would-exceed"),
        pytest.param(0, True, 0, 1, True, id="even"),
        pytest.param(3, False, 2, 1, True, id="no-self-match"),
    ],
)
def test_skew_ok(count: int, self_match: bool, minimum: int, skew: int, ok: bool) -> None:
    assert skew_ok(count, self_match, minimum, skew) is ok


def test_spreads_over_zones() -> None:
    existing = [foo("1", "a"), foo("2", "b"), foo("3", "x")]
    got = fits(foo("p", spec={"topologySpreadConstraints": [tsc()]}), existing)
    assert got == {
        "a": ERR_REASON_CONSTRAINTS_NOT_MATCH,
        "b": ERR_REASON_CONSTRAINTS_NOT_MATCH,
        "x": "ok",
        "y": "ok",
    }


def test_node_without_key_is_unresolvable() -> None:
    got = fits(
        foo("p", spec={"topologySpreadConstraints": [tsc()]}), [], [*NODES, make_node("bare")]
    )
    assert got["bare"] == ERR_REASON_NODE_LABEL_NOT_MATCH and got["a"] == "ok"


def test_non_matching_pod_does_not_self_count() -> None:
    existing = [foo("1", "a")]
    got = fits(make_pod("p", spec={"topologySpreadConstraints": [tsc(skew=1)]}), existing)
    assert set(got.values()) == {"ok"}


def test_terminating_pods_are_not_counted() -> None:
    dying = foo("1", "a")
    dying["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    got = fits(foo("p", spec={"topologySpreadConstraints": [tsc()]}), [dying])
    assert set(got.values()) == {"ok"}


def test_min_domains_treats_global_minimum_as_zero() -> None:
    existing = [foo("1", "a"), foo("2", "x")]
    pod = foo("p", spec={"topologySpreadConstraints": [tsc(minDomains=3)]})
    got = fits(pod, existing)
    assert set(got.values()) == {ERR_REASON_CONSTRAINTS_NOT_MATCH}
    got = fits(foo("p", spec={"topologySpreadConstraints": [tsc()]}), existing)
    assert set(got.values()) == {"ok"}


def test_node_affinity_policy() -> None:
    nodes = [*NODES, make_node("c", labels={ZONE: "z3", "pool": "other"})]
    sel = {"nodeSelector": {"pool": "main"}}
    nodes = [
        make_node(n["metadata"]["name"], labels={**n["metadata"]["labels"], "pool": "main"})
        for n in NODES
    ] + nodes[-1:]
    existing = [foo("1", "a"), foo("2", "x")]
    honor = fits(foo("p", spec={"topologySpreadConstraints": [tsc()], **sel}), existing, nodes)
    # Honor: node c (other pool) is no domain, so z1 and z2 tie at 1 and everything fits
    assert set(honor.values()) == {"ok"}
    # Ignore: z3 counts as an empty domain, the global minimum drops to 0
    ignore = fits(
        foo("p", spec={"topologySpreadConstraints": [tsc(nodeAffinityPolicy="Ignore")], **sel}),
        existing,
        nodes,
    )
    assert ignore["a"] == ERR_REASON_CONSTRAINTS_NOT_MATCH and ignore["c"] == "ok"


def test_node_taints_policy() -> None:
    tainted = make_node("t", labels={ZONE: "z3"}, taints=[{"key": "k", "effect": "NoSchedule"}])
    existing = [foo("1", "a"), foo("2", "x")]
    # Ignore: z3 counts as an empty domain, the global minimum drops to 0
    ignore = fits(
        foo("p", spec={"topologySpreadConstraints": [tsc()]}), existing, [*NODES, tainted]
    )
    assert ignore["a"] == ERR_REASON_CONSTRAINTS_NOT_MATCH  # z3 with 0 counts as a domain
    honor = fits(
        foo("p", spec={"topologySpreadConstraints": [tsc(nodeTaintsPolicy="Honor")]}),
        existing,
        [*NODES, tainted],
    )
    assert honor["a"] == "ok"


def test_match_label_keys() -> None:
    existing = [foo("1", "a", labels={"rev": "old"}), foo("2", "b", labels={"rev": "old"})]
    pod = foo(
        "p",
        labels={"rev": "new"},
        spec={"topologySpreadConstraints": [tsc(matchLabelKeys=["rev"])]},
    )
    assert set(fits(pod, existing).values()) == {"ok"}


def test_soft_spreading_prefers_emptier_zone() -> None:
    existing = [foo("1", "a"), foo("2", "b"), foo("3", "x")]
    pod = foo("p", spec={"topologySpreadConstraints": [tsc(when="ScheduleAnyway")]})
    got = score_all(PodTopologySpread.new({}, FW), pod, snapshot_of(NODES, existing))
    # z1 has 2, z2 has 1; weight log(2+2): raw z1 = round(2*1.386) = 3, z2 = round(1.386) = 1
    # normalised 100 * (3 + 1 - s) / 3
    assert got == {"a": 33, "b": 33, "x": 100, "y": 100}


def test_soft_hostname_counts_per_node() -> None:
    existing = [foo("1", "a"), foo("2", "a")]
    pod = foo("p", spec={"topologySpreadConstraints": [tsc(key=HOST, when="ScheduleAnyway")]})
    got = score_all(PodTopologySpread.new({}, FW), pod, snapshot_of(NODES, existing))
    assert got["a"] < got["b"] == got["x"] == got["y"] == 100


def test_system_defaults_apply_to_pods_of_a_service() -> None:
    snap = snapshot_of(
        [
            make_node("a", labels={"topology.kubernetes.io/zone": "z1"}),
            make_node("b", labels={"topology.kubernetes.io/zone": "z2"}),
        ],
        [foo("1", "a"), foo("2", "a")],
    )
    pl = PodTopologySpread.new({}, FW)
    assert score_all(pl, foo("p"), snap) == {}  # nothing selects it yet
    snap.set_object(
        "Service",
        {"metadata": {"name": "svc", "namespace": "default"}, "spec": {"selector": {"app": "foo"}}},
    )
    got = score_all(pl, foo("p"), snap)
    assert got["b"] > got["a"]


def test_list_defaulting_with_replicaset_owner() -> None:
    snap = snapshot_of(NODES, [foo("1", "a")])
    snap.set_object(
        "ReplicaSet",
        {
            "metadata": {"name": "rs", "namespace": "default", "uid": "u"},
            "spec": {"selector": {"matchLabels": {"app": "foo"}}},
        },
    )
    args = {
        "defaultingType": "List",
        "defaultConstraints": [
            {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
        ],
    }
    pod = foo("p")
    pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": True}
    ]
    got = filter_all(PodTopologySpread.new(args, FW), pod, snap)
    assert {n for n, st in got.items() if st.is_success} == {"x", "y"}
