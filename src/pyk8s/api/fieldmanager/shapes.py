"""How structured-merge-diff sees a schema: the merge topology of every node.

Upstream converts the OpenAPI definitions into its own schema (kube-openapi's
``schemaconv``); ``Shape`` reads the same facts straight off a ``schemas.SchemaNode``:

* which JSON kinds a node admits (an object, an array, a scalar; a node without a type
  admits all three, as do unknown fields);
* objects: *granular* (each field owned on its own) unless ``x-kubernetes-map-type:
  atomic``; a struct's *declared* fields (``properties``) differ from free map keys
  (``additionalProperties``) in what a field set records for them;
* arrays: ``x-kubernetes-list-type`` ``map`` (items by ``x-kubernetes-list-map-keys``),
  ``set`` (scalar items by value) or ``atomic``; without a list type, a
  ``x-kubernetes-patch-strategy: merge`` list is a map keyed by its patch merge key (a set
  without one), and anything else is atomic;
* a list-map key field may have a default that stands in for an item that omits it
  (``protocol: TCP`` for container and service ports). The JSON-schema copy of upstream's
  definitions drops defaults, so the two upstream has are listed here; a CRD schema's own
  ``default`` is used as is.

Extensions on the site a node is reached through (the property) win over those on the
definition it refers to, as upstream's converter does. ``RawExtension`` is atomic and
``Quantity``/``IntOrString`` are scalars, as upstream special-cases them.

``Shape.deduced()`` is upstream's deduced type for objects without a schema (CRDs without
one, unknown fields): objects granular with every key a free map key, arrays atomic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pyk8s.api.fieldmanager.values import JSON, MISSING, Missing
from pyk8s.api.schemas import SchemaNode

__all__ = ["ListKind", "Shape"]

ListKind = Literal["atomic", "set", "map"]

_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
_KEY_DEFAULTS: Mapping[str, Mapping[str, JSON]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}
_OBJECT, _ARRAY = "object", "array"


class Shape:
    """One schema node as structured-merge-diff types it (``None`` node: deduced)."""

    __slots__ = (
        "_children",
        "_items",
        "admits_list",
        "admits_map",
        "admits_scalar",
        "list_keys",
        "list_kind",
        "map_atomic",
        "node",
        "preserve_unknown",
    )

    def __init__(
        self,
        node: SchemaNode | None,
        *,
        preserve_unknown: bool = False,
        atomic: bool = False,
    ) -> None:
        self.node = node
        self.list_keys: tuple[str, ...] = ()
        self._children: dict[str, Shape] = {}
        self._items: Shape | None = None
        if node is None:
            self.admits_map = self.admits_list = self.admits_scalar = True
            self.map_atomic = atomic
            self.list_kind: ListKind = "atomic"
            self.preserve_unknown = True
            return
        self.preserve_unknown = preserve_unknown or bool(
            node.raw.get("x-kubernetes-preserve-unknown-fields")
        )
        types = node.types
        if node.name == _RAW_EXTENSION:
            types, atomic = (), True
        self.admits_map = not types or _OBJECT in types
        self.admits_list = not types or _ARRAY in types
        self.admits_scalar = not types or any(t not in (_OBJECT, _ARRAY) for t in types)
        self.map_atomic = atomic or _extension(node, "x-kubernetes-map-type") == "atomic"
        self.list_kind = "atomic" if atomic else self._list_kind(node)

    def _list_kind(self, node: SchemaNode) -> ListKind:
        list_type = _extension(node, "x-kubernetes-list-type")
        if list_type == "map":
            keys = _extension(node, "x-kubernetes-list-map-keys")
            self.list_keys = tuple(str(k) for k in keys) if isinstance(keys, list) else ()
            return "map"
        if list_type == "set":
            return "set"
        if list_type is not None:
            return "atomic"
        strategy = _extension(node, "x-kubernetes-patch-strategy")
        if isinstance(strategy, str) and "merge" in (s.strip() for s in strategy.split(",")):
            key = _extension(node, "x-kubernetes-patch-merge-key")
            if isinstance(key, str) and key:
                self.list_keys = (key,)
                return "map"
            return "set"
        return "atomic"

    @classmethod
    def of(cls, node: SchemaNode | None) -> Shape:
        """The shape of a kind's root schema (``None``: deduced from the object).

        Shapes are memoised per schema node (children on their parent), as schema nodes
        are; the cache holds the node, so its id stays its own."""
        if node is None:
            return DEDUCED
        cached = _ROOTS.get(id(node))
        if cached is None or cached[0] is not node:
            cached = _ROOTS[id(node)] = (node, cls(node))
        return cached[1]

    @staticmethod
    def deduced() -> Shape:
        return DEDUCED

    def __repr__(self) -> str:
        return f"Shape({self.node!r})" if self.node is not None else "Shape(deduced)"

    @property
    def associative(self) -> bool:
        return self.list_kind != "atomic"

    @property
    def granular_map(self) -> bool:
        return self.admits_map and not self.map_atomic

    def declared(self, name: str) -> bool:
        """Whether ``name`` is a struct field (as opposed to a free map key)."""
        return self.node is not None and name in self.node.properties

    def knows(self, name: str) -> bool:
        """Whether an object of this shape may have a field ``name`` at all."""
        node = self.node
        if node is None or self.preserve_unknown or not node.properties:
            return True
        return name in node.properties or node.is_map or node.is_open

    def field(self, name: str) -> Shape:
        """The shape of field (or map key) ``name``; deduced for unknown fields."""
        node = self.node
        if node is None:
            return UNTYPED_ATOMIC if self.map_atomic else DEDUCED
        found = self._children.get(name)
        if found is None:
            child = node.field(name)
            if child is None:
                return DEDUCED
            found = self._children[name] = Shape(child, preserve_unknown=self.preserve_unknown)
        return found

    def items(self) -> Shape:
        """The shape of this list's items (an untyped atomic value when not declared)."""
        if self._items is None:
            node = self.node
            child = node.items() if node is not None else None
            self._items = (
                Shape(child, preserve_unknown=self.preserve_unknown)
                if child is not None
                else UNTYPED_ATOMIC
            )
        return self._items

    def key_default(self, name: str) -> JSON | Missing:
        """The default of key field ``name`` of this (item) shape, MISSING if none."""
        node = self.node
        if node is None:
            return MISSING
        site = node.properties.get(name)
        if isinstance(site, Mapping) and "default" in site:
            return site["default"]
        return _KEY_DEFAULTS.get(node.name or "", {}).get(name, MISSING)

    def kind_of(self, value: JSON | Missing) -> Literal["map", "list", "scalar"]:
        """How a value is handled here, upstream's ``deduceAtom``; a value of a kind the
        schema does not admit is a leaf. A null takes the schema's own kind."""
        if isinstance(value, dict):
            return "map" if self.admits_map else "scalar"
        if isinstance(value, list):
            return "list" if self.admits_list else "scalar"
        if value is None or value is MISSING:
            if self.admits_map:
                return "map"
            if self.admits_scalar or not self.admits_list:
                return "scalar"
            return "list"
        return "scalar"


def _extension(node: SchemaNode, name: str) -> Any:
    if name in node.site:
        return node.site[name]
    return node.raw.get(name)


_ROOTS: dict[int, tuple[SchemaNode, Shape]] = {}
DEDUCED = Shape(None)
UNTYPED_ATOMIC = Shape(None, atomic=True)
