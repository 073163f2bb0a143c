"""Store/Indexer: keys, indexes kept in step with every write, custom indexers."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.client import store


def obj(
    ns: str, name: str, *, rv: str = "1", owners: tuple[str, ...] = (), **labels: str
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "resourceVersion": rv, "labels": labels}
    if ns:
        meta["namespace"] = ns
    if owners:
        meta["ownerReferences"] = [{"uid": u, "kind": "ReplicaSet", "name": u} for u in owners]
    return {"metadata": meta}


@pytest.mark.parametrize(
    ("key", "text"),
    [
        pytest.param(store.ObjectKey("ns", "a"), "ns/a", id="namespaced"),
        pytest.param(store.ObjectKey("", "node-1"), "node-1", id="cluster-scoped"),
    ],
)
def test_object_key_str_and_parse(key: store.ObjectKey, text: str) -> None:
    assert str(key) == text
    assert store.ObjectKey.parse(text) == key


def test_object_key_of_object_is_hashable_and_ordered() -> None:
    k = store.ObjectKey.of(obj("b", "x"))
    assert k == store.ObjectKey("b", "x")
    assert {k: 1}[store.ObjectKey("b", "x")] == 1
    assert sorted([store.ObjectKey("b", "a"), store.ObjectKey("a", "z")])[0].namespace == "a"
    with pytest.raises(AttributeError):
        k.name = "y"  # type: ignore[misc]


def test_upsert_get_delete_list() -> None:
    s: store.Store[dict[str, Any]] = store.Store()
    assert s.upsert(obj("a", "x")) is None
    old = s.upsert(obj("a", "x", rv="2"))
    assert old is not None and old["metadata"]["resourceVersion"] == "1"
    s.upsert(obj("b", "y"))
    assert len(s) == 2
    assert store.ObjectKey("a", "x") in s
    got = s.get(store.ObjectKey("a", "x"))
    assert got is not None and got["metadata"]["resourceVersion"] == "2"
    assert [o["metadata"]["name"] for o in s.list("a")] == ["x"]
    assert s.delete(store.ObjectKey("a", "x")) is not None
    assert s.delete(store.ObjectKey("a", "x")) is None
    assert s.list("a") == []
    assert s.index_values(store.NAMESPACE_INDEX) == ["b"]


@pytest.mark.parametrize(
    ("writes", "owner", "expected"),
    [
        pytest.param([obj("ns", "p1", owners=("rs1",))], "rs1", ["p1"], id="one-owner"),
        pytest.param(
            [obj("ns", "p1", owners=("rs1",)), obj("ns", "p2", owners=("rs1", "rs2"))],
            "rs1",
            ["p1", "p2"],
            id="two-children",
        ),
        pytest.param(
            [obj("ns", "p1", owners=("rs1",)), obj("ns", "p1", rv="2", owners=("rs2",))],
            "rs1",
            [],
            id="owner-changed-unindexes-old",
        ),
        pytest.param([obj("ns", "p1")], "rs1", [], id="no-owner"),
    ],
)
def test_owner_uid_index(writes: list[dict[str, Any]], owner: str, expected: list[str]) -> None:
    s: store.Store[dict[str, Any]] = store.Store({store.OWNER_UID_INDEX: store.owner_uid_index})
    for w in writes:
        s.upsert(w)
    assert [o["metadata"]["name"] for o in s.by_index(store.OWNER_UID_INDEX, owner)] == expected


def test_custom_index_added_late_indexes_existing_objects() -> None:
    s: store.Store[dict[str, Any]] = store.Store()
    s.upsert(obj("ns", "a", app="web"))
    s.upsert(obj("ns", "b", app="db"))
    s.upsert(obj("ns", "c"))
    s.add_indexers({"app": store.label_index("app")})
    assert [o["metadata"]["name"] for o in s.by_index("app", "web")] == ["a"]
    s.upsert(obj("ns", "c", rv="2", app="web"))
    assert [o["metadata"]["name"] for o in s.by_index("app", "web")] == ["a", "c"]
    s.delete(store.ObjectKey("ns", "a"))
    assert [o["metadata"]["name"] for o in s.by_index("app", "web")] == ["c"]
    assert s.index_values("app") == ["db", "web"]
    with pytest.raises(ValueError):
        s.add_indexers({"app": store.label_index("app")})
    with pytest.raises(KeyError):
        s.by_index("nope", "x")


def test_multi_value_index_and_replace() -> None:
    def tags(o: Any) -> list[str]:
        return list(o["metadata"]["labels"].values())

    s: store.Store[dict[str, Any]] = store.Store({"tags": tags})
    s.upsert(obj("ns", "a", x="red", y="blue", z="red"))
    assert [o["metadata"]["name"] for o in s.by_index("tags", "red")] == ["a"]
    s.replace([obj("ns", "b", x="blue")])
    assert s.by_index("tags", "red") == []
    assert [o["metadata"]["name"] for o in s.by_index("tags", "blue")] == ["b"]
    assert s.keys() == [store.ObjectKey("ns", "b")]


def test_iteration_is_over_a_snapshot() -> None:
    s: store.Store[dict[str, Any]] = store.Store()
    for n in "abc":
        s.upsert(obj("ns", n))
    for key in s:
        s.delete(key)
    assert len(s) == 0
