"""``/openapi/v3`` documents for custom resources, shaped like the built-in ones.

``build_group_version(crds, group, version)`` is the document of one group-version
served by CRDs (upstream merges every CRD of the group-version into one document);
``document(...)`` serialises and hashes it (``pyk8s.api.openapi.make_document``) so the
apiserver can list it in the ``/openapi/v3`` root next to the built-in documents.

Per kind, as upstream's CRD OpenAPI builder (``controller/openapi/builder``) makes it:

* a component schema named after the reversed group, ``com.example.stable.v1.CronTab``,
  holding the version's structural schema (int-or-string unfolded) with ``metadata``
  replaced by a reference to ``ObjectMeta``, ``apiVersion``/``kind`` from ``TypeMeta``,
  the same three (and ``required: [kind, apiVersion]``) added to every
  ``x-kubernetes-embedded-resource`` object, and ``x-kubernetes-group-version-kind``; a
  version without a (structural) schema gets ``{type: object}`` only;
* the list schema ``…CronTabList`` (``items`` referencing the kind, ``ListMeta``);
* the paths of the resource and of its ``status``/``scale`` subresources (Scale is
  ``autoscaling/v1``), from ``pyk8s.api.openapi_paths``; every PATCH carries the kind's
  ``x-kubernetes-group-version-kind``, a ``fieldValidation`` parameter and the patch types
  upstream accepts for custom resources: json-patch, merge-patch and apply-patch+yaml
  (no strategic merge, so ``kubectl apply`` falls back to a JSON merge patch);
* the built-in schemas those reference (ObjectMeta, ListMeta, Status, DeleteOptions, …).

Pure; CRDs are the decoded v1 JSON objects.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pyk8s.api import openapi, openapi_paths, schemas
from pyk8s.api.crd import schema as structural_schema
from pyk8s.api.crd import structural, versions
from pyk8s.api.validation.field import Path

__all__ = ["CRD_PATCH_TYPES", "build_group_version", "definition_name", "document", "kind_schema"]

JSON = dict[str, Any]
Obj = Mapping[str, Any]

CRD_PATCH_TYPES: Final = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
_REF: Final = "#/components/schemas/"
_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
_OBJECT_META_DOC: Final = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_META_DOC: Final = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_EMBEDDED_API_VERSION_DOC: Final = (
    "apiVersion defines the versioned schema of this representation of an object. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_EMBEDDED_KIND_DOC: Final = (
    "kind is a string value representing the type of this object. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's ``friendlyName``: ``stable.example.com/v1.CronTab`` → reversed group."""
    return ".".join([*reversed(group.split(".")), version, kind])


def _type_meta(key: str) -> JSON:
    prop = dict(schemas.schema("io.k8s.api.apps.v1.Deployment")["properties"][key])
    prop.pop("enum", None)
    return {"description": prop["description"], "type": "string"}


def _meta_ref(name: str, description: str) -> JSON:
    return {"allOf": [{"$ref": _REF + _META + name}], "description": description}


def _gvk(group: str, version: str, kind: str) -> list[JSON]:
    return [{"group": group, "kind": kind, "version": version}]


def _published_schema(crd: Obj, version: str) -> structural_schema.Structural | None:
    """The version's schema if upstream would publish it: valid types, structural."""
    node = versions.schema_for(crd, version)
    if node is None or _has_invalid_types(node):
        return None
    return None if structural.validate_structural(node, Path()) else node


def _has_invalid_types(node: structural_schema.Structural) -> bool:
    if node.type and node.type not in structural.TYPES:
        return True
    children = [*node.properties.values(), *node.all_of, *node.any_of, *node.one_of]
    children += [c for c in (node.items, node.additional_schema, node.not_) if c is not None]
    return any(_has_invalid_types(c) for c in children)


