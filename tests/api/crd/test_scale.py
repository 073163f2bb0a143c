"""crd.scale: custom resources as autoscaling/v1 Scale, and back."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pyk8s.api.crd import scale

from .crd_examples import CRONTAB, cron

JSON = dict[str, Any]
SPEC = scale.scale_spec_for(CRONTAB, "v1")
assert SPEC is not None


def test_spec_from_crd() -> None:
    assert scale.ScaleSpec(".spec.replicas", ".status.replicas", ".status.labelSelector") == SPEC
    assert scale.scale_spec(None) is None


def test_scale_from_object() -> None:
    obj = cron({"replicas": 3}, status={"replicas": 2, "labelSelector": "app=cron"})
    obj["metadata"].update(
        uid="u1", resourceVersion="7", creationTimestamp="2024-01-01T00:00:00Z", labels={"a": "b"}
    )
    assert scale.scale_from_object(SPEC, obj) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "my-new-cron-object",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "7",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "selector": "app=cron"},
    }


def test_missing_replicas_are_zero() -> None:
    got = scale.scale_from_object(SPEC, cron({}))
    assert (got["spec"], got["status"]) == ({"replicas": 0}, {"replicas": 0})


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            cron({"replicas": "3"}),
            ".spec.replicas accessor error: 3 is of the type string, expected int64",
            id="string",
        ),
        pytest.param(
            cron({"replicas": 1.5}),
            ".spec.replicas accessor error: 1.5 is of the type float64, expected int64",
            id="float",
        ),
        pytest.param(
            cron([1]),
            ".spec.replicas accessor error: [1] is of the type []interface {}, expected map[string]interface{}",
            id="not-a-map",
        ),
    ],
)
def test_wrong_types(obj: JSON, message: str) -> None:
    with pytest.raises(scale.ScaleError) as err:
        scale.scale_from_object(SPEC, obj)
    assert str(err.value) == message


def test_apply_scale() -> None:
    obj = cron({"replicas": 1})
    updated = scale.apply_scale(
        SPEC, obj, {"spec": {"replicas": 4}, "metadata": {"resourceVersion": "9"}}
    )
    assert updated["spec"]["replicas"] == 4
    assert updated["metadata"]["resourceVersion"] == "9"
    assert obj["spec"]["replicas"] == 1


def test_apply_scale_needs_replicas_somewhere() -> None:
    with pytest.raises(
        scale.ScaleError,
        match=re.escape('the spec replicas field ".spec.replicas" cannot be empty'),
    ):
        scale.apply_scale(SPEC, cron({}), {"spec": {}})
    assert scale.apply_scale(SPEC, cron({}), {"spec": {"replicas": 2}})["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(cron({"replicas": 2}), [], id="valid"),
        pytest.param(
            cron({"replicas": -1}),
            [".spec.replicas: Invalid value: -1: should be a non-negative integer"],
            id="negative",
        ),
        pytest.param(
            cron({"replicas": 2**31}),
            [
                ".spec.replicas: Invalid value: 2147483648: should be less than or equal to 2147483647"
            ],
            id="too-big",
        ),
        pytest.param(
            cron({}, status={"labelSelector": ["a"]}),
            [
                '.status.labelSelector: Invalid value: "": .status.labelSelector accessor error: [a] is of the type []interface {}, expected string'
            ],
            id="selector-not-a-string",
        ),
    ],
)
def test_validate_scale(obj: JSON, expected: list[str]) -> None:
    assert [c.message for c in scale.validate_scale(SPEC, obj)] == expected
