"""Garbage collector decisions without a server: classifying owners, what to do with a
dependent, which dependents block a foreground deletion, the patches, and discovery."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import discovery
from pyk8s.controllers import gc_decisions as gcd

Obj = dict[str, Any]
S, D, W = gcd.OwnerState.SOLID, gcd.OwnerState.DANGLING, gcd.OwnerState.WAITING


def ref(uid: str, *, block: bool | None = None) -> Obj:
    r: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"rs-{uid}", "uid": uid}
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


def obj(
    *refs: Obj, finalizers: list[str] | None = None, deleting: bool = False, uid: str = "me"
) -> Obj:
    meta: Obj = {"name": "x", "namespace": "ns", "uid": uid, "resourceVersion": "42"}
    if refs:
        meta["ownerReferences"] = list(refs)
    if finalizers:
        meta["finalizers"] = finalizers
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": meta}


@pytest.mark.parametrize(
    ("owner", "state"),
    [
        pytest.param(None, D, id="missing"),
        pytest.param(obj(uid="other"), D, id="namesake-with-another-uid"),
        pytest.param(obj(uid="a"), S, id="present"),
        pytest.param(obj(uid="a", deleting=True), S, id="deleting-in-background-still-solid"),
        pytest.param(
            obj(uid="a", deleting=True, finalizers=["orphan"]), S, id="orphaning-still-solid"
        ),
        pytest.param(
            obj(uid="a", deleting=True, finalizers=["foregroundDeletion"]), W, id="waiting"
        ),
    ],
)
def test_owner_state(owner: Obj | None, state: gcd.OwnerState) -> None:
    assert gcd.owner_state(owner, ref("a")) is state


@pytest.mark.parametrize(
    ("item", "states", "has_deps", "dep_waits", "expected"),
    [
        pytest.param(obj(), {}, False, False, gcd.Action.none(), id="no-owners"),
        pytest.param(obj(ref("a")), {"a": S}, False, False, gcd.Action.none(), id="solid"),
        pytest.param(
            obj(ref("a"), ref("b")),
            {"a": S, "b": D},
            False,
            False,
            gcd.Action(gcd.ActionKind.REMOVE_REFERENCES, uids=("b",)),
            id="solid-and-dangling-drops-the-dangling-reference",
        ),
        pytest.param(
            obj(ref("a"), ref("b")),
            {"a": S, "b": W},
            True,
            False,
            gcd.Action(gcd.ActionKind.REMOVE_REFERENCES, uids=("b",)),
            id="solid-and-waiting-drops-the-waiting-reference",
        ),
        pytest.param(
            obj(ref("a")),
            {"a": D},
            False,
            False,
            gcd.Action(gcd.ActionKind.DELETE, propagation="Background"),
            id="dangling-deleted-in-background",
        ),
        pytest.param(
            obj(ref("a"), finalizers=["orphan"]),
            {"a": D},
            False,
            False,
            gcd.Action(gcd.ActionKind.DELETE, propagation="Orphan"),
            id="own-orphan-finalizer-honoured",
        ),
        pytest.param(
            obj(ref("a")),
            {"a": W},
            False,
            False,
            gcd.Action(gcd.ActionKind.DELETE, propagation="Background"),
            id="waiting-owner-no-dependents",
        ),
        pytest.param(
            obj(ref("a")),
            {"a": W},
            True,
            False,
            gcd.Action(gcd.ActionKind.DELETE, propagation="Foreground"),
            id="waiting-owner-with-dependents-foreground",
        ),
        pytest.param(
            obj(ref("a")),
            {"a": W},
            True,
            True,
            gcd.Action(gcd.ActionKind.UNBLOCK_AND_DELETE, propagation="Foreground"),
            id="cycle-guard",
        ),
        pytest.param(
            obj(ref("a"), ref("b")),
            {"a": D, "b": W},
            False,
            False,
            gcd.Action(gcd.ActionKind.DELETE, propagation="Background"),
            id="dangling-and-waiting",
        ),
    ],
)
def test_decide(
    item: Obj,
    states: dict[str, gcd.OwnerState],
    has_deps: bool,
    dep_waits: bool,
    expected: gcd.Action,
) -> None:
    assert (
        gcd.decide(item, states, has_dependents=has_deps, a_dependent_waits=dep_waits) == expected
    )


def test_blocking_dependents() -> None:
    blocking = obj(ref("o", block=True), uid="d1")
    not_blocking = obj(ref("o", block=False), uid="d2")
    unset = obj(ref("o"), uid="d3")
    other_owner = obj(ref("p", block=True), uid="d4")
    deps = [blocking, not_blocking, unset, other_owner]
    assert gcd.blocking_dependents("o", deps) == [blocking]


def test_patches() -> None:
    item = obj(ref("a", block=True), ref("b", block=False))
    assert gcd.remove_references_patch(item, ["a"]) == {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": "a"}], "uid": "me"}
    }
    assert gcd.unblock_references_patch(item) == {
        "metadata": {"ownerReferences": [{"uid": "a", "blockOwnerDeletion": False}], "uid": "me"}
    }
    fin = obj(finalizers=["foregroundDeletion", "example.com/x"])
    assert gcd.remove_finalizer_patch(fin, "foregroundDeletion") == {
        "metadata": {"resourceVersion": "42", "finalizers": ["example.com/x"]}
    }
    assert gcd.remove_finalizer_patch(obj(finalizers=["orphan"]), "orphan") == {
        "metadata": {"resourceVersion": "42", "finalizers": None}
    }
    assert gcd.remove_finalizer_patch(obj(), "orphan") is None


def _res(
    name: str,
    kind: str,
    scope: str = "Namespaced",
    verbs: tuple[str, ...] = ("list", "watch", "delete"),
) -> Obj:
    return {"resource": name, "responseKind": {"kind": kind}, "scope": scope, "verbs": list(verbs)}


def test_discovery_parsing() -> None:
    core = {
        "items": [
            {
                "metadata": {},
                "versions": [
                    {
                        "version": "v1",
                        "resources": [
                            _res("pods", "Pod"),
                            _res("pods/status", "Pod"),
                            _res("namespaces", "Namespace", "Cluster"),
                        ],
                    }
                ],
            }
        ]
    }
    groups = {
        "items": [
            {
                "metadata": {"name": "autoscaling"},
                "versions": [
                    {
                        "version": "v2",
                        "resources": [_res("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
                    },
                    {
                        "version": "v1",
                        "resources": [_res("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
                    },
                ],
            },
            {
                "metadata": {"name": "example.com"},
                "versions": [
                    {
                        "version": "v1",
                        "resources": [_res("widgets", "Widget", verbs=("get", "list"))],
                    }
                ],
            },
        ]
    }
    d = discovery.parse_aggregated([core, groups])
    assert [(r.group, r.version, r.plural) for r in d.preferred] == [
        ("", "v1", "pods"),
        ("", "v1", "namespaces"),
        ("autoscaling", "v2", "horizontalpodautoscalers"),
        ("example.com", "v1", "widgets"),
    ]
    assert [r.plural for r in d.with_verbs("list", "delete", namespaced=True)] == [
        "pods",
        "horizontalpodautoscalers",
    ]
    widget = d.for_kind("example.com/v1", "Widget")
    assert widget is not None and widget.namespaced and widget.kind == "Widget"
    hpa_v1 = d.for_kind("autoscaling/v1", "HorizontalPodAutoscaler")
    assert hpa_v1 is not None and hpa_v1.version == "v1"
    hpa_other = d.for_kind("autoscaling/v9", "HorizontalPodAutoscaler")
    assert hpa_other is not None and hpa_other.version == "v2"
    assert d.for_kind("v1", "Nope") is None
