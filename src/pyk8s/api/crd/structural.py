"""Is a CRD's ``openAPIV3Schema`` acceptable? Upstream's three passes over it.

``validate_schema(raw, path, status_enabled=…)`` returns the ``Cause``s upstream's
``validateCustomResourceDefinitionValidation`` reports for one schema (``path`` is
``spec.validation.openAPIV3Schema`` when every version shares it, else
``spec.versions[i].schema.openAPIV3Schema``), in upstream's order:

1. with the status subresource, only some fields may appear at the root; ``nullable``
   may never be true there;
2. the structural-schema invariants (``ValidateStructural``: every node has a ``type``,
   arrays have ``items``, ``metadata`` at the root restricts at most ``name`` and
   ``generateName``, junctors hold value validation only, whatever they mention is also
   specified outside them …), sorted by message as upstream sorts them; when they hold,
   every ``default`` must be pruned (no unknown fields) and validate against its schema;
3. the OpenAPI checks (``ValidateCustomResourceDefinitionOpenAPISchema``): known types,
   no ``$ref``/``uniqueItems``/``patternProperties`` …, list-type and map-type rules,
   list-map keys, no defaults in top-level ``metadata``/``apiVersion``/``kind``.

A schema that cannot even be built (``schema.SchemaError``) is reported as
``<path>: Invalid value: "": <reason>`` only when nothing else was found, as upstream does.
CEL rules (``x-kubernetes-validations``) get the shape checks only; they are not compiled.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from pyk8s.api.crd import gofmt, prune, schema_rules, valuecheck
from pyk8s.api.crd.schema import (
    UNSET,
    SchemaError,
    Structural,
    from_openapi,
    is_int_or_string_all_of,
    is_int_or_string_any_of,
)
from pyk8s.api.validation import field
from pyk8s.api.validation.field import Cause, GoRepr, Path

__all__ = ["TYPES", "validate_schema", "validate_structural"]

TYPES: Final = schema_rules.TYPES
_META_FIELDS: Final = schema_rules.META_FIELDS
_ROOT_ALLOWED: Final = (
    *("Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum"),
    *("ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems"),
    *("UniqueItems", "MultipleOf", "Required", "Items", "Properties", "ExternalDocs"),
    *("Example", "XPreserveUnknownFields", "XValidations"),
)
# JSONSchemaProps fields in declaration order (the root check reports the first offender).
_STRUCT_FIELDS: Final = (
    *(("id", "ID"), ("$schema", "Schema"), ("$ref", "Ref"), ("description", "Description")),
    *(("type", "Type"), ("format", "Format"), ("title", "Title"), ("default", "Default")),
    *(("maximum", "Maximum"), ("exclusiveMaximum", "ExclusiveMaximum")),
    *(("minimum", "Minimum"), ("exclusiveMinimum", "ExclusiveMinimum")),
    *(("maxLength", "MaxLength"), ("minLength", "MinLength"), ("pattern", "Pattern")),
    *(("maxItems", "MaxItems"), ("minItems", "MinItems"), ("uniqueItems", "UniqueItems")),
    *(("multipleOf", "MultipleOf"), ("enum", "Enum"), ("maxProperties", "MaxProperties")),
    *(("minProperties", "MinProperties"), ("required", "Required"), ("items", "Items")),
    *(("allOf", "AllOf"), ("oneOf", "OneOf"), ("anyOf", "AnyOf"), ("not", "Not")),
    *(("properties", "Properties"), ("additionalProperties", "AdditionalProperties")),
    *(("patternProperties", "PatternProperties"), ("dependencies", "Dependencies")),
    *(("additionalItems", "AdditionalItems"), ("definitions", "Definitions")),
    *(("externalDocs", "ExternalDocs"), ("example", "Example"), ("nullable", "Nullable")),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
    ("x-kubernetes-int-or-string", "XIntOrString"),
    ("x-kubernetes-list-map-keys", "XListMapKeys"),
    ("x-kubernetes-list-type", "XListType"),
    ("x-kubernetes-map-type", "XMapType"),
    ("x-kubernetes-validations", "XValidations"),
)


def validate_schema(raw: Mapping[str, Any], path: Path, *, status_enabled: bool) -> list[Cause]:
    """Every problem upstream finds in one ``openAPIV3Schema``; ``[]`` when accepted."""
    out: list[Cause] = []
    if status_enabled:
        out.extend(_root_with_status(raw, path))
    if raw.get("nullable") is True:
        out.append(field.forbidden(path.child("nullable"), "nullable cannot be true at the root"))
    init_errors: list[Cause] = []
    try:
        node = from_openapi(raw)
    except SchemaError as exc:
        init_errors.append(field.invalid(path, "", str(exc)))
    else:
        assert node is not None
        structural = validate_structural(node, path)
        out.extend(structural or _validate_defaults(node, path))
    out.extend(schema_rules.check(raw, path))
    return out or init_errors


def _root_with_status(raw: Mapping[str, Any], path: Path) -> list[Cause]:
    for key, name in _STRUCT_FIELDS:
        value = raw.get(key)
        # Go's zero values: nil pointers/slices, "", false (a 0 bound is a non-nil pointer)
        if value is None or value is False or value == "" or (key == "type" and value == "object"):
            continue
        if name == "Type":
            return [
                field.invalid(
                    path.child("type"),
                    raw["type"],
                    'only "object" is allowed as the type at the root of the schema if the '
                    "status subresource is enabled",
                )
            ]
        if name not in _ROOT_ALLOWED:
            allowed = "[" + " ".join(_ROOT_ALLOWED) + "]"
            return [
                field.invalid(
                    path,
                    GoRepr("apiextensions.JSONSchemaProps{...}"),
                    f"only {allowed} fields are allowed at the root of the schema if the "
                    "status subresource is enabled",
                )
            ]
    return []


# --- structural invariants -----------------------------------------------------------------

_ROOT, _ITEM, _FIELD = "root", "item", "field"
_EMPTY_TYPE: Final = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}


def validate_structural(node: Structural, path: Path) -> list[Cause]:
    """``ValidateStructural``: invariants and completeness, sorted by message."""
    errs = _invariants(node, _ROOT, path) + _completeness(node, path)
    return sorted(errs, key=lambda c: c.message)


def _invariants(s: Structural, level: str, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if s.type == "array" and s.items is None:
        out.append(field.required(path.child("items"), "must be specified"))
    if s.items is not None:
        out += _invariants(s.items, _ITEM, path.child("items"))
    for k in sorted(s.properties):
        out += _invariants(s.properties[k], _FIELD, path.child("properties").key(k))
    if s.additional_properties is not None:
        if level == _ROOT:
            out.append(
                field.forbidden(path.child("additionalProperties"), "must not be used at the root")
            )
        if s.additional_schema is not None:
            out += _invariants(s.additional_schema, _FIELD, path.child("additionalProperties"))
    if s.int_or_string and s.preserve_unknown_fields:
        out.append(
            field.invalid(
                path.child("x-kubernetes-preserve-unknown-fields"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if s.int_or_string and s.embedded_resource:
        out.append(
            field.invalid(
                path.child("x-kubernetes-embedded-resource"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    out += _value_validation(s, is_int_or_string_any_of(s), is_int_or_string_all_of(s), level, path)
    check_metadata = level == _ROOT or s.embedded_resource
    if s.embedded_resource and s.type != "object":
        msg = "must be object if x-kubernetes-embedded-resource is true"
        out.append(
            field.invalid(path.child("type"), s.type, msg)
            if s.type
            else field.required(path.child("type"), msg)
        )
    elif not s.type and not s.int_or_string and not s.preserve_unknown_fields:
        out.append(field.required(path.child("type"), _EMPTY_TYPE[level]))
    if s.embedded_resource and s.additional_properties is not None:
        out.append(
            field.forbidden(
                path.child("additionalProperties"),
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == _ROOT and s.type and s.type != "object":
        out.append(field.invalid(path.child("type"), s.type, "must be object at the root"))
    for key in ("kind", "apiVersion"):
        prop = s.properties.get(key)
        if prop is not None and check_metadata and prop.type != "string":
            out.append(
                field.invalid(
                    path.child("properties").key(key).child("type"), prop.type, "must be string"
                )
            )
    metadata = s.properties.get("metadata")
    if metadata is not None:
        meta_path = path.child("properties").key("metadata")
        if check_metadata and metadata.type != "object":
            out.append(field.invalid(meta_path.child("type"), metadata.type, "must be object"))
        if level == _ROOT and not _restricts_only_names(metadata):
            out.append(
                field.forbidden(
                    meta_path,
                    "must not specify anything other than name and generateName, but metadata "
                    "is implicitly specified",
                )
            )
    if s.embedded_resource and not s.preserve_unknown_fields and not s.properties:
        out.append(
            field.required(
                path.child("properties"),
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )
    return out


def _restricts_only_names(meta: Structural) -> bool:
    """Upstream drops type, default and a lone name/generateName; nothing may remain."""
    props = set(meta.properties)
    names_only = props in ({"name"}, {"generateName"}, {"name", "generateName"})
    rest = replace(meta, type="", default=UNSET, properties={} if names_only else meta.properties)
    return rest == Structural()


def _value_validation(
    s: Structural, skip_any_of: bool, skip_first_all_of_any_of: bool, level: str, path: Path
) -> list[Cause]:
    out: list[Cause] = []
    if not skip_any_of:
        for i, b in enumerate(s.any_of):
            out += _nested(b, False, level, path.child("anyOf").index(i))
    for i, b in enumerate(s.all_of):
        skip = skip_first_all_of_any_of and i == 0
        out += _nested(b, skip, level, path.child("allOf").index(i))
    for i, b in enumerate(s.one_of):
        out += _nested(b, False, level, path.child("oneOf").index(i))
    if s.not_ is not None:
        out += _nested(s.not_, False, level, path.child("not"))
    if s.pattern:
        try:
            re.compile(s.pattern)
        except re.error as exc:
            out.append(
                field.invalid(
                    path.child("pattern"),
                    s.pattern,
                    f"must be a valid regular expression, but isn't: error parsing regexp: {exc}",
                )
            )
    return out


_NESTED_FORBIDDEN: Final = (
    ("type", "must be empty to be structural"),
    ("additional_properties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("preserve_unknown_fields", "must be false to be structural"),
    ("embedded_resource", "must be false to be structural"),
    ("int_or_string", "must be false to be structural"),
    ("list_map_keys", "must be empty to be structural"),
    ("list_type", "must be undefined to be structural"),
    ("map_type", "must be undefined to be structural"),
    ("validations", "must be empty to be structural"),
)
_JSON_NAMES: Final = {
    "additional_properties": "additionalProperties",
    "preserve_unknown_fields": "x-kubernetes-preserve-unknown-fields",
    "embedded_resource": "x-kubernetes-embedded-resource",
    "int_or_string": "x-kubernetes-int-or-string",
    "list_map_keys": "x-kubernetes-list-map-keys",
    "list_type": "x-kubernetes-list-type",
    "map_type": "x-kubernetes-map-type",
    "validations": "x-kubernetes-validations",
}


def _nested(v: Structural, skip_any_of: bool, level: str, path: Path) -> list[Cause]:
    out = _value_validation(v, skip_any_of, False, level, path)
    if v.items is not None:
        out += _nested(v.items, False, level, path.child("items"))
    for k in sorted(v.properties):
        out += _nested(v.properties[k], False, _FIELD, path.child("properties").key(k))
    for attr, message in _NESTED_FORBIDDEN:
        value = getattr(v, attr)
        present = v.has_default if attr == "default" else value not in (None, "", False, ())
        if present:
            out.append(field.forbidden(path.child(_JSON_NAMES.get(attr, attr)), message))
    if "metadata" in v.properties:
        out.append(
            field.forbidden(
                path.child("properties").key("metadata"),
                "must not be specified in a nested context",
            )
        )
    return out


def _completeness(s: Structural, path: Path) -> list[Cause]:
    out: list[Cause] = []
    for name, branches in (("allOf", s.all_of), ("anyOf", s.any_of), ("oneOf", s.one_of)):
        for i, b in enumerate(branches):
            out += _nested_complete(b, s, path, path.child(name).index(i))
    if s.not_ is not None:
        out += _nested_complete(s.not_, s, path, path.child("not"))
    return out


def _nested_complete(
    v: Structural, s: Structural | None, s_path: Path, v_path: Path
) -> list[Cause]:
    if s is None:
        return [field.required(s_path, f"because it is defined in {v_path}")]
    out: list[Cause] = []
    for name, branches in (("allOf", v.all_of), ("anyOf", v.any_of), ("oneOf", v.one_of)):
        for i, b in enumerate(branches):
            out += _nested_complete(b, s, s_path, v_path.child(name).index(i))
    if v.not_ is not None:
        out += _nested_complete(v.not_, s, s_path, v_path.child("not"))
    if v.items is not None:
        out += _nested_complete(v.items, s.items, s_path.child("items"), v_path.child("items"))
    for k in sorted(v.properties):
        sub_v = v_path.child("properties").key(k)
        if k not in s.properties:
            out.append(
                field.required(
                    s_path.child("properties").key(k), f"because it is defined in {sub_v}"
                )
            )
        else:
            out += _nested_complete(
                v.properties[k], s.properties[k], s_path.child("properties").key(k), sub_v
            )
    return out


# --- defaults ---------------------------------------------------------------------------


def _validate_defaults(node: Structural, path: Path) -> list[Cause]:
    return _defaults(node, path, root=True, inside_meta=False)


def _defaults(s: Structural, path: Path, *, root: bool, inside_meta: bool) -> list[Cause]:
    out: list[Cause] = []
    if s.embedded_resource:
        inside_meta = False
    if s.has_default:
        default_path = path.child("default")
        if not inside_meta:
            pruned = copy.deepcopy(s.default)
            prune.prune(s, pruned, root=s.embedded_resource)
            if not valuecheck.json_equal(pruned, s.default):
                out.append(
                    field.invalid(
                        default_path, gofmt.iface(s.default), "must not have unknown fields"
                    )
                )
        out += valuecheck.check(s, s.default, prefix=str(default_path))
    if s.items is not None:
        out += _defaults(s.items, path.child("items"), root=False, inside_meta=inside_meta)
    for k in sorted(s.properties):
        sub_meta = inside_meta or ((root or s.embedded_resource) and k in _META_FIELDS)
        out += _defaults(
            s.properties[k], path.child("properties").key(k), root=False, inside_meta=sub_meta
        )
    return out
