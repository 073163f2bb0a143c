"""Which webhooks a request calls: rules (operations, groups, versions, resources with
subresources and wildcards, scope), namespace and object selectors, matchPolicy
Equivalent, and the exemption of the admission configuration kinds."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors, resources
from pyk8s.api.resources import Resource
from pyk8s.apiserver.admission import Attributes, UserInfo, matching


def _res(group: str, version: str, plural: str) -> Resource:
    found = resources.find(group, version, plural)
    assert found is not None
    return found


PODS = _res("", "v1", "pods")
NODES = _res("", "v1", "nodes")
NAMESPACES = _res("", "v1", "namespaces")
DEPLOYMENTS = _res("apps", "v1", "deployments")
HPA_V1 = _res("autoscaling", "v1", "horizontalpodautoscalers")
HPA_V2 = _res("autoscaling", "v2", "horizontalpodautoscalers")
VWC = _res("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")


def _attrs(
    res: Resource = PODS,
    *,
    op: str = "CREATE",
    ns: str | None = "default",
    name: str = "x",
    sub: str | None = None,
) -> Attributes:
    return Attributes(
        resource=res,
        subresource=sub,
        namespace=ns,
        name=name,
        operation=op,
        user=UserInfo("alice"),
    )


def _rule(**over: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "operations": ["CREATE"],
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "resources": ["pods"],
    }
    rule.update(over)
    return rule


@pytest.mark.parametrize(
    ("rule", "res", "sub", "ns", "op", "expected"),
    [
        pytest.param(_rule(), PODS, "", "default", "CREATE", True, id="exact"),
        pytest.param(_rule(), PODS, "", "default", "UPDATE", False, id="other-operation"),
        pytest.param(_rule(operations=["*"]), PODS, "", "d", "DELETE", True, id="any-operation"),
        pytest.param(_rule(), DEPLOYMENTS, "", "d", "CREATE", False, id="other-group"),
        pytest.param(
            _rule(apiGroups=["*"], apiVersions=["*"], resources=["*"]),
            DEPLOYMENTS,
            "",
            "d",
            "CREATE",
            True,
            id="all-wildcards",
        ),
        pytest.param(_rule(apiVersions=["v2"]), PODS, "", "d", "CREATE", False, id="other-version"),
        pytest.param(_rule(), PODS, "status", "d", "CREATE", False, id="plain-skips-subresource"),
        pytest.param(
            _rule(resources=["pods/status"]), PODS, "status", "d", "CREATE", True, id="subresource"
        ),
        pytest.param(
            _rule(resources=["pods/status"]), PODS, "", "d", "CREATE", False, id="sub-not-main"
        ),
        pytest.param(_rule(resources=["pods/*"]), PODS, "exec", "d", "CREATE", True, id="pods/*"),
        pytest.param(
            _rule(resources=["pods/*"]), PODS, "", "d", "CREATE", True, id="pods/*-matches-main"
        ),
        pytest.param(
            _rule(apiGroups=["*"], resources=["*/status"]),
            DEPLOYMENTS,
            "status",
            "d",
            "CREATE",
            True,
            id="*/status",
        ),
        pytest.param(
            _rule(apiGroups=["*"], resources=["*/status"]),
            DEPLOYMENTS,
            "",
            "d",
            "CREATE",
            False,
            id="*/status-not-main",
        ),
        pytest.param(
            _rule(resources=["*/*"]), PODS, "binding", "d", "CREATE", True, id="*/*-everything"
        ),
        pytest.param(_rule(scope="Namespaced"), PODS, "", "d", "CREATE", True, id="namespaced"),
        pytest.param(
            _rule(scope="Namespaced", resources=["*"]),
            NODES,
            "",
            "",
            "CREATE",
            False,
            id="namespaced-skips-cluster",
        ),
        pytest.param(
            _rule(scope="Namespaced", operations=["*"], resources=["*"]),
            NAMESPACES,
            "",
            "ns1",
            "UPDATE",
            False,
            id="namespace-object-is-cluster-scoped",
        ),
        pytest.param(
            _rule(scope="Cluster", operations=["*"], resources=["*"]),
            NAMESPACES,
            "",
            "ns1",
            "UPDATE",
            True,
            id="cluster-takes-namespace-object",
        ),
        pytest.param(
            _rule(scope="Cluster", resources=["*"]), NODES, "", "", "CREATE", True, id="cluster"
        ),
        pytest.param(_rule(scope="Cluster"), PODS, "", "d", "CREATE", False, id="cluster-skips"),
        pytest.param(_rule(scope="*"), PODS, "", "d", "CREATE", True, id="scope-all"),
        pytest.param(_rule(scope="Bogus"), PODS, "", "d", "CREATE", False, id="unknown-scope"),
    ],
)
def test_rule_matches(
    rule: dict[str, Any], res: Resource, sub: str, ns: str, op: str, expected: bool
) -> None:
    got = matching.rule_matches(rule, resource=res, subresource=sub, namespace=ns, operation=op)
    assert got is expected


def _hook(**over: Any) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": "h.example.com",
        "rules": [_rule(operations=["*"])],
        "namespaceSelector": {},
        "objectSelector": {},
        "matchPolicy": "Equivalent",
    }
    hook.update(over)
    return hook


def _obj(labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "x", "labels": labels or {}}}


NS_LABELS = {"default": {"env": "prod"}, "dev": {"env": "dev"}, "ns1": {"team": "a"}}

_PROD = {"matchLabels": {"env": "prod"}}


@pytest.mark.parametrize(
    ("hook", "attrs", "obj", "old", "called"),
    [
        pytest.param(_hook(), _attrs(), _obj(), None, True, id="match-all"),
        pytest.param(_hook(namespaceSelector=_PROD), _attrs(), _obj(), None, True, id="ns-match"),
        pytest.param(
            _hook(namespaceSelector=_PROD), _attrs(ns="dev"), _obj(), None, False, id="ns-no-match"
        ),
        pytest.param(
            _hook(
                namespaceSelector={
                    "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]
                }
            ),
            _attrs(ns="dev"),
            _obj(),
            None,
            True,
            id="ns-expression",
        ),
        pytest.param(
            _hook(namespaceSelector=_PROD, rules=[_rule(operations=["*"], resources=["*"])]),
            _attrs(NODES, ns=None),
            _obj(),
            None,
            True,
            id="cluster-scoped-ignores-ns-selector",
        ),
        pytest.param(
            _hook(
                namespaceSelector={"matchLabels": {"team": "b"}},
                rules=[_rule(operations=["*"], resources=["namespaces"])],
            ),
            _attrs(NAMESPACES, ns=None, name="new"),
            _obj({"team": "b"}),
            None,
            True,
            id="namespace-create-uses-own-labels",
        ),
        pytest.param(
            _hook(
                namespaceSelector={"matchLabels": {"team": "a"}},
                rules=[_rule(operations=["*"], resources=["namespaces"])],
            ),
            _attrs(NAMESPACES, op="DELETE", ns=None, name="ns1"),
            None,
            _obj(),
            True,
            id="namespace-delete-uses-stored-labels",
        ),
        pytest.param(
            _hook(objectSelector={"matchLabels": {"app": "web"}}),
            _attrs(),
            _obj({"app": "web"}),
            None,
            True,
            id="object-match",
        ),
        pytest.param(
            _hook(objectSelector={"matchLabels": {"app": "web"}}),
            _attrs(),
            _obj({"app": "db"}),
            None,
            False,
            id="object-no-match",
        ),
        pytest.param(
            _hook(objectSelector={"matchLabels": {"app": "web"}}),
            _attrs(op="UPDATE"),
            _obj({"app": "db"}),
            _obj({"app": "web"}),
            True,
            id="object-old-labels-count",
        ),
        pytest.param(
            _hook(objectSelector={"matchLabels": {"app": "web"}}),
            _attrs(op="DELETE"),
            None,
            _obj({"app": "web"}),
            True,
            id="object-delete-old",
        ),
        pytest.param(
            _hook(objectSelector={"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
            _attrs(op="DELETE"),
            None,
            None,
            False,
            id="object-absent-never-matches",
        ),
        pytest.param(
            _hook(rules=[_rule(operations=["UPDATE"])]), _attrs(), _obj(), None, False, id="no-rule"
        ),
        pytest.param(
            _hook(rules=[_rule(operations=["*"], apiGroups=["*"], resources=["*"])]),
            _attrs(VWC, ns=None),
            _obj(),
            None,
            True,
            id="matching-ignores-exemption",
        ),
    ],
)
def test_should_call(
    hook: dict[str, Any],
    attrs: Attributes,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None,
    called: bool,
) -> None:
    inv = matching.should_call(hook, attrs, obj, old, namespace_labels=NS_LABELS.get)
    assert (inv is not None) is called
    if inv is not None:
        assert inv.resource == attrs.resource
        assert inv.kind == matching.kind_for(attrs.resource, attrs.subresource)


def test_missing_namespace_is_404_only_when_a_rule_matches() -> None:
    hook = _hook(namespaceSelector=_PROD)
    with pytest.raises(errors.StatusError) as e:
        matching.should_call(hook, _attrs(ns="gone"), _obj(), None, namespace_labels=NS_LABELS.get)
    assert (e.value.code, e.value.message) == (404, 'namespaces "gone" not found')
    other = _hook(namespaceSelector=_PROD, rules=[_rule(operations=["UPDATE"])])
    assert (
        matching.should_call(other, _attrs(ns="gone"), _obj(), None, namespace_labels=NS_LABELS.get)
        is None
    )


def test_bad_selector_is_internal_error() -> None:
    hook = _hook(objectSelector={"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
    with pytest.raises(errors.StatusError) as e:
        matching.should_call(hook, _attrs(), _obj(), None, namespace_labels=NS_LABELS.get)
    assert e.value.code == 500
    assert e.value.message.startswith("Internal error occurred: ")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param("Equivalent", HPA_V2, id="equivalent-calls-in-matched-version"),
        pytest.param("Exact", None, id="exact-skips"),
    ],
)
def test_match_policy(policy: str, expected: Resource | None) -> None:
    hook = _hook(
        matchPolicy=policy,
        rules=[_rule(apiGroups=["autoscaling"], apiVersions=["v2"], resources=["*"])],
    )
    inv = matching.should_call(
        hook,
        _attrs(HPA_V1),
        _obj(),
        None,
        namespace_labels=NS_LABELS.get,
        equivalents=[HPA_V1, HPA_V2],
    )
    if expected is None:
        assert inv is None
    else:
        assert inv is not None
        assert inv.resource == expected
        assert inv.kind == matching.Kind("autoscaling", "v2", "HorizontalPodAutoscaler")


@pytest.mark.parametrize(
    ("res", "sub", "kind"),
    [
        pytest.param(PODS, None, matching.Kind("", "v1", "Pod"), id="main"),
        pytest.param(PODS, "status", matching.Kind("", "v1", "Pod"), id="status"),
        pytest.param(DEPLOYMENTS, "scale", matching.Kind("autoscaling", "v1", "Scale"), id="scale"),
        pytest.param(PODS, "eviction", matching.Kind("policy", "v1", "Eviction"), id="eviction"),
    ],
)
def test_kind_for(res: Resource, sub: str | None, kind: matching.Kind) -> None:
    assert matching.kind_for(res, sub) == kind


@pytest.mark.parametrize(
    ("attrs", "exempt"),
    [
        pytest.param(_attrs(VWC, ns=None), True, id="validating-configurations"),
        pytest.param(
            _attrs(
                _res("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"), ns=None
            ),
            True,
            id="mutating-configurations",
        ),
        pytest.param(_attrs(), False, id="pods"),
    ],
)
def test_is_exempt(attrs: Attributes, exempt: bool) -> None:
    assert matching.is_exempt(attrs) is exempt


@pytest.mark.parametrize(
    ("attrs", "namespace"),
    [
        pytest.param(_attrs(), "default", id="namespaced"),
        pytest.param(_attrs(NODES, ns=None), "", id="cluster"),
        pytest.param(
            _attrs(NAMESPACES, ns=None, name="n", op="UPDATE"), "n", id="namespace-update"
        ),
        pytest.param(_attrs(NAMESPACES, ns=None, name="n", op="CREATE"), "", id="namespace-create"),
    ],
)
def test_effective_namespace(attrs: Attributes, namespace: str) -> None:
    assert matching.effective_namespace(attrs) == namespace
