"""``resource.Quantity`` as upstream parses, compares and prints it.

``parse_quantity("0.25")`` gives a ``Quantity`` whose ``str()`` is the canonical form the
apiserver stores and returns (``250m``); ``"1536Mi"`` stays ``1536Mi``, ``"2000"`` becomes
``2k``.  Values are exact (``fractions.Fraction``), rounded up to nano units as upstream
does on parse, and to milli units by ``round_up_milli`` (what ``SetDefaults_ResourceList``
does to container requests and limits).  JSON numbers are quantities too (``1`` → ``1``).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Literal

__all__ = ["QUANTITY_FORMAT_ERROR", "Quantity", "QuantityError", "parse_quantity"]

Format = Literal["DecimalSI", "BinarySI", "DecimalExponent"]

QUANTITY_FORMAT_ERROR: Final = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_SPLIT_RE: Final = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_DECIMAL_SUFFIX: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIX: Final[dict[str, int]] = {
    "Ki": 10,
    "Mi": 20,
    "Gi": 30,
    "Ti": 40,
    "Pi": 50,
    "Ei": 60,
}
_DECIMAL_NAME: Final = {v: k for k, v in _DECIMAL_SUFFIX.items()}
_BINARY_NAME: Final = {0: "", **{v // 10: k for k, v in _BINARY_SUFFIX.items()}}


class QuantityError(ValueError):
    """The text is not a quantity; ``str()`` is upstream's decoding message."""


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Fraction
    format: Format

    def round_up(self, scale: int) -> Quantity:
        """``Quantity.RoundUp(scale)``: ceiling (away from zero) at 10**scale units."""
        unit = Fraction(10) ** scale
        units = self.value / unit
        rounded = math.ceil(units) if units >= 0 else math.floor(units)
        return Quantity(Fraction(rounded) * unit, self.format)

    def round_up_milli(self) -> Quantity:
        return self.round_up(-3)

    def milli_value(self) -> int:
        v = self.value * 1000
        return math.ceil(v) if v >= 0 else math.floor(v)

    def is_integer(self) -> bool:
        return self.value.denominator == 1

    def __str__(self) -> str:
        v = self.value
        fmt: Format = self.format
        if fmt == "BinarySI" and (-1024 < v < 1024 or v.denominator != 1):
            fmt = "DecimalSI"
        if fmt == "BinarySI":
            n = int(v)
            k = 0
            while n != 0 and n % 1024 == 0 and k < 6:
                n //= 1024
                k += 1
            return f"{n}{_BINARY_NAME[k]}"
        mantissa, exponent = _canonical_decimal(v)
        if fmt == "DecimalExponent":
            return f"{mantissa}e{exponent}" if exponent else str(mantissa)
        if exponent > 18:
            mantissa *= 10 ** (exponent - 18)
            exponent = 18
        return f"{mantissa}{_DECIMAL_NAME[exponent]}"


def _canonical_decimal(v: Fraction) -> tuple[int, int]:
    """mantissa * 10**exponent == v, exponent a multiple of 3 and as large as possible."""
    if v == 0:
        return 0, 0
    exponent = -9
    mantissa = v * 10**9
    if mantissa.denominator != 1:  # finer than nano: round up, as Quantity does
        mantissa = Fraction(math.ceil(mantissa) if mantissa > 0 else math.floor(mantissa))
    m = int(mantissa)
    while m % 1000 == 0:
        m //= 1000
        exponent += 3
    return m, exponent


def parse_quantity(raw: Any) -> Quantity:
    """Parse a JSON quantity (string or number) the way ``resource.ParseQuantity`` does."""
    if isinstance(raw, str):
        return _parse_string_cached(raw)
    return _parse_quantity(raw)


@functools.lru_cache(maxsize=4096)
def _parse_string_cached(raw: str) -> Quantity:
    # quantities repeat across objects ("100m", "128Mi"); Quantity is immutable
    return _parse_quantity(raw)


def _parse_quantity(raw: Any) -> Quantity:
    if isinstance(raw, bool) or raw is None:
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    if isinstance(raw, int):
        return Quantity(Fraction(raw), "DecimalSI")
    if isinstance(raw, float):
        raw = repr(raw)
    if not isinstance(raw, str):
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    text = raw.strip()
    m = _SPLIT_RE.match(text)
    if not m or text != m.group(0) or text.endswith("\n"):
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    number, suffix = m.group(1), m.group(2)
    if number.count(".") > 1 or number.strip("+-") in ("", "."):
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    try:
        value = Fraction(number)
    except (ValueError, ZeroDivisionError):
        raise QuantityError(QUANTITY_FORMAT_ERROR) from None
    fmt: Format
    if suffix in _DECIMAL_SUFFIX:
        fmt = "DecimalSI"
        value *= Fraction(10) ** _DECIMAL_SUFFIX[suffix]
    elif suffix in _BINARY_SUFFIX:
        fmt = "BinarySI"
        value *= 2 ** _BINARY_SUFFIX[suffix]
    elif suffix[:1] in ("e", "E") and re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        fmt = "DecimalExponent"
        value *= Fraction(10) ** int(suffix[1:])
    else:
        raise QuantityError("unable to parse quantity's suffix")
    q = Quantity(value, fmt)
    scaled = value * 10**9
    if scaled.denominator != 1:
        q = q.round_up(-9)
    return q
