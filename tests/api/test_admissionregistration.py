"""Mutating- and ValidatingWebhookConfigurations: upstream's defaults and validation
messages, including the update rules that keep accepting what was already stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api.defaults_admission import default_webhook_configuration
from pyk8s.api.validation.admissionregistration import (
    validate_webhook_configuration,
    validate_webhook_configuration_update,
)

Obj = dict[str, Any]


def _hook(**over: Any) -> Obj:
    hook: Obj = {
        "name": "pod-policy.example.com",
        "clientConfig": {"url": "https://hooks.example.com/validate"},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    hook.update(over)
    return hook


def _config(*hooks: Obj, name: str = "pod-policy") -> Obj:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "resourceVersion": "1"},
        "webhooks": list(hooks),
    }


def _rule(**over: Any) -> Obj:
    rule: Obj = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"]}
    rule.update(over)
    return rule


def test_defaults() -> None:
    obj = _config(
        _hook(clientConfig={"service": {"namespace": "ns", "name": "svc"}}),
        _hook(
            name="b.example.com", failurePolicy="Ignore", timeoutSeconds=3, namespaceSelector=None
        ),
    )
    default_webhook_configuration(obj, mutating=True)
    first, second = obj["webhooks"]
    assert {k: first[k] for k in _DEFAULTED} == {
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "namespaceSelector": {},
        "objectSelector": {},
        "timeoutSeconds": 10,
        "reinvocationPolicy": "Never",
    }
    assert first["rules"][0]["scope"] == "*"
    assert first["clientConfig"]["service"]["port"] == 443
    assert (second["failurePolicy"], second["timeoutSeconds"], second["namespaceSelector"]) == (
        "Ignore",
        3,
        {},
    )
    assert "sideEffects" in first and "port" not in second["clientConfig"]
    again = copy.deepcopy(obj)
    default_webhook_configuration(again, mutating=True)
    assert again == obj


_DEFAULTED = (
    "failurePolicy",
    "matchPolicy",
    "namespaceSelector",
    "objectSelector",
    "timeoutSeconds",
    "reinvocationPolicy",
)


def test_validating_has_no_reinvocation_default() -> None:
    obj = _config(_hook())
    default_webhook_configuration(obj, mutating=False)
    assert "reinvocationPolicy" not in obj["webhooks"][0]
    assert validate_webhook_configuration(obj, mutating=False) == []


_W0 = "webhooks[0]"
_FORM = "; desired format: https://host[/path]"


@pytest.mark.parametrize(
    ("hooks", "mutating", "expected"),
    [
        pytest.param([_hook()], False, [], id="valid"),
        pytest.param([_hook(name="")], False, [f"{_W0}.name: Required value"], id="name-required"),
        pytest.param(
            [_hook(name="pod-policy.example")],
            False,
            [
                f'{_W0}.name: Invalid value: "pod-policy.example": should be a domain with at '
                "least three segments separated by dots"
            ],
            id="name-two-segments",
        ),
        pytest.param(
            [_hook(name="Pod.example.com")],
            False,
            [
                f'{_W0}.name: Invalid value: "Pod.example.com": a lowercase RFC 1123 subdomain '
                "must consist of lower case alphanumeric characters, '-' or '.', and must start "
                "and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ],
            id="name-not-subdomain",
        ),
        pytest.param(
            [_hook(), _hook()],
            False,
            ['webhooks[1].name: Duplicate value: "pod-policy.example.com"'],
            id="duplicate-names",
        ),
        pytest.param(
            [_hook(clientConfig={})],
            False,
            [f"{_W0}.clientConfig: Required value: exactly one of url or service is required"],
            id="no-client-config",
        ),
        pytest.param(
            [
                _hook(
                    clientConfig={
                        "url": "https://a.example.com",
                        "service": {"namespace": "n", "name": "s"},
                    }
                )
            ],
            False,
            [f"{_W0}.clientConfig: Required value: exactly one of url or service is required"],
            id="both-url-and-service",
        ),
        pytest.param(
            [_hook(clientConfig={"url": "http://hooks.example.com/x"})],
            False,
            [
                f"{_W0}.clientConfig.url: Invalid value: \"http\": 'https' is the only allowed "
                f"URL scheme{_FORM}"
            ],
            id="url-not-https",
        ),
        pytest.param(
            [_hook(clientConfig={"url": "https://u:p@hooks.example.com/x?a=b#frag"})],
            False,
            [
                f'{_W0}.clientConfig.url: Invalid value: "u:p": user information is not '
                "permitted in the URL",
                f'{_W0}.clientConfig.url: Invalid value: "frag": fragments are not permitted in '
                "the URL",
                f'{_W0}.clientConfig.url: Invalid value: "a=b": query parameters are not '
                "permitted in the URL",
            ],
            id="url-userinfo-fragment-query",
        ),
        pytest.param(
            [_hook(clientConfig={"url": "https:///x"})],
            False,
            [f'{_W0}.clientConfig.url: Invalid value: "": host must be specified{_FORM}'],
            id="url-no-host",
        ),
        pytest.param(
            [
                _hook(
                    clientConfig={
                        "service": {"namespace": "", "name": "", "port": 0, "path": "x//"}
                    }
                )
            ],
            False,
            [
                f"{_W0}.clientConfig.service.name: Required value: service name is required",
                f"{_W0}.clientConfig.service.namespace: Required value: service namespace is "
                "required",
                f"{_W0}.clientConfig.service.port: Invalid value: 0: port is not valid: must be "
                "between 1 and 65535, inclusive",
                f"{_W0}.clientConfig.service.path: Invalid value: \"x//\": must start with a '/'",
                # upstream drops the first character whatever it is, then splits "/"
                f'{_W0}.clientConfig.service.path: Invalid value: "x//": segment[0] may not be '
                "empty",
                f'{_W0}.clientConfig.service.path: Invalid value: "x//": segment[1] may not be '
                "empty",
            ],
            id="service-fields",
        ),
        pytest.param(
            [_hook(sideEffects=None)],
            False,
            [f"{_W0}.sideEffects: Required value: must specify one of None, NoneOnDryRun"],
            id="side-effects-required",
        ),
        pytest.param(
            [_hook(sideEffects="Unknown")],
            False,
            [
                f'{_W0}.sideEffects: Unsupported value: "Unknown": supported values: "None", '
                '"NoneOnDryRun"'
            ],
            id="side-effects-unknown",
        ),
        pytest.param(
            [_hook(admissionReviewVersions=[])],
            False,
            [f"{_W0}.admissionReviewVersions: Required value: must specify one of v1, v1beta1"],
            id="review-versions-required",
        ),
        pytest.param(
            [_hook(admissionReviewVersions=["v2", "v2"])],
            False,
            [
                f'{_W0}.admissionReviewVersions[1]: Invalid value: "v2": duplicate version',
                f'{_W0}.admissionReviewVersions: Invalid value: []string{{"v2", "v2"}}: must '
                "include at least one of v1, v1beta1",
            ],
            id="review-versions-unknown",
        ),
        pytest.param(
            [_hook(failurePolicy="Sometimes", matchPolicy="Fuzzy", timeoutSeconds=31)],
            False,
            [
                f'{_W0}.failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", '
                '"Ignore"',
                f'{_W0}.matchPolicy: Unsupported value: "Fuzzy": supported values: "Equivalent", '
                '"Exact"',
                f"{_W0}.timeoutSeconds: Invalid value: 31: the timeout value must be between 1 "
                "and 30 seconds",
            ],
            id="policies-and-timeout",
        ),
        pytest.param(
            [_hook(reinvocationPolicy="Always")],
            True,
            [
                f'{_W0}.reinvocationPolicy: Unsupported value: "Always": supported values: '
                '"IfNeeded", "Never"'
            ],
            id="reinvocation-policy",
        ),
        pytest.param(
            [_hook(reinvocationPolicy="Always")], False, [], id="validating-ignores-reinvocation"
        ),
        pytest.param(
            [
                _hook(
                    rules=[
                        _rule(operations=["*", "CREATE", "PATCH"], resources=["pods"], scope="All")
                    ]
                )
            ],
            False,
            [
                f"{_W0}.rules[0].operations: Invalid value: "
                '[]admissionregistration.OperationType{"*", "CREATE", "PATCH"}: if \'*\' is '
                "present, must not specify other operations",
                f'{_W0}.rules[0].operations[2]: Unsupported value: "PATCH": supported values: '
                '"*", "CONNECT", "CREATE", "DELETE", "UPDATE"',
                f'{_W0}.rules[0].scope: Unsupported value: "All": supported values: "*", '
                '"Cluster", "Namespaced"',
            ],
            id="rule-operations-and-scope",
        ),
        pytest.param(
            [_hook(rules=[_rule(operations=[], apiGroups=["*", "apps"], apiVersions=[""])])],
            False,
            [
                f"{_W0}.rules[0].operations: Required value",
                f'{_W0}.rules[0].apiGroups: Invalid value: []string{{"*", "apps"}}: if \'*\' is '
                "present, must not specify other API groups",
                f"{_W0}.rules[0].apiVersions[0]: Required value",
                f"{_W0}.rules[0].resources: Required value",
            ],
            id="rule-required-and-wildcards",
        ),
        pytest.param(
            [_hook(rules=[_rule(resources=["*/*", "pods"])])],
            False,
            [
                f'{_W0}.rules[0].resources: Invalid value: []string{{"*/*", "pods"}}: if \'*/*\' '
                "is present, must not specify other resources"
            ],
            id="double-wildcard-alone",
        ),
        pytest.param(
            [_hook(rules=[_rule(resources=["*", "pods"])])],
            False,
            [
                f'{_W0}.rules[0].resources: Invalid value: []string{{"*", "pods"}}: if \'*\' is '
                "present, must not specify other resources without subresources"
            ],
            id="single-wildcard-with-plain",
        ),
        pytest.param(
            [
                _hook(
                    rules=[
                        _rule(resources=["pods/*", "pods/status", "*/scale", "deployments/scale"])
                    ]
                )
            ],
            False,
            [
                f"{_W0}.rules[0].resources[1]: Invalid value: \"pods/status\": if 'pods/*' is "
                "present, must not specify pods/status",
                f'{_W0}.rules[0].resources[3]: Invalid value: "deployments/scale": if '
                "'*/scale' is present, must not specify deployments/scale",
            ],
            id="subresource-wildcards",
        ),
        pytest.param(
            [_hook(rules=[_rule(resources=["*", "pods/status"])])],
            False,
            [],
            id="wildcard-with-subresource-ok",
        ),
        pytest.param(
            [
                _hook(
                    namespaceSelector={
                        "matchExpressions": [{"key": "env", "operator": "In", "values": []}]
                    }
                )
            ],
            False,
            [
                f"{_W0}.namespaceSelector.matchExpressions[0].values: Required value: must be "
                "specified when `operator` is 'In' or 'NotIn'"
            ],
            id="selector",
        ),
    ],
)
def test_validate(hooks: list[Obj], mutating: bool, expected: list[str]) -> None:
    causes = validate_webhook_configuration(_config(*hooks), mutating=mutating)
    assert [c.message for c in causes] == expected


def test_metadata_name_is_validated() -> None:
    causes = validate_webhook_configuration(_config(_hook(), name="Bad_Name"), mutating=False)
    assert [c.field for c in causes] == ["metadata.name"]


@pytest.mark.parametrize(
    ("old_hooks", "new_hooks", "expected"),
    [
        pytest.param(
            [_hook(sideEffects="Unknown")],
            [_hook(sideEffects="Some")],
            [],
            id="side-effects-kept-if-old-had-them",
        ),
        pytest.param(
            [_hook()],
            [_hook(sideEffects="Some")],
            [
                f'{_W0}.sideEffects: Unsupported value: "Some": supported values: "None", '
                '"NoneOnDryRun"'
            ],
            id="side-effects-not-introduced",
        ),
        pytest.param([_hook(), _hook()], [_hook(), _hook()], [], id="duplicates-kept"),
        pytest.param(
            [_hook(admissionReviewVersions=["v9"])],
            [_hook(admissionReviewVersions=["v9"])],
            [],
            id="unknown-versions-kept",
        ),
    ],
)
def test_validate_update(old_hooks: list[Obj], new_hooks: list[Obj], expected: list[str]) -> None:
    causes = validate_webhook_configuration_update(
        _config(*new_hooks), _config(*old_hooks), mutating=False
    )
    assert [c.message for c in causes] == expected


def test_update_checks_metadata() -> None:
    old = _config(_hook())
    new = _config(_hook())
    new["metadata"]["name"] = "renamed"
    causes = validate_webhook_configuration_update(new, old, mutating=True)
    assert causes and causes[0].field == "metadata.name"
