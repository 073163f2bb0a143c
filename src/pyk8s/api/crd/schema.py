"""Structural schemas: a CRD version's ``openAPIV3Schema`` as one immutable tree.

``from_openapi(raw)`` is upstream's ``NewStructural`` over the v1 JSON of a
``JSONSchemaProps``: every node keeps its generic fields (``type``, ``description``,
``title``, ``default``, ``nullable``), its value validations (``enum``, ``pattern``,
bounds, lengths, ``required``, ``allOf``/``anyOf``/``oneOf``/``not``) and the Kubernetes
extensions (``x-kubernetes-preserve-unknown-fields``, ``-int-or-string``,
``-embedded-resource``, ``-list-type``, ``-list-map-keys``, ``-map-type``,
``-validations``). The structure is ``properties``, ``items`` and
``additional_properties`` (``None`` when unset, a bool, or a node).

The junctors (``all_of`` …) hold the same ``Structural`` type, but upstream reads them as
value validation only: pruning, defaulting and list semantics never look inside them.
What may appear there (and everywhere else) is checked when a CRD is validated
(``pyk8s.api.crd.structural``); ``from_openapi`` itself rejects only what upstream cannot
represent at all (``$ref``, ``id``, ``items`` as an array, …) with ``SchemaError``.

``to_openapi(node)`` is upstream's ``Unfold`` + ``ToKubeOpenAPI``: the schema published in
``/openapi/v3`` (int-or-string unfolded into ``anyOf: [integer, string]``; ``example`` and
``externalDocs`` dropped). Pure; nodes are never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "UNSET",
    "SchemaError",
    "Structural",
    "from_openapi",
    "is_int_or_string_all_of",
    "is_int_or_string_any_of",
    "to_openapi",
]

JSON = dict[str, Any]


class _Unset:
    """No ``default`` (distinct from a ``null`` default, which upstream also ignores)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


class SchemaError(ValueError):
    """The schema uses a construct upstream's structural schemas cannot hold."""


@dataclass(frozen=True, slots=True)
class Structural:
    type: str = ""
    description: str = ""
    title: str = ""
    format: str = ""
    nullable: bool = False
    default: Any = UNSET
    properties: Mapping[str, Structural] = field(default_factory=dict)
    items: Structural | None = None
    additional_properties: Structural | bool | None = None
    # value validation
    enum: tuple[Any, ...] | None = None
    pattern: str = ""
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    unique_items: bool = False
    multiple_of: int | float | None = None
    required: tuple[str, ...] = ()
    all_of: tuple[Structural, ...] = ()
    any_of: tuple[Structural, ...] = ()
    one_of: tuple[Structural, ...] = ()
    not_: Structural | None = None
    # extensions
    preserve_unknown_fields: bool = False
    embedded_resource: bool = False
    int_or_string: bool = False
    list_type: str | None = None
    list_map_keys: tuple[str, ...] = ()
    map_type: str | None = None
    validations: tuple[Mapping[str, Any], ...] = ()

    @property
    def has_default(self) -> bool:
        """A non-null ``default`` (upstream treats ``default: null`` as none)."""
        return self.default is not UNSET and self.default is not None

    @property
    def additional_schema(self) -> Structural | None:
        ap = self.additional_properties
        return ap if isinstance(ap, Structural) else None

    def field_schema(self, key: str) -> Structural | None:
        """The schema a property value follows: ``properties`` first, then the map's."""
        found = self.properties.get(key)
        return found if found is not None else self.additional_schema


_UNSUPPORTED: Final = (
    ("id", "'id'"),
    ("$schema", "'schema'"),
    ("$ref", "'$ref'"),
    ("patternProperties", "'patternProperties'"),
    ("dependencies", "'dependencies'"),
    ("additionalItems", "'additionalItems'"),
    ("definitions", "'definitions'"),
)


