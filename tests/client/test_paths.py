"""Request shapes: resource URLs, query parameters, DeleteOptions."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.client import paths

CONFIGMAPS = paths.resource_for("", "v1", "configmaps")
DEPLOYMENTS = paths.resource_for("apps", "v1", "deployments")
NODES = paths.resource_for("", "v1", "nodes")
WIDGETS = paths.resource_for("example.com", "v1alpha1", "widgets", kind="Widget")


@pytest.mark.parametrize(
    ("resource", "kwargs", "path"),
    [
        pytest.param(
            CONFIGMAPS, {"namespace": "ns"}, "/api/v1/namespaces/ns/configmaps", id="core-list"
        ),
        pytest.param(CONFIGMAPS, {}, "/api/v1/configmaps", id="all-namespaces"),
        pytest.param(
            DEPLOYMENTS,
            {"namespace": "ns", "name": "d", "subresource": "scale"},
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            id="group-subresource",
        ),
        pytest.param(
            NODES, {"namespace": "ignored", "name": "n1"}, "/api/v1/nodes/n1", id="cluster-scoped"
        ),
        pytest.param(
            WIDGETS,
            {"namespace": "ns", "name": "w"},
            "/apis/example.com/v1alpha1/namespaces/ns/widgets/w",
            id="custom-resource",
        ),
    ],
)
def test_resource_path(resource: Any, kwargs: dict[str, Any], path: str) -> None:
    assert paths.resource_path(resource, **kwargs) == path


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"name": ""}, id="empty-name"),
        pytest.param({"subresource": "status"}, id="subresource-without-name"),
    ],
)
def test_resource_path_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        paths.resource_path(CONFIGMAPS, namespace="ns", **kwargs)


def test_resource_for_prefers_the_builtin_table() -> None:
    assert DEPLOYMENTS.kind == "Deployment" and DEPLOYMENTS.namespaced
    assert not NODES.namespaced
    assert (WIDGETS.group, WIDGETS.kind, WIDGETS.namespaced) == ("example.com", "Widget", True)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, {"kind": "DeleteOptions", "apiVersion": "v1"}, id="defaults-omitted"),
        pytest.param(
            {"propagation_policy": "Foreground", "grace_period_seconds": 0, "dry_run": True},
            {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "propagationPolicy": "Foreground",
                "gracePeriodSeconds": 0,
                "dryRun": ["All"],
            },
            id="policy-grace-zero-dry-run",
        ),
        pytest.param(
            {"preconditions": paths.Preconditions(uid="u", resource_version="7")},
            {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "preconditions": {"uid": "u", "resourceVersion": "7"},
            },
            id="preconditions",
        ),
    ],
)
def test_delete_options(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    assert paths.delete_options(**kwargs) == expected


def test_query_params() -> None:
    assert paths.selector_params("a=b", None) == [("labelSelector", "a=b")]
    assert paths.selector_params("", "spec.nodeName=n") == [("fieldSelector", "spec.nodeName=n")]
    assert paths.write_params(True, "kcm") == [("dryRun", "All"), ("fieldManager", "kcm")]
    assert paths.write_params(False, None) == []