def kind_schema(crd: Obj, version: str) -> JSON:
    """The component schema of the CRD's kind in ``version``."""
    spec = crd.get("spec") or {}
    group, kind = str(spec.get("group", "")), str(spec.get("names", {}).get("kind", ""))
    node = _published_schema(crd, version)
    if node is None:
        out: JSON = {"type": "object"}
    else:
        out = structural_schema.to_openapi(node)
        props = out.setdefault("properties", {})
        props["metadata"] = _meta_ref("ObjectMeta", _OBJECT_META_DOC)
        props["apiVersion"] = _type_meta("apiVersion")
        props["kind"] = _type_meta("kind")
        _add_embedded_properties(out)
    out["x-kubernetes-group-version-kind"] = _gvk(group, version, kind)
    return out


def _add_embedded_properties(s: JSON) -> None:
    for child in (s.get("properties") or {}).values():
        _add_embedded_properties(child)
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            _add_embedded_properties(s[key])
    if s.get("x-kubernetes-embedded-resource") is True:
        props = s.setdefault("properties", {})
        props["apiVersion"] = {**_type_meta("apiVersion"), "description": _EMBEDDED_API_VERSION_DOC}
        props["kind"] = {**_type_meta("kind"), "description": _EMBEDDED_KIND_DOC}
        props["metadata"] = _meta_ref("ObjectMeta", _OBJECT_META_DOC)
        required = s.setdefault("required", [])
        for key in ("kind", "apiVersion"):
            if key not in required:
                required.append(key)


def _list_schema(group: str, version: str, kind: str, list_kind: str, plural: str) -> JSON:
    item_ref = {"$ref": _REF + definition_name(group, version, kind)}
    return {
        "type": "object",
        "description": f"{list_kind} is a list of {kind}",
        "required": ["items"],
        "properties": {
            "apiVersion": _type_meta("apiVersion"),
            "items": {
                "type": "array",
                "items": item_ref,
                "description": f"List of {plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
            },
            "kind": _type_meta("kind"),
            "metadata": _meta_ref("ListMeta", _LIST_META_DOC),
        },
        "x-kubernetes-group-version-kind": _gvk(group, version, list_kind),
    }


def build_group_version(crds: Iterable[Obj], group: str, version: str) -> JSON:
    """The OpenAPI v3 document of one CRD-served group-version, as a dict."""
    components: JSON = {}
    paths: JSON = {}
    builtin: list[str] = []
    own: dict[schemas.GVK, str] = {}
    selected = [
        c
        for c in crds
        if (c.get("spec") or {}).get("group") == group and version in versions.served_versions(c)
    ]
    for crd in selected:
        names = crd["spec"].get("names", {})
        kind = str(names.get("kind", ""))
        list_kind = str(names.get("listKind") or kind + "List")
        plural = str(names.get("plural", ""))
        own[schemas.GVK(group, version, kind)] = definition_name(group, version, kind)
        own[schemas.GVK(group, version, list_kind)] = definition_name(group, version, list_kind)
        components[definition_name(group, version, kind)] = kind_schema(crd, version)
        components[definition_name(group, version, list_kind)] = _list_schema(
            group, version, kind, list_kind, plural
        )

    def resolve(gvk: schemas.GVK) -> str | None:
        return own.get(gvk) or schemas.definition_for_gvk(*gvk)

    for crd in selected:
        resource = next(r for r in versions.resources_for(crd) if r.version == version)
        names = crd["spec"].get("names", {})
        list_kind = str(names.get("listKind") or str(names.get("kind", "")) + "List")
        found, kinds = openapi_paths.resource_paths(
            resource, definitions=resolve, patch_types=CRD_PATCH_TYPES, list_kind=list_kind
        )
        paths.update(found)
        builtin.extend(n for n in (schemas.definition_for_gvk(*k) for k in kinds) if n)
    builtin += [_META + "ObjectMeta", _META + "ListMeta"] if selected else []
    components.update(openapi.builtin_components(builtin))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": copy.deepcopy(dict(sorted(components.items())))},
    }


def document(crds: Iterable[Obj], group: str, version: str) -> openapi.Document:
    """``build_group_version`` serialised and hashed, at ``apis/<group>/<version>``."""
    path = openapi.gv_path(group, version)
    return openapi.make_document(path, build_group_version(crds, group, version))
