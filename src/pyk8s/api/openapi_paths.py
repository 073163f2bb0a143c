"""The ``paths`` of a group-version's OpenAPI v3 document, shaped like upstream's.

For every resource of the group-version (``resources.by_group_version()``): the
collection (list, create, deletecollection), the list across namespaces for namespaced
kinds, the item (read, replace, patch, delete) and the subresources — status, scale
(``autoscaling/v1`` Scale), ephemeralcontainers and resize with get/put/patch; binding,
eviction and token by POST; namespace finalize by PUT; pod log as ``text/plain``. Connect
subresources (exec, attach, portforward, proxy) are not described. Only the verbs a
resource has get operations.

Every operation carries ``x-kubernetes-action`` and ``x-kubernetes-group-version-kind``;
every PATCH also a ``fieldValidation`` parameter and a request body listing the four
patch media types (kubectl checks both, see ``openapi``). Parameter descriptions are
short paraphrases; clients read only the names and types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyk8s.api import resources, schemas

__all__ = ["PATCH_TYPES", "Definitions", "build_paths", "resource_paths"]

# GVK -> component schema name (``None``: none; operations then fall back to Status).
Definitions = Callable[[schemas.GVK], str | None]

JSON = dict[str, Any]

_REF_PREFIX = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_CONTENT_TYPES = ("application/json", "application/yaml")
PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
# Subresources served with the parent's kind through get/put/patch.
_SAME_KIND = ("status", "ephemeralcontainers", "resize")
# Subresources created by POST, with the kind they accept.
_POST_KINDS: dict[str, schemas.GVK] = {
    "binding": schemas.GVK("", "v1", "Binding"),
    "eviction": schemas.GVK("policy", "v1", "Eviction"),
    "token": schemas.GVK("authentication.k8s.io", "v1", "TokenRequest"),
}
_SCALE = schemas.GVK("autoscaling", "v1", "Scale")


def _builtin_definition(gvk: schemas.GVK) -> str | None:
    return schemas.definition_for_gvk(*gvk)


def build_paths(group: str, version: str) -> tuple[JSON, list[schemas.GVK]]:
    """The paths of one group-version, sorted, and every kind they mention."""
    paths: JSON = {}
    kinds: list[schemas.GVK] = []
    for resource in resources.by_group_version().get((group, version), []):
        kinds.extend(_add_resource(paths, resource))
    base = "/apis/" + group if group else "/api"
    paths[f"{base}/{version}/"] = {
        "get": {
            "description": "get available resources",
            "operationId": f"get{_op_prefix(group, version)}APIResources",
            "responses": _responses(_META + "APIResourceList", ("200",)),
            "tags": [_tag(group, version)],
        }
    }
    return dict(sorted(paths.items())), kinds


def resource_paths(
    r: resources.Resource,
    *,
    definitions: Definitions,
    patch_types: tuple[str, ...] = PATCH_TYPES,
    list_kind: str = "",
) -> tuple[JSON, list[schemas.GVK]]:
    """The paths of one resource (not sorted) and the kinds they mention.

    For resources added at run time (custom resources): ``definitions`` names their
    component schemas, ``patch_types`` are the PATCH media types they accept and
    ``list_kind`` overrides ``Resource.list_kind``.
    """
    paths: JSON = {}
    kinds = _add_resource(
        paths, r, definitions=definitions, patch_types=patch_types, list_kind=list_kind
    )
    return paths, kinds


def _add_resource(
    paths: JSON,
    r: resources.Resource,
    *,
    definitions: Definitions = _builtin_definition,
    patch_types: tuple[str, ...] = PATCH_TYPES,
    list_kind: str = "",
) -> list[schemas.GVK]:
    """Add ``r``'s paths; return the kinds they mention."""
    gvk = schemas.GVK(r.group, r.version, r.kind)
    list_gvk = schemas.GVK(r.group, r.version, list_kind or r.list_kind)
    base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    collection = (
        f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    )
    item = collection + "/{name}"
    scope = "Namespaced" if r.namespaced else ""
    op = _Ops(r.group, r.version, r.kind, scope, definitions=definitions, patch_types=patch_types)
    kinds = [gvk, list_gvk]

    coll: JSON = {}
    if "list" in r.verbs:
        coll["get"] = op.make(
            "list", "list", gvk, f"list or watch objects of kind {r.kind}", response=list_gvk
        )
    if "create" in r.verbs:
        coll["post"] = op.make("create", "post", gvk, f"create a {r.kind}")
    if "deletecollection" in r.verbs:
        coll["delete"] = op.make(
            "delete", "deletecollection", gvk, f"delete collection of {r.kind}", collection=True
        )
    if coll:
        paths[collection] = {
            **coll,
            "parameters": _path_params(r.namespaced, named=False, kind=r.kind),
        }
    if r.namespaced and "list" in r.verbs:
        all_ns = _Ops(
            r.group, r.version, r.kind, "", suffix="ForAllNamespaces", definitions=definitions
        )
        paths[f"{base}/{r.plural}"] = {
            "get": all_ns.make(
                "list", "list", gvk, f"list or watch objects of kind {r.kind}", response=list_gvk
            ),
            "parameters": _path_params(False, named=False, kind=r.kind),
        }

    itm: JSON = {}
    if "get" in r.verbs:
        itm["get"] = op.make("read", "get", gvk, f"read the specified {r.kind}")
    if "update" in r.verbs:
        itm["put"] = op.make("replace", "put", gvk, f"replace the specified {r.kind}")
    if "patch" in r.verbs:
        itm["patch"] = op.make("patch", "patch", gvk, f"partially update the specified {r.kind}")
    if "delete" in r.verbs:
        itm["delete"] = op.make("delete", "delete", gvk, f"delete a {r.kind}")
    if itm:
        paths[item] = {**itm, "parameters": _path_params(r.namespaced, named=True, kind=r.kind)}

    for sub in r.subresources:
        path_item = _subresource(r, sub, kinds, op.definitions, patch_types)
        if path_item:
            paths[f"{item}/{sub}"] = {
                **path_item,
                "parameters": _path_params(r.namespaced, named=True, kind=r.kind),
            }
    return kinds


