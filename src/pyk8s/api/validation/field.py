"""Field errors as upstream's ``k8s.io/apimachinery/pkg/util/validation/field`` prints them.

A ``Cause`` is one ``field.Error``: its ``type`` is the ``CauseType`` string the Status
carries (``FieldValueInvalid`` …), ``field`` the dotted path (``spec.containers[0].name``),
``body`` what ``Error.ErrorBody()`` prints (``Invalid value: "Foo": <detail>``) and
``message`` the full one-line ``Error.Error()`` (``<field>: <body>``).

Bad values are printed the way Go's ``fmt`` prints the Go value upstream passes: strings
quoted with ``%q``, numbers and booleans bare, maps as ``map[string]string{"k":"v"}`` with
sorted keys, slices as ``[]string{"a", "b"}``, structs with ``%#v``.  Objects here are plain
JSON, so each call site says which Go shape the value had; ``GoRepr`` carries text that a
call site rendered itself (``go_selector``, ``go_int_or_string`` and friends).

Paths are built with ``Path``: ``Path("spec").child("containers").index(0)`` prints
``spec.containers[0]``; ``.key("app")`` prints ``[app]`` unquoted, as upstream does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DUPLICATE",
    "FORBIDDEN",
    "INTERNAL",
    "INVALID",
    "NOT_FOUND",
    "NOT_SUPPORTED",
    "REQUIRED",
    "TOO_LONG",
    "TOO_MANY",
    "TYPE_INVALID",
    "Cause",
    "GoRepr",
    "Path",
    "duplicate",
    "forbidden",
    "go_int_or_string",
    "go_quote",
    "go_selector",
    "go_str_list",
    "go_str_map",
    "go_value",
    "invalid",
    "not_found",
    "not_supported",
    "omit",
    "required",
    "too_long",
    "too_many",
]

NOT_FOUND: Final = "FieldValueNotFound"
REQUIRED: Final = "FieldValueRequired"
DUPLICATE: Final = "FieldValueDuplicate"
INVALID: Final = "FieldValueInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
INTERNAL: Final = "InternalError"
TYPE_INVALID: Final = "FieldValueTypeInvalid"

_TYPE_TEXT: Final[dict[str, str]] = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}
# Error types whose body never shows the bad value.
_VALUELESS: Final = frozenset({REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL})


@dataclass(frozen=True, slots=True)
class Cause:
    """One field error: ``type`` (the Status cause reason), ``field``, ``body``."""

    type: str
    field: str
    body: str

    @property
    def message(self) -> str:
        """The full one-line message upstream's ``field.Error.Error()`` prints."""
        return f"{self.field}: {self.body}"

    def status_cause(self) -> dict[str, str]:
        """The ``StatusCause`` upstream puts in ``Status.details.causes``."""
        return {"reason": self.type, "message": self.body, "field": self.field}

    def __str__(self) -> str:
        return self.message


class GoRepr(str):
    """Text already rendered as Go's ``fmt`` would print the value; printed verbatim."""

    __slots__ = ()


class _Omit:
    """Upstream's ``field.OmitValueType{}``: the body shows only the error type."""


omit: Final = _Omit()


class Path:
    """A field path: ``Path("spec").child("template", "spec").index(0).key("cpu")``."""

    __slots__ = ("_text",)

    def __init__(self, *names: str) -> None:
        self._text = ".".join(n for n in names if n)

    @classmethod
    def _raw(cls, text: str) -> Path:
        p = cls()
        p._text = text
        return p

    def child(self, *names: str) -> Path:
        text = self._text
        for name in names:
            if not name:
                continue
            text = f"{text}.{name}" if text else name
        return Path._raw(text)

    def index(self, i: int) -> Path:
        return Path._raw(f"{self._text}[{i}]")

    def key(self, k: str) -> Path:
        return Path._raw(f"{self._text}[{k}]")

    def root(self) -> str:
        return self._text.split(".", 1)[0].split("[", 1)[0]

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Path({self._text!r})"


# --- Go value printing ---------------------------------------------------------------


