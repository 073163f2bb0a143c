"""Typed reads of JSON objects for the validators.

Objects reach validation after decoding, but a field may still be missing, ``null`` or of
the wrong JSON type (schema checks are the decoder's job).  These accessors turn anything
unexpected into the Go zero value the field would have had after decoding, so validators
read ``spec(obj)`` instead of repeating ``isinstance`` checks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Obj", "as_bool", "as_int", "as_list", "as_obj", "as_str", "get_path"]

Obj = dict[str, Any]


def as_obj(v: Any) -> Obj:
    return v if isinstance(v, dict) else {}


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def as_str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def as_int(v: Any, default: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        return default
    return v


def as_bool(v: Any) -> bool:
    return v is True


def get_path(obj: Any, *keys: str) -> Any:
    """``get_path(obj, "spec", "template")`` or ``None`` when any step is missing."""
    cur = obj
    for k in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    return cur
