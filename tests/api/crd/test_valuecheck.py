"""crd.valuecheck: kube-openapi's schema validation and upstream's field-error wording."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api.crd import valuecheck
from pyk8s.api.crd.schema import from_openapi

JSON = dict[str, Any]
INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def field_schema(**schema: Any) -> JSON:
    return {"type": "object", "properties": {"field": schema}}


def check(schema: JSON, value: Any, **kw: Any) -> list[str]:
    return sorted(c.message for c in valuecheck.check(from_openapi(schema), value, **kw))


TYPE_CASES = [
    # (schema of "field", value, expected messages); messages sorted
    pytest.param(
        {"type": "object"},
        "foo",
        ['field: Invalid value: "string": field in body must be of type object: "string"'],
        id="object-string",
    ),
    pytest.param(
        {"type": "object"},
        42,
        ['field: Invalid value: "integer": field in body must be of type object: "integer"'],
        id="object-integer",
    ),
    pytest.param(
        {"type": "object"},
        True,
        ['field: Invalid value: "boolean": field in body must be of type object: "boolean"'],
        id="object-boolean",
    ),
    pytest.param(
        {"type": "object"},
        1.2,
        ['field: Invalid value: "number": field in body must be of type object: "number"'],
        id="object-number",
    ),
    pytest.param(
        {"type": "object"},
        [],
        ['field: Invalid value: "array": field in body must be of type object: "array"'],
        id="object-array",
    ),
    pytest.param(
        {"type": "object"},
        None,
        ['field: Invalid value: "null": field in body must be of type object: "null"'],
        id="object-null",
    ),
    pytest.param({"type": "object", "nullable": True}, None, [], id="nullable-null"),
    pytest.param({"nullable": True}, 42, [], id="nullable-no-type"),
    pytest.param({"type": "number"}, 3, [], id="integer-is-a-number"),
    pytest.param({"type": "integer"}, 3.0, [], id="integral-float-is-an-integer"),
    pytest.param({"x-kubernetes-int-or-string": True}, 42, [], id="ios-int"),
    pytest.param({"x-kubernetes-int-or-string": True}, "5%", [], id="ios-string"),
    pytest.param(
        {"x-kubernetes-int-or-string": True},
        None,
        ['field: Invalid value: "null": field in body must be of type integer,string: "null"'],
        id="ios-null",
    ),
    pytest.param(
        {"x-kubernetes-int-or-string": True},
        1.2,
        ['field: Invalid value: "number": field in body must be of type integer,string: "number"'],
        id="ios-number",
    ),
    pytest.param(
        {"x-kubernetes-int-or-string": True, "nullable": True}, None, [], id="ios-nullable"
    ),
    pytest.param(
        {"x-kubernetes-int-or-string": True, "nullable": True, "anyOf": INT_OR_STRING},
        True,
        [
            '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
            'field: Invalid value: "boolean": field in body must be of type integer,string: "boolean"',
            'field: Invalid value: "boolean": field in body must be of type integer: "boolean"',
        ],
        id="ios-any-of",
    ),
    pytest.param(
        {"x-kubernetes-int-or-string": True, "nullable": True, "allOf": [{"anyOf": INT_OR_STRING}]},
        {},
        [
            '<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated',
            '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
            'field: Invalid value: "object": field in body must be of type integer,string: "object"',
            'field: Invalid value: "object": field in body must be of type integer: "object"',
        ],
        id="ios-all-of",
    ),
    pytest.param(
        {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "b$"}]},
        "ab",
        [
            '<nil>: Invalid value: "": "field" must validate one and only one schema (oneOf). Found 2 valid alternatives'
        ],
        id="one-of-two-valid",
    ),
    pytest.param(
        {"type": "string", "not": {"enum": ["x"]}},
        "x",
        ['<nil>: Invalid value: "": "field" must not validate the schema (not)'],
        id="not",
    ),
]


@pytest.mark.parametrize(("schema", "value", "expected"), TYPE_CASES)
def test_types_and_junctors(schema: JSON, value: Any, expected: list[str]) -> None:
    assert check(field_schema(**schema), {"field": value}) == expected


VALUE_CASES = [
    pytest.param(
        {"type": "string", "pattern": "^a"},
        "b",
        ["field: Invalid value: \"b\": field in body should match '^a'"],
        id="pattern",
    ),
    pytest.param({"type": "string", "pattern": "a"}, "bab", [], id="pattern-unanchored"),
    pytest.param(
        {"type": "string", "maxLength": 2},
        "abc",
        ["field: Too long: may not be more than 2 bytes"],
        id="max-length",
    ),
    pytest.param({"type": "string", "maxLength": 2}, "ää", [], id="max-length-counts-runes"),
    pytest.param(
        {"type": "string", "minLength": 2},
        "a",
        ['field: Invalid value: "a": field in body should be at least 2 chars long'],
        id="min-length",
    ),
    pytest.param(
        {"type": "integer", "maximum": 10},
        11,
        ["field: Invalid value: 11: field in body should be less than or equal to 10"],
        id="maximum",
    ),
    pytest.param(
        {"type": "integer", "maximum": 10, "exclusiveMaximum": True},
        10,
        ["field: Invalid value: 10: field in body should be less than 10"],
        id="exclusive-maximum",
    ),
    pytest.param(
        {"type": "integer", "minimum": 1},
        0,
        ["field: Invalid value: 0: field in body should be greater than or equal to 1"],
        id="minimum",
    ),
    pytest.param(
        {"type": "number", "minimum": 0.5, "exclusiveMinimum": True},
        0.5,
        ["field: Invalid value: 0.5: field in body should be greater than 0.5"],
        id="exclusive-minimum-float",
    ),
    pytest.param(
        {"type": "integer", "multipleOf": 3},
        7,
        ["field: Invalid value: 7: field in body should be a multiple of 3"],
        id="multiple-of",
    ),
    pytest.param(
        {"type": "number", "multipleOf": 0.5},
        1.25,
        ["field: Invalid value: 1.25: field in body should be a multiple of 0.5"],
        id="multiple-of-float",
    ),
    pytest.param(
        {"type": "integer"},
        1.5,
        [
            '<nil>: Invalid value: "": Checked value must be of type integer (default format) in field',
            'field: Invalid value: "number": field in body must be of type integer: "number"',
        ],
        id="fractional-integer",
    ),
    pytest.param(
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        ["a", "b", "c"],
        ["field: Too many: 3: must have at most 2 items"],
        id="max-items",
    ),
    pytest.param(
        {"type": "array", "items": {"type": "string"}, "minItems": 2},
        ["a"],
        ["field: Invalid value: 1: field in body should have at least 2 items"],
        id="min-items",
    ),
    pytest.param(
        {"type": "object", "maxProperties": 2},
        {"a": 1, "b": 2, "c": 3},
        ["field: Too many: 3: must have at most 2 items"],
        id="max-properties",
    ),
    pytest.param(
        {"type": "object", "minProperties": 1},
        {},
        ["field: Invalid value: 0: field in body should have at least 1 properties"],
        id="min-properties",
    ),
    pytest.param(
        {"type": "string", "enum": ["red", "blue"]},
        "pink",
        ['field: Unsupported value: "pink": supported values: "red", "blue"'],
        id="enum",
    ),
    pytest.param(
        {"type": "integer", "enum": [1, 2]},
        "x",
        [
            'field: Invalid value: "string": field in body must be of type integer: "string"',
            'field: Unsupported value: "x": supported values: "1", "2"',
        ],
        id="enum-and-type",
    ),
    pytest.param(
        {"type": "string", "enum": ["a", "b"]},
        True,
        [
            'field: Invalid value: "boolean": field in body must be of type string: "boolean"',
            'field: Unsupported value: true: supported values: "a", "b"',
        ],
        id="enum-bool",
    ),
    pytest.param({"type": "number", "enum": [1]}, 1.0, [], id="enum-converts-numbers"),
    pytest.param(
        {"type": "string", "format": "date-time"}, "2024-05-01T12:00:00Z", [], id="date-time"
    ),
    pytest.param(
        {"type": "string", "format": "date-time"},
        "yesterday",
        ['field: Invalid value: "yesterday": field in body must be of type date-time: "yesterday"'],
        id="date-time-invalid",
    ),
    pytest.param({"type": "string", "format": "int32"}, "x", [], id="unsupported-format-ignored"),
    pytest.param(
        {"type": "string", "format": "uuid"},
        5,
        ['field: Invalid value: "int64": field in body must be of type uuid: "int64"'],
        id="format-type-mismatch",
    ),
]


@pytest.mark.parametrize(("schema", "value", "expected"), VALUE_CASES)
def test_value_validations(schema: JSON, value: Any, expected: list[str]) -> None:
    assert check(field_schema(**schema), {"field": value}) == expected


def test_required_and_nesting() -> None:
    schema = {
        "type": "object",
        "required": ["field"],
        "properties": {
            "field": {
                "type": "object",
                "required": ["nested"],
                "properties": {
                    "nested": {},
                    "list": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
                    },
                    "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            }
        },
    }
    assert check(schema, {"test": "a"}) == ["field: Required value"]
    assert check(schema, {"field": {"list": [{"n": 1}, {"n": "x"}], "map": {"a.b": "c"}}}) == [
        'field.list[1].n: Invalid value: "string": field.list[1].n in body must be of type integer: "string"',
        'field.map.a.b: Invalid value: "string": field.map.a.b in body must be of type integer: "string"',
        "field.nested: Required value",
    ]


def test_prefix_names_the_field_but_not_the_message() -> None:
    schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    assert check(schema, {"replicas": "x"}, prefix="status") == [
        'status.replicas: Invalid value: "string": replicas in body must be of type integer: "string"'
    ]


def test_cause_types() -> None:
    schema = field_schema(type="integer", enum=[1])
    causes = valuecheck.check(from_openapi(schema), {"field": "x"})
    assert sorted(c.type for c in causes) == ["FieldValueNotSupported", "FieldValueTypeInvalid"]


RATCHET = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "a": {"type": "string", "maxLength": 2},
                "b": {"type": "string", "maxLength": 2},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "n": {"type": "integer", "maximum": 5},
                        },
                    },
                },
                "atomic": {"type": "array", "items": {"type": "integer", "maximum": 5}},
            },
        }
    },
}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            {"a": "long"}, {"a": "long", "b": "ok"}, [], id="unchanged-invalid-field-ratchets"
        ),
        pytest.param(
            {"a": "long"},
            {"a": "longer"},
            ["spec.a: Too long: may not be more than 2 bytes"],
            id="changed-field-does-not",
        ),
        pytest.param(
            {"ports": [{"name": "x", "n": 9}]},
            {"ports": [{"name": "y", "n": 1}, {"name": "x", "n": 9}]},
            [],
            id="list-map-items-correlate-by-key",
        ),
        pytest.param(
            {"atomic": [9]},
            {"atomic": [1, 9]},
            [
                "spec.atomic[1]: Invalid value: 9: spec.atomic[1] in body should be less than or equal to 5"
            ],
            id="atomic-lists-do-not-correlate",
        ),
    ],
)
def test_ratcheting(old: JSON, new: JSON, expected: list[str]) -> None:
    assert check(RATCHET, {"spec": new}, old={"spec": old}) == expected
