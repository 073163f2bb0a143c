"""crd.default: structural defaulting and null pruning, as upstream applies them."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api.crd import default, versions
from pyk8s.api.crd.schema import from_openapi

from .crd_examples import CRONTAB, cron

JSON = dict[str, Any]
SCHEMA = versions.schema_for(CRONTAB, "v1")


def obj_schema(**props: Any) -> JSON:
    return {"type": "object", "properties": props}


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(obj_schema(a={"type": "integer", "default": 1}), {}, {"a": 1}, id="missing"),
        pytest.param(
            obj_schema(a={"type": "integer", "default": 1}), {"a": 5}, {"a": 5}, id="present"
        ),
        pytest.param(
            obj_schema(a={"type": "integer", "default": 1}),
            {"a": None},
            {"a": 1},
            id="non-nullable-null",
        ),
        pytest.param(
            obj_schema(a={"type": "integer", "nullable": True, "default": 1}),
            {"a": None},
            {"a": None},
            id="nullable-null-kept",
        ),
        pytest.param(
            obj_schema(a={"type": "integer", "default": None}), {}, {}, id="null-default-is-none"
        ),
        pytest.param(
            obj_schema(
                o={
                    "type": "object",
                    "default": {},
                    "properties": {"x": {"type": "string", "default": "d"}},
                }
            ),
            {},
            {"o": {"x": "d"}},
            id="defaults-nest-into-defaulted-values",
        ),
        pytest.param(
            obj_schema(
                l={
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"p": {"type": "string", "default": "TCP"}},
                    },
                }
            ),
            {"l": [{}, {"p": "UDP"}]},
            {"l": [{"p": "TCP"}, {"p": "UDP"}]},
            id="within-items",
        ),
        pytest.param(
            obj_schema(
                m={
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"v": {"type": "integer", "default": 0}},
                    },
                }
            ),
            {"m": {"a": {}, "b": {"v": 2}}},
            {"m": {"a": {"v": 0}, "b": {"v": 2}}},
            id="within-additional-properties",
        ),
        pytest.param(
            obj_schema(
                m={"type": "object", "additionalProperties": {"type": "string", "default": "x"}}
            ),
            {"m": {"a": None}},
            {"m": {"a": "x"}},
            id="null-map-value-defaulted",
        ),
        pytest.param(
            obj_schema(l={"type": "array", "items": {"type": "string", "default": "x"}}),
            {"l": [None, "y"]},
            {"l": ["x", "y"]},
            id="null-list-item-defaulted",
        ),
        pytest.param(
            {
                "type": "object",
                "anyOf": [{"properties": {"a": {"default": 1}}}],
                "properties": {"a": {"type": "integer"}},
            },
            {},
            {},
            id="junctors-ignored",
        ),
    ],
)
def test_apply_defaults(schema: JSON, value: JSON, expected: JSON) -> None:
    default.apply_defaults(from_openapi(schema), value)
    assert value == expected


def test_defaults_are_copies() -> None:
    schema = from_openapi(obj_schema(o={"type": "object", "default": {"k": []}}))
    a: JSON = {}
    b: JSON = {}
    default.apply_defaults(schema, a)
    default.apply_defaults(schema, b)
    a["o"]["k"].append(1)
    assert b == {"o": {"k": []}}


def test_crontab_defaults() -> None:
    obj = cron({"cronSpec": "* * * * *", "ports": [{"port": 80}]})
    default.apply_defaults(SCHEMA, obj)
    assert obj["spec"] == {
        "cronSpec": "* * * * *",
        "replicas": 1,
        "ports": [{"port": 80, "protocol": "TCP"}],
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"a": None}, {}, id="non-nullable-without-default-dropped"),
        pytest.param({"n": None}, {"n": None}, id="nullable-kept"),
        pytest.param({"d": None}, {"d": None}, id="defaulted-kept-for-defaulting"),
        pytest.param({"u": None}, {"u": None}, id="unknown-field-kept"),
        pytest.param({"l": [{"a": None}]}, {"l": [{}]}, id="in-items"),
        pytest.param({"m": {"k": None}}, {"m": {}}, id="in-additional-properties"),
    ],
)
def test_drop_nulls(value: JSON, expected: JSON) -> None:
    schema = from_openapi(
        obj_schema(
            a={"type": "string"},
            n={"type": "string", "nullable": True},
            d={"type": "string", "default": "x"},
            l={"type": "array", "items": obj_schema(a={"type": "string"})},
            m={"type": "object", "additionalProperties": {"type": "string"}},
        )
    )
    default.drop_nulls(schema, value)
    assert value == expected
