"""Defaulting of custom resources (upstream's ``structural/defaulting``).

Upstream decodes a custom resource in this order: prune unknown fields
(``pyk8s.api.crd.prune``), ``drop_nulls``, then ``apply_defaults``; objects read back from
storage are defaulted again, so a default added to a CRD later shows up on old objects.

``drop_nulls(schema, obj)`` removes ``null`` values whose schema is not ``nullable`` and
has no ``default`` (``PruneNonNullableNullsWithoutDefaults``); a non-nullable ``null``
that has a default is left for ``apply_defaults`` to replace.

``apply_defaults(schema, obj)`` (``Default``): for every object, each property with a
non-null ``default`` that is missing — or ``null`` while not ``nullable`` — gets a deep
copy of the default; then the walk continues into every value (a freshly defaulted value
included, so defaults nest), with ``additionalProperties`` for the keys that are not
``properties`` and ``items`` for list elements (a non-nullable ``null`` map value or list
element is replaced by that schema's default as well). Junctors are never consulted.

Both mutate ``obj`` in place; neither validates.
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api.crd.schema import Structural

__all__ = ["apply_defaults", "drop_nulls"]


def _non_nullable_null(x: Any, s: Structural | None) -> bool:
    return x is None and s is not None and not s.nullable


def apply_defaults(schema: Structural | None, obj: Any) -> None:
    """Fill in schema defaults, in place."""
    s = schema
    if s is None:
        return
    if isinstance(obj, dict):
        for k, prop in s.properties.items():
            if not prop.has_default:
                continue
            if k not in obj or _non_nullable_null(obj[k], prop):
                obj[k] = copy.deepcopy(prop.default)
        ap = s.additional_schema
        for k in list(obj):
            if k in s.properties:
                apply_defaults(s.properties[k], obj[k])
            elif s.additional_properties is not None:
                if ap is not None and _non_nullable_null(obj[k], ap) and ap.has_default:
                    obj[k] = copy.deepcopy(ap.default)
                apply_defaults(ap, obj[k])
    elif isinstance(obj, list):
        items = s.items
        for i, item in enumerate(obj):
            if items is not None and _non_nullable_null(item, items) and items.has_default:
                obj[i] = copy.deepcopy(items.default)
            apply_defaults(items, obj[i])


def drop_nulls(schema: Structural | None, obj: Any) -> None:
    """Remove non-nullable ``null`` fields that have no default, in place."""
    if isinstance(obj, dict):
        for k in list(obj):
            child = schema.field_schema(k) if schema is not None else None
            v = obj[k]
            if v is None and child is not None and not child.nullable and not child.has_default:
                del obj[k]
            else:
                drop_nulls(child, v)
    elif isinstance(obj, list):
        items = schema.items if schema is not None else None
        for item in obj:
            drop_nulls(items, item)
