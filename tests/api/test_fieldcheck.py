"""fieldcheck: unknown fields by path, in upstream's (sigs.k8s.io/json) wording."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import fieldcheck, schemas

DEPLOYMENT = ("apps", "v1", "Deployment")
POD = ("", "v1", "Pod")


def deployment(**spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template, **spec},
    }


@pytest.mark.parametrize(
    ("gvk", "obj", "paths"),
    [
        pytest.param(DEPLOYMENT, deployment(replicas=2), [], id="clean"),
        pytest.param(DEPLOYMENT, deployment(foo=1), ["spec.foo"], id="spec-field"),
        pytest.param(
            DEPLOYMENT,
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "app": "y"}},
            ["metadata.app"],
            id="metadata-field",
        ),
        pytest.param(
            DEPLOYMENT,
            {"kind": "Deployment", "Spec": {}},
            ["Spec"],
            id="case-sensitive",
        ),
        pytest.param(
            POD,
            {"spec": {"containers": [{"name": "a"}, {"name": "b", "imagePullPolcy": "Always"}]}},
            ["spec.containers[1].imagePullPolcy"],
            id="list-index",
        ),
        pytest.param(
            DEPLOYMENT,
            deployment(template={"spec": {"containers": [{"name": "c", "redinessProbe": {}}]}}),
            ["spec.template.spec.containers[0].redinessProbe"],
            id="nested-template",
        ),
        pytest.param(
            POD,
            {"spec": {"bogus": {"deeper": {"x": 1}}}},
            ["spec.bogus"],
            id="nothing-below-an-unknown-field",
        ),
        pytest.param(
            POD,
            {"zzz": 1, "spec": {"b": 1, "a": 2}, "aaa": 2},
            ["zzz", "spec.b", "spec.a", "aaa"],
            id="document-order",
        ),
        pytest.param(
            POD,
            {"metadata": {"labels": {"any": "thing"}, "annotations": {"a/b": "c"}}},
            [],
            id="string-maps-take-any-key",
        ),
        pytest.param(
            POD,
            {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1", "x/y": 2}}}]}},
            [],
            id="quantity-maps-take-any-key",
        ),
        pytest.param(
            POD,
            {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}},
            [],
            id="type-errors-are-not-unknown-fields",
        ),
        pytest.param(
            ("apps", "v1", "ControllerRevision"),
            {"data": {"anything": {"goes": True}}, "revision": 1},
            [],
            id="raw-extension-is-open",
        ),
        pytest.param(
            POD,
            {"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {}}, "manager": "m", "x": 1}]}},
            ["metadata.managedFields[0].x"],
            id="fields-v1-open-but-siblings-checked",
        ),
        pytest.param(
            ("", "v1", "ConfigMap"),
            {"data": {"a": "b"}, "binaryData": {}, "immutable": True, "extra": 1},
            ["extra"],
            id="configmap",
        ),
        pytest.param(
            ("autoscaling", "v2", "HorizontalPodAutoscaler"),
            {"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "targetx": {}}}]}},
            ["spec.metrics[0].resource.targetx"],
            id="hpa-v2",
        ),
        pytest.param(("example.com", "v1", "Widget"), {"anything": 1}, [], id="unknown-kind"),
    ],
)  # fmt: skip
def test_unknown_fields(gvk: tuple[str, str, str], obj: Any, paths: list[str]) -> None:
    assert fieldcheck.unknown_fields(gvk, obj) == paths


def test_unknown_fields_in_subtree_with_prefix() -> None:
    node = schemas.node("io.k8s.api.core.v1.Container")
    assert fieldcheck.unknown_fields_in(node, {"name": "c", "nope": 1}, "containers[0]") == [
        "containers[0].nope"
    ]


@pytest.mark.parametrize(
    ("paths", "strict", "decode", "warnings"),
    [
        pytest.param(
            ["spec.foo"],
            'strict decoding error: unknown field "spec.foo"',
            'Deployment in version "v1" cannot be handled as a Deployment: '
            'strict decoding error: unknown field "spec.foo"',
            ['unknown field "spec.foo"'],
            id="one",
        ),
        pytest.param(
            ["spec.foo", "spec.template.spec.containers[0].bar"],
            'strict decoding error: unknown field "spec.foo", '
            'unknown field "spec.template.spec.containers[0].bar"',
            'Deployment in version "v1" cannot be handled as a Deployment: '
            'strict decoding error: unknown field "spec.foo", '
            'unknown field "spec.template.spec.containers[0].bar"',
            ['unknown field "spec.foo"', 'unknown field "spec.template.spec.containers[0].bar"'],
            id="two",
        ),
    ],
)
def test_messages(paths: list[str], strict: str, decode: str, warnings: list[str]) -> None:
    assert fieldcheck.strict_error(paths) == strict
    assert fieldcheck.decode_error("Deployment", "v1", paths) == decode
    assert fieldcheck.warnings(paths) == warnings


@pytest.mark.parametrize(
    ("value", "directive"),
    [
        pytest.param(None, fieldcheck.Directive.WARN, id="absent-is-warn"),
        pytest.param("", fieldcheck.Directive.WARN, id="empty-is-warn"),
        pytest.param("Ignore", fieldcheck.Directive.IGNORE, id="ignore"),
        pytest.param("Warn", fieldcheck.Directive.WARN, id="warn"),
        pytest.param("Strict", fieldcheck.Directive.STRICT, id="strict"),
    ],
)
def test_parse_directive(value: str | None, directive: fieldcheck.Directive) -> None:
    assert fieldcheck.parse_directive(value) is directive


@pytest.mark.parametrize("value", ["strict", "Nope", "STRICT"])
def test_parse_directive_rejects_others(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        fieldcheck.parse_directive(value)
    assert str(caught.value) == (
        f'Unsupported value: "{value}": supported values: "", "Ignore", "Strict", "Warn"'
    )
