"""crd.definition: CRD defaulting, strategy and validation against upstream's wording."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pyk8s.api.crd import definition
from pyk8s.api.validation import names

from .crd_examples import CRONTAB, CRONTAB_SCHEMA, crontab

JSON = dict[str, Any]
DNS1035_V1 = names.is_dns1035_label("V1")[0]


def created(crd: JSON) -> JSON:
    """What the apiserver validates on create: defaulted, then prepared."""
    crd = copy.deepcopy(crd)
    definition.defaults_crd(crd)
    definition.prepare_for_create(crd)
    return crd


def messages(crd: JSON) -> list[str]:
    return [c.message for c in definition.validate_crd(created(crd))]


def version(name: str, *, storage: bool = False, **extra: Any) -> JSON:
    out: JSON = {"name": name, "served": True, "storage": storage}
    out["schema"] = {"openAPIV3Schema": {"type": "object"}}
    return out | extra


def go_version(name: str, *, storage: bool) -> str:
    return (
        f'apiextensions.CustomResourceDefinitionVersion{{Name:"{name}", Served:true, '
        f"Storage:{'true' if storage else 'false'}, Deprecated:false, "
        "DeprecationWarning:(*string)(nil), Schema:(*apiextensions.CustomResourceValidation)(nil), "
        "Subresources:(*apiextensions.CustomResourceSubresources)(nil), "
        "AdditionalPrinterColumns:[]apiextensions.CustomResourceColumnDefinition(nil), "
        "SelectableFields:[]apiextensions.SelectableField(nil)}"
    )


def with_names(**changes: Any) -> JSON:
    crd = crontab()
    crd["spec"]["names"].update(changes)
    return crd


def with_schema(schema: JSON, **version_extra: Any) -> JSON:
    crd = crontab()
    v = crd["spec"]["versions"][0]
    v["schema"] = {"openAPIV3Schema": schema}
    v.update(version_extra)
    return crd


def edit(fn: Callable[[JSON], None]) -> JSON:
    crd = crontab()
    fn(crd)
    return crd


SCHEMA = "spec.validation.openAPIV3Schema"

CASES = [
    pytest.param(crontab(), [], id="crontab-is-valid"),
    pytest.param(
        edit(lambda c: c["metadata"].update(name="crontab.stable.example.com")),
        [
            'metadata.name: Invalid value: "crontab.stable.example.com": '
            'must be spec.names.plural+"."+spec.group'
        ],
        id="name-must-be-plural-dot-group",
    ),
    pytest.param(
        edit(
            lambda c: (
                c["spec"].update(group="example"),
                c["metadata"].update(name="crontabs.example"),
            )
        ),
        ['spec.group: Invalid value: "example": should be a domain with at least one dot'],
        id="group-needs-a-dot",
    ),
    pytest.param(
        edit(lambda c: c["spec"].pop("scope")), ["spec.scope: Required value"], id="scope-required"
    ),
    pytest.param(
        crontab(scope="Global"),
        ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'],
        id="scope-unsupported",
    ),
    pytest.param(
        with_names(kind="", listKind="", singular="x"),
        ["spec.names.kind: Required value", "spec.names.listKind: Required value"],
        id="kind-required",
    ),
    pytest.param(
        with_names(plural="CronTabs"),
        [
            'metadata.name: Invalid value: "crontabs.stable.example.com": '
            'must be spec.names.plural+"."+spec.group',
            'spec.names.plural: Invalid value: "CronTabs": '
            + ",".join(names.is_dns1035_label("CronTabs")),
        ],
        id="plural-dns1035",
    ),
    pytest.param(
        with_names(listKind="CronTab"),
        ['spec.names.listKind: Invalid value: "CronTab": kind and listKind may not be the same'],
        id="kind-equals-list-kind",
    ),
    pytest.param(
        with_names(kind="Cron_Tab", listKind="CronTabList", singular=""),
        [
            'spec.names.singular: Invalid value: "cron_tab": '
            + ",".join(names.is_dns1035_label("cron_tab")),
            'spec.names.kind: Invalid value: "Cron_Tab": may have mixed case, but should '
            "otherwise match: " + ",".join(names.is_dns1035_label("cron_tab")),
        ],
        id="kind-mixed-case-dns1035",
    ),
    pytest.param(
        with_names(shortNames=["ct", "C T"]),
        ['spec.names.shortNames[1]: Invalid value: "C T": ' + names.is_dns1035_label("C T")[0]],
        id="short-name",
    ),
    pytest.param(
        crontab(versions=[version("v1", storage=True), version("v2", storage=True)]),
        [
            "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{"
            + go_version("v1", storage=True)
            + ", "
            + go_version("v2", storage=True)
            + "}: must have exactly one version marked as storage version",
            'status.storedVersions: Invalid value: []string{"v1"}: must have the storage version v2',
        ],
        id="two-storage-versions",
    ),
    pytest.param(
        crontab(versions=[version("v1"), version("v1", storage=True)]),
        [
            "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{"
            + go_version("v1", storage=False)
            + ", "
            + go_version("v1", storage=True)
            + "}: must contain unique version names",
            # upstream's map of stored versions forgets v1 at its first (non-storage) entry
            'status.storedVersions: Invalid value: []string{"v1"}: must have the storage version v1',
        ],
        id="unique-version-names",
    ),
    pytest.param(
        crontab(versions=[version("v1")]),
        [
            "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{"
            + go_version("v1", storage=False)
            + "}: must have exactly one version marked as storage version",
            "status.storedVersions: Invalid value: []string(nil): must have at least one stored version",
        ],
        id="no-storage-version",
    ),
    pytest.param(
        crontab(versions=[version("V1", storage=True)]),
        [
            f'spec.versions[0].name: Invalid value: "V1": {DNS1035_V1}',
            f'spec.version: Invalid value: "V1": {DNS1035_V1}',
        ],
        id="version-name-dns1035",
    ),
    pytest.param(
        crontab(versions=[{"name": "v1", "served": True, "storage": True}]),
        ["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"],
        id="schema-required",
    ),
    pytest.param(
        crontab(
            versions=[
                version("v1", storage=True),
                version(
                    "v2", schema={"openAPIV3Schema": {"type": "object", "properties": {"a": {}}}}
                ),
            ]
        ),
        [
            "spec.versions[1].schema.openAPIV3Schema.properties[a].type: Required value: "
            "must not be empty for specified object fields"
        ],
        id="per-version-schema-errors-under-versions",
    ),
    pytest.param(
        with_schema(
            {"type": "object", "properties": {"spec": {"properties": {"x": {"type": "string"}}}}}
        ),
        [
            f"{SCHEMA}.properties[spec].type: Required value: must not be empty for specified object fields",
        ],
        id="structural-missing-type",
    ),
    pytest.param(
        with_schema(
            {
                "type": "object",
                "properties": {
                    "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
                },
            }
        ),
        [
            f"{SCHEMA}.properties[metadata]: Forbidden: must not specify anything other than name "
            "and generateName, but metadata is implicitly specified"
        ],
        id="structural-metadata-restricted",
    ),
    pytest.param(
        with_schema(
            {
                "type": "object",
                "properties": {
                    "metadata": {
                        "type": "object",
                        "properties": {"name": {"type": "string", "maxLength": 10}},
                    }
                },
            }
        ),
        [],
        id="metadata-may-restrict-name",
    ),
    pytest.param(
        with_schema(
            {"type": "object", "properties": {"spec": {"type": "object", "default": {"a": 1}}}}
        ),
        [
            f"{SCHEMA}.properties[spec].default: Invalid value: "
            'map[string]interface {}{"a":1}: must not have unknown fields'
        ],
        id="default-must-be-pruned",
    ),
    pytest.param(
        with_schema(
            {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {"n": {"type": "integer", "default": "x"}},
                    }
                },
            }
        ),
        [
            f'{SCHEMA}.properties[spec].properties[n].default: Invalid value: "string":  in body '
            'must be of type integer: "string"'
        ],
        id="default-must-validate",
    ),
    pytest.param(
        with_schema(
            {"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}}
        ),
        [
            f"{SCHEMA}.properties[metadata].default: Forbidden: must not be set in top-level metadata"
        ],
        id="no-default-in-top-level-metadata",
    ),
    pytest.param(
        with_schema(
            {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}},
            subresources={},
        ),
        [],
        id="nullable-below-root-ok",
    ),
    pytest.param(
        with_schema({"type": "object", "nullable": True}, subresources=None),
        [f"{SCHEMA}.nullable: Forbidden: nullable cannot be true at the root"],
        id="nullable-root",
    ),
    pytest.param(
        with_schema({"type": "object", "additionalProperties": {"type": "string"}}),
        [
            f"{SCHEMA}: Invalid value: apiextensions.JSONSchemaProps{{...}}: only [Description Type "
            "Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength "
            "Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties "
            "ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the "
            "root of the schema if the status subresource is enabled",
            f"{SCHEMA}.additionalProperties: Forbidden: must not be used at the root",
        ],
        id="status-subresource-restricts-root",
    ),
    pytest.param(
        edit(
            lambda c: c["spec"]["versions"][0]["subresources"]["scale"].update(
                specReplicasPath="replicas", statusReplicasPath=".spec.replicas"
            )
        ),
        [
            'spec.subresources.scale.specReplicasPath: Invalid value: "replicas": must be a simple '
            "json path starting with .",
            'spec.subresources.scale.statusReplicasPath: Invalid value: ".spec.replicas": should '
            "be a json path under .status",
        ],
        id="scale-paths",
    ),
    pytest.param(
        edit(
            lambda c: c["spec"]["versions"][0]["additionalPrinterColumns"].append(
                {"name": "X", "type": "time", "format": "iso", "jsonPath": ""}
            )
        ),
        [
            'spec.additionalPrinterColumns[4].type: Invalid value: "time": must be one of '
            "boolean,date,integer,number,string",
            'spec.additionalPrinterColumns[4].format: Invalid value: "iso": must be one of '
            "byte,date,date-time,double,float,int32,int64,password",
            "spec.additionalPrinterColumns[4].JSONPath: Required value",
        ],
        id="printer-columns",
    ),
    pytest.param(
        crontab(conversion={"strategy": "Webhook"}),
        [
            "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
            "spec.conversion.conversionReviewVersions: Required value",
        ],
        id="webhook-conversion-needs-config",
    ),
    pytest.param(
        crontab(conversion={"strategy": "Magic"}),
        [
            'spec.conversion.strategy: Unsupported value: "Magic": supported values: "None", "Webhook"'
        ],
        id="conversion-strategy",
    ),
    pytest.param(
        crontab(preserveUnknownFields=True),
        [
            "spec.preserveUnknownFields: Invalid value: true: must be false in order to use "
            "defaults in the schema",
            "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set "
            "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ],
        id="preserve-unknown-fields-true",
    ),
    pytest.param(
        edit(
            lambda c: (
                c["spec"].update(group="stable.k8s.io"),
                c["metadata"].update(name="crontabs.stable.k8s.io"),
            )
        ),
        [
            "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups "
            'must have approval annotation "api-approved.kubernetes.io", see '
            "https://github.com/kubernetes/enhancements/pull/1111"
        ],
        id="protected-group-needs-approval",
    ),
]


@pytest.mark.parametrize(("crd", "expected"), CASES)
def test_validate_crd(crd: JSON, expected: list[str]) -> None:
    assert messages(crd) == expected


def test_defaults() -> None:
    crd: JSON = {
        "spec": {
            "names": {"plural": "crontabs", "kind": "CronTab"},
            "versions": [version("v1", storage=True)],
        }
    }
    definition.defaults_crd(crd)
    assert crd["spec"]["names"] == {
        "plural": "crontabs",
        "kind": "CronTab",
        "singular": "crontab",
        "listKind": "CronTabList",
    }
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"] == {"storedVersions": ["v1"]}


def test_defaults_keep_given_names_and_webhook_port() -> None:
    crd: JSON = {
        "spec": {
            "names": {"kind": "CronTab", "singular": "ct1", "listKind": "CronTabs"},
            "conversion": {
                "strategy": "Webhook",
                "webhook": {"clientConfig": {"service": {"name": "s", "namespace": "n"}}},
            },
        }
    }
    definition.defaults_crd(crd)
    assert crd["spec"]["names"]["singular"] == "ct1"
    assert crd["spec"]["names"]["listKind"] == "CronTabs"
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] == 443


def test_prepare_for_create_resets_status() -> None:
    crd = crontab()
    crd["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
    definition.prepare_for_create(crd)
    assert crd["status"] == {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]}
    assert crd["metadata"]["generation"] == 1


def test_prepare_for_update_keeps_status_and_bumps_generation() -> None:
    old = created(CRONTAB)
    old["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    new = copy.deepcopy(old)
    new["status"] = {}
    definition.prepare_for_update(new, old)
    assert new["status"] == old["status"]
    assert new["metadata"]["generation"] == 1
    new["spec"]["versions"].append(version("v2", storage=True))
    new["spec"]["versions"][0]["storage"] = False
    definition.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2
    assert new["status"]["storedVersions"] == ["v1", "v2"]


def _established(crd: JSON) -> JSON:
    crd = created(crd)
    crd["metadata"]["resourceVersion"] = "1"
    crd["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    return crd


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda c: c["spec"].update(scope="Cluster"),
            ['spec.scope: Invalid value: "Cluster": field is immutable'],
            id="scope",
        ),
        pytest.param(
            lambda c: c["spec"]["names"].update(kind="Cron", listKind="CronList"),
            ['spec.names.kind: Invalid value: "Cron": field is immutable'],
            id="kind",
        ),
        pytest.param(
            lambda c: (
                c["spec"].update(group="other.example.com"),
                c["metadata"].update(name="crontabs.other.example.com"),
            ),
            [
                'metadata.name: Invalid value: "crontabs.other.example.com": field is immutable',
                'spec.group: Invalid value: "other.example.com": field is immutable',
            ],
            id="group",
        ),
        pytest.param(
            lambda c: c["spec"]["names"].update(shortNames=["cr"]), [], id="short-names-may-change"
        ),
    ],
)
def test_validate_crd_update(change: Callable[[JSON], None], expected: list[str]) -> None:
    old = _established(CRONTAB)
    new = copy.deepcopy(old)
    change(new)
    assert [c.message for c in definition.validate_crd_update(new, old)] == expected


def test_update_may_not_drop_a_stored_version() -> None:
    old = _established(CRONTAB)
    new = copy.deepcopy(old)
    new["spec"]["versions"][0]["name"] = "v2"
    definition.prepare_for_update(new, old)
    assert [c.message for c in definition.validate_crd_update(new, old)] == [
        'status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was '
        "previously a storage version, and must remain in spec.versions until a storage "
        "migration ensures no data remains persisted in v1 and removes v1 from "
        "status.storedVersions"
    ]


def test_schema_identical_across_versions_is_reported_once_at_top_level() -> None:
    bad = {"type": "object", "properties": {"a": {}}}
    crd = crontab(
        versions=[
            version("v1", storage=True, schema={"openAPIV3Schema": bad}),
            version("v2", schema={"openAPIV3Schema": copy.deepcopy(bad)}),
        ]
    )
    assert messages(crd) == [
        f"{SCHEMA}.properties[a].type: Required value: must not be empty for specified object fields"
    ]


def test_crd_schema_fixture_is_structural() -> None:
    assert messages(with_schema(copy.deepcopy(CRONTAB_SCHEMA))) == []
