"""crd.jsonpath: the client-go JSONPath subset printer columns use."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api.crd import jsonpath

DOC: dict[str, Any] = {
    "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {
        "replicas": 3,
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
    },
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True", "n": 2},
            {"type": "Synced", "status": "False", "n": 5},
        ]
    },
}


@pytest.mark.parametrize(
    ("expr", "found"),
    [
        pytest.param(".spec.replicas", [3], id="field"),
        pytest.param("{.spec.replicas}", [3], id="braces"),
        pytest.param(".spec.missing", [], id="missing"),
        pytest.param(".spec.replicas.deeper", [], id="through-a-scalar"),
        pytest.param(".spec.ports[0].port", [80], id="index"),
        pytest.param(".spec.ports[-1].name", ["https"], id="negative-index"),
        pytest.param(".spec.ports[5].name", [], id="index-out-of-range"),
        pytest.param(".spec.ports[*].port", [80, 443], id="wildcard"),
        pytest.param(".spec.ports[0:1].name", ["http"], id="slice"),
        pytest.param(".metadata.labels['app.kubernetes.io/name']", ["web"], id="quoted-key"),
        pytest.param('.status.conditions[?(@.type=="Ready")].status', ["True"], id="filter-eq"),
        pytest.param(".status.conditions[?(@.type!='Ready')].type", ["Synced"], id="filter-ne"),
        pytest.param(".status.conditions[?(@.n > 3)].type", ["Synced"], id="filter-gt"),
        pytest.param(".status.conditions[?(@.n)].type", ["Ready", "Synced"], id="filter-exists"),
        pytest.param("..port", [80, 443], id="recursive"),
        pytest.param(".", [DOC], id="root"),
    ],
)
def test_find(expr: str, found: list[Any]) -> None:
    assert jsonpath.parse(expr).find(DOC) == found


@pytest.mark.parametrize("expr", ["spec", ".spec[", ".spec[?(@.a ~ 1)]", ".spec[x]", ".spec[?(x)]"])
def test_unsupported(expr: str) -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.parse(expr)
