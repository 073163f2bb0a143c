"""Field paths and FieldsV1 sets, as structured-merge-diff's ``fieldpath`` package.

A path is a tuple of ``PathElement``s, each one of four kinds:

* a field name — a struct field or map key: ``f:replicas``, shown ``.replicas``;
* a key — a list item of a list-type map, by its key fields: ``k:{"name":"nginx"}``,
  shown ``[name="nginx"]``;
* a value — an item of a list-type set: ``v:"finalizer.example.com"``, shown ``[="…"]``;
* an index — a list position: ``i:0``, shown ``[0]`` (upstream never produces these for
  Kubernetes objects, but reads them).

A ``FieldSet`` is a trie of paths: at every node, the *members* (paths that end there) and
the *children* (subtrees). FieldsV1 is its JSON form: every member or child is a key, a
child's value is its subtree, ``{}`` is a member without children, and ``"."`` inside a
subtree says the subtree's own path is a member too. Keys are written in upstream's order
(field names, then keys, then values, then indexes; each by value), so serialising a set
gives byte-for-byte what the apiserver writes.

Set algebra is member-wise, as upstream's: ``a.difference(b)`` removes exactly the paths of
``b`` (a path's descendants are separate paths), while ``recursive_difference`` also drops
everything below each removed path. Operations return new sets and never modify their
operands; ``insert`` modifies a set in place and is for building one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pyk8s.api.fieldmanager.values import JSON, go_text, json_text, normalize, order_key

__all__ = [
    "FieldSet",
    "Path",
    "PathElement",
    "parse_element",
    "path_text",
]

_FIELD, _KEY, _VALUE, _INDEX = 0, 1, 2, 3


class PathElement:
    """One step of a path; equal elements serialise to the same FieldsV1 key."""

    __slots__ = ("_order", "kind", "text", "value")

    def __init__(self, kind: int, text: str, value: JSON, order: tuple[Any, ...]) -> None:
        self.kind = kind
        self.text = text  # the FieldsV1 key: f:…, k:…, v:…, i:…
        self.value = value  # field name, key pairs (dict), item value, or index
        self._order = (kind, order)

    @classmethod
    def field(cls, name: str) -> PathElement:
        return _field(name)

    @classmethod
    def key(cls, pairs: Mapping[str, JSON]) -> PathElement:
        fields = {name: normalize(pairs[name]) for name in sorted(pairs)}
        text = "k:" + json_text(fields)
        return cls(_KEY, text, fields, tuple((n, order_key(v)) for n, v in fields.items()))

    @classmethod
    def item(cls, value: JSON) -> PathElement:
        value = normalize(value)
        return cls(_VALUE, "v:" + json_text(value), value, order_key(value))

    @classmethod
    def index(cls, position: int) -> PathElement:
        return cls(_INDEX, f"i:{position}", position, (position,))

    @property
    def is_field(self) -> bool:
        return self.kind == _FIELD

    @property
    def is_key(self) -> bool:
        return self.kind == _KEY

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathElement) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __lt__(self, other: PathElement) -> bool:
        return self._order < other._order

    def __str__(self) -> str:
        """Upstream's ``PathElement.String``: ``.name``, ``[k=v,…]``, ``[=v]``, ``[i]``."""
        if self.kind == _FIELD:
            return "." + str(self.value)
        if self.kind == _KEY:
            return "[" + ",".join(f"{n}={go_text(v)}" for n, v in self.value.items()) + "]"
        if self.kind == _VALUE:
            return f"[={go_text(self.value)}]"
        return f"[{self.value}]"

    def __repr__(self) -> str:
        return f"PathElement({self.text!r})"


Path = tuple[PathElement, ...]


def path_text(path: Path) -> str:
    """A path the way conflicts name it: ``.spec.template.spec.containers[name="a"].image``."""
    return "".join(str(pe) for pe in path)


@functools.lru_cache(maxsize=4096)
def _field(name: str) -> PathElement:
    return PathElement(_FIELD, "f:" + name, name, (name,))


@functools.lru_cache(maxsize=16384)
def parse_element(text: str) -> PathElement | None:
    """A FieldsV1 key as a path element; None for an unknown kind (upstream skips those)."""
    if len(text) < 2 or text[1] != ":":
        raise ValueError(f"invalid path element {text!r}: missing colon")
    kind, rest = text[0], text[2:]
    if kind == "f":
        return PathElement.field(rest)
    if kind == "i":
        return PathElement.index(int(rest))
    if kind not in "kv":
        return None
    try:
        value = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid path element {text!r}: {exc}") from None
    if kind == "v":
        return PathElement.item(value)
    if not isinstance(value, dict):
        raise ValueError(f"invalid path element {text!r}: key must be an object")
    return PathElement.key(value)


