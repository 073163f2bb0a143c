"""Label selectors, as upstream's k8s.io/apimachinery/pkg/labels (1.33).

The grammar, the matching rules and the error messages are upstream's, word for word:
``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``,
``a<1``, comma separated, blanks allowed between tokens. Parse errors from inside a term
read ``unable to parse requirement: …``; keys and values are checked as label keys and
values (validation.IsQualifiedName / IsValidLabelValue), with upstream's field paths
(``<nil>`` for a key in a parsed string, ``key``/``values[i][key]`` otherwise).
Requirements are kept sorted by key, as ``labels.Parse`` and ``Selector.Add`` leave them.
Use the ``pyk8s.api.selectors`` facade rather than this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "from_label_selector_obj",
    "go_quote",
    "label_key_errors",
    "label_value_errors",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector that does not parse or names an unsupported field (HTTP 400)."""


class Operator(StrEnum):
    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# Upstream lists these in its "expected: …" messages in this order.
_BINARY_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt")


# -- upstream's validation messages (1.33: k8s.io/apimachinery/pkg/util/validation) ----------

_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_RE = re.compile(_NAME_FMT)
_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_VALUE_FMT = f"({_NAME_FMT})?"
_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {shown}, regex used for validation is '{fmt}')"


def _byte_len(s: str) -> int:
    return len(s.encode())


def label_key_errors(key: str) -> list[str]:
    """validation.IsQualifiedName: ``[prefix/]name`` with a DNS-subdomain prefix."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if _byte_len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not _SUBDOMAIN_RE.fullmatch(prefix):
                errs.append(
                    "prefix part " + _regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com")
                )
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _NAME_RE.fullmatch(name):
        errs.append(
            "name part " + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue."""
    errs: list[str] = []
    if _byte_len(value) > 63:
        errs.append("must be no more than 63 characters")
    if value and not _NAME_RE.fullmatch(value):
        errs.append(_regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


_GO_ESCAPES = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
}


def go_quote(s: str) -> str:
    """Go's ``%q`` / strconv.Quote for the strings that reach error messages."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_string_slice(values: Iterable[str]) -> str:
    """Go's ``%#v`` of a ``[]string`` (what field.Invalid prints for a value list)."""
    vals = list(values)
    if not vals:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in vals) + "}"


def _invalid(path: str, shown_value: str, detail: str) -> str:
    """field.Invalid(...).Error(); ``shown_value`` is already formatted."""
    return f"{path}: Invalid value: {shown_value}: {detail}"


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): duplicates dropped, several in brackets."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# -- label selectors -------------------------------------------------------------------------

_INT64 = re.compile(r"[+-]?[0-9]+")


