"""The one exception the patch modules raise, and Go-style rendering for its messages.

Upstream's messages embed Go values (``map[name:nginx]``, ``[]interface {}``); ``go_value``
and ``go_type`` render decoded JSON the same way so messages read like upstream's.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PatchError", "go_type", "go_value"]


class PatchError(ValueError):
    """A patch that is malformed (``code`` 400) or does not apply (422, 413)."""

    def __init__(self, message: str, *, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def go_type(value: Any) -> str:
    """The Go type ``encoding/json`` decodes ``value`` into (ints preserved as int64)."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>"


def go_value(value: Any) -> str:
    """``fmt.Sprint(value)`` for decoded JSON: ``map[a:1 b:[x y]]``."""
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_value(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