class FieldSet:
    """A set of paths (upstream's ``fieldpath.Set``)."""

    __slots__ = ("_children", "_members")

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._members: set[PathElement] = set()
        self._children: dict[PathElement, FieldSet] = {}
        for path in paths:
            self.insert(path)

    @classmethod
    def of_fields(cls, *dotted: str) -> FieldSet:
        """Paths of field names only: ``FieldSet.of_fields("spec", "metadata.labels")``."""
        return cls(tuple(_field(name) for name in path.split(".")) for path in dotted)

    # --- building and reading -----------------------------------------------------------

    def insert(self, path: Path) -> None:
        """Add ``path`` (in place). The empty path is not a member of any set."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node._children.get(pe)
            if child is None:
                child = node._children[pe] = FieldSet()
            node = child
        node._members.add(path[-1])

    def has(self, path: Path) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            assert node is not None
            node = node._children.get(pe)
            if node is None:
                return False
        assert node is not None
        return path[-1] in node._members

    def empty(self) -> bool:
        return not self._members and all(c.empty() for c in self._children.values())

    def with_prefix(self, pe: PathElement) -> FieldSet:
        """The subtree below ``pe`` (shared, not copied: do not modify it)."""
        return self._children.get(pe) or _EMPTY

    def member_elements(self) -> frozenset[PathElement]:
        return frozenset(self._members)

    def child_sets(self) -> Iterator[tuple[PathElement, FieldSet]]:
        return iter(self._children.items())

    def paths(self) -> Iterator[Path]:
        """Every path, in upstream's ``Iterate`` order: members first, then each subtree."""
        yield from self._paths(())

    def _paths(self, prefix: Path) -> Iterator[Path]:
        for pe in sorted(self._members):
            yield (*prefix, pe)
        for pe in sorted(self._children):
            yield from self._children[pe]._paths((*prefix, pe))

    def __len__(self) -> int:
        return len(self._members) + sum(len(c) for c in self._children.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self.to_fields_v1() == other.to_fields_v1()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "FieldSet([" + ", ".join(repr(path_text(p)) for p in self.paths()) + "])"

    def copy(self) -> FieldSet:
        out = FieldSet()
        out._members = set(self._members)
        out._children = {pe: c.copy() for pe, c in self._children.items()}
        return out

    # --- algebra ------------------------------------------------------------------------

    def union(self, other: FieldSet) -> FieldSet:
        out = self.copy()
        out._members |= other._members
        for pe, child in other._children.items():
            mine = out._children.get(pe)
            out._children[pe] = child.copy() if mine is None else mine.union(child)
        return out

    def intersection(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out._members = self._members & other._members
        for pe, child in self._children.items():
            theirs = other._children.get(pe)
            if theirs is not None:
                common = child.intersection(theirs)
                if not common.empty():
                    out._children[pe] = common
        return out

    def difference(self, other: FieldSet) -> FieldSet:
        """The paths of ``self`` that are not paths of ``other``."""
        out = FieldSet()
        out._members = self._members - other._members
        for pe, child in self._children.items():
            theirs = other._children.get(pe)
            rest = child.copy() if theirs is None else child.difference(theirs)
            if not rest.empty():
                out._children[pe] = rest
        return out

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like ``difference``, and also without anything below a path of ``other``."""
        out = FieldSet()
        out._members = self._members - other._members
        for pe, child in self._children.items():
            if pe in other._members:
                continue
            theirs = other._children.get(pe)
            rest = child.copy() if theirs is None else child.recursive_difference(theirs)
            if not rest.empty():
                out._children[pe] = rest
        return out

    def only_under(self, prefixes: Iterable[Path]) -> FieldSet:
        """The paths that start with one of ``prefixes`` (upstream's include filter)."""
        out = FieldSet()
        for prefix in prefixes:
            node: FieldSet | None = self
            for pe in prefix[:-1]:
                node = node._children.get(pe) if node is not None else None
            if node is None or not prefix:
                continue
            last = prefix[-1]
            if last in node._members:
                out.insert(prefix)
            below = node._children.get(last)
            if below is not None:
                for path in below.paths():
                    out.insert((*prefix, *path))
        return out

    # --- FieldsV1 -----------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 JSON object, keys in upstream's order."""
        return self._emit(include_self=False)

    def _emit(self, *, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and (self._members or self._children):
            out["."] = {}
        for pe in sorted(self._members | self._children.keys()):
            child = self._children.get(pe)
            if child is None:
                out[pe.text] = {}
            else:
                out[pe.text] = child._emit(include_self=pe in self._members)
        return out

    @classmethod
    def from_fields_v1(cls, fields: Mapping[str, Any] | None) -> FieldSet:
        """Parse FieldsV1 (``None`` is the empty set); ValueError when malformed."""
        if fields is None:
            return cls()
        if not isinstance(fields, Mapping):
            raise ValueError("FieldsV1 must be a JSON object")
        found, _ = _read(fields)
        return found


def _read(fields: Mapping[str, Any]) -> tuple[FieldSet, bool]:
    """The subtree in ``fields`` and whether its own path is a member."""
    out = FieldSet()
    is_member = False
    for text, sub in fields.items():
        if text == ".":
            is_member = True
            continue
        pe = parse_element(text)
        if pe is None:
            continue
        if not isinstance(sub, Mapping):
            raise ValueError(f"FieldsV1 value at {text!r} must be a JSON object")
        child, child_is_member = _read(sub)
        if child_is_member:
            out._members.add(pe)
        if not child.empty():
            out._children[pe] = child
    if not out._members and not out._children:
        is_member = True
    return out, is_member


_EMPTY = FieldSet()
