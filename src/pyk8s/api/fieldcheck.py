"""Field validation for ``fieldValidation=Strict|Warn|Ignore``: which fields are unknown.

Upstream decodes request bodies into Go structs with ``sigs.k8s.io/json``; in Strict and
Warn mode the decoder reports every field the struct does not have, by its path in the
document, in document order: ``spec.foo``, ``spec.template.spec.containers[0].foo``,
``metadata.app``. Below an unknown field nothing more is reported. Map values
(``additionalProperties``) are walked with the key as a path segment (``a.key.b``);
objects without a declared shape (RawExtension, FieldsV1) accept anything.

``unknown_fields`` returns those paths for a built-in kind (``[]`` for a kind without
upstream definitions — custom resources are checked against their CRD elsewhere). The
helpers render upstream's wording:

* Strict on create/update → 400 BadRequest
  ``Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:
  unknown field "spec.foo", unknown field "spec.bar"`` (``decode_error``);
* Warn (the default) → one ``Warning`` header per field: ``unknown field "spec.foo"``
  (``warnings``);
* Ignore → nothing.

Duplicate-field detection (also part of Strict upstream) is out of scope: decoded JSON
no longer has duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pyk8s.api import schemas

__all__ = [
    "Directive",
    "decode_error",
    "parse_directive",
    "strict_error",
    "unknown_fields",
    "unknown_fields_in",
    "warnings",
]


class Directive(StrEnum):
    IGNORE = "Ignore"
    WARN = "Warn"
    STRICT = "Strict"


def parse_directive(value: str | None) -> Directive:
    """The ``fieldValidation`` query parameter; empty means Warn (upstream's default).

    Raises ValueError with upstream's field-error detail for anything else.
    """
    if not value:
        return Directive.WARN
    try:
        return Directive(value)
    except ValueError:
        raise ValueError(
            f'Unsupported value: "{value}": supported values: "", "Ignore", "Strict", "Warn"'
        ) from None


def unknown_fields(gvk: tuple[str, str, str], obj: Any) -> list[str]:
    """Paths of the fields in ``obj`` that kind ``gvk`` does not have, in document order."""
    node = schemas.node_for_gvk(*gvk)
    return unknown_fields_in(node, obj) if node is not None else []


def unknown_fields_in(node: schemas.SchemaNode, value: Any, path: str = "") -> list[str]:
    """Like ``unknown_fields`` for any schema node; ``path`` prefixes the reported paths."""
    found: list[str] = []
    _walk(node, value, path, found)
    return found


def _walk(node: schemas.SchemaNode, value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, dict):
        if node.is_open:
            return
        if node.is_map:
            for key, item in value.items():
                child = node.field(key)
                if child is not None:
                    _walk(child, item, f"{path}.{key}" if path else key, found)
            return
        properties = node.properties
        if not properties:
            return  # not an object schema: a type error, not an unknown field
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if key not in properties:
                found.append(here)
                continue
            child = node.field(key)
            if child is not None:
                _walk(child, item, here, found)
    elif isinstance(value, list):
        items = node.items()
        if items is not None:
            for index, item in enumerate(value):
                _walk(items, item, f"{path}[{index}]", found)


def strict_error(paths: Sequence[str]) -> str:
    """``strict decoding error: unknown field "a", unknown field "b"``."""
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)


def decode_error(kind: str, version: str, paths: Sequence[str]) -> str:
    """The BadRequest message for a Strict create or update with unknown fields."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {strict_error(paths)}'


def warnings(paths: Sequence[str]) -> list[str]:
    """One warning per unknown field, as upstream sends them in ``Warning`` headers."""
    return [f'unknown field "{p}"' for p in paths]
