from __future__ import annotations

import pytest

from pyk8s.apiserver import routing


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/api/v1/pods", ("pods", None, None, None), id="all-namespaces-list"),
        pytest.param(
            "/api/v1/namespaces/default/pods", ("pods", "default", None, None), id="namespaced-list"
        ),
        pytest.param(
            "/api/v1/namespaces/default/pods/web", ("pods", "default", "web", None), id="get"
        ),
        pytest.param(
            "/api/v1/namespaces/default/pods/web/log",
            ("pods", "default", "web", "log"),
            id="subresource",
        ),
        pytest.param(
            "/api/v1/namespaces/kube-system",
            ("namespaces", None, "kube-system", None),
            id="namespace-object",
        ),
        pytest.param(
            "/api/v1/namespaces/x/status",
            ("namespaces", None, "x", "status"),
            id="namespace-status",
        ),
        pytest.param(
            "/api/v1/namespaces/x/finalize",
            ("namespaces", None, "x", "finalize"),
            id="namespace-finalize",
        ),
        pytest.param(
            "/api/v1/nodes/n1/status", ("nodes", None, "n1", "status"), id="cluster-scoped-sub"
        ),
        pytest.param(
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            ("deployments", "a", "d", "scale"),
            id="scale",
        ),
    ],
)
def test_parse_resource_paths(
    path: str, expected: tuple[str, str | None, str | None, str | None]
) -> None:
    rr = routing.parse(path)
    assert isinstance(rr, routing.ResourceRequest)
    assert (rr.resource.plural, rr.namespace, rr.name, rr.subresource) == expected


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/v1/widgets", id="unknown-resource"),
        pytest.param("/api/v1/pods/web", id="namespaced-object-without-namespace"),
        pytest.param("/api/v1/namespaces/a/pods/web/bogus", id="unknown-subresource"),
        pytest.param("/apis/apps/v2/deployments", id="unknown-version"),
        pytest.param("/healthz", id="not-an-api-path"),
    ],
)
def test_parse_rejects(path: str) -> None:
    assert routing.parse(path) is None


def test_parse_discovery() -> None:
    assert routing.parse("/api") == routing.Discovery(None, None, legacy=True)
    assert routing.parse("/apis/apps") == routing.Discovery("apps", None, legacy=False)
    assert routing.parse("/apis/apps/v1") == routing.Discovery("apps", "v1", legacy=False)
