"""crd.validate: custom resources through upstream's strategy validation (CronTab)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api.crd import scale, validate, versions
from pyk8s.api.schemas import GVK
from pyk8s.api.validation import names

from .crd_examples import CRONTAB, cron

JSON = dict[str, Any]
SCHEMA = versions.schema_for(CRONTAB, "v1")
SCALE = scale.scale_spec_for(CRONTAB, "v1")
KIND = GVK("stable.example.com", "v1", "CronTab")


def create(obj: JSON) -> list[str]:
    return [c.message for c in validate.validate_object(SCHEMA, obj, kind=KIND, scale=SCALE)]


def spec(**fields: Any) -> JSON:
    return {"cronSpec": "* * * * */5", **fields}


CASES = [
    pytest.param(cron(), [], id="valid"),
    pytest.param(
        cron(spec(replicas=3, color="red", size="5%", tags=["a", "b"])), [], id="valid-full"
    ),
    pytest.param(
        cron(spec(replicas="3")),
        [
            'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
            ".spec.replicas: Invalid value: 0: .spec.replicas accessor error: 3 is of the type string, expected int64",
        ],
        id="replicas-type",
    ),
    pytest.param(
        cron(spec(replicas=11)),
        [
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
        ],
        id="replicas-maximum",
    ),
    pytest.param(
        cron({"image": "x"}),
        ["spec.cronSpec: Required value"],
        id="required",
    ),
    pytest.param(
        cron(spec(color="pink")),
        ['spec.color: Unsupported value: "pink": supported values: "red", "blue"'],
        id="enum",
    ),
    pytest.param(
        cron(spec(cronSpec="soon")),
        [
            'spec.cronSpec: Invalid value: "soon": spec.cronSpec in body should match '
            "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'"
        ],
        id="pattern",
    ),
    pytest.param(
        cron(spec(size=True)),
        [
            'spec.size: Invalid value: "boolean": spec.size in body must be of type integer,string: "boolean"'
        ],
        id="int-or-string",
    ),
    pytest.param(
        cron(spec(ports=[{"port": 80}, {"port": 443}, {"port": 80, "protocol": "UDP"}])),
        ['spec.ports[2]: Duplicate value: map[string]interface {}{"port":80}'],
        id="list-map-duplicate-key",
    ),
    pytest.param(
        cron(spec(ports=[{"port": 80}, "http"])),
        [
            'spec.ports[1]: Invalid value: "string": spec.ports[1] in body must be of type object: "string"',
            'spec.ports[1]: Invalid value: "http": must be an object for an array of list-type map',
        ],
        id="list-map-non-object",
    ),
    pytest.param(
        cron(spec(tags=["a", "b", "a", "a", "b"])),
        ['spec.tags[2]: Duplicate value: "a"', 'spec.tags[4]: Duplicate value: "b"'],
        id="list-set-duplicates",
    ),
    pytest.param(
        cron(spec(template={"metadata": {"name": "x"}})),
        [
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Required value: must not be empty",
        ],
        id="embedded-needs-type-meta",
    ),
    pytest.param(
        cron(spec(template={"apiVersion": "a/b/c", "kind": "Pod_", "metadata": {"name": "x/y"}})),
        [
            'spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
            'spec.template.kind: Invalid value: "Pod_": may have mixed case, but should otherwise match: '
            + ",".join(names.is_dns1035_label("pod_")),
            "spec.template.metadata.name: Invalid value: \"x/y\": may not contain '/'",
        ],
        id="embedded-type-meta-and-metadata",
    ),
    pytest.param(
        cron(kind="Crontab"),
        ['kind: Invalid value: "Crontab": must be CronTab'],
        id="kind-mismatch-stops-validation",
    ),
    pytest.param(
        cron(spec(replicas="x"), apiVersion="stable.example.com/v2"),
        ['apiVersion: Invalid value: "stable.example.com/v2": must be stable.example.com/v1'],
        id="api-version-mismatch",
    ),
    pytest.param(
        cron(metadata={"name": "Bad_Name", "namespace": "default"}),
        ['metadata.name: Invalid value: "Bad_Name": ' + names.is_dns1123_subdomain("Bad_Name")[0]],
        id="name-dns-subdomain",
    ),
    pytest.param(
        cron(metadata={"name": "x"}),
        ["metadata.namespace: Required value"],
        id="namespace-required",
    ),
    pytest.param(
        cron(metadata={"name": "..", "namespace": "default"}),
        ['metadata.name: Invalid value: "..": ' + names.is_dns1123_subdomain("..")[0]],
        id="dots-name",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), CASES)
def test_validate_object(obj: JSON, expected: list[str]) -> None:
    assert create(obj) == expected


def test_status_and_scale_status_are_validated_on_status_update() -> None:
    old = cron(status={"replicas": 1})
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["status"] = {"replicas": -1, "labelSelector": 5}
    got = [
        c.message for c in validate.validate_status_update(SCHEMA, new, old, kind=KIND, scale=SCALE)
    ]
    assert got == [
        'status.labelSelector: Invalid value: "integer": labelSelector in body must be of type string: "integer"',
        ".status.replicas: Invalid value: -1: should be a non-negative integer",
        '.status.labelSelector: Invalid value: "": .status.labelSelector accessor error: 5 is of '
        "the type int64, expected string",
    ]


def test_update_ratchets_unchanged_errors_and_list_uniqueness() -> None:
    old = cron(spec(color="pink", tags=["a", "a"]))
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["image"] = "other"
    assert validate.validate_object_update(SCHEMA, new, old, kind=KIND, scale=SCALE) == []
    new["spec"]["color"] = "green"
    got = [
        c.message for c in validate.validate_object_update(SCHEMA, new, old, kind=KIND, scale=SCALE)
    ]
    assert got == ['spec.color: Unsupported value: "green": supported values: "red", "blue"']


def test_update_checks_metadata_rules() -> None:
    old = cron()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "renamed"
    got = [c.message for c in validate.validate_object_update(SCHEMA, new, old, kind=KIND)]
    assert got == ['metadata.name: Invalid value: "renamed": field is immutable']


def test_cluster_scoped_forbids_namespace() -> None:
    got = validate.validate_object(SCHEMA, cron(), kind=KIND, namespaced=False)
    assert [c.message for c in got] == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_no_schema_validates_metadata_only() -> None:
    assert validate.validate_object(None, cron(spec={"anything": 1}), kind=KIND) == []
