"""crd.openapi: the /openapi/v3 group-version document of CRD-served kinds."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import orjson

from pyk8s.api.crd import openapi

from .crd_examples import CRONTAB, crontab

JSON = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
KIND = "com.example.stable.v1.CronTab"
GVK = [{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]


def doc() -> JSON:
    return openapi.build_group_version([CRONTAB], "stable.example.com", "v1")


def operations(d: JSON) -> Iterator[tuple[str, str, JSON]]:
    for path, item in d["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_definition_name() -> None:
    assert openapi.definition_name("stable.example.com", "v1", "CronTab") == KIND


def test_kind_schema() -> None:
    schema = doc()["components"]["schemas"][KIND]
    assert schema["x-kubernetes-group-version-kind"] == GVK
    assert schema["type"] == "object"
    props = schema["properties"]
    assert props["metadata"] == {
        "allOf": [{"$ref": f"#/components/schemas/{META}ObjectMeta"}],
        "description": "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }
    assert props["apiVersion"]["type"] == "string" and "enum" not in props["apiVersion"]
    assert props["kind"]["description"].startswith("Kind is a string value")
    spec = props["spec"]["properties"]
    assert spec["replicas"] == {"type": "integer", "minimum": 1, "maximum": 10, "default": 1}
    assert spec["size"] == {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert spec["ports"]["x-kubernetes-list-map-keys"] == ["port"]
    template = spec["template"]
    assert set(template["properties"]) == {"apiVersion", "kind", "metadata"}
    assert template["required"] == ["kind", "apiVersion"]


def test_list_schema() -> None:
    schema = doc()["components"]["schemas"][KIND + "List"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTabList", "version": "v1"}
    ]
    assert schema["required"] == ["items"]
    assert schema["properties"]["items"]["items"] == {"$ref": f"#/components/schemas/{KIND}"}
    assert schema["properties"]["metadata"]["allOf"] == [
        {"$ref": f"#/components/schemas/{META}ListMeta"}
    ]


def test_paths() -> None:
    d = doc()
    base = "/apis/stable.example.com/v1"
    assert sorted(d["paths"]) == [
        f"{base}/crontabs",
        f"{base}/namespaces/{{namespace}}/crontabs",
        f"{base}/namespaces/{{namespace}}/crontabs/{{name}}",
        f"{base}/namespaces/{{namespace}}/crontabs/{{name}}/scale",
        f"{base}/namespaces/{{namespace}}/crontabs/{{name}}/status",
    ]
    item = d["paths"][f"{base}/namespaces/{{namespace}}/crontabs/{{name}}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    get = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert get == {"$ref": f"#/components/schemas/{KIND}"}
    scale = d["paths"][f"{base}/namespaces/{{namespace}}/crontabs/{{name}}/scale"]["get"]
    assert scale["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    assert "io.k8s.api.autoscaling.v1.Scale" in d["components"]["schemas"]


def test_every_patch_lists_field_validation_and_crd_patch_types() -> None:
    patches = [op for _, method, op in operations(doc()) if method == "patch"]
    assert len(patches) == 3
    for op in patches:
        assert "fieldValidation" in [p["name"] for p in op["parameters"]]
        assert sorted(op["requestBody"]["content"]) == [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ]
    assert patches[0]["x-kubernetes-group-version-kind"] == GVK[0]


def test_refs_resolve_and_no_type_lists() -> None:
    d = doc()
    schemas = d["components"]["schemas"]
    for key, value in walk(d):
        if key == "$ref":
            assert value.removeprefix("#/components/schemas/") in schemas, value
        if key == "type":
            assert not isinstance(value, list), value
    for name in (
        "ObjectMeta",
        "ListMeta",
        "Status",
        "DeleteOptions",
        "Patch",
        "ManagedFieldsEntry",
    ):
        assert META + name in schemas


def test_version_without_schema_is_a_plain_object() -> None:
    crd = crontab(versions=[{"name": "v1", "served": True, "storage": True}])
    d = openapi.build_group_version([crd], "stable.example.com", "v1")
    assert d["components"]["schemas"][KIND] == {
        "type": "object",
        "x-kubernetes-group-version-kind": GVK,
    }


def test_crds_of_a_group_version_are_merged() -> None:
    other = copy.deepcopy(CRONTAB)
    other["spec"]["names"] = {
        "plural": "others",
        "singular": "other",
        "kind": "Other",
        "listKind": "OtherList",
    }
    other["spec"]["scope"] = "Cluster"
    d = openapi.build_group_version([CRONTAB, other], "stable.example.com", "v1")
    assert {KIND, "com.example.stable.v1.Other", "com.example.stable.v1.OtherList"} <= set(
        d["components"]["schemas"]
    )
    assert "/apis/stable.example.com/v1/others/{name}" in d["paths"]
    assert openapi.build_group_version([CRONTAB], "stable.example.com", "v2")["paths"] == {}


def test_document_is_hashed_like_builtin_ones() -> None:
    document = openapi.document([CRONTAB], "stable.example.com", "v1")
    assert document.path == "apis/stable.example.com/v1"
    assert document.hash == hashlib.sha512(document.body).hexdigest().upper()
    assert orjson.loads(document.body) == doc()
