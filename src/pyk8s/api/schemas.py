"""Upstream's Kubernetes 1.33 type definitions, and a navigator over them.

The source is ``kubernetes-json-schema/v1.33.0-local/_definitions.json`` from the
``kubernetes-validate`` package: 707 JSON-Schema definitions under ``$defs`` (refs are
``#/$defs/<name>``), with upstream's ``x-kubernetes-group-version-kind``,
``-patch-strategy``, ``-patch-merge-key``, ``-list-type`` and ``-list-map-keys``. It is
read once, lazily, on the first call that needs it (~1.4 MB; about 70 ms cold, most of it
reading the file, and a few ms to parse with orjson); nothing here does any other I/O.

``SchemaNode`` walks a schema the way strategic merge patch and field validation need it:
``field(key)`` follows ``properties`` then ``additionalProperties``, ``items()`` follows
array items, and both resolve ``$ref`` (``#/$defs/…`` or ``#/components/schemas/…``, bare
or wrapped in a one-element ``allOf``). A node keeps the *site* it was reached through,
because that is where upstream puts the patch extensions: the ``x-kubernetes-patch-*`` of
``PodSpec.containers`` live on the ``containers`` property, not on ``Container``.
Children are memoised on their parent and definition roots are memoised per registry, so
repeated walks over the same types cost dictionary lookups.

``Definitions`` is the registry a node resolves refs in; ``builtin()`` is upstream's.
Tests build their own registries from small OpenAPI documents.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

__all__ = [
    "DEFINITIONS_RESOURCE",
    "GVK",
    "Definitions",
    "PatchMeta",
    "SchemaNode",
    "builtin",
    "definition_for_gvk",
    "load_builtin",
    "node",
    "node_for_gvk",
    "schema",
]

DEFINITIONS_RESOURCE = ("kubernetes-json-schema", "v1.33.0-local", "_definitions.json")

Schema = Mapping[str, Any]


class GVK(NamedTuple):
    group: str
    version: str
    kind: str


@dataclass(frozen=True, slots=True)
class PatchMeta:
    """Patch metadata of one field, as upstream declares it on the field's schema.

    ``strategies`` is the raw ``x-kubernetes-patch-strategy`` split on commas
    (``("merge", "retainKeys")``); ``strategy`` is the part that is not ``retainKeys``
    (``"merge"``, ``"replace"`` or ``""`` for none).
    """

    strategies: tuple[str, ...] = ()
    merge_key: str = ""
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()

    @property
    def strategy(self) -> str:
        others = [s for s in self.strategies if s != "retainKeys"]
        return others[0] if others else ""

    @property
    def retain_keys(self) -> bool:
        return "retainKeys" in self.strategies

    @classmethod
    def of(cls, site: Schema) -> PatchMeta:
        raw = site.get("x-kubernetes-patch-strategy")
        keys = site.get("x-kubernetes-list-map-keys")
        if not any(k in site for k in _PATCH_KEYS):
            return _NO_META
        return cls(
            strategies=tuple(s.strip() for s in raw.split(",")) if isinstance(raw, str) else (),
            merge_key=str(site.get("x-kubernetes-patch-merge-key") or ""),
            list_type=str(site.get("x-kubernetes-list-type") or ""),
            list_map_keys=tuple(keys) if isinstance(keys, list) else (),
        )


_NO_META = PatchMeta()
_PATCH_KEYS = (
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
)


class Definitions:
    """A set of named schemas that ``$ref``s resolve in."""

    __slots__ = ("_by_gvk", "_nodes", "schemas")

    def __init__(self, schemas: Mapping[str, Schema]) -> None:
        self.schemas = schemas
        self._nodes: dict[str, SchemaNode] = {}
        self._by_gvk: dict[GVK, str] | None = None

    def node(self, name: str) -> SchemaNode:
        """The root node of definition ``name``; KeyError when there is none."""
        found = self._nodes.get(name)
        if found is None:
            found = SchemaNode(self, self.schemas[name], name=name)
            self._nodes[name] = found
        return found

    def resolve(self, ref: str) -> tuple[str, Schema]:
        name = ref.rsplit("/", 1)[-1]
        try:
            return name, self.schemas[name]
        except KeyError:
            raise KeyError(f"unable to resolve {ref}") from None

    def for_gvk(self, gvk: GVK) -> str | None:
        if self._by_gvk is None:
            index: dict[GVK, str] = {}
            for name, body in self.schemas.items():
                for entry in body.get("x-kubernetes-group-version-kind") or ():
                    key = GVK(entry.get("group", ""), entry.get("version", ""), entry["kind"])
                    index.setdefault(key, name)
            self._by_gvk = index
        return self._by_gvk.get(gvk)


class SchemaNode:
    """One schema reached through one site (a property, items, additionalProperties)."""

    __slots__ = ("_children", "_items", "defs", "meta", "name", "raw", "site")

    def __init__(self, defs: Definitions, site: Schema, *, name: str | None = None) -> None:
        self.defs = defs
        self.site = site
        self.meta = PatchMeta.of(site)
        self.name = name
        target = site
        ref = _ref_of(site)
        if ref is not None:
            self.name, target = defs.resolve(ref)
        self.raw: Schema = target
        self._children: dict[str, SchemaNode | None] = {}
        self._items: SchemaNode | bool | None = False  # False = not computed yet

    def __repr__(self) -> str:
        return f"SchemaNode({self.name or self.type or 'anonymous'})"

    @property
    def types(self) -> tuple[str, ...]:
        """The JSON types this schema admits, ``"null"`` excluded."""
        raw = self.raw.get("type")
        if isinstance(raw, str):
            return (raw,) if raw != "null" else ()
        if isinstance(raw, list):
            return tuple(t for t in raw if t != "null")
        alternatives = self.raw.get("oneOf") or self.raw.get("anyOf") or ()
        out: list[str] = []
        for alt in alternatives:
            t = alt.get("type")
            for one in [t] if isinstance(t, str) else (t or ()):
                if one != "null" and one not in out:
                    out.append(one)
        return tuple(out)

    @property
    def type(self) -> str | None:
        """The single JSON type, or None for unconstrained and one-of schemas."""
        types = self.types
        return types[0] if len(types) == 1 else None

    @property
    def nullable(self) -> bool:
        raw = self.raw.get("type")
        return bool(self.raw.get("nullable")) or (isinstance(raw, list) and "null" in raw)

    @property
    def int_or_string(self) -> bool:
        return bool(self.raw.get("x-kubernetes-int-or-string")) or set(self.types) == {
            "integer",
            "string",
        }

    @property
    def description(self) -> str:
        return str(self.site.get("description") or self.raw.get("description") or "")

    @property
    def gvks(self) -> tuple[GVK, ...]:
        entries = self.raw.get("x-kubernetes-group-version-kind") or ()
        return tuple(GVK(e.get("group", ""), e.get("version", ""), e["kind"]) for e in entries)

    @property
    def properties(self) -> Mapping[str, Schema]:
        props = self.raw.get("properties")
        return props if isinstance(props, Mapping) else {}

    @property
    def is_map(self) -> bool:
        """An object whose keys are free and whose values share one schema."""
        return isinstance(self.raw.get("additionalProperties"), Mapping)

    @property
    def is_open(self) -> bool:
        """An object that admits any fields (RawExtension, FieldsV1, no schema at all)."""
        if self.raw.get("x-kubernetes-preserve-unknown-fields"):
            return True
        if "properties" in self.raw or "additionalProperties" in self.raw:
            return self.raw.get("additionalProperties") is True
        return self.types in ((), ("object",)) and "items" not in self.raw

    def field(self, key: str) -> SchemaNode | None:
        """The schema of ``key`` in this object: a property, else the map's value schema."""
        try:
            return self._children[key]
        except KeyError:
            pass
        site = self.properties.get(key)
        if site is None:
            extra = self.raw.get("additionalProperties")
            site = extra if isinstance(extra, Mapping) else None
        child = SchemaNode(self.defs, site) if site is not None else None
        self._children[key] = child
        return child

    def has_field(self, key: str) -> bool:
        return key in self.properties or self.is_map

    def items(self) -> SchemaNode | None:
        """The schema of this array's elements."""
        if self._items is False:
            site = self.raw.get("items")
            self._items = SchemaNode(self.defs, site) if isinstance(site, Mapping) else None
        assert self._items is not True
        return self._items

    def walk(self, *path: str) -> SchemaNode | None:
        """Follow field names, and ``[]`` for array items: ``walk("spec", "containers", "[]")``."""
        here: SchemaNode | None = self
        for step in path:
            if here is None:
                return None
            here = here.items() if step == "[]" else here.field(step)
        return here

    def iter_fields(self) -> Iterator[tuple[str, SchemaNode]]:
        for key in self.properties:
            child = self.field(key)
            if child is not None:
                yield key, child


