"""JSON values as structured-merge-diff compares, orders and prints them.

Decoded JSON here is what ``orjson``/``json`` give: dict, list, str, int, float, bool,
None. Upstream's rules, which differ from Python's own:

* equality: ``True`` is not ``1`` (Python says it is), ``1`` is ``1.0``, maps compare
  without order, lists in order;
* ordering (``order_key``): numbers < strings < booleans < lists < maps < null, numbers by
  value — the order FieldsV1 keys (``v:``/``k:`` elements) are sorted in;
* text: ``json_text`` is the compact JSON Go's jsoniter writes (``<``, ``>``, ``&``
  escaped; integral floats written as integers, as Go decodes them to int64), and
  ``go_text`` is ``value.ToString``: strings quoted like Go's ``%q``, floats like ``%v``.

``MISSING`` stands for "no value at all", which upstream keeps apart from an explicit null.
"""

from __future__ import annotations

import decimal
import enum
from typing import Any, Final

import orjson

__all__ = [
    "JSON",
    "MISSING",
    "Missing",
    "go_quote",
    "go_text",
    "json_text",
    "normalize",
    "order_key",
    "values_equal",
]

JSON = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""


class Missing(enum.Enum):
    MISSING = "MISSING"


MISSING: Final = Missing.MISSING

_PLAIN = frozenset({str, int, bool, type(None)})
_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def normalize(value: JSON) -> JSON:
    """``value`` with integral floats as ints, as Go's JSON decoding into interfaces gives."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def json_text(value: JSON) -> str:
    """Compact JSON as Go writes it: sorted map keys, HTML characters escaped."""
    text = orjson.dumps(normalize(value), option=orjson.OPT_SORT_KEYS).decode()
    if any(ch in text for ch in _HTML_ESCAPES):
        text = "".join(_HTML_ESCAPES.get(ch, ch) for ch in text)
    return text


def values_equal(a: JSON, b: JSON) -> bool:
    """Upstream's ``value.Equals``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and bool(a == b)


def order_key(value: JSON) -> tuple[Any, ...]:
    """A sort key giving upstream's total order over values (``value.Compare``)."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(order_key(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple(sorted((k, order_key(v)) for k, v in value.items())))
    return (5,)


def go_text(value: JSON) -> str:
    """Upstream's ``value.ToString``: how key values appear in a path (``[name="a"]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(go_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={go_text(v)}" for k, v in value.items())
    return str(value)


_NAMED_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (``%q``): printable characters kept, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_float(value: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)``: shortest digits, exponent from 1e+06 up."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # position of the decimal point within the digits
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"
