"""crd.versions: per-version views of a CRD and the Resource rows it adds."""

from __future__ import annotations

import pytest

from pyk8s.api import resources
from pyk8s.api.crd import versions

from .crd_examples import CRONTAB, crontab


@pytest.mark.parametrize(
    ("names", "ordered"),
    [
        pytest.param(["v1", "v2"], ["v2", "v1"], id="ga-major"),
        pytest.param(
            ["v1beta1", "v1", "v1alpha1", "v1beta2"],
            ["v1", "v1beta2", "v1beta1", "v1alpha1"],
            id="kube-aware",
        ),
        pytest.param(["v2alpha1", "v1beta1"], ["v1beta1", "v2alpha1"], id="beta-before-alpha"),
        pytest.param(
            ["foo10", "v1alpha1", "foo1", "v10"],
            ["v10", "v1alpha1", "foo1", "foo10"],
            id="non-kube-last-alphabetical",
        ),
    ],
)
def test_sort_versions(names: list[str], ordered: list[str]) -> None:
    assert versions.sort_versions(names) == ordered


def test_resources_for_crontab() -> None:
    [r] = versions.resources_for(CRONTAB)
    assert r == resources.Resource(
        group="stable.example.com",
        version="v1",
        kind="CronTab",
        plural="crontabs",
        namespaced=True,
        short_names=("ct",),
        categories=("all",),
        subresources=("status", "scale"),
        storage_prefix="stable.example.com/crontabs",
        storage_version="v1",
        preferred=True,
    )
    assert r.storage_key("default", "x") == "/registry/stable.example.com/crontabs/default/x"


def test_one_resource_per_served_version() -> None:
    crd = crontab(
        scope="Cluster",
        versions=[
            {"name": "v1beta1", "served": True, "storage": False},
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}},
            {"name": "v2alpha1", "served": False, "storage": False},
        ],
    )
    rows = versions.resources_for(crd)
    assert [(r.version, r.preferred, r.subresources, r.storage_version) for r in rows] == [
        ("v1beta1", False, (), "v1"),
        ("v1", True, ("status",), "v1"),
    ]
    assert not rows[0].namespaced


def test_version_views() -> None:
    assert versions.served_versions(CRONTAB) == ["v1"]
    assert versions.storage_version(CRONTAB) == "v1"
    schema = versions.schema_for(CRONTAB, "v1")
    assert schema is not None and "spec" in schema.properties
    assert versions.schema_for(CRONTAB, "v9") is None
    assert set(versions.subresources_for(CRONTAB, "v1")) == {"status", "scale"}
    assert [c["name"] for c in versions.columns_for(CRONTAB, "v1")] == [
        "Spec",
        "Replicas",
        "Ready",
        "Age",
    ]
