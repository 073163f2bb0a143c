"""The ``/openapi/v3`` documents: a root index and one document per served group-version.

What kubectl reads from them (and why each piece is here):

* ``kubectl explain`` maps a kind to a group-version through discovery, fetches the root,
  follows ``serverRelativeURL`` and looks for the component schema whose
  ``x-kubernetes-group-version-kind`` names the kind, then walks ``$ref``s.
* ``kubectl create/apply/replace`` ask whether the server honours ``fieldValidation``: in
  the group-version document, a PATCH operation carrying the kind's
  ``x-kubernetes-group-version-kind`` must list a ``fieldValidation`` query parameter.
  kubectl stops at the first PATCH operation for the kind, so *every* PATCH operation
  here carries it. Without it kubectl fetches ``/openapi/v2`` as protobuf.
* Client-side ``kubectl apply`` computes a strategic merge patch from the document when
  the PATCH operation's ``requestBody.content`` lists
  ``application/strategic-merge-patch+json`` (otherwise it, too, falls back to v2).

Component schemas are upstream's 1.33 definitions (``schemas.builtin()``) rewritten from
JSON Schema to OpenAPI 3.0: one ``type`` plus ``nullable`` instead of ``[T, "null"]``,
IntOrString as upstream's v3 has it (``oneOf`` integer/string, ``format: int-or-string``)
plus ``x-kubernetes-int-or-string``, Quantity as a ``oneOf`` string/number (both without a
``type``, so ``kubectl explain`` names them ``<IntOrString>``/``<Quantity>``), refs under
``#/components/schemas/`` (wrapped in a one-element ``allOf`` when the site carries a
description or extensions, as upstream does), and the per-kind ``apiVersion``/``kind``
enums of the JSON-Schema generator dropped. A document holds only the definitions
reachable from its paths, plus the meta types every API uses.

The paths and operations come from ``openapi_paths``. Documents are built once, on first
use, serialised with orjson, and hashed like upstream (SHA-512, upper-case hex); the hash
goes into the root's ``serverRelativeURL`` so clients can cache a document for as long as
its URL does not change.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import openapi_paths, resources, schemas

__all__ = [
    "V2_CONTENT_TYPE",
    "V2_PLACEHOLDER",
    "Document",
    "build_group_version",
    "builtin_components",
    "document",
    "documents",
    "gv_path",
    "make_document",
    "root",
    "to_openapi",
]

JSON = dict[str, Any]

_REF_PREFIX = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_ALWAYS = (_META + "Status", _META + "DeleteOptions", _META + "Patch", _META + "APIResourceList")


# kubectl 1.27 and 1.28 fetch /openapi/v2 first in `explain` and give up on a 404; an
# empty protobuf (a Document with no definitions) satisfies them, and they then read
# everything from v3. kubectl 1.29+ never needs it. Serving it is the HTTP layer's choice.
# (kubectl asks for `...spec.v2@v1.0+protobuf`, but Go's mime parser rejects that `@` in a
# response's Content-Type, so the reply must use the `.v1.0` spelling.)
V2_PLACEHOLDER = b""
V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


@dataclass(frozen=True, slots=True)
class Document:
    path: str  # "api/v1", "apis/apps/v1"
    body: bytes
    hash: str

    @property
    def server_relative_url(self) -> str:
        return f"/openapi/v3/{self.path}?hash={self.hash}"

    @property
    def etag(self) -> str:
        return f'"{self.hash}"'


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root() -> bytes:
    """The ``/openapi/v3`` index: every group-version and the URL of its document."""
    return _built()[0]


def documents() -> Mapping[str, Document]:
    return _built()[1]


def document(path: str) -> Document | None:
    """The document for ``api/v1`` or ``apis/<group>/<version>`` (no leading slash)."""
    return _built()[1].get(path.strip("/"))


def build_group_version(group: str, version: str) -> JSON:
    """The OpenAPI document of one group-version, as a dict (pure; not cached)."""
    paths, kinds = openapi_paths.build_paths(group, version)
    names = [n for n in (schemas.definition_for_gvk(*k) for k in kinds) if n is not None]
    components = {name: _component(name) for name in _reachable([*names, *_ALWAYS])}
    return {
        "openapi": "3.0.0",
        "info": {"title": f"Kubernetes {group or 'core'}/{version}", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": components},
    }


def builtin_components(names: Iterable[str]) -> dict[str, JSON]:
    """Upstream's component schemas for ``names``, everything they reference and the
    meta types every document carries (Status, DeleteOptions, Patch, APIResourceList)."""
    return {name: _component(name) for name in _reachable([*names, *_ALWAYS])}


def make_document(path: str, doc: Mapping[str, Any]) -> Document:
    """Serialise a group-version document (sorted keys) and hash it as upstream does."""
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return Document(path, body, hashlib.sha512(body).hexdigest().upper())


@functools.cache
def _built() -> tuple[bytes, dict[str, Document]]:
    docs: dict[str, Document] = {}
    for group, version in resources.by_group_version():
        path = gv_path(group, version)
        docs[path] = make_document(path, build_group_version(group, version))
    index = {"paths": {p: {"serverRelativeURL": d.server_relative_url} for p, d in docs.items()}}
    return orjson.dumps(index), docs


# --- schemas -------------------------------------------------------------------------------


def to_openapi(raw: Mapping[str, Any], *, root: bool = False) -> JSON:
    """One JSON-Schema node (and everything under it) in OpenAPI 3.0 form."""
    out: JSON = {}
    ref = raw.get("$ref")
    if isinstance(ref, str):
        target = {"$ref": _REF_PREFIX + ref.rsplit("/", 1)[-1]}
        rest = {k: v for k, v in raw.items() if k != "$ref"}
        if not rest:
            return target
        out["allOf"] = [target]
        raw = rest
    for key, value in raw.items():
        if key == "type":
            types = [value] if isinstance(value, str) else list(value)
            concrete = [t for t in types if t != "null"]
            if len(concrete) == 1:
                out["type"] = concrete[0]
            if "null" in types and not root:
                out["nullable"] = True
        elif key == "oneOf" and _one_of_types(value) == {"integer", "string"}:
            out["format"] = "int-or-string"
            out[key] = [{"type": "integer"}, {"type": "string"}]
            out["x-kubernetes-int-or-string"] = True
        elif key == "properties":
            out[key] = {
                name: _property(name, sub, root=root) for name, sub in sorted(value.items())
            }
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = to_openapi(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [_alternative(v) for v in value]
        else:
            out[key] = value
    return out


def _property(name: str, raw: Mapping[str, Any], *, root: bool) -> JSON:
    converted = to_openapi(raw)
    if root and name in ("apiVersion", "kind"):
        converted.pop("enum", None)  # the JSON-Schema generator's, not upstream's
    return converted


def _alternative(raw: Mapping[str, Any]) -> JSON:
    """One branch of a oneOf/anyOf: nullability belongs to the enclosing schema."""
    converted = to_openapi(raw)
    converted.pop("nullable", None)
    return converted


def _one_of_types(alternatives: Iterable[Mapping[str, Any]]) -> set[str]:
    found: set[str] = set()
    for alt in alternatives:
        t = alt.get("type")
        found.update(x for x in ([t] if isinstance(t, str) else t or ()) if x != "null")
    return found


@functools.cache
def _component(name: str) -> JSON:
    return to_openapi(schemas.schema(name), root=True)


def _reachable(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    stack = [n for n in names if n in schemas.builtin().schemas]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(r for r in _refs(schemas.schema(name)) if r not in seen)
    return sorted(seen)


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            elif key not in ("description", "enum", "x-kubernetes-group-version-kind"):
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
