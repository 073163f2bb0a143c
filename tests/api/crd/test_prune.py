"""crd.prune: unknown fields removed as upstream's structural pruning does, paths reported."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api.crd import prune, versions
from pyk8s.api.crd.schema import from_openapi

from .crd_examples import CRONTAB, cron

JSON = dict[str, Any]
SCHEMA = versions.schema_for(CRONTAB, "v1")


@pytest.mark.parametrize(
    ("spec", "kept", "pruned"),
    [
        pytest.param(
            {"cronSpec": "* * * * *", "replicaz": 2},
            {"cronSpec": "* * * * *"},
            ["spec.replicaz"],
            id="unknown-field",
        ),
        pytest.param(
            {"ports": [{"port": 80, "name": "http"}, {"port": 81}]},
            {"ports": [{"port": 80}, {"port": 81}]},
            ["spec.ports[0].name"],
            id="in-list-items",
        ),
        pytest.param(
            {"labels": {"a": "b", "c": "d"}},
            {"labels": {"a": "b", "c": "d"}},
            [],
            id="additional-properties-keep-keys",
        ),
        pytest.param(
            {"extra": {"anything": {"goes": [1, {"x": 2}]}}},
            {"extra": {"anything": {"goes": [1, {"x": 2}]}}},
            [],
            id="preserve-unknown-fields",
        ),
        pytest.param(
            {
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p", "bogus": 1},
                    "spec": {"x": 1},
                }
            },
            {
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p"},
                    "spec": {"x": 1},
                }
            },
            ["spec.template.metadata.bogus"],
            id="embedded-resource-keeps-type-meta-and-known-metadata",
        ),
        pytest.param(
            {"kind": "x", "metadata": {}},
            {},
            ["spec.kind", "spec.metadata"],
            id="meta-field-names-below-the-root-are-pruned",
        ),
    ],
)
def test_prune_crontab(spec: JSON, kept: JSON, pruned: list[str]) -> None:
    obj = cron(spec)
    assert prune.prune(SCHEMA, obj) == pruned
    assert obj["spec"] == kept


def test_root_keeps_type_meta_and_prunes_unknown_metadata_first() -> None:
    obj = cron({"zz": 1, "aa": 2}, extra=1)
    obj["metadata"]["foo"] = "bar"
    assert prune.prune(SCHEMA, obj) == ["metadata.foo", "extra", "spec.aa", "spec.zz"]
    assert obj == cron({})


@pytest.mark.parametrize(
    ("schema", "value", "kept", "pruned"),
    [
        pytest.param(
            {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"s": {"type": "object", "properties": {"a": {"type": "string"}}}},
            },
            {"free": 1, "s": {"a": "x", "b": "y"}},
            {"free": 1, "s": {"a": "x"}},
            ["s.b"],
            id="specified-properties-are-pruned-below-preserve",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "l": {
                        "type": "array",
                        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    }
                },
            },
            {"l": [{"any": 1}]},
            {"l": [{"any": 1}]},
            [],
            id="preserve-in-items",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"m": {"type": "object", "additionalProperties": True}},
            },
            {"m": {"a": 1, "b": {"c": 2}}},
            {"m": {"a": 1, "b": {}}},
            ["m.b.c"],
            id="additional-properties-true-has-no-schema-below",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "array"}}},
            {"a": [{"x": 1}, 2]},
            {"a": [{}, 2]},
            ["a[0].x"],
            id="array-without-items-schema",
        ),
    ],
)
def test_prune_rules(schema: JSON, value: JSON, kept: JSON, pruned: list[str]) -> None:
    assert prune.prune(from_openapi(schema), value, root=False) == pruned
    assert value == kept


def test_no_schema_prunes_everything_but_type_meta() -> None:
    obj = cron()
    assert prune.prune(None, obj) == ["spec"]
    assert set(obj) == {"apiVersion", "kind", "metadata"}
