"""crd.structural / crd.schema_rules: which openAPIV3Schemas a CRD may carry."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api.crd import structural
from pyk8s.api.validation.field import Path

JSON = dict[str, Any]


def obj(**props: Any) -> JSON:
    return {"type": "object", "properties": props}


def list_map(items: JSON, **extra: Any) -> JSON:
    return {"type": "array", "x-kubernetes-list-type": "map", "items": items, **extra}


KEYED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(obj(a={"type": "string"}), [], id="simple"),
        pytest.param(
            obj(
                a={
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                }
            ),
            [],
            id="int-or-string-any-of-pattern",
        ),
        pytest.param(
            obj(
                a={
                    "x-kubernetes-int-or-string": True,
                    "allOf": [
                        {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                        {"maxLength": 3},
                    ],
                }
            ),
            [],
            id="int-or-string-all-of-pattern",
        ),
        pytest.param(
            obj(a={"x-kubernetes-preserve-unknown-fields": True}), [], id="preserve-needs-no-type"
        ),
        pytest.param(
            obj(
                a={
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                }
            ),
            [],
            id="embedded-resource",
        ),
        pytest.param(
            obj(a={"properties": {"b": {"type": "string"}}}),
            ["s.properties[a].type: Required value: must not be empty for specified object fields"],
            id="missing-type-field",
        ),
        pytest.param(
            obj(a={"type": "array", "items": {}}),
            [
                "s.properties[a].items.type: Required value: must not be empty for specified array items"
            ],
            id="missing-type-items",
        ),
        pytest.param(
            {"properties": {}},
            ["s.type: Required value: must not be empty at the root"],
            id="missing-type-root",
        ),
        pytest.param(
            {"type": "string"},
            ['s.type: Invalid value: "string": must be object at the root'],
            id="root-not-object",
        ),
        pytest.param(
            obj(a={"type": "array"}),
            ["s.properties[a].items: Required value: must be specified"],
            id="array-needs-items",
        ),
        pytest.param(
            obj(kind={"type": "integer"}),
            ['s.properties[kind].type: Invalid value: "integer": must be string'],
            id="kind-must-be-string",
        ),
        pytest.param(
            obj(a={"type": "string", "anyOf": [{"type": "string"}, {"description": "x"}]}),
            [
                "s.properties[a].anyOf[0].type: Forbidden: must be empty to be structural",
                "s.properties[a].anyOf[1].description: Forbidden: must be empty to be structural",
            ],
            id="junctors-hold-value-validation-only",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "anyOf": [{"properties": {"b": {}}}],
            },
            ["s.properties[b]: Required value: because it is defined in s.anyOf[0].properties[b]"],
            id="junctor-fields-must-be-specified",
        ),
        pytest.param(
            obj(a={"type": "object", "anyOf": [{"properties": {"metadata": {}}}]}),
            [
                "s.properties[a].anyOf[0].properties[metadata]: Forbidden: must not be specified in a nested context"
            ],
            id="no-metadata-in-junctors",
        ),
        pytest.param(
            obj(e={"type": "object", "x-kubernetes-embedded-resource": True}),
            [
                "s.properties[e].properties: Required value: must not be empty if "
                "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
            ],
            id="embedded-needs-properties",
        ),
        pytest.param(
            obj(
                e={"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}
            ),
            [
                "s.properties[e].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be "
                "false if x-kubernetes-int-or-string is true"
            ],
            id="int-or-string-not-preserved",
        ),
        pytest.param(
            obj(a={"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
            [
                "s.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since "
                "the runtime complexity becomes quadratic"
            ],
            id="unique-items",
        ),
        pytest.param(
            obj(a={"$ref": "#/definitions/x"}),
            ["s.properties[a].$ref: Forbidden: $ref is not supported"],
            id="ref",
        ),
        pytest.param(
            obj(a={"type": "null"}),
            [
                's.properties[a].type: Unsupported value: "null": supported values: "array", '
                '"boolean", "integer", "number", "object", "string"',
                "s.properties[a].type: Forbidden: type cannot be set to null, use nullable as an alternative",
            ],
            id="type-null",
        ),
        pytest.param(
            obj(a={"type": "string", "x-kubernetes-preserve-unknown-fields": False}),
            [
                "s.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
            ],
            id="preserve-false",
        ),
        pytest.param(
            obj(
                m={
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": {"type": "string"},
                }
            ),
            [
                "s.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
            ],
            id="properties-and-additional-properties",
        ),
        pytest.param(
            obj(o={"type": "object", "x-kubernetes-list-type": "set"}),
            [
                's.properties[o].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified'
            ],
            id="list-type-on-object",
        ),
        pytest.param(
            obj(
                a={"type": "array", "items": {"type": "string"}, "x-kubernetes-map-type": "atomic"}
            ),
            [
                's.properties[a].type: Invalid value: "array": must be object if x-kubernetes-map-type is specified'
            ],
            id="map-type-on-array",
        ),
        pytest.param(
            obj(a={"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"}),
            [
                's.properties[a].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map"'
            ],
            id="list-type-unsupported",
        ),
        pytest.param(
            obj(a={"type": "array", "x-kubernetes-list-type": "set", "items": KEYED}),
            [
                's.properties[a].items.x-kubernetes-map-type: Invalid value: "null": must be atomic '
                "as item of a list with x-kubernetes-list-type=set"
            ],
            id="set-items-must-be-atomic",
        ),
        pytest.param(
            obj(l=list_map(KEYED)),
            [
                "s.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
            ],
            id="list-map-needs-keys",
        ),
        pytest.param(
            obj(l=list_map(KEYED, **{"x-kubernetes-list-map-keys": ["name"]})), [], id="list-map"
        ),
        pytest.param(
            obj(l=list_map(KEYED, **{"x-kubernetes-list-map-keys": ["id"]})),
            [
                's.properties[l].x-kubernetes-list-map-keys: Invalid value: []string{"id"}: entries must all be names of item properties'
            ],
            id="list-map-key-not-a-property",
        ),
        pytest.param(
            obj(
                l=list_map(
                    {"type": "object", "properties": {"name": {"type": "string"}}},
                    **{"x-kubernetes-list-map-keys": ["name"]},
                )
            ),
            [
                "s.properties[l].items.properties[name].default: Required value: this property is in "
                "x-kubernetes-list-map-keys, so it must have a default or be a required property"
            ],
            id="list-map-key-required-or-defaulted",
        ),
        pytest.param(
            obj(
                l={
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-map-keys": ["a"],
                }
            ),
            [
                "s.properties[l].x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty"
            ],
            id="list-map-keys-need-map-type",
        ),
        pytest.param(
            obj(a={"type": "string", "x-kubernetes-validations": [{"rule": " "}]}),
            [
                "s.properties[a].x-kubernetes-validations[0].rule: Required value: rule is not specified"
            ],
            id="cel-rule-required",
        ),
        pytest.param(
            obj(b={"type": "string"}, a={"properties": {}}, c={"type": "array"}),
            [
                "s.properties[a].type: Required value: must not be empty for specified object fields",
                "s.properties[c].items: Required value: must be specified",
            ],
            id="structural-errors-sorted-by-message",
        ),
        pytest.param(
            obj(a={"type": "integer", "default": 1.5}),
            [
                # the default is validated at the root of its own validator: an empty name
                's.properties[a].default: Invalid value: "number":  in body must be of type integer: "number"',
                's.properties[a].default: Invalid value: "": Checked value must be of type integer '
                "(default format) in ",
            ],
            id="default-checked-against-schema",
        ),
    ],
)
def test_validate_schema(schema: JSON, expected: list[str]) -> None:
    causes = structural.validate_schema(schema, Path("s"), status_enabled=False)
    assert [c.message for c in causes] == expected


def test_invalid_pattern() -> None:
    causes = structural.validate_schema(
        obj(p={"type": "string", "pattern": "("}), Path("s"), status_enabled=False
    )
    [cause] = causes
    assert cause.message.startswith(
        's.properties[p].pattern: Invalid value: "(": must be a valid regular expression, '
        "but isn't: error parsing regexp: "
    )


def test_unbuildable_schema_reported_only_alone() -> None:
    # `items` as an array is rejected by the OpenAPI rules; the build error stays hidden
    causes = structural.validate_schema(
        obj(a={"type": "array", "items": [{"type": "string"}]}), Path("s"), status_enabled=False
    )
    assert [c.message for c in causes] == [
        "s.properties[a].items: Forbidden: items must be a schema object and not an array"
    ]


def test_status_subresource_root_check_sees_zero_bounds() -> None:
    schema = {"type": "object", "maxProperties": 0}
    [cause] = structural.validate_schema(schema, Path("s"), status_enabled=True)
    assert cause.message.startswith("s: Invalid value: apiextensions.JSONSchemaProps{...}: only [")
    assert (
        structural.validate_schema({"type": "object", "minimum": 0}, Path("s"), status_enabled=True)
        == []
    )
