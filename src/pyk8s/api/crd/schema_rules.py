"""The OpenAPI rules upstream applies to every node of a CRD's ``openAPIV3Schema``.

``check(raw, path)`` is ``ValidateCustomResourceDefinitionOpenAPISchema`` over the v1
JSON (``path`` names the schema root): only OpenAPI's six types (``null`` is spelled
``nullable``), no ``$ref``/``id``/``patternProperties``/``definitions``/``dependencies``/
``additionalItems``, ``items`` a single schema, no ``uniqueItems`` (quadratic), never both
``properties`` and a restricting ``additionalProperties``, no ``default`` in top-level
``metadata``/``apiVersion``/``kind`` (nor in ``additionalProperties`` under metadata),
``x-kubernetes-preserve-unknown-fields`` only ``true``, ``x-kubernetes-map-type`` on
objects and ``x-kubernetes-list-type`` on arrays with upstream's allowed values, set items
atomic, map lists keyed by required-or-defaulted, non-nullable scalar properties, and the
shape of ``x-kubernetes-validations`` rules (not their CEL). Properties are visited in
sorted order (upstream's map order is random). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pyk8s.api.validation import field
from pyk8s.api.validation.field import Cause, GoRepr, Path

__all__ = ["META_FIELDS", "TYPES", "check"]

TYPES: Final = ("array", "boolean", "integer", "number", "object", "string")
META_FIELDS: Final = ("apiVersion", "kind", "metadata")
_REASONS_ALL: Final = (
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
)


def check(raw: Mapping[str, Any], path: Path) -> list[Cause]:
    """Every OpenAPI-rule violation in the schema rooted at ``path``."""
    return _OpenAPIChecks().check(raw, path, is_root=True)


class _OpenAPIChecks:
    """``ValidateCustomResourceDefinitionOpenAPISchema`` over the raw v1 JSON."""

    def check(
        self,
        raw: Any,
        path: Path,
        *,
        is_root: bool = False,
        defaults: str | None = "",
        inside_meta: bool = False,
    ) -> list[Cause]:
        """``defaults`` is ``None`` when allowed, else the reason they are forbidden."""
        if not isinstance(raw, Mapping):
            return []
        out = self._props(raw, path, defaults, inside_meta)
        if raw.get("uniqueItems") is True:
            out.append(
                field.forbidden(
                    path.child("uniqueItems"),
                    "uniqueItems cannot be set to true since the runtime complexity becomes "
                    "quadratic",
                )
            )
        props = raw.get("properties") or {}
        ap = raw.get("additionalProperties")
        if ap is not None:
            if props and (ap is False or isinstance(ap, Mapping)):
                out.append(
                    field.forbidden(
                        path.child("additionalProperties"),
                        "additionalProperties and properties are mutual exclusive",
                    )
                )
            sub_defaults = (
                "inside additionalProperties applying to object metadata"
                if inside_meta
                else defaults
            )
            out += self.check(
                ap,
                path.child("additionalProperties"),
                defaults=sub_defaults,
                inside_meta=inside_meta,
            )
        for k in sorted(props):
            sub_meta, sub_defaults = inside_meta, defaults
            if (is_root or raw.get("x-kubernetes-embedded-resource") is True) and k in META_FIELDS:
                sub_meta = True
                if is_root:
                    sub_defaults = f"in top-level {k}"
            out += self.check(
                props[k],
                path.child("properties").key(k),
                defaults=sub_defaults,
                inside_meta=sub_meta,
            )
        out += self.check(
            raw.get("not"), path.child("not"), defaults=defaults, inside_meta=inside_meta
        )
        for name in ("allOf", "oneOf", "anyOf"):
            for i, b in enumerate(raw.get(name) or ()):
                out += self.check(
                    b, path.child(name).index(i), defaults=defaults, inside_meta=inside_meta
                )
        items = raw.get("items")
        if isinstance(items, Mapping):
            out += self.check(
                items, path.child("items"), defaults=defaults, inside_meta=inside_meta
            )
        elif isinstance(items, list):
            for i, b in enumerate(items):
                out += self.check(
                    b, path.child("items").index(i), defaults=defaults, inside_meta=inside_meta
                )
        if raw.get("x-kubernetes-preserve-unknown-fields") is False:
            out.append(
                field.invalid(
                    path.child("x-kubernetes-preserve-unknown-fields"),
                    False,
                    "must be true or undefined",
                )
            )
        out += _map_and_list_types(raw, path)
        out += _list_map_keys_and_sets(raw, path)
        out += _rules(raw, path)
        return out

    def _props(
        self, raw: Mapping[str, Any], path: Path, defaults: str | None, inside_meta: bool
    ) -> list[Cause]:
        out: list[Cause] = []
        t = raw.get("type")
        if isinstance(t, str) and t and t not in TYPES:
            out.append(field.not_supported(path.child("type"), t, TYPES))
        if (
            "default" in raw
            and raw["default"] is not None
            and defaults is not None
            and defaults != ""
        ):
            out.append(field.forbidden(path.child("default"), f"must not be set {defaults}"))
        for key, what in (
            ("id", "id"),
            ("additionalItems", "additionalItems"),
            ("patternProperties", "patternProperties"),
            ("definitions", "definitions"),
            ("dependencies", "dependencies"),
            ("$ref", "$ref"),
        ):
            if raw.get(key) not in (None, "", {}):
                out.append(field.forbidden(path.child(key), f"{what} is not supported"))
        if t == "null":
            out.append(
                field.forbidden(
                    path.child("type"), "type cannot be set to null, use nullable as an alternative"
                )
            )
        if isinstance(raw.get("items"), list):
            out.append(
                field.forbidden(
                    path.child("items"), "items must be a schema object and not an array"
                )
            )
        if inside_meta and raw.get("x-kubernetes-embedded-resource") is True:
            out.append(
                field.forbidden(
                    path.child("x-kubernetes-embedded-resource"),
                    "must not be used inside of resource meta",
                )
            )
        return out


def _type_rule(raw: Mapping[str, Any], path: Path, want: str, ext: str) -> list[Cause]:
    t = raw.get("type") or ""
    if raw.get(ext) is None or t == want:
        return []
    msg = f"must be {want} if {ext} is specified"
    if not t:
        return [field.required(path.child("type"), msg)]
    return [field.invalid(path.child("type"), t, msg)]


def _map_and_list_types(raw: Mapping[str, Any], path: Path) -> list[Cause]:
    out = _type_rule(raw, path, "object", "x-kubernetes-map-type")
    map_type = raw.get("x-kubernetes-map-type")
    if map_type is not None and map_type not in ("atomic", "granular"):
        out.append(
            field.not_supported(
                path.child("x-kubernetes-map-type"), map_type, ("atomic", "granular")
            )
        )
    list_type = raw.get("x-kubernetes-list-type")
    wrong_type = _type_rule(raw, path, "array", "x-kubernetes-list-type")
    out += wrong_type
    items = raw.get("items")
    if not wrong_type and list_type == "set" and isinstance(items, Mapping):
        item_type = items.get("type")
        msg = "must be atomic as item of a list with x-kubernetes-list-type=set"
        if item_type == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
            out.append(
                field.invalid(
                    path.child("items").child("x-kubernetes-list-type"),
                    items.get("x-kubernetes-list-type"),
                    msg,
                )
            )
        elif item_type == "object" and items.get("x-kubernetes-map-type") != "atomic":
            out.append(
                field.invalid(
                    path.child("items").child("x-kubernetes-map-type"),
                    items.get("x-kubernetes-list-type") or "null",  # a nil *string prints "null"
                    msg,
                )
            )
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        out.append(
            field.not_supported(
                path.child("x-kubernetes-list-type"), list_type, ("atomic", "set", "map")
            )
        )
    return out


def _list_map_keys_and_sets(raw: Mapping[str, Any], path: Path) -> list[Cause]:
    out: list[Cause] = []
    list_type = raw.get("x-kubernetes-list-type")
    keys = list(raw.get("x-kubernetes-list-map-keys") or ())
    msg_keys = "must be map if x-kubernetes-list-map-keys is non-empty"
    if keys and list_type is None:
        out.append(field.required(path.child("x-kubernetes-list-type"), msg_keys))
    elif keys and list_type != "map":
        out.append(field.invalid(path.child("x-kubernetes-list-type"), list_type, msg_keys))
    items = raw.get("items")
    if list_type == "map":
        if not keys:
            out.append(
                field.required(
                    path.child("x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
        if items is None:
            out.append(
                field.required(
                    path.child("items"), "must have a schema if x-kubernetes-list-type is map"
                )
            )
        elif isinstance(items, list):
            out.append(
                field.invalid(
                    path.child("items"),
                    GoRepr("&apiextensions.JSONSchemaPropsOrArray{...}"),
                    "must only have a single schema if x-kubernetes-list-type is map",
                )
            )
        elif items.get("type") != "object":
            out.append(
                field.invalid(
                    path.child("items").child("type"),
                    items.get("type") or "",
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
        else:
            seen: set[str] = set()
            item_props = items.get("properties") or {}
            for k in keys:
                if k in item_props:
                    if item_props[k].get("type") in ("array", "object"):
                        out.append(
                            field.invalid(
                                path.child("items").child("properties").key(k).child("type"),
                                "object",
                                "must be a scalar type if parent array's x-kubernetes-list-type is map",
                            )
                        )
                else:
                    out.append(
                        field.invalid(
                            path.child("x-kubernetes-list-map-keys"),
                            field.go_str_list(keys),
                            "entries must all be names of item properties",
                        )
                    )
                if k in seen:
                    out.append(
                        field.invalid(
                            path.child("x-kubernetes-list-map-keys"),
                            field.go_str_list(keys),
                            "must not contain duplicate entries",
                        )
                    )
                seen.add(k)
    if isinstance(items, Mapping) and list_type in ("set", "map"):
        if items.get("nullable") is True:
            out.append(
                field.forbidden(
                    path.child("items").child("nullable"),
                    f"cannot be nullable when x-kubernetes-list-type is {list_type}",
                )
            )
        if list_type == "map":
            required = set(items.get("required") or ())
            item_props = items.get("properties") or {}
            for k in keys:
                prop = item_props.get(k)
                if not isinstance(prop, Mapping):
                    continue
                key_path = path.child("items").child("properties").key(k)
                if k not in required and prop.get("default") is None:
                    out.append(
                        field.required(
                            key_path.child("default"),
                            "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                        )
                    )
                if prop.get("nullable") is True:
                    out.append(
                        field.forbidden(
                            key_path.child("nullable"),
                            "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                        )
                    )
    return out


def _rules(raw: Mapping[str, Any], path: Path) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(raw.get("x-kubernetes-validations") or ()):
        rule = rule if isinstance(rule, Mapping) else {}
        p = path.child("x-kubernetes-validations").index(i)
        text, message = str(rule.get("rule") or ""), str(rule.get("message") or "")
        if not text.strip():
            out.append(field.required(p.child("rule"), "rule is not specified"))
        elif message and not message.strip():
            out.append(
                field.invalid(p.child("message"), message, "message must be non-empty if specified")
            )
        elif re.search(r"[\n\r]", message.strip()):
            out.append(
                field.invalid(p.child("message"), message, "message must not contain line breaks")
            )
        elif re.search(r"[\n\r]", text.strip()) and not message.strip():
            out.append(
                field.required(
                    p.child("message"), "message must be specified if rule contains line breaks"
                )
            )
        expr = str(rule.get("messageExpression") or "")
        if expr and not expr.strip():
            out.append(
                field.required(
                    p.child("messageExpression"), "messageExpression must be non-empty if specified"
                )
            )
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS_ALL:
            out.append(field.not_supported(p.child("reason"), reason, _REASONS_ALL))
    return out
