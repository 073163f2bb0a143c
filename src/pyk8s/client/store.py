"""The informer cache: objects keyed by ``ObjectKey(namespace, name)``, with indexes.

Role: the reflector writes here (``upsert``/``delete``/``replace``), everything else only
reads (``get``, ``list``, ``by_index``). Like client-go's thread-safe store, but for one
event loop: there are no locks, and no await points inside a method, so a reader never
sees a half-applied change. It is *not* safe to share across threads or loops.

Contract:
- Objects are the decoded JSON dicts as received; the store never copies or mutates them.
  Callers must not mutate what they read — copy before changing (``copy.deepcopy``).
- Indexes are kept in step with every write: ``by_index(name, value)`` returns exactly the
  stored objects whose index function yields ``value``. Index functions must be pure
  functions of the object.
- ``NAMESPACE_INDEX`` is always present. ``owner_uid_index`` (ownerReferences[].uid) is
  the usual second one; add it with ``indexers={OWNER_UID_INDEX: owner_uid_index}``.
- ``ObjectKey`` prints as upstream's MetaNamespaceKey: ``ns/name``, or ``name`` alone
  for cluster-scoped objects; ``ObjectKey.parse`` inverts it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = [
    "NAMESPACE_INDEX",
    "OWNER_UID_INDEX",
    "IndexFunc",
    "ObjectKey",
    "Store",
    "label_index",
    "namespace_index",
    "owner_uid_index",
]

T = TypeVar("T", bound=Mapping[str, Any])

IndexFunc = Callable[[Mapping[str, Any]], Iterable[str]]

NAMESPACE_INDEX = "namespace"
OWNER_UID_INDEX = "owner-uid"


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        meta = obj.get("metadata") or {}
        return cls(meta.get("namespace") or "", meta.get("name") or "")

    @classmethod
    def parse(cls, key: str) -> ObjectKey:
        namespace, sep, name = key.partition("/")
        return cls(namespace, name) if sep else cls("", namespace)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def namespace_index(obj: Mapping[str, Any]) -> Iterable[str]:
    return ((obj.get("metadata") or {}).get("namespace") or "",)


def owner_uid_index(obj: Mapping[str, Any]) -> Iterable[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return [r["uid"] for r in refs if r.get("uid")]


def label_index(label: str) -> IndexFunc:
    """An index on one label's value (objects without the label are not indexed)."""

    def index(obj: Mapping[str, Any]) -> Iterable[str]:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return (labels[label],) if label in labels else ()

    return index


class Store(Generic[T]):
    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[ObjectKey, T] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        # index name → value → keys (an ordered set); what each key was indexed under
        self._indices: dict[str, dict[str, dict[ObjectKey, None]]] = {NAMESPACE_INDEX: {}}
        self._indexed: dict[str, dict[ObjectKey, tuple[str, ...]]] = {NAMESPACE_INDEX: {}}
        if indexers:
            self.add_indexers(indexers)

    # ------------------------------------------------------------------ reads

    def get(self, key: ObjectKey) -> T | None:
        return self._items.get(key)

    def list(self, namespace: str | None = None) -> list[T]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def keys(self) -> builtins.list[ObjectKey]:
        return list(self._items)

    def by_index(self, index: str, value: str) -> builtins.list[T]:
        try:
            keys = self._indices[index].get(value, ())
        except KeyError:
            raise KeyError(f"no index named {index!r}") from None
        return [self._items[k] for k in keys]

    def index_values(self, index: str) -> builtins.list[str]:
        return sorted(v for v, keys in self._indices[index].items() if keys)

    @property
    def index_names(self) -> builtins.list[str]:
        return builtins.list(self._indexers)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[ObjectKey]:
        return iter(list(self._items))

    # ------------------------------------------------------------------ writes

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions; existing objects are indexed at once."""
        for name, fn in indexers.items():
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = fn
            self._indices[name] = {}
            self._indexed[name] = {}
            for key, obj in self._items.items():
                self._index_one(name, key, obj)

    def upsert(self, obj: T) -> T | None:
        """Store ``obj`` under its key; returns the object it replaced, if any."""
        key = ObjectKey.of(obj)
        old = self._items.get(key)
        self._items[key] = obj
        for name in self._indexers:
            self._unindex_one(name, key)
            self._index_one(name, key, obj)
        return old

    def delete(self, key: ObjectKey) -> T | None:
        old = self._items.pop(key, None)
        if old is not None:
            for name in self._indexers:
                self._unindex_one(name, key)
        return old

    def replace(self, objs: Iterable[T]) -> None:
        """Make the contents exactly ``objs`` (no notifications: callers diff first)."""
        self._items = {}
        for name in self._indexers:
            self._indices[name] = {}
            self._indexed[name] = {}
        for obj in objs:
            self.upsert(obj)

    # ------------------------------------------------------------------ internals

    def _index_one(self, name: str, key: ObjectKey, obj: T) -> None:
        values = tuple(dict.fromkeys(self._indexers[name](obj)))
        if not values:
            return
        self._indexed[name][key] = values
        index = self._indices[name]
        for v in values:
            index.setdefault(v, {})[key] = None

    def _unindex_one(self, name: str, key: ObjectKey) -> None:
        values = self._indexed[name].pop(key, ())
        index = self._indices[name]
        for v in values:
            keys = index.get(v)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del index[v]
