"""Pruning of unknown fields from custom resources (upstream's ``structural/pruning``).

``prune(schema, obj)`` deletes, in place, every field the structural schema does not
specify and returns the paths it removed (``spec.foo``, ``spec.items[0].bar``,
``metadata.foo``) — what ``fieldValidation=Warn`` reports as ``unknown field "…"`` and
``Strict`` rejects. The rules, as upstream applies them while decoding a request body:

* at the resource root (``root=True``) and in every ``x-kubernetes-embedded-resource``
  object, ``apiVersion``, ``kind`` and ``metadata`` are kept whatever the schema says;
  inside such ``metadata``, keys that are not ObjectMeta fields are dropped and reported
  (upstream's strict decode of ObjectMeta; nested ObjectMeta structs are not checked);
* ``x-kubernetes-preserve-unknown-fields`` keeps unknown keys of that object (and below),
  but specified ``properties``/``additionalProperties`` are pruned normally again;
* ``additionalProperties`` is the schema of every key not in ``properties``; with no
  schema at all below a node (``additionalProperties: true``, ``items`` unset) every key
  of an object value is removed;
* scalars are never touched; lists are walked with the ``items`` schema.

Paths come back in upstream's order: root ``metadata`` keys, then the pruned fields
sorted, then embedded ``metadata`` keys sorted. ``obj`` must be a plain JSON tree
(``dict``/``list``) that the caller owns.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any, Final

from pyk8s.api import schemas
from pyk8s.api.crd.schema import Structural

__all__ = ["prune"]

_META_FIELDS: Final = frozenset({"apiVersion", "kind", "metadata"})


def prune(schema: Structural | None, obj: Any, *, root: bool = True) -> list[str]:
    """Remove unknown fields from ``obj`` in place; return the removed paths."""
    meta_paths: list[str] = []
    if root and isinstance(obj, dict):
        meta_paths = _prune_metadata(obj, "")
    node = schema or Structural()
    if root and not node.embedded_resource:
        node = _as_embedded(node)
    pruned: list[str] = []
    _prune(obj, node, "", pruned)
    embedded: list[str] = []
    _embedded_metadata(obj, schema, "", embedded, top=True)
    return meta_paths + sorted(pruned) + sorted(embedded)


def _as_embedded(node: Structural) -> Structural:
    return replace(node, embedded_resource=True)


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _prune(x: Any, s: Structural | None, path: str, out: list[str]) -> None:
    if s is not None and s.preserve_unknown_fields:
        _skip_prune(x, s, path, out)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                out.append(_join(path, k))
                del x[k]
            return
        for k in list(x):
            if s.embedded_resource and k in _META_FIELDS:
                continue
            if k in s.properties:
                _prune(x[k], s.properties[k], _join(path, k), out)
            elif s.additional_properties is not None:
                _prune(x[k], s.additional_schema, _join(path, k), out)
            else:
                if k not in _META_FIELDS or path:
                    out.append(_join(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items, f"{path}[{i}]", out)


def _skip_prune(x: Any, s: Structural | None, path: str, out: list[str]) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        for k in list(x):
            if s.embedded_resource and k in _META_FIELDS:
                continue
            if k in s.properties:
                _prune(x[k], s.properties[k], _join(path, k), out)
            elif s.additional_properties is not None:
                _prune(x[k], s.additional_schema, _join(path, k), out)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _skip_prune(v, s.items, f"{path}[{i}]", out)


@functools.cache
def _object_meta_fields() -> frozenset[str]:
    meta = schemas.schema("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    return frozenset(meta.get("properties", {}))


def _prune_metadata(obj: dict[str, Any], path: str) -> list[str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    known = _object_meta_fields()
    prefix = _join(path, "metadata")
    unknown = sorted(k for k in meta if k not in known)
    for k in unknown:
        del meta[k]
    return [f"{prefix}.{k}" for k in unknown]


def _embedded_metadata(
    x: Any, s: Structural | None, path: str, out: list[str], *, top: bool = False
) -> None:
    """ObjectMeta of embedded resources (upstream's ``objectmeta.Coerce``)."""
    if s is None:
        return
    if isinstance(x, dict):
        if s.embedded_resource and not top:
            out.extend(_prune_metadata(x, path))
        for k, v in x.items():
            if k in s.properties:
                _embedded_metadata(v, s.properties[k], _join(path, k), out)
            elif s.additional_properties is not None:
                _embedded_metadata(v, s.additional_schema, _join(path, k), out)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _embedded_metadata(v, s.items, f"{path}[{i}]", out)