def go_quote(s: str) -> str:
    """``strconv.Quote``: double quotes, Go escapes, printable Unicode kept."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code >= 0x80 and not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_str_map(m: Mapping[str, Any] | None) -> GoRepr:
    """``%#v`` of a ``map[string]string`` (nil when absent), keys sorted as fmt does."""
    if m is None:
        return GoRepr("map[string]string(nil)")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(m.items()))
    return GoRepr(f"map[string]string{{{items}}}")


def go_str_list(xs: Sequence[Any] | None, type_name: str = "string") -> GoRepr:
    """``%#v`` of a ``[]string`` (or a named string type such as ``core.IPFamily``)."""
    if xs is None:
        return GoRepr(f"[]{type_name}(nil)")
    return GoRepr(f"[]{type_name}{{" + ", ".join(go_quote(str(x)) for x in xs) + "}")


def go_selector(sel: Mapping[str, Any] | None) -> GoRepr:
    """``%#v`` of a ``metav1.LabelSelector`` value, as ``field is immutable`` prints it."""
    sel = sel or {}
    ml = sel.get("matchLabels")
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list):
        parts = []
        for e in exprs:
            e = e if isinstance(e, dict) else {}
            vals = e.get("values")
            parts.append(
                "v1.LabelSelectorRequirement{"
                f"Key:{go_quote(str(e.get('key', '')))}, "
                f"Operator:{go_quote(str(e.get('operator', '')))}, "
                f"Values:{go_str_list(vals if isinstance(vals, list) else None)}}}"
            )
        exprs_text = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    labels = go_str_map(ml if isinstance(ml, dict) else None)
    return GoRepr(f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs_text}}}")


def go_int_or_string(v: Any) -> GoRepr:
    """``%#v`` of an ``intstr.IntOrString`` value."""
    if isinstance(v, bool) or not isinstance(v, int | str):
        v = 0
    if isinstance(v, int):
        return GoRepr(f'intstr.IntOrString{{Type:0, IntVal:{v}, StrVal:""}}')
    return GoRepr(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(v)}}}")


def go_value(value: Any) -> str:
    """The text ``%v``/``%q``/``%#v`` gives for a JSON value of the obvious Go type."""
    if isinstance(value, GoRepr):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping):
        return str(go_str_map(value))
    if isinstance(value, list | tuple):
        return str(go_str_list(value))
    return str(value)


# --- constructors (one per upstream field.* helper) ----------------------------------


def _cause(type_: str, path: Path | str, value: Any, detail: str) -> Cause:
    text = _TYPE_TEXT[type_]
    body = text if type_ in _VALUELESS or value is omit else f"{text}: {go_value(value)}"
    if detail:
        body = f"{body}: {detail}"
    return Cause(type_, str(path), body)


def required(path: Path | str, detail: str = "") -> Cause:
    return _cause(REQUIRED, path, "", detail)


def invalid(path: Path | str, value: Any, detail: str) -> Cause:
    return _cause(INVALID, path, value, detail)


def duplicate(path: Path | str, value: Any) -> Cause:
    return _cause(DUPLICATE, path, value, "")


def not_found(path: Path | str, value: Any, detail: str = "") -> Cause:
    return _cause(NOT_FOUND, path, value, detail)


def forbidden(path: Path | str, detail: str) -> Cause:
    return _cause(FORBIDDEN, path, "", detail)


def not_supported(path: Path | str, value: Any, valid: Iterable[str]) -> Cause:
    valid = list(valid)
    detail = "supported values: " + ", ".join(go_quote(v) for v in valid) if valid else ""
    return _cause(NOT_SUPPORTED, path, value, detail)


def too_long(path: Path | str, max_length: int) -> Cause:
    detail = f"may not be more than {max_length} bytes" if max_length >= 0 else "value is too long"
    return _cause(TOO_LONG, path, "", detail)


def too_many(path: Path | str, actual: int, max_quantity: int) -> Cause:
    detail = (
        f"must have at most {max_quantity} items" if max_quantity >= 0 else "has too many items"
    )
    return _cause(TOO_MANY, path, actual if actual >= 0 else omit, detail)