def _subresource(
    r: resources.Resource,
    sub: str,
    kinds: list[schemas.GVK],
    definitions: Definitions = _builtin_definition,
    patch_types: tuple[str, ...] = PATCH_TYPES,
) -> JSON:
    scope = "Namespaced" if r.namespaced else ""
    title = sub[0].upper() + sub[1:]
    op = _Ops(
        r.group,
        r.version,
        r.kind,
        scope,
        suffix=title,
        definitions=definitions,
        patch_types=patch_types,
    )
    if sub in _SAME_KIND or sub == "scale":
        target = _SCALE if sub == "scale" else schemas.GVK(r.group, r.version, r.kind)
        kinds.append(target)
        return {
            "get": op.make("read", "get", target, f"read {sub} of the specified {r.kind}"),
            "put": op.make("replace", "put", target, f"replace {sub} of the specified {r.kind}"),
            "patch": op.make(
                "patch", "patch", target, f"partially update {sub} of the specified {r.kind}"
            ),
        }
    if sub in _POST_KINDS:
        target = _POST_KINDS[sub]
        kinds.append(target)
        return {"post": op.make("create", "post", target, f"create {sub} of a {r.kind}")}
    if sub == "finalize":
        gvk = schemas.GVK(r.group, r.version, r.kind)
        return {
            "put": op.make("replace", "put", gvk, f"replace finalize of the specified {r.kind}")
        }
    if sub == "log":
        read = op.make(
            "read",
            "get",
            schemas.GVK(r.group, r.version, r.kind),
            f"read log of the specified {r.kind}",
        )
        read["responses"] = {
            "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
        }
        read["parameters"] = [_query(n) for n in _LOG_PARAMS]
        return {"get": read}
    return {}  # exec, attach, portforward, proxy: connect streams, not described


class _Ops:
    """Builds the operations of one resource (or subresource) path."""

    def __init__(
        self,
        group: str,
        version: str,
        kind: str,
        scope: str,
        *,
        suffix: str = "",
        definitions: Definitions = _builtin_definition,
        patch_types: tuple[str, ...] = PATCH_TYPES,
    ) -> None:
        self.group, self.version, self.kind = group, version, kind
        self.scope, self.suffix = scope, suffix
        self.definitions, self.patch_types = definitions, patch_types

    def make(
        self,
        verb: str,
        action: str,
        gvk: schemas.GVK,
        description: str,
        *,
        response: schemas.GVK | None = None,
        collection: bool = False,
    ) -> JSON:
        middle = "Collection" if collection else ""
        prefix = _op_prefix(self.group, self.version)
        op_id = f"{verb}{prefix}{middle}{self.scope}{self.kind}{self.suffix}"
        definition = self.definitions(response or gvk) or _META + "Status"
        operation: JSON = {
            "description": description,
            "operationId": op_id,
            "tags": [_tag(self.group, self.version)],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {
                "group": gvk.group,
                "kind": gvk.kind,
                "version": gvk.version,
            },
        }
        if action == "list":
            operation["parameters"] = [_query(n) for n in _LIST_PARAMS]
            operation["responses"] = _responses(definition, ("200",), watch=True)
        elif action in ("post", "put"):
            operation["parameters"] = [_query(n) for n in _WRITE_PARAMS]
            operation["requestBody"] = _body(("*/*",), definition)
            codes = ("200", "201", "202") if action == "post" else ("200", "201")
            operation["responses"] = _responses(definition, codes)
        elif action == "patch":
            operation["parameters"] = [_query(n) for n in (*_WRITE_PARAMS, "force")]
            operation["requestBody"] = _body(self.patch_types, _META + "Patch")
            operation["responses"] = _responses(definition, ("200", "201"))
        elif action in ("delete", "deletecollection"):
            names = _DELETE_PARAMS if action == "delete" else (*_DELETE_PARAMS, *_LIST_PARAMS)
            operation["parameters"] = [_query(n) for n in sorted(set(names) - {"watch"})]
            operation["requestBody"] = _body(("*/*",), _META + "DeleteOptions")
            operation["responses"] = _responses(_META + "Status", ("200", "202"))
        else:
            operation["responses"] = _responses(definition, ("200",))
        return operation