def _ref_of(site: Schema) -> str | None:
    ref = site.get("$ref")
    if isinstance(ref, str):
        return ref
    all_of = site.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
        inner = all_of[0].get("$ref")
        if isinstance(inner, str):
            return inner
    return None


def load_builtin() -> Definitions:
    """Read upstream's 1.33 definitions from the installed package (uncached)."""
    resource = importlib.resources.files("kubernetes_validate")
    for part in DEFINITIONS_RESOURCE:
        resource = resource / part
    document = orjson.loads(resource.read_bytes())
    return Definitions(document["$defs"])


@functools.cache
def builtin() -> Definitions:
    """Upstream's 1.33 definitions, read on first use and shared from then on."""
    return load_builtin()


def schema(name: str) -> Schema:
    """The raw (JSON-Schema) definition ``name``; KeyError when upstream has none."""
    return builtin().schemas[name]


def definition_for_gvk(group: str, version: str, kind: str) -> str | None:
    """The definition name upstream declares for a kind, e.g. ``io.k8s.api.apps.v1.Deployment``."""
    return builtin().for_gvk(GVK(group, version, kind))


def node(name: str) -> SchemaNode:
    return builtin().node(name)


def node_for_gvk(group: str, version: str, kind: str) -> SchemaNode | None:
    name = definition_for_gvk(group, version, kind)
    return builtin().node(name) if name is not None else None
