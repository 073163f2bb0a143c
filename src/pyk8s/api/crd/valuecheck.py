"""Schema validation of a JSON value, as kube-openapi's ``validate.SchemaValidator`` does it.

``check(schema, value)`` returns the ``Cause``s upstream's ``ValidateCustomResource``
builds from the validator's result (apiextensions-apiserver ``pkg/apiserver/validation``):

* names are kube-openapi's: ``spec.replicas``, ``spec.ports[0].name``, relative to the
  value; the cause's field is ``prefix`` + name, its message embeds the name
  (``spec.replicas in body must be of type integer: "string"``);
* type errors carry the *type name* of the bad value (``Invalid value: "string"``),
  format errors the value; ``maxLength``/``maxItems``/``maxProperties``/``enum``/
  ``required`` become ``Too long``/``Too many``/``Unsupported value``/``Required value``;
  the junctors' own failures (``"spec" must validate at least one schema (anyOf)``) are
  not field errors upstream, so they print with the field ``<nil>`` and value ``""``.

Per node the validators run in kube-openapi's order: type, allOf/anyOf/oneOf/not, string,
format, number, array, enum, object; properties are visited in sorted order (upstream's
Go map order is random). Only formats upstream keeps for CRDs are checked; for a failing
``anyOf``/``oneOf`` the errors of the first failing branch are reported (kube-openapi
keeps the branch that got furthest, which is the first one in all but contrived schemas).

Ratcheting (``CRDValidationRatcheting``, on in 1.33): when ``old`` is given, errors under
a node whose value equals the correlated old value are dropped. Values correlate through
object keys (except ``apiVersion``/``kind`` at the root) and list-type=map keys.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import orjson

from pyk8s.api.crd import gofmt
from pyk8s.api.crd.schema import Structural
from pyk8s.api.validation import field
from pyk8s.api.validation.field import Cause

__all__ = ["MISSING", "check", "json_equal"]

MISSING: Final = object()
_IN: Final = "body"


@dataclass(frozen=True, slots=True)
class _Err:
    code: str  # "required", "enum", "too_long", "too_many", "type", "invalid", "composite"
    name: str
    message: str
    value: Any = None
    limit: int = -1
    values: tuple[Any, ...] = ()


def check(
    schema: Structural | None, value: Any, *, prefix: str = "", old: Any = MISSING
) -> list[Cause]:
    """Every schema violation in ``value`` (upstream's ``ValidateCustomResource``)."""
    if schema is None:
        return []
    return [_cause(e, prefix) for e in _Validator(root=True).node(schema, value, "", old)]


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of decoded JSON, where ``True != 1`` and ``1 == 1.0`` as in Go."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return type(a) is type(b) and a == b
    return type(a) is type(b) and bool(a == b)


class _Validator:
    def __init__(self, *, root: bool) -> None:
        self.root = root

    def node(self, s: Structural, v: Any, name: str, old: Any) -> list[_Err]:
        errs = self._node(s, v, name, old)
        if errs and old is not MISSING and json_equal(v, old):
            return []
        return errs

    def _node(self, s: Structural, v: Any, name: str, old: Any) -> list[_Err]:
        types = ["integer", "string"] if s.int_or_string else ([s.type] if s.type else [])
        fmt = s.format if _kept_format(s.format) else ""
        errs: list[_Err] = []
        if v is None:
            if types and not s.nullable:
                errs.append(_type_err(name, ",".join(types), "null"))
            return errs + _enum(s, v, name)
        if types or fmt:
            errs += _type(types, fmt, v, name)
        errs += self._junctors(s, v, name, old)
        if isinstance(v, str):
            errs += _string(s, v, name)
            check_format = _FORMATS.get(_kept_format(fmt))
            if check_format is not None and not check_format(v):
                errs.append(_Err("type", name, _type_msg(name, fmt, v), v))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            errs += _number(s, types, v, name)
        elif isinstance(v, list):
            errs += self._array(s, v, name, old)
        errs += _enum(s, v, name)
        if isinstance(v, Mapping):
            errs += self._object(s, v, name, old)
        return errs

    def _junctors(self, s: Structural, v: Any, name: str, old: Any) -> list[_Err]:
        errs: list[_Err] = []
        if s.any_of:
            results = [self._node(b, v, name, MISSING) for b in s.any_of]
            if all(results):
                errs.append(_composite(f"{_q(name)} must validate at least one schema (anyOf)"))
                errs += results[0]
        if s.one_of:
            results = [self._node(b, v, name, MISSING) for b in s.one_of]
            valid = sum(1 for r in results if not r)
            if valid != 1:
                more = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                errs.append(
                    _composite(f"{_q(name)} must validate one and only one schema (oneOf). {more}")
                )
                if valid == 0:
                    errs += results[0]
        if s.all_of:
            results = [self._node(b, v, name, MISSING) for b in s.all_of]
            for r in results:
                errs += r
            valid = sum(1 for r in results if not r)
            if valid != len(results):
                more = ". None validated" if valid == 0 else ""
                errs.append(_composite(f"{_q(name)} must validate all the schemas (allOf){more}"))
        if s.not_ is not None and not self._node(s.not_, v, name, MISSING):
            errs.append(_composite(f"{_q(name)} must not validate the schema (not)"))
        return errs

    def _array(self, s: Structural, v: list[Any], name: str, old: Any) -> list[_Err]:
        errs: list[_Err] = []
        if s.items is not None:
            for i, item in enumerate(v):
                errs += self.node(s.items, item, f"{name}[{i}]", _correlate_item(s, item, old))
        if s.min_items is not None and len(v) < s.min_items:
            msg = _msg(name, f"should have at least {s.min_items} items")
            errs.append(_Err("invalid", name, msg, len(v)))
        if s.max_items is not None and len(v) > s.max_items:
            msg = _msg(name, f"should have at most {s.max_items} items")
            errs.append(_Err("too_many", name, msg, len(v), s.max_items))
        if s.unique_items and any(json_equal(v[i], v[j]) for i in range(len(v)) for j in range(i)):
            errs.append(_Err("invalid", name, _msg(name, "shouldn't contain duplicates"), ""))
        return errs

    def _object(self, s: Structural, v: Mapping[str, Any], name: str, old: Any) -> list[_Err]:
        errs: list[_Err] = []
        n = len(v)
        if s.min_properties is not None and n < s.min_properties:
            msg = _msg(name, f"should have at least {s.min_properties} properties")
            errs.append(_Err("invalid", name, msg, n))
        if s.max_properties is not None and n > s.max_properties:
            msg = _msg(name, f"should have at most {s.max_properties} properties")
            errs.append(_Err("too_many", name, msg, n, s.max_properties))
        ap = s.additional_properties
        if ap is False:
            for key in sorted(v):
                if key not in s.properties:
                    msg = f"{name}.{key} in {_IN} is a forbidden property"
                    errs.append(_Err("invalid", name, msg, key))
        elif isinstance(ap, Structural):
            for key in sorted(v):
                if key not in s.properties:
                    errs += self.node(ap, v[key], f"{name}.{key}", self._child_old(old, key))
        for key in sorted(s.properties):
            if key in v:
                child = f"{name}.{key}" if name else key
                errs += self.node(s.properties[key], v[key], child, self._child_old(old, key))
        for key in s.required:
            if key not in v:
                errs.append(_Err("required", f"{name}.{key}", _msg(f"{name}.{key}", "is required")))
        return errs

    def _child_old(self, old: Any, key: str) -> Any:
        if self.root and old is not MISSING and key in ("apiVersion", "kind"):
            return MISSING
        if isinstance(old, Mapping) and key in old:
            return old[key]
        return MISSING


def _correlate_item(s: Structural, item: Any, old: Any) -> Any:
    """The old element with the same list-map keys (only map lists correlate)."""
    if s.list_type != "map" or not s.list_map_keys or not isinstance(old, list):
        return MISSING
    if not isinstance(item, Mapping):
        return MISSING
    key = [item.get(k, MISSING) for k in s.list_map_keys]
    for candidate in old:
        if isinstance(candidate, Mapping) and all(
            (candidate.get(k, MISSING) is MISSING and want is MISSING)
            or (want is not MISSING and k in candidate and json_equal(candidate[k], want))
            for k, want in zip(s.list_map_keys, key, strict=True)
        ):
            return candidate
    return MISSING


# --- leaf validators -----------------------------------------------------------------------


def _type(types: list[str], fmt: str, v: Any, name: str) -> list[_Err]:
    actual, actual_format = _type_info(v)
    float_int = actual == "number" and float(v).is_integer() and "integer" in types
    int_float = actual == "integer" and "number" in types
    not_str_or_list = not isinstance(v, str | list)
    if (
        not_str_or_list
        and fmt
        and not (actual in types or actual_format == fmt or float_int or int_float)
    ):
        return [_type_err(name, fmt, actual_format)]
    if not ({"number", "integer"} & set(types)) and fmt and not not_str_or_list:
        return []
    if not (actual in types or float_int or int_float):
        return [_type_err(name, ",".join(types), actual)]
    return []


def _type_info(v: Any) -> tuple[str, str]:
    kind = gofmt.json_type(v)
    return kind, {"integer": "int64", "number": "float64"}.get(kind, "")


def _type_err(name: str, wanted: str, shown: str) -> _Err:
    return _Err("type", name, _type_msg(name, wanted, shown), shown)


def _type_msg(name: str, wanted: str, shown: str) -> str:
    return f"{name} in {_IN} must be of type {wanted}: {field.go_quote(shown)}"


def _string(s: Structural, v: str, name: str) -> list[_Err]:
    length = len(v)  # runes, as utf8.RuneCount
    if s.max_length is not None and length > s.max_length:
        msg = _msg(name, f"should be at most {s.max_length} chars long")
        return [_Err("too_long", name, msg, v, s.max_length)]
    if s.min_length is not None and length < s.min_length:
        return [
            _Err("invalid", name, _msg(name, f"should be at least {s.min_length} chars long"), v)
        ]
    if s.pattern:
        try:
            matched = re.search(s.pattern, v) is not None
        except re.error as exc:
            shown = f"{s.pattern}, but pattern is invalid: error parsing regexp: {exc}"
            return [_Err("invalid", name, _msg(name, f"should match '{shown}'"), v)]
        if not matched:
            return [_Err("invalid", name, _msg(name, f"should match '{s.pattern}'"), v)]
    return []


def _number(s: Structural, types: list[str], v: int | float, name: str) -> list[_Err]:
    kind = s.type if s.type in ("integer", "number") else ""
    errs: list[_Err] = []
    if kind == "integer" and isinstance(v, float) and not v.is_integer():
        errs.append(_composite(f"Checked value must be of type integer (default format) in {name}"))
    if s.multiple_of is not None:
        errs += _multiple_of(kind, s.multiple_of, v, name)
    if s.minimum is not None:
        errs += _bound(kind, s.minimum, s.exclusive_minimum, v, name, lower=True)
    if s.maximum is not None:
        errs += _bound(kind, s.maximum, s.exclusive_maximum, v, name, lower=False)
    return errs


def _native(kind: str, limit: int | float, v: int | float) -> bool:
    """Whether kube-openapi compares as int64 (limit truncated), not as float64."""
    in_range = not (kind == "integer" and not float(limit).is_integer())
    return in_range and isinstance(v, int)


def _bound(
    kind: str, limit: int | float, exclusive: bool, v: int | float, name: str, *, lower: bool
) -> list[_Err]:
    bound: int | float = int(limit) if _native(kind, limit, v) else float(limit)
    if lower:
        bad = v <= bound if exclusive else v < bound
        words = "greater than" if exclusive else "greater than or equal to"
    else:
        bad = v >= bound if exclusive else v > bound
        words = "less than" if exclusive else "less than or equal to"
    if not bad:
        return []
    shown_value: int | float = v if isinstance(bound, int) else float(v)
    msg = _msg(name, f"should be {words} {gofmt.go_number(bound)}")
    return [_Err("invalid", name, msg, shown_value)]


def _multiple_of(kind: str, factor: int | float, v: int | float, name: str) -> list[_Err]:
    if _native(kind, factor, v):
        f = int(factor)
        if f <= 0:
            return [
                _Err(
                    "invalid",
                    name,
                    f"factor MultipleOf declared for {name} must be positive: {f}",
                    f,
                )
            ]
        if v % f == 0:
            return []
        return [_Err("invalid", name, _msg(name, f"should be a multiple of {f}"), v)]
    ff, fv = float(factor), float(v)
    if ff <= 0:
        shown = gofmt.go_float(ff)
        return [
            _Err(
                "invalid",
                name,
                f"factor MultipleOf declared for {name} must be positive: {shown}",
                ff,
            )
        ]
    mult = 1 / ff * fv if ff < 1 else fv / ff
    if mult.is_integer():
        return []
    return [_Err("invalid", name, _msg(name, f"should be a multiple of {gofmt.go_float(ff)}"), fv)]


def _enum(s: Structural, v: Any, name: str) -> list[_Err]:
    if not s.enum:
        return []
    if v is not None and any(_enum_equal(v, e) for e in s.enum):
        return []
    shown = "[" + " ".join(_go_print(e) for e in s.enum) + "]"
    return [_Err("enum", name, _msg(name, f"should be one of {shown}"), v, values=s.enum)]


def _enum_equal(v: Any, e: Any) -> bool:
    """reflect.DeepEqual after converting the value to the enum value's Go type."""
    if isinstance(e, bool) or isinstance(v, bool):
        return type(v) is type(e) and v == e
    if isinstance(e, int | float) and isinstance(v, int | float):
        return (int(v) if isinstance(e, int) else float(v)) == e
    return json_equal(v, e)


def _go_print(v: Any) -> str:
    """``%v`` of an enum value (``fmt.Sprintf("%v", values)`` prints ``[a b]``)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool | int | float):
        return gofmt.go_number(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{_go_print(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_print(x) for x in v) + "]"
    return str(v)


def _composite(message: str) -> _Err:
    return _Err("composite", "", message)


def _msg(name: str, rest: str) -> str:
    return f"{name} in {_IN} {rest}"


def _q(name: str) -> str:
    return field.go_quote(name)


def _cause(e: _Err, prefix: str) -> Cause:
    if e.code == "composite":
        return field.invalid(prefix or "<nil>", "", e.message)
    path = field.Path(prefix).child(e.name.lstrip(".")) if e.name else field.Path(prefix)
    if e.code == "required":
        return field.required(path)
    if e.code == "too_long":
        return field.too_long(path, e.limit)
    if e.code == "too_many":
        return field.too_many(path, e.value, e.limit)
    if e.code == "enum":
        allowed = [x if isinstance(x, str) else _json(x) for x in e.values]
        return field.not_supported(path, gofmt.iface(e.value), allowed)
    value = gofmt.iface("" if e.value is None else e.value)
    if e.code == "type":
        shown = field.go_value(value)
        return Cause(field.TYPE_INVALID, str(path), f"Invalid value: {shown}: {e.message}")
    return field.invalid(path, value, e.message)


def _json(v: Any) -> str:
    if isinstance(v, float):
        return gofmt.go_float(v) if abs(v) < 1e21 else orjson.dumps(v).decode()
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


# --- formats (the ones upstream keeps for CRDs; the others are dropped before validation) --

_UUID: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_DATETIME: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_MAC: Final = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")


def _is_date(v: str) -> bool:
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return len(v) == 10


def _is_datetime(v: str) -> bool:
    m = _DATETIME.match(v)
    if m is None:
        return False
    return _is_date(v[:10]) and int(m.group(4)) < 24 and int(m.group(5)) < 60


def _is_ip(version: int) -> Callable[[str], bool]:
    def ok(v: str) -> bool:
        try:
            return ipaddress.ip_address(v).version == version
        except ValueError:
            return False

    return ok


def _is_cidr(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return "/" in v


def _is_byte(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_FORMATS: Final[dict[str, Callable[[str], bool]]] = {
    "uuid": lambda v: bool(_UUID.match(v)),
    "datetime": _is_datetime,
    "date": _is_date,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "cidr": _is_cidr,
    "mac": lambda v: bool(_MAC.match(v)),
    "byte": _is_byte,
    "bsonobjectid": lambda v: bool(re.fullmatch(r"[0-9a-fA-F]{24}", v)),
}
_KEPT_FORMATS: Final = frozenset(
    {
        *_FORMATS,
        *("uri", "email", "hostname", "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13"),
        *("creditcard", "ssn", "hexcolor", "rgbcolor", "password", "duration"),
    }
)


def _kept_format(fmt: str) -> str:
    """The normalised format if upstream keeps it for CRDs, else ``""`` (stripped)."""
    normalized = fmt.replace("-", "")
    return normalized if normalized in _KEPT_FORMATS else ""
