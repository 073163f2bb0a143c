"""Label and field selectors against upstream's grammar, messages and field tables."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import selectors
from pyk8s.api.selectors import SelectorError

JSON = dict[str, Any]

_NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName' or 'my.name' or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_BAD_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue' or "
    "'my_value' or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


# -- label selectors: parsing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("", "", id="empty-selects-everything"),
        pytest.param("a=b", "a=b", id="equals"),
        pytest.param("a==b", "a==b", id="double-equals"),
        pytest.param("a!=b", "a!=b", id="not-equals"),
        pytest.param("a", "a", id="exists"),
        pytest.param("!a", "!a", id="does-not-exist"),
        pytest.param("a in (y,x)", "a in (x,y)", id="in-values-sorted"),
        pytest.param("a notin (x)", "a notin (x)", id="notin"),
        pytest.param(
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
            id="upstream-doc-example",
        ),
        pytest.param("a in (,)", "a in ()", id="commas-only-mean-empty-string"),
        pytest.param("a=", "a=", id="empty-exact-value"),
        pytest.param("b=1,a=2", "a=2,b=1", id="sorted-by-key"),
        pytest.param(
            "  env in ( prod , qa ) ,\ttier != fe ",
            "env in (prod,qa),tier!=fe",
            id="blanks-between-tokens",
        ),
        pytest.param("in in (in, notin)", "in in (in,notin)", id="keywords-are-values-in-values"),
        pytest.param("a>1,b<5", "a>1,b<5", id="gt-lt"),
        pytest.param("example.com/app=web", "example.com/app=web", id="prefixed-key"),
        pytest.param("a=b \x00garbage", "a=b", id="nul-at-token-start-ends-input"),
    ],
)
def test_parse_label_selector(text: str, shown: str) -> None:
    assert str(selectors.parse_label_selector(text)) == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            id="missing-operator",
        ),
        pytest.param("a,", "found '', expected: identifier after ','", id="trailing-comma"),
        pytest.param(
            ",a", "found ',', expected: !, identifier, or 'end of string'", id="leading-comma"
        ),
        pytest.param("a=b=c", "found '=', expected: ',' or 'end of string'", id="two-operators"),
        pytest.param(
            "!a=b", "found '=', expected: ',' or 'end of string'", id="negation-takes-no-value"
        ),
        pytest.param(
            "a in b", "unable to parse requirement: found 'b' expected: '('", id="in-without-paren"
        ),
        pytest.param(
            "a in (b",
            "unable to parse requirement: found '', expected: ',' or ')'",
            id="unclosed-paren",
        ),
        pytest.param(
            "a in (b c)",
            "unable to parse requirement: found 'c', expected: ',' or ')'",
            id="missing-comma",
        ),
        pytest.param(
            "a in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            id="operator-in-set",
        ),
        pytest.param(
            "a in (b,=)",
            "unable to parse requirement: found '=', expected: ',', or identifier",
            id="operator-after-comma-in-set",
        ),
        pytest.param(
            "a=(",
            "unable to parse requirement: found '(', expected: identifier",
            id="paren-as-value",
        ),
        pytest.param(
            "!", "unable to parse requirement: found '', expected: identifier", id="bare-bang"
        ),
        pytest.param(
            "-a=b",
            f'unable to parse requirement: <nil>: Invalid value: "-a": {_NAME_PART}',
            id="bad-key-has-nil-path",
        ),
        pytest.param(
            "/a",
            'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty',
            id="empty-prefix",
        ),
        pytest.param(
            "a=-b",
            f'unable to parse requirement: values[0][a]: Invalid value: "-b": {_BAD_VALUE}',
            id="bad-value",
        ),
        pytest.param(
            "a=" + "x" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"x" * 64}": must be no more than 63 characters',
            id="value-too-long",
        ),
        pytest.param(
            "a=b\x00c",
            "found 'c', expected: ',' or 'end of string'",
            id="nul-inside-word-separates",
        ),
        pytest.param(
            "a<-5",
            f'unable to parse requirement: values[0][a]: Invalid value: "-5": {_BAD_VALUE}',
            id="negative-number-is-no-label-value",
        ),
        pytest.param(
            "a>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
            id="gt-needs-integer",
        ),
    ],
)
def test_parse_label_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        selectors.parse_label_selector(text)
    assert str(err.value) == message


# -- label selectors: matching -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        pytest.param("", {}, True, id="empty-matches-all"),
        pytest.param("a=b", {"a": "b"}, True, id="equals-hit"),
        pytest.param("a=b", {"a": "c"}, False, id="equals-miss"),
        pytest.param("a=b", {}, False, id="equals-needs-key"),
        pytest.param("a!=b", {}, True, id="not-equals-missing-key-matches"),
        pytest.param("a!=b", {"a": "b"}, False, id="not-equals-miss"),
        pytest.param("a notin (x)", {}, True, id="notin-missing-key-matches"),
        pytest.param("a in (x,y)", {"a": "y"}, True, id="in-hit"),
        pytest.param("a", {"a": ""}, True, id="exists-with-empty-value"),
        pytest.param("!a", {"a": ""}, False, id="does-not-exist-miss"),
        pytest.param("a=", {"a": ""}, True, id="empty-value-equals"),
        pytest.param("a>5", {"a": "10"}, True, id="gt-numeric-not-lexical"),
        pytest.param("a<5", {"a": "x"}, False, id="lt-non-integer-label"),
        pytest.param("a>5", {}, False, id="gt-missing-key"),
        pytest.param("a=b,c", {"a": "b"}, False, id="all-requirements-must-hold"),
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert selectors.parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("sel", "labels", "expected", "empty"),
    [
        pytest.param(None, {}, False, False, id="null-matches-nothing"),
        pytest.param({}, {"x": "y"}, True, True, id="empty-matches-everything"),
        pytest.param({"matchLabels": {}, "matchExpressions": []}, {}, True, True, id="empty-lists"),
        pytest.param(
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "Exists"},
                    {"key": "env", "operator": "NotIn", "values": ["dev"]},
                ],
            },
            {"app": "web", "tier": "fe", "zone": "a"},
            True,
            False,
            id="labels-and-expressions",
        ),
    ],
)
def test_from_label_selector_obj(
    sel: JSON | None, labels: dict[str, str], expected: bool, empty: bool
) -> None:
    selector = selectors.from_label_selector_obj(sel)
    assert selector.matches(labels) is expected
    assert selector.empty is empty


def test_from_label_selector_obj_string_form() -> None:
    sel = {
        "matchLabels": {"b": "1"},
        "matchExpressions": [
            {"key": "a", "operator": "In", "values": ["y", "x"]},
            {"key": "c", "operator": "DoesNotExist"},
        ],
    }
    assert str(selectors.from_label_selector_obj(sel)) == "a in (x,y),b=1,!c"


@pytest.mark.parametrize(
    ("sel", "message"),
    [
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]},
            '"Equals" is not a valid label selector operator',
            id="unknown-operator",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
            id="in-without-values",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b", "c"]}]},
            'values: Invalid value: []string{"b", "c"}: values set must be empty for exists and does not exist',
            id="exists-with-values",
        ),
        pytest.param(
            {"matchLabels": {"-a": "-b"}},
            f'[key: Invalid value: "-a": {_NAME_PART}, values[0][-a]: Invalid value: "-b": {_BAD_VALUE}]',
            id="several-errors-aggregate",
        ),
    ],
)
def test_from_label_selector_obj_errors(sel: JSON, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        selectors.from_label_selector_obj(sel)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        pytest.param("app=web", "app", frozenset({"web"}), id="equals"),
        pytest.param("app in (a,b),app in (b,c)", "app", frozenset({"b"}), id="intersected"),
        pytest.param("app!=web", "app", None, id="not-equals-does-not-pin"),
        pytest.param("tier=fe", "app", None, id="other-key"),
    ],
)
def test_exact_values(text: str, key: str, expected: frozenset[str] | None) -> None:
    assert selectors.parse_label_selector(text).exact_values(key) == expected


def test_exact_values_of_nothing_is_empty() -> None:
    assert selectors.from_label_selector_obj(None).exact_values("app") == frozenset()


# -- field selectors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("a=b", [("a", "=", "b")], id="equals"),
        pytest.param("a==b", [("a", "=", "b")], id="double-equals-is-equals"),
        pytest.param("a!=b", [("a", "!=", "b")], id="not-equals"),
        pytest.param("b=1,a=2", [("a", "=", "2"), ("b", "=", "1")], id="terms-sorted"),
        pytest.param("a=,", [("a", "=", "")], id="empty-value-and-empty-term"),
        pytest.param(r"a=x\,y", [("a", "=", "x,y")], id="escaped-comma"),
        pytest.param(r"a=x\=y\\z", [("a", "=", "x=y\\z")], id="escaped-equals-and-backslash"),
        pytest.param("a!=b!c", [("a", "!=", "b!c")], id="first-operator-wins"),
        pytest.param("a=!b", [("a", "=", "!b")], id="equals-before-bang"),
    ],
)
def test_parse_field_selector(text: str, expected: list[tuple[str, str, str]]) -> None:
    sel = selectors.parse_field_selector(text)
    assert [(r.field, r.operator.value, r.value) for r in sel.requirements] == expected
    assert sel.empty is (not expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a", "invalid selector: 'a'; can't understand 'a'", id="no-operator"),
        pytest.param(
            "x=1,ab", "invalid selector: 'x=1,ab'; can't understand 'ab'", id="no-operator-second"
        ),
        pytest.param(
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
            id="unescaped-equals",
        ),
        pytest.param(
            r"a=b\x", r"invalid field selector: invalid escape sequence: \x", id="bad-escape"
        ),
        pytest.param(
            "a=b\\", "invalid field selector: invalid escape sequence: \\", id="trailing-backslash"
        ),
    ],
)
def test_parse_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        selectors.parse_field_selector(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        pytest.param("a=b", {"a": "b"}, True, id="equals"),
        pytest.param("a=", {}, True, id="missing-field-is-empty-string"),
        pytest.param("a!=b", {}, True, id="not-equals-missing-field"),
        pytest.param("a=b,c!=d", {"a": "b", "c": "d"}, False, id="and"),
    ],
)
def test_field_selector_matches(text: str, fields: dict[str, str], expected: bool) -> None:
    assert selectors.parse_field_selector(text).matches(fields) is expected


def test_field_selector_requires_exact_match() -> None:
    sel = selectors.parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("status.phase") is None


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        pytest.param(("", "pods"), "spec.foo=x", "field label not supported: spec.foo", id="pods"),
        pytest.param(
            ("", "nodes"),
            "metadata.namespace=x",
            "field label not supported: metadata.namespace",
            id="nodes-have-no-namespace-label",
        ),
        pytest.param(
            ("batch", "jobs"),
            "status.active=1",
            'field label "status.active" not supported for Job',
            id="jobs-word-it-differently",
        ),
        pytest.param(
            ("apps", "deployments"),
            "spec.replicas=1",
            '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
            id="default-conversion",
        ),
        pytest.param(
            ("apps", "replicasets"),
            "status.replicas=1",
            '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
            id="replicasets-have-no-conversion",
        ),
        pytest.param(
            ("events.k8s.io", "events"),
            "regarding.name=x",
            "field label not supported: regarding.name",
            id="events-group-uses-core-names",
        ),
    ],
)
def test_validate_field_selector_refuses(key: tuple[str, str], text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        selectors.validate_field_selector(key, selectors.parse_field_selector(text))
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("key", "text", "shown"),
    [
        pytest.param(("", "pods"), "spec.host=n1", "spec.nodeName=n1", id="pods-spec-host-renamed"),
        pytest.param(
            ("", "pods"), "status.phase!=Running", "status.phase!=Running", id="pods-phase"
        ),
        pytest.param(("", "secrets"), "type=Opaque", "type=Opaque", id="secrets-type"),
        pytest.param(
            ("", "services"), "spec.type=NodePort", "spec.type=NodePort", id="services-type"
        ),
        pytest.param(
            ("", "namespaces"), "status.phase=Active", "status.phase=Active", id="namespaces"
        ),
        pytest.param(
            ("events.k8s.io", "events"),
            "involvedObject.name=x",
            "involvedObject.name=x",
            id="events",
        ),
        pytest.param(("batch", "jobs"), "status.successful=1", "status.successful=1", id="jobs"),
        pytest.param(("", "configmaps"), "metadata.name=a", "metadata.name=a", id="default"),
    ],
)
def test_validate_field_selector_accepts(key: tuple[str, str], text: str, shown: str) -> None:
    assert (
        str(selectors.validate_field_selector(key, selectors.parse_field_selector(text))) == shown
    )


_META = {"name": "x", "namespace": "ns"}


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        pytest.param(
            ("", "pods"),
            {
                "metadata": _META,
                "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "s"},
                "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.2"}, {"ip": "fd00::2"}]},
            },
            {
                "metadata.name": "x",
                "metadata.namespace": "ns",
                "spec.nodeName": "n1",
                "spec.restartPolicy": "Always",
                "spec.schedulerName": "s",
                "spec.serviceAccountName": "",
                "spec.hostNetwork": "false",
                "status.phase": "Running",
                "status.podIP": "10.0.0.2",
                "status.nominatedNodeName": "",
            },
            id="pod",
        ),
        pytest.param(
            ("", "nodes"),
            {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
            {"metadata.name": "n1", "spec.unschedulable": "true"},
            id="node-is-cluster-scoped",
        ),
        pytest.param(
            ("", "namespaces"),
            {"metadata": {"name": "a"}, "status": {"phase": "Terminating"}},
            {"metadata.name": "a", "status.phase": "Terminating", "name": "a"},
            id="namespace-keeps-legacy-name",
        ),
        pytest.param(
            ("", "secrets"),
            {"metadata": _META, "type": "Opaque"},
            {"metadata.name": "x", "metadata.namespace": "ns", "type": "Opaque"},
            id="secret",
        ),
        pytest.param(
            ("", "services"),
            {"metadata": _META, "spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP"}},
            {
                "metadata.name": "x",
                "metadata.namespace": "ns",
                "spec.clusterIP": "10.96.0.1",
                "spec.type": "ClusterIP",
            },
            id="service",
        ),
        pytest.param(
            ("batch", "jobs"),
            {"metadata": _META, "status": {"succeeded": 3}},
            {"metadata.name": "x", "metadata.namespace": "ns", "status.successful": "3"},
            id="job",
        ),
        pytest.param(
            ("", "replicationcontrollers"),
            {"metadata": _META},
            {"metadata.name": "x", "metadata.namespace": "ns", "status.replicas": "0"},
            id="rc-zero-value",
        ),
        pytest.param(
            ("example.com", "widgets"),
            {"metadata": _META},
            {"metadata.name": "x", "metadata.namespace": "ns"},
            id="unknown-kind",
        ),
    ],
)
def test_field_set(key: tuple[str, str], obj: JSON, expected: dict[str, str]) -> None:
    assert selectors.field_set(key, obj) == expected


_CORE_EVENT = {
    "apiVersion": "v1",
    "metadata": _META,
    "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns", "uid": "u1"},
    "reason": "Started",
    "type": "Normal",
    "source": {"component": "kubelet"},
    "reportingComponent": "ignored",
    "reportingController": "kubelet.example",
}
_NEW_EVENT = {
    "apiVersion": "events.k8s.io/v1",
    "metadata": _META,
    "regarding": {"kind": "Pod", "name": "p", "namespace": "ns", "uid": "u1"},
    "reason": "Started",
    "type": "Normal",
    "reportingController": "kubelet.example",
}


@pytest.mark.parametrize(
    ("key", "obj", "source"),
    [
        pytest.param(("", "events"), _CORE_EVENT, "kubelet", id="core-event"),
        pytest.param(
            ("events.k8s.io", "events"), _NEW_EVENT, "kubelet.example", id="events-k8s-io"
        ),
    ],
)
def test_field_set_events(key: tuple[str, str], obj: JSON, source: str) -> None:
    fields = selectors.field_set(key, obj)
    assert fields["involvedObject.kind"] == "Pod"
    assert fields["involvedObject.uid"] == "u1"
    assert fields["reportingComponent"] == "kubelet.example"
    assert fields["source"] == source
    sel = selectors.validate_field_selector(
        key, selectors.parse_field_selector("involvedObject.name=p,type=Normal")
    )
    assert sel.matches(fields)