def from_openapi(raw: Mapping[str, Any] | None) -> Structural | None:
    """``NewStructural``: the node for one ``JSONSchemaProps`` (v1 JSON), ``None`` for none."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SchemaError("OpenAPIV3Schema must be an object")
    for key, shown in _UNSUPPORTED:
        if raw.get(key) not in (None, "", {}, []):
            raise SchemaError(f"OpenAPIV3Schema {shown} is not supported")
    items = raw.get("items")
    if isinstance(items, list):
        raise SchemaError("OpenAPIV3Schema 'items' must be a schema, but is an array")
    preserve = raw.get("x-kubernetes-preserve-unknown-fields")
    if preserve is False:
        raise SchemaError(
            "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
        )
    ap_raw = raw.get("additionalProperties")
    additional: Structural | bool | None
    if ap_raw is None:
        additional = None
    elif isinstance(ap_raw, bool):
        additional = ap_raw
    else:
        additional = from_openapi(ap_raw)
    props = raw.get("properties") or {}
    enum = raw.get("enum")
    not_raw = raw.get("not")
    return Structural(
        type=_str(raw.get("type")),
        description=_str(raw.get("description")),
        title=_str(raw.get("title")),
        format=_str(raw.get("format")),
        nullable=raw.get("nullable") is True,
        default=raw.get("default", UNSET),
        properties={k: _node(v) for k, v in props.items()},
        items=from_openapi(items) if isinstance(items, Mapping) else None,
        additional_properties=additional,
        enum=tuple(enum) if isinstance(enum, list) else None,
        pattern=_str(raw.get("pattern")),
        minimum=_num(raw.get("minimum")),
        maximum=_num(raw.get("maximum")),
        exclusive_minimum=raw.get("exclusiveMinimum") is True,
        exclusive_maximum=raw.get("exclusiveMaximum") is True,
        min_length=_int(raw.get("minLength")),
        max_length=_int(raw.get("maxLength")),
        min_items=_int(raw.get("minItems")),
        max_items=_int(raw.get("maxItems")),
        min_properties=_int(raw.get("minProperties")),
        max_properties=_int(raw.get("maxProperties")),
        unique_items=raw.get("uniqueItems") is True,
        multiple_of=_num(raw.get("multipleOf")),
        required=tuple(r for r in raw.get("required") or () if isinstance(r, str)),
        all_of=tuple(_node(s) for s in raw.get("allOf") or ()),
        any_of=tuple(_node(s) for s in raw.get("anyOf") or ()),
        one_of=tuple(_node(s) for s in raw.get("oneOf") or ()),
        not_=from_openapi(not_raw) if isinstance(not_raw, Mapping) else None,
        preserve_unknown_fields=preserve is True,
        embedded_resource=raw.get("x-kubernetes-embedded-resource") is True,
        int_or_string=raw.get("x-kubernetes-int-or-string") is True,
        list_type=_opt_str(raw.get("x-kubernetes-list-type")),
        list_map_keys=tuple(raw.get("x-kubernetes-list-map-keys") or ()),
        map_type=_opt_str(raw.get("x-kubernetes-map-type")),
        validations=tuple(raw.get("x-kubernetes-validations") or ()),
    )


def _node(raw: Any) -> Structural:
    node = from_openapi(raw if isinstance(raw, Mapping) else {})
    assert node is not None
    return node


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _num(v: Any) -> int | float | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


# --- publishing ------------------------------------------------------------------------


def is_int_or_string_any_of(node: Structural) -> bool:
    """``anyOf: [{type: integer}, {type: string}]`` with nothing else in either branch."""
    return node.any_of == (_INT_BRANCH, _STR_BRANCH)


def is_int_or_string_all_of(node: Structural) -> bool:
    """The same pattern as the first ``allOf`` clause."""
    return bool(node.all_of) and is_int_or_string_any_of(node.all_of[0])


_INT_BRANCH: Final = Structural(type="integer")
_STR_BRANCH: Final = Structural(type="string")


def to_openapi(node: Structural, *, unfold: bool = True) -> JSON:
    """``ToKubeOpenAPI`` (after ``Unfold`` when ``unfold``), keys in upstream's order."""
    out: JSON = {}
    any_of, all_of = node.any_of, node.all_of
    if (
        unfold
        and node.int_or_string
        and not (is_int_or_string_any_of(node) or is_int_or_string_all_of(node))
    ):
        pair = (_INT_BRANCH, _STR_BRANCH)
        if not any_of:
            any_of = pair
        else:
            all_of = (Structural(any_of=pair), *all_of)
    if node.description:
        out["description"] = node.description
    if node.type:
        out["type"] = node.type
    if node.format:
        out["format"] = node.format
    if node.title:
        out["title"] = node.title
    if node.has_default:
        out["default"] = node.default
    for key, value in (
        ("maximum", node.maximum),
        ("minimum", node.minimum),
        ("maxLength", node.max_length),
        ("minLength", node.min_length),
        ("maxItems", node.max_items),
        ("minItems", node.min_items),
        ("multipleOf", node.multiple_of),
        ("maxProperties", node.max_properties),
        ("minProperties", node.min_properties),
    ):
        if value is not None:
            out[key] = value
    if node.exclusive_maximum:
        out["exclusiveMaximum"] = True
    if node.exclusive_minimum:
        out["exclusiveMinimum"] = True
    if node.pattern:
        out["pattern"] = node.pattern
    if node.unique_items:
        out["uniqueItems"] = True
    if node.enum is not None:
        out["enum"] = list(node.enum)
    if node.required:
        out["required"] = list(node.required)
    if node.items is not None:
        out["items"] = to_openapi(node.items, unfold=unfold)
    for key, branches in (("allOf", all_of), ("oneOf", node.one_of), ("anyOf", any_of)):
        if branches:
            out[key] = [to_openapi(b, unfold=False) for b in branches]
    if node.not_ is not None:
        out["not"] = to_openapi(node.not_, unfold=False)
    if node.properties:
        out["properties"] = {
            k: to_openapi(v, unfold=unfold) for k, v in sorted(node.properties.items())
        }
    ap = node.additional_properties
    if isinstance(ap, Structural):
        out["additionalProperties"] = to_openapi(ap, unfold=unfold)
    elif ap is not None:
        out["additionalProperties"] = ap
    if node.nullable:
        out["nullable"] = True
    for key, flag in (
        ("x-kubernetes-embedded-resource", node.embedded_resource),
        ("x-kubernetes-int-or-string", node.int_or_string),
        ("x-kubernetes-preserve-unknown-fields", node.preserve_unknown_fields),
    ):
        if flag:
            out[key] = True
    if node.list_map_keys:
        out["x-kubernetes-list-map-keys"] = list(node.list_map_keys)
    if node.list_type is not None:
        out["x-kubernetes-list-type"] = node.list_type
    if node.map_type is not None:
        out["x-kubernetes-map-type"] = node.map_type
    if node.validations:
        out["x-kubernetes-validations"] = [dict(v) for v in node.validations]
    return out
