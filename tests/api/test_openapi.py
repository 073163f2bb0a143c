"""openapi: the /openapi/v3 root and per group-version documents kubectl reads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from pyk8s.api import openapi, resources

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
PATCH_TYPES = {
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
}
GROUP_VERSIONS = sorted(openapi.gv_path(g, v) for g, v in resources.by_group_version())


def _doc(path: str) -> dict[str, Any]:
    found = openapi.document(path)
    assert found is not None, path
    parsed: dict[str, Any] = orjson.loads(found.body)
    return parsed


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_root_lists_every_group_version_with_its_hash() -> None:
    root = orjson.loads(openapi.root())
    assert sorted(root["paths"]) == GROUP_VERSIONS
    for path, entry in root["paths"].items():
        doc = openapi.document(path)
        assert doc is not None
        digest = hashlib.sha512(doc.body).hexdigest().upper()
        assert entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        assert doc.hash == digest and doc.etag == f'"{digest}"'


def test_documents_are_built_once() -> None:
    assert openapi.root() is openapi.root()
    assert openapi.document("apis/apps/v1") is openapi.document("/apis/apps/v1/")
    assert openapi.documents()["api/v1"] is openapi.document("api/v1")
    assert openapi.document("apis/example.com/v1") is None


@pytest.mark.parametrize("path", GROUP_VERSIONS)
def test_document_shape(path: str) -> None:
    doc = _doc(path)
    assert doc["openapi"] == "3.0.0"
    assert set(doc) == {"openapi", "info", "paths", "components"}
    schemas = doc["components"]["schemas"]
    for name in (META + "Status", META + "DeleteOptions", META + "Patch"):
        assert name in schemas
    for key, value in _walk(doc):
        if key == "$ref" and isinstance(value, str):  # JSONSchemaProps has a "$ref" property
            assert value.startswith("#/components/schemas/"), value
            assert value.removeprefix("#/components/schemas/") in schemas, value
        if key == "type" and isinstance(value, list):
            pytest.fail(f"JSON-Schema type list left in {path}: {value}")


@pytest.mark.parametrize("path", GROUP_VERSIONS)
def test_every_kind_has_a_component_with_its_gvk(path: str) -> None:
    doc = _doc(path)
    declared = {
        (g["group"], g["version"], g["kind"])
        for schema in doc["components"]["schemas"].values()
        for g in schema.get("x-kubernetes-group-version-kind", ())
    }
    for (group, version), served in resources.by_group_version().items():
        if openapi.gv_path(group, version) != path:
            continue
        for r in served:
            assert (group, version, r.kind) in declared
            assert (group, version, r.list_kind) in declared or r.verbs == ("create",)


@pytest.mark.parametrize("path", GROUP_VERSIONS)
def test_every_patch_operation_satisfies_kubectl(path: str) -> None:
    # kubectl checks the first PATCH operation carrying the kind's GVK for a
    # fieldValidation parameter (else it falls back to /openapi/v2), and client-side
    # apply needs strategic-merge-patch in its request body.
    patches = [op for _, method, op in _operations(_doc(path)) if method == "patch"]
    for op in patches:
        assert set(op["x-kubernetes-group-version-kind"]) == {"group", "version", "kind"}
        assert "fieldValidation" in {p["name"] for p in op["parameters"]}
        assert set(op["requestBody"]["content"]) == PATCH_TYPES
        assert op["x-kubernetes-action"] == "patch"


@pytest.mark.parametrize("path", GROUP_VERSIONS)
def test_every_operation_has_an_action_and_unique_id(path: str) -> None:
    ids = []
    for _, _, op in _operations(_doc(path)):
        ids.append(op["operationId"])
        if op["operationId"].endswith("APIResources"):
            continue
        assert op["x-kubernetes-action"] in {
            "get", "list", "post", "put", "patch", "delete", "deletecollection"
        }  # fmt: skip
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments",
            {"get": "list", "post": "post", "delete": "deletecollection"},
            id="namespaced-collection",
        ),
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            {"get": "get", "put": "put", "patch": "patch", "delete": "delete"},
            id="namespaced-item",
        ),
        pytest.param("/apis/apps/v1/deployments", {"get": "list"}, id="list-for-all-namespaces"),
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
            {"get": "get", "put": "put", "patch": "patch"},
            id="status",
        ),
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            {"get": "get", "put": "put", "patch": "patch"},
            id="scale",
        ),
        pytest.param(
            "/api/v1/namespaces/{name}",
            {"get": "get", "put": "put", "patch": "patch", "delete": "delete"},
            id="cluster-scoped-item",
        ),
        pytest.param("/api/v1/namespaces/{name}/finalize", {"put": "put"}, id="finalize"),
        pytest.param(
            "/api/v1/namespaces/{namespace}/pods/{name}/eviction", {"post": "post"}, id="eviction"
        ),
        pytest.param("/api/v1/namespaces/{namespace}/bindings", {"post": "post"}, id="create-only"),
        pytest.param(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"post": "post"},
            id="virtual-resource",
        ),
    ],
)
def test_paths_and_actions(path: str, methods: dict[str, str]) -> None:
    doc_path = "api/v1" if path.startswith("/api/") else "/".join(path.split("/")[1:4])
    item = _doc(doc_path)["paths"][path]
    assert {m: op["x-kubernetes-action"] for m, op in item.items() if m != "parameters"} == methods


@pytest.mark.parametrize(
    ("path", "method", "gvk", "response"),
    [
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments",
            "get",
            ("apps", "v1", "Deployment"),
            "io.k8s.api.apps.v1.DeploymentList",
            id="list-names-the-item-kind",
        ),
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            "patch",
            ("autoscaling", "v1", "Scale"),
            "io.k8s.api.autoscaling.v1.Scale",
            id="scale-is-autoscaling-v1",
        ),
        pytest.param(
            "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
            "post",
            ("policy", "v1", "Eviction"),
            "io.k8s.api.policy.v1.Eviction",
            id="eviction",
        ),
        pytest.param(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            "post",
            ("authentication.k8s.io", "v1", "TokenRequest"),
            "io.k8s.api.authentication.v1.TokenRequest",
            id="token-request",
        ),
        pytest.param(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            "delete",
            ("apps", "v1", "Deployment"),
            META + "Status",
            id="delete-returns-status",
        ),
    ],
)
def test_operation_kinds(path: str, method: str, gvk: tuple[str, str, str], response: str) -> None:
    doc_path = "api/v1" if path.startswith("/api/") else "/".join(path.split("/")[1:4])
    op = _doc(doc_path)["paths"][path][method]
    group, version, kind = gvk
    assert op["x-kubernetes-group-version-kind"] == {
        "group": group,
        "version": version,
        "kind": kind,
    }
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/" + response}
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        response
    )


def test_scale_schema_is_in_apps_document() -> None:
    assert "io.k8s.api.autoscaling.v1.Scale" in _doc("apis/apps/v1")["components"]["schemas"]


def test_log_is_plain_text() -> None:
    op = _doc("api/v1")["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert set(op["responses"]["200"]["content"]) == {"text/plain"}
    assert {"container", "follow", "tailLines"} <= {p["name"] for p in op["parameters"]}


def test_documents_only_hold_reachable_schemas() -> None:
    schemas = _doc("apis/coordination.k8s.io/v1")["components"]["schemas"]
    assert "io.k8s.api.coordination.v1.Lease" in schemas
    assert "io.k8s.api.core.v1.Pod" not in schemas
    assert "io.k8s.api.apps.v1.Deployment" not in schemas


@pytest.mark.parametrize(
    ("raw", "root", "expected"),
    [
        pytest.param(
            {"type": ["string", "null"], "description": "d"},
            False,
            {"type": "string", "nullable": True, "description": "d"},
            id="nullable-scalar",
        ),
        pytest.param({"type": "string"}, False, {"type": "string"}, id="plain-type"),
        pytest.param({"type": ["object", "null"]}, True, {"type": "object"}, id="definition-root"),
        pytest.param(
            {"$ref": "#/$defs/io.k8s.api.core.v1.PodSpec"},
            False,
            {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"},
            id="bare-ref",
        ),
        pytest.param(
            {
                "$ref": "#/$defs/x.Y",
                "description": "d",
                "x-kubernetes-patch-strategy": "retainKeys",
            },
            False,
            {
                "allOf": [{"$ref": "#/components/schemas/x.Y"}],
                "description": "d",
                "x-kubernetes-patch-strategy": "retainKeys",
            },
            id="ref-with-siblings",
        ),
        pytest.param(
            {"oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]},
            True,
            {
                "format": "int-or-string",
                "oneOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True,
            },
            id="int-or-string",
        ),
        pytest.param(
            {"oneOf": [{"type": ["string", "null"]}, {"type": ["number", "null"]}]},
            True,
            {"oneOf": [{"type": "string"}, {"type": "number"}]},
            id="quantity",
        ),
        pytest.param(
            {
                "type": ["array", "null"],
                "items": {"$ref": "#/$defs/a.B"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            False,
            {
                "type": "array",
                "nullable": True,
                "items": {"$ref": "#/components/schemas/a.B"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
            id="list-extensions-kept",
        ),
        pytest.param(
            {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]}},
            False,
            {
                "type": "object",
                "nullable": True,
                "additionalProperties": {"type": "string", "nullable": True},
            },
            id="map",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "kind": {"type": ["string", "null"], "enum": ["Deployment"]},
                    "mode": {"type": "string", "enum": ["A", "B"]},
                },
            },
            True,
            {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "nullable": True},
                    "mode": {"type": "string", "enum": ["A", "B"]},
                },
            },
            id="generator-kind-enum-dropped",
        ),
    ],
)
def test_to_openapi(raw: dict[str, Any], root: bool, expected: dict[str, Any]) -> None:
    assert openapi.to_openapi(raw, root=root) == expected


def test_build_group_version_is_pure() -> None:
    first = openapi.build_group_version("apps", "v1")
    second = openapi.build_group_version("apps", "v1")
    assert first == second
    assert orjson.dumps(first, option=orjson.OPT_SORT_KEYS) == openapi.document("apis/apps/v1").body  # type: ignore[union-attr]


def test_v2_placeholder_is_an_empty_protobuf() -> None:
    assert openapi.V2_PLACEHOLDER == b""
    assert "@" not in openapi.V2_CONTENT_TYPE