def _op_prefix(group: str, version: str) -> str:
    if not group:
        return "Core" + version.capitalize()
    parts = group.removesuffix(".k8s.io").split(".")
    return "".join(p[:1].upper() + p[1:] for p in parts) + version.capitalize()


def _tag(group: str, version: str) -> str:
    if not group:
        return f"core_{version}"
    parts = group.removesuffix(".k8s.io").split(".")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:]) + "_" + version


def _responses(definition: str, codes: Iterable[str], *, watch: bool = False) -> JSON:
    schema = {"$ref": _REF_PREFIX + definition}
    types = (*_CONTENT_TYPES, "application/json;stream=watch") if watch else _CONTENT_TYPES
    content = {t: {"schema": schema} for t in types}
    words = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: JSON = {code: {"content": content, "description": words[code]} for code in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _body(types: Iterable[str], definition: str) -> JSON:
    schema = {"$ref": _REF_PREFIX + definition}
    return {"content": {t: {"schema": schema} for t in types}, "required": True}


def _path_params(namespaced: bool, *, named: bool, kind: str) -> list[JSON]:
    params: list[JSON] = []
    if named:
        params.append(_param("name", "path", f"name of the {kind}", required=True))
    if namespaced:
        params.append(
            _param(
                "namespace",
                "path",
                "object name and auth scope, such as for teams and projects",
                required=True,
            )
        )
    params.append(_query("pretty"))
    return params


def _param(
    name: str, where: str, description: str, *, required: bool = False, kind: str = "string"
) -> JSON:
    out: JSON = {
        "description": description,
        "in": where,
        "name": name,
        "schema": {"type": kind, "uniqueItems": True},
    }
    if required:
        out["required"] = True
    return out


def _query(name: str) -> JSON:
    kind, description = _QUERY[name]
    return _param(name, "query", description, kind=kind)


_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_PARAMS = (
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
)
_LOG_PARAMS = (
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "stream",
    "tailLines",
    "timestamps",
)
_QUERY: dict[str, tuple[str, str]] = {
    "pretty": ("string", "If 'true', then the output is pretty printed."),
    "allowWatchBookmarks": ("boolean", "Requests watch events with type BOOKMARK."),
    "continue": ("string", "Continue token from a previous, limited list call."),
    "fieldSelector": ("string", "A selector to restrict the returned objects by their fields."),
    "labelSelector": ("string", "A selector to restrict the returned objects by their labels."),
    "limit": ("integer", "Maximum number of objects to return in one list response."),
    "resourceVersion": ("string", "Constrains the resource versions a request may be served from."),
    "resourceVersionMatch": ("string", "How resourceVersion applies to list calls."),
    "sendInitialEvents": ("boolean", "Start a watch with synthetic events for the current state."),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call."),
    "watch": ("boolean", "Watch for changes and return them as a stream of events."),
    "dryRun": ("string", "When present (All), modifications are not persisted."),
    "fieldManager": ("string", "Name of the actor making these changes."),
    "fieldValidation": (
        "string",
        "How to handle unknown or duplicate fields in the request object: "
        "Ignore, Warn (the default) or Strict.",
    ),
    "force": ("boolean", "Re-acquire fields owned by other managers (apply requests only)."),
    "gracePeriodSeconds": ("integer", "Seconds before the object should be deleted."),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "boolean",
        "Delete an object that cannot be read from storage (unsafe).",
    ),
    "orphanDependents": ("boolean", "Deprecated: use propagationPolicy."),
    "propagationPolicy": ("string", "Orphan, Background or Foreground garbage collection."),
    "container": ("string", "The container for which to stream logs."),
    "follow": ("boolean", "Follow the log stream of the pod."),
    "insecureSkipTLSVerifyBackend": (
        "boolean",
        "Skip verifying the serving kubelet's certificate.",
    ),
    "limitBytes": ("integer", "Maximum number of bytes of log to return."),
    "previous": ("boolean", "Return logs of the previous, terminated container."),
    "sinceSeconds": ("integer", "Only logs newer than this many seconds."),
    "stream": ("string", "All, Stdout or Stderr."),
    "tailLines": ("integer", "Number of lines from the end of the logs to show."),
    "timestamps": ("boolean", "Add an RFC3339 timestamp at the start of every line."),
}
