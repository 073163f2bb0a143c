"""The JSONPath subset printer columns and the scale subresource use (client-go's syntax).

``parse(".status.conditions[?(@.type==\\"Ready\\")].status")`` gives a ``Path`` whose
``find(obj)`` returns every match, in document order, with missing keys simply matching
nothing (upstream sets ``AllowMissingKeys(true)`` for printer columns). Supported:

* fields: ``.name``, ``['name']``/``["name"]`` (for keys with dots), ``.*``, ``[*]``;
* array steps: ``[0]``, ``[-1]``, slices ``[1:3]`` / ``[:2]`` / ``[1:]``;
* recursive descent ``..name``;
* filters ``[?(@.path)]`` (the key exists) and ``[?(@.path OP literal)]`` with ``==``,
  ``!=``, ``<``, ``<=``, ``>``, ``>=``; literals are quoted strings, numbers, ``true``,
  ``false``; ``@`` alone is the element itself.

The expression may be wrapped in braces (``{.spec.replicas}``) as client-go templates are.
Anything else raises ``JSONPathError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["JSONPathError", "Path", "parse"]


class JSONPathError(ValueError):
    """The expression is not in the supported JSONPath subset."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # "*" for every value
    recursive: bool = False


@dataclass(frozen=True, slots=True)
class _Slice:
    start: int | None
    stop: int | None
    index: bool  # [n] rather than [n:m]


@dataclass(frozen=True, slots=True)
class _Filter:
    path: tuple[_Field | _Slice, ...]
    op: str  # "" for an existence test
    literal: Any


_Step = _Field | _Slice | _Filter

_IDENT: Final = re.compile(r"[^.\[\]\s()=!<>]+")
_FILTER: Final = re.compile(r"\?\((.*)\)$", re.S)
_COMPARISON: Final = re.compile(r"^\s*(@[^=!<>\s]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$", re.S)


@dataclass(frozen=True, slots=True)
class Path:
    text: str
    steps: tuple[_Step, ...]

    def find(self, obj: Any) -> list[Any]:
        """Every value the path selects in ``obj`` (an empty list when nothing matches)."""
        return list(_walk([obj], self.steps))


def parse(expr: str) -> Path:
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    return Path(expr, tuple(_parse_steps(text, expr)))


def _parse_steps(text: str, whole: str) -> Iterator[_Step]:
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ".":
            recursive = text.startswith("..", i)
            i += 2 if recursive else 1
            if i < len(text) and text[i] == "[":
                if recursive:
                    raise JSONPathError(f"unsupported recursive descent in {whole!r}")
                continue
            m = _IDENT.match(text, i)
            if m is None:
                if i >= len(text) and not recursive:
                    return  # a bare "." selects the object itself
                raise JSONPathError(f"invalid field in {whole!r} at {i}")
            yield _Field(m.group(), recursive)
            i = m.end()
        elif ch == "[":
            end = _closing_bracket(text, i, whole)
            yield _bracket(text[i + 1 : end].strip(), whole)
            i = end + 1
        else:
            raise JSONPathError(f"unexpected {ch!r} in {whole!r} at {i}")


def _closing_bracket(text: str, start: int, whole: str) -> int:
    depth, quote = 0, ""
    for j in range(start, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError(f"unclosed bracket in {whole!r}")


def _bracket(inner: str, whole: str) -> _Step:
    if inner == "*":
        return _Field("*")
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    m = _FILTER.match(inner)
    if m:
        return _filter(m.group(1).strip(), whole)
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) > 3:
            raise JSONPathError(f"invalid slice in {whole!r}")
        start, stop = (_opt_int(p, whole) for p in parts[:2])
        return _Slice(start, stop, index=False)
    n = _opt_int(inner, whole)
    if n is None:
        raise JSONPathError(f"empty index in {whole!r}")
    return _Slice(n, None, index=True)


def _opt_int(text: str, whole: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise JSONPathError(f"invalid array index {text!r} in {whole!r}") from None


def _filter(cond: str, whole: str) -> _Filter:
    m = _COMPARISON.match(cond)
    if m is None:
        if not cond.startswith("@"):
            raise JSONPathError(f"unsupported filter {cond!r} in {whole!r}")
        return _Filter(_relative(cond, whole), "", None)
    left, op, right = m.groups()
    return _Filter(_relative(left, whole), op, _literal(right, whole))


def _relative(expr: str, whole: str) -> tuple[_Field | _Slice, ...]:
    steps = tuple(_parse_steps(expr[1:], whole))
    if any(isinstance(s, _Filter) for s in steps):
        raise JSONPathError(f"nested filters are not supported in {whole!r}")
    return tuple(s for s in steps if not isinstance(s, _Filter))


def _literal(text: str, whole: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise JSONPathError(f"unsupported literal {text!r} in {whole!r}") from None


# --- evaluation --------------------------------------------------------------------------


def _walk(values: list[Any], steps: Sequence[_Step]) -> Iterator[Any]:
    for step in steps:
        values = [out for value in values for out in _apply(step, value)]
    yield from values


def _apply(step: _Step, value: Any) -> Iterator[Any]:
    if isinstance(step, _Field):
        if step.recursive:
            yield from _descend(step.name, value)
        elif step.name == "*":
            if isinstance(value, Mapping):
                yield from (value[k] for k in sorted(value))
            elif isinstance(value, list):
                yield from value
        elif isinstance(value, Mapping) and step.name in value:
            yield value[step.name]
    elif isinstance(step, _Slice):
        if not isinstance(value, list):
            return
        if step.index:
            assert step.start is not None
            n = step.start + len(value) if step.start < 0 else step.start
            if 0 <= n < len(value):
                yield value[n]
        else:
            yield from value[step.start : step.stop]
    elif isinstance(value, list):
        yield from (item for item in value if _matches(step, item))


def _descend(name: str, value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        if name in value:
            yield value[name]
        for k in sorted(value):
            yield from _descend(name, value[k])
    elif isinstance(value, list):
        for item in value:
            yield from _descend(name, item)


def _matches(flt: _Filter, item: Any) -> bool:
    found = list(_walk([item], flt.path))
    if not flt.op:
        return bool(found)
    if not found:
        return False
    left, right = found[0], flt.literal
    if flt.op in ("==", "!="):
        equal = _same(left, right)
        return equal if flt.op == "==" else not equal
    if not (_is_number(left) and _is_number(right)):
        return False
    a, b = float(left), float(right)
    ops = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
    return ops[flt.op]


def _same(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(float(left) == float(right))
    return type(left) is type(right) and bool(left == right)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
