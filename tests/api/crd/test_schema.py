"""crd.schema: structural schemas from openAPIV3Schema and back to published OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api.crd.schema import UNSET, SchemaError, Structural, from_openapi, to_openapi

JSON = dict[str, Any]


def test_from_openapi_reads_structure_validation_and_extensions() -> None:
    node = from_openapi(
        {
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10,
                    "exclusiveMaximum": True,
                    "default": 2,
                },
                "l": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["x"], "maxLength": 3},
                    "x-kubernetes-list-type": "set",
                    "maxItems": 4,
                },
                "m": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "x-kubernetes-map-type": "atomic",
                },
                "p": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "nullable": True,
                },
                "ios": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
            },
        }
    )
    assert node is not None
    assert node.required == ("a",)
    a = node.properties["a"]
    assert (a.type, a.minimum, a.maximum, a.exclusive_maximum, a.default) == (
        "integer",
        1,
        10,
        True,
        2,
    )
    assert node.properties["l"].items == Structural(type="string", enum=("x",), max_length=3)
    assert node.properties["l"].list_type == "set"
    assert node.properties["m"].additional_schema == Structural(type="string")
    assert node.properties["p"].preserve_unknown_fields and node.properties["p"].nullable
    assert node.properties["ios"].any_of == (Structural(type="integer"), Structural(type="string"))
    assert node.field_schema("a") is a
    assert node.properties["m"].field_schema("anything") == Structural(type="string")


@pytest.mark.parametrize(
    ("raw", "additional"),
    [
        pytest.param({}, None, id="unset"),
        pytest.param({"additionalProperties": True}, True, id="true"),
        pytest.param({"additionalProperties": False}, False, id="false"),
    ],
)
def test_additional_properties_forms(raw: JSON, additional: Any) -> None:
    node = from_openapi({"type": "object", **raw})
    assert node is not None and node.additional_properties is additional


def test_null_default_is_no_default() -> None:
    node = from_openapi({"type": "string", "default": None})
    assert node is not None and not node.has_default
    assert from_openapi({"type": "string"}) == Structural(type="string", default=UNSET)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"$ref": "#/x"}, "OpenAPIV3Schema '$ref' is not supported", id="ref"),
        pytest.param({"id": "x"}, "OpenAPIV3Schema 'id' is not supported", id="id"),
        pytest.param(
            {"items": [{"type": "string"}]},
            "OpenAPIV3Schema 'items' must be a schema, but is an array",
            id="items-array",
        ),
        pytest.param(
            {"x-kubernetes-preserve-unknown-fields": False},
            "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined",
            id="preserve-false",
        ),
    ],
)
def test_unsupported(raw: JSON, message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("$", "\\$")):
        from_openapi({"type": "object", "properties": {"a": raw}})


@pytest.mark.parametrize(
    ("raw", "published"),
    [
        pytest.param(
            {"x-kubernetes-int-or-string": True},
            {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            id="int-or-string-unfolded",
        ),
        pytest.param(
            {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            id="int-or-string-pattern-kept",
        ),
        pytest.param(
            {"x-kubernetes-int-or-string": True, "anyOf": [{"pattern": "^a"}, {"maximum": 3}]},
            {
                "x-kubernetes-int-or-string": True,
                "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}],
                "anyOf": [{"pattern": "^a"}, {"maximum": 3}],
            },
            id="int-or-string-with-user-any-of",
        ),
        pytest.param(
            {
                "type": "string",
                "example": "x",
                "externalDocs": {"url": "u"},
                "description": "d",
                "default": "y",
            },
            {"type": "string", "description": "d", "default": "y"},
            id="example-and-external-docs-dropped",
        ),
        pytest.param(
            {
                "type": "array",
                "items": {"type": "integer", "format": "int32"},
                "x-kubernetes-list-type": "atomic",
            },
            {
                "type": "array",
                "items": {"type": "integer", "format": "int32"},
                "x-kubernetes-list-type": "atomic",
            },
            id="extensions-kept",
        ),
    ],
)
def test_to_openapi(raw: JSON, published: JSON) -> None:
    node = from_openapi(raw)
    assert node is not None
    assert to_openapi(node) == published