def _parse_int64(s: str) -> int | None:
    if not _INT64.fullmatch(s):
        return None
    n = int(s)
    return n if -(2**63) <= n < 2**63 else None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; build it with ``Requirement.new`` to validate."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: str, operator: Operator, values: Iterable[str] = ()) -> Requirement:
        """labels.NewRequirement: validates key, operator arity and values."""
        vals = tuple(values)
        errs: list[str] = []
        if key_errs := label_key_errors(key):
            errs.append(_invalid("key", go_quote(key), "; ".join(key_errs)))
        op = operator
        if op in (Operator.IN, Operator.NOT_IN) and not vals:
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(vals),
                    "for 'in', 'notin' operators, values set can't be empty",
                )
            )
        elif (
            op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(vals) != 1
        ):
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(vals),
                    "exact-match compatibility requires one single value",
                )
            )
        elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
            errs.append(
                _invalid(
                    "values",
                    _go_string_slice(vals),
                    "values set must be empty for exists and does not exist",
                )
            )
        elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if len(vals) != 1:
                errs.append(
                    _invalid(
                        "values",
                        _go_string_slice(vals),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    )
                )
            for i, v in enumerate(vals):
                if _parse_int64(v) is None:
                    errs.append(
                        _invalid(
                            f"values[{i}]",
                            go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        )
                    )
        for i, v in enumerate(vals):
            if value_errs := label_value_errors(v):
                errs.append(_invalid(f"values[{i}][{key}]", go_quote(v), "; ".join(value_errs)))
        if errs:
            raise SelectorError(_aggregate(errs))
        return cls(key, op, vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return value is not None and value in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return value is None or value not in self.values
        # Gt / Lt: both sides must be int64s; anything else does not match.
        if value is None or len(self.values) != 1:
            return False
        have, want = _parse_int64(value), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        shown = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({shown})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{shown}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """An AND of requirements; ``nothing=True`` is upstream's labels.Nothing()."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (Nothing() is not empty)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def exact_values(self, key: str) -> frozenset[str] | None:
        """The values ``key`` must take for a match, or None if it is not pinned.

        Meant for index lookups: an object can only match if its label ``key`` is one of
        the returned values (``=``, ``==`` and ``in`` terms, intersected). It is a
        pre-filter; callers still call ``matches``.
        """
        if self.nothing:
            return frozenset()
        allowed: frozenset[str] | None = None
        for r in self.requirements:
            if r.key == key and r.operator in (
                Operator.EQUALS,
                Operator.DOUBLE_EQUALS,
                Operator.IN,
            ):
                vals = frozenset(r.values)
                allowed = vals if allowed is None else allowed & vals
        return allowed

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _sorted_selector(reqs: Iterable[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# The lexer and parser follow upstream's token rules: "in"/"notin" are keywords only where
# an operator is expected, "==" and "!=" are the only two-character symbols, and a bare key
# (or "!key") ends at a comma or the end of the string.

_EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _IDENT, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(13)
_SYMBOLS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "=": _EQ, ">": _GT, "<": _LT, "(": _OPEN}
_KEYWORDS = {"in": _IN, "notin": _NOTIN}
_SPECIAL = frozenset("=!(),><")
_BLANK = frozenset(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in _BLANK:
            i += 1
        if i >= n or s[i] == "\0":  # upstream reads NUL as the end of input
            tokens.append((_EOS, ""))
            return tokens
        if s[i] in _SPECIAL:
            two = s[i : i + 2]
            if two in ("==", "!="):
                tokens.append((_DEQ if two == "==" else _NEQ, two))
                i += 2
            else:
                tokens.append((_SYMBOLS[s[i]], s[i]))
                i += 1
            continue
        start = i
        while i < n and s[i] not in _SPECIAL and s[i] not in _BLANK and s[i] != "\0":
            i += 1
        word = s[start:i]
        if i < n and s[i] == "\0":
            i += 1  # a NUL inside a word ends it and is consumed
        tokens.append((_KEYWORDS.get(word, _IDENT), word))


class _Parser:
    def __init__(self, s: str) -> None:
        self.tokens = _lex(s)
        self.pos = 0

    def peek(self, *, values: bool = True) -> tuple[int, str]:
        tok, lit = self.tokens[self.pos]
        return (_IDENT, lit) if values and tok in (_IN, _NOTIN) else (tok, lit)

    def take(self, *, values: bool = True) -> tuple[int, str]:
        item = self.peek(values=values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok == _EOS:
                return reqs
            if tok not in (_IDENT, _NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}") from None
            tok, lit = self.take()
            if tok == _EOS:
                return reqs
            if tok != _COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.peek()
            if tok not in (_IDENT, _NOT):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        negated = False
        tok, key = self.take()
        if tok == _NOT:
            negated = True
            tok, key = self.take()
        if tok != _IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        if key_errs := label_key_errors(key):
            raise SelectorError(_invalid("<nil>", go_quote(key), "; ".join(key_errs)))
        if negated:  # "!key" is complete; whatever follows is the caller's problem
            return Requirement.new(key, Operator.DOES_NOT_EXIST)
        if self.peek()[0] in (_EOS, _COMMA):
            return Requirement.new(key, Operator.EXISTS)
        op = self.operator()
        vals = self.value_set() if op in (Operator.IN, Operator.NOT_IN) else self.exact_value()
        return Requirement.new(key, op, sorted(vals))

    def operator(self) -> Operator:
        tok, lit = self.take(values=False)
        ops = {
            _IN: Operator.IN,
            _NOTIN: Operator.NOT_IN,
            _EQ: Operator.EQUALS,
            _DEQ: Operator.DOUBLE_EQUALS,
            _NEQ: Operator.NOT_EQUALS,
            _GT: Operator.GREATER_THAN,
            _LT: Operator.LESS_THAN,
        }
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def value_set(self) -> set[str]:
        tok, lit = self.take()
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == _CLOSE:  # "()" is the set holding the empty string
            self.take()
            return {""}
        if tok not in (_IDENT, _COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        vals = self.identifiers()
        if self.take()[0] != _CLOSE:  # unreachable upstream too; kept for its message
            raise SelectorError(f"found '{lit}', expected: ')'")
        return vals

    def identifiers(self) -> set[str]:
        """A comma separated list in which empty items mean the empty string."""
        vals: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == _IDENT:
                vals.add(lit)
                nxt, nlit = self.peek()
                if nxt == _CLOSE:
                    return vals
                if nxt != _COMMA:
                    raise SelectorError(f"found '{nlit}', expected: ',' or ')'")
            elif tok == _COMMA:
                nxt = self.peek()[0]
                if not vals or nxt in (_CLOSE, _COMMA):
                    vals.add("")
                if nxt == _CLOSE:
                    return vals
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.peek()[0] in (_EOS, _COMMA):
            return {""}
        tok, lit = self.take()
        if tok != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        return {lit}


def parse_label_selector(s: str) -> LabelSelector:
    """labels.Parse: the ``labelSelector`` query parameter; ``""`` selects everything."""
    return _sorted_selector(_Parser(s).parse())


_SELECTOR_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector_obj(sel: Mapping[str, object] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: ``None`` matches nothing, ``{}`` everything."""
    if sel is None:
        return LabelSelector(nothing=True)
    match_labels = sel.get("matchLabels") or {}
    match_expressions = sel.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(match_expressions, list):
        raise SelectorError("invalid label selector")
    reqs = [Requirement.new(str(k), Operator.EQUALS, [str(v)]) for k, v in match_labels.items()]
    for expr in match_expressions:
        if not isinstance(expr, Mapping):
            raise SelectorError("invalid label selector")
        op_name = str(expr.get("operator") or "")
        op = _SELECTOR_OPERATORS.get(op_name)
        if op is None:
            raise SelectorError(f"{go_quote(op_name)} is not a valid label selector operator")
        values = expr.get("values") or []
        if not isinstance(values, list):
            raise SelectorError("invalid label selector")
        reqs.append(Requirement.new(str(expr.get("key") or ""), op, [str(v) for v in values]))
    return _sorted_selector(reqs)
