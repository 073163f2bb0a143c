"""How Go's ``fmt`` prints the decoded-JSON values custom-resource errors carry.

Custom resources are ``map[string]interface{}`` upstream, so a bad value reaches
``field.Error.ErrorBody`` as an ``interface{}``: strings are quoted (``%q``), numbers and
booleans are bare (``%v``), ``nil`` is the quoted string ``"null"``, and maps and slices
fall back to ``%#v`` (``map[string]interface {}{"name":"a"}``). ``iface`` turns a JSON
value into what ``pyk8s.api.validation.field`` then prints exactly that way.

``go_float`` is ``%v`` of a ``float64`` (shortest digits, exponent form from 1e+06 and
below 1e-04); ``go_number`` prints an int or a float as Go would after decoding JSON
(integers as ``int64``, everything else as ``float64``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api.validation.field import GoRepr, go_quote

__all__ = ["go_float", "go_number", "go_sharp", "iface", "json_type"]


def go_float(x: float) -> str:
    """``strconv.FormatFloat(x, 'g', -1, 64)``, which is what ``%v`` prints."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    digits, exp = _shortest(abs(x))
    sign = "-" if x < 0 else ""
    if exp < -4 or exp >= 6:  # shortest %g decides with precision 6
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if exp + 1 >= len(digits):
        return sign + digits + "0" * (exp + 1 - len(digits))
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"


def _shortest(x: float) -> tuple[str, int]:
    """Shortest round-tripping decimal digits of ``x > 0`` and its decimal exponent."""
    mantissa, _, exponent = f"{x:.17e}".partition("e")
    for precision in range(1, 18):
        text = f"{x:.{precision - 1}e}"
        if float(text) == x:
            mantissa, _, exponent = text.partition("e")
            break
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    return digits, int(exponent)


def go_number(x: int | float) -> str:
    """An int64 or float64 as ``%v`` prints it."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    return go_float(x)


def go_sharp(value: Any) -> str:
    """``%#v`` of a decoded JSON value inside an ``interface{}``."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{go_quote(str(k))}:{go_sharp(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + items + "}"
    if isinstance(value, list | tuple):
        return "[]interface {}{" + ", ".join(go_sharp(v) for v in value) + "}"
    return str(value)


def iface(value: Any) -> Any:
    """A JSON value as ``field.Error`` prints an ``interface{}`` bad value."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return GoRepr(go_float(value))
    return GoRepr(go_sharp(value))


def json_type(value: Any) -> str:
    """The OpenAPI type name kube-openapi reports for a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
