"""Kubernetes protobuf objects → the JSON dicts Go's ``encoding/json`` would produce.

Input: a request body as ``kubectl`` sends it with ``Content-Type:
application/vnd.kubernetes.protobuf`` — the magic ``k8s\\x00``, then a ``runtime.Unknown``
envelope whose ``typeMeta`` names the object's apiVersion and kind and whose ``raw``
holds the object's message. Output: the object as a JSON-ready dict, ``apiVersion`` and
``kind`` first, equal to what the real apiserver's Go JSON encoding of the decoded
object shows, minus ``null``s (so ``creationTimestamp: null`` is absent).

The rules that make it equal (see ``schema_kinds`` for how the table encodes them):

* Go's marshaller sends every non-pointer scalar, zero or not, so wire presence says
  nothing for those: ``omitempty`` decides (``omit`` drops zero, ``keep`` keeps it).
  Pointers are sent only when set, so a pointer on the wire is kept even when zero
  (``replicas: 0``). Struct values are always shown (Go's ``omitempty`` never drops a
  struct), e.g. ``strategy: {}``, ``resources: {}``, ``status: {}``.
* A field absent from the wire gets Go's zero value if Go would print it (``keep``).
* Repeated fields and maps are dropped when empty (Go decodes them as nil).
* Embedded Go structs (``Volume.volumeSource``, ``Probe.handler`` …) merge into their
  parent; the parent's own keys win, as Go's shallower-field rule says.
* ``bytes`` become base64 strings; ``Time`` becomes RFC 3339 in UTC (seconds only; the
  nanos are ignored, as Go's unmarshaller does), ``MicroTime`` has 6 fraction digits, a
  zero time is absent; ``Duration`` is Go's ``Duration.String()``; ``Quantity`` is its
  string ("" → "0"); ``IntOrString`` is an int or a string; ``FieldsV1`` and
  ``RawExtension`` are the JSON they carry.
* Unknown fields are skipped (forward compatibility); a known field with the wrong wire
  type, a truncated value or a length running past its message is a ``DecodeError``.
  A singular field sent twice: the last occurrence wins (Go would merge two copies of a
  message field; no Kubernetes client sends one twice).

The schema has no cycles (checked when this module loads), so recursion depth is
bounded by the schema, not by the input.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, cast

from pyk8s.api.protobuf import schema_core, schema_groups, schema_kinds, schema_meta, wire
from pyk8s.api.protobuf.wire import LEN, VARINT, DecodeError

__all__ = ["MAGIC", "decode", "decode_object", "go_duration", "supported_kinds"]

MAGIC: Final = b"k8s\x00"

# How a field's decoded value lands in its parent dict.
_SET: Final = 0  # assign; a None value (a zero Time, a null FieldsV1) removes the key
_OMIT: Final = 1  # assign unless falsy ("" / 0 / False): Go's omitempty on a scalar
_REP: Final = 2  # append to a list
_MAP: Final = 3  # (key, value) into a dict
_INLINE: Final = 4  # merge the sub-dict into the parent once the message is read

_GO_ZERO_UNIX: Final = -62135596800  # time.Time{} (0001-01-01T00:00:00Z) in Unix seconds
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_Conv = Callable[..., object]  # (buf, start, stop) for LEN fields, (varint) for VARINT ones


class _Field:
    __slots__ = ("conv", "mode", "name", "wire", "zero")

    def __init__(
        self, *, name: str, mode: int, wire: int, conv: _Conv, zero: Callable[[], object]
    ) -> None:
        self.name = name
        self.mode = mode
        self.wire = wire
        self.conv = conv
        self.zero = zero


class _Message:
    __slots__ = ("defaults", "fields", "inlines", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[int, _Field] = {}
        self.defaults: tuple[tuple[str, Callable[[], object]], ...] = ()
        self.inlines: tuple[tuple[int, _Field], ...] = ()


def decode(body: bytes) -> dict[str, object]:
    """A whole protobuf request body (magic + ``runtime.Unknown``) → the object's JSON."""
    if not body.startswith(MAGIC):
        raise DecodeError("not a Kubernetes protobuf body: missing the 'k8s\\x00' prefix")
    api_version, kind, start, stop = _read_envelope(body, len(MAGIC), len(body))
    return decode_object(api_version, kind, body, start=start, stop=stop)


def decode_object(
    api_version: str, kind: str, raw: bytes, *, start: int = 0, stop: int | None = None
) -> dict[str, object]:
    """One object's message (``raw[start:stop]``, no envelope) → its JSON."""
    msg = _BY_KIND.get((api_version, kind))
    if msg is None:
        raise DecodeError(f"no protobuf schema for apiVersion={api_version!r} kind={kind!r}")
    end = len(raw) if stop is None else stop
    try:
        fields = _read_message(raw, start, end, msg)
    except DecodeError as e:
        raise e.within(kind) from None
    obj: dict[str, object] = {"apiVersion": api_version, "kind": kind}
    obj.update(fields)
    return obj


def supported_kinds() -> frozenset[tuple[str, str]]:
    """Every (apiVersion, kind) ``decode`` accepts."""
    return frozenset(_BY_KIND)


# ---- the envelope -------------------------------------------------------------------------
# runtime.Unknown (k8s.io/apimachinery/pkg/runtime/generated.proto): typeMeta=1
# {apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4.


def _read_envelope(buf: bytes, pos: int, end: int) -> tuple[str, str, int, int]:
    api_version = kind = encoding = ""
    raw = (pos, pos)
    try:
        while pos < end:
            number, wire_type, pos = wire.read_key(buf, pos, end)
            if number in (1, 2, 3) and wire_type != LEN:
                raise DecodeError(f"runtime.Unknown field {number} has wire type {wire_type}")
            if number == 1:
                s, pos = wire.read_len(buf, pos, end)
                values = _read_small(buf, s, pos, {1: LEN, 2: LEN})
                api_version = _str(values.get(1, b""))
                kind = _str(values.get(2, b""))
            elif number == 2:
                raw = wire.read_len(buf, pos, end)
                pos = raw[1]
            elif number == 3:
                s, pos = wire.read_len(buf, pos, end)
                encoding = _str(buf[s:pos])
            else:  # 4 contentType is informational; upstream ignores it too
                pos = wire.skip_field(buf, pos, end, wire_type)
    except DecodeError as e:
        raise DecodeError(f"runtime.Unknown envelope: {e.reason}") from None
    if not kind or not api_version:
        raise DecodeError("runtime.Unknown envelope names no apiVersion/kind")
    if encoding:
        raise DecodeError(f"unsupported contentEncoding {encoding!r}")
    return api_version, kind, raw[0], raw[1]


# ---- messages -----------------------------------------------------------------------------


def _read_message(buf: bytes, pos: int, end: int, msg: _Message) -> dict[str, object]:
    out: dict[str, object] = {}
    fields = msg.fields
    lists: dict[str, list[object]] = {}
    maps: dict[str, dict[str, object]] = {}
    inlined: dict[int, object] | None = None
    while pos < end:
        number, wire_type, pos = wire.read_key(buf, pos, end)
        f = fields.get(number)
        if f is None:
            pos = wire.skip_field(buf, pos, end, wire_type)
            continue
        try:
            if wire_type == LEN:
                s, pos = wire.read_len(buf, pos, end)
                if f.wire == LEN:
                    value = f.conv(buf, s, pos)
                elif f.mode == _REP:  # packed repeated varints
                    values = _read_packed(buf, s, pos, f.conv)
                    if f.name in lists:
                        lists[f.name].extend(values)
                    else:
                        out[f.name] = lists[f.name] = values
                    continue
                else:
                    raise DecodeError(f"wrong wire type {wire_type}")
            elif wire_type == f.wire:  # VARINT: the schema has no fixed-width fields
                raw, pos = wire.read_varint(buf, pos, end)
                value = f.conv(raw)
            else:
                raise DecodeError(f"wrong wire type {wire_type}")
        except DecodeError as e:
            raise e.within(f.name) from None
        mode = f.mode
        if mode == _SET:
            if value is None:
                out.pop(f.name, None)
            else:
                out[f.name] = value
        elif mode == _OMIT:
            if value:
                out[f.name] = value
            else:
                out.pop(f.name, None)
        elif mode == _REP:
            items = lists.get(f.name)
            if items is None:
                out[f.name] = lists[f.name] = [value]
            else:
                items.append(value)
        elif mode == _MAP:
            key, item = cast("tuple[str, object]", value)
            entries = maps.get(f.name)
            if entries is None:
                out[f.name] = maps[f.name] = {key: item}
            else:
                entries[key] = item
        else:
            if inlined is None:
                inlined = {}
            inlined[number] = value
    for name, zero in msg.defaults:
        if name not in out:
            z = zero()
            if z is not None:
                out[name] = z
    for number, f in msg.inlines:
        sub = inlined.get(number) if inlined else None
        if sub is None:
            sub = f.zero()
        for k, v in cast("dict[str, object]", sub).items():
            out.setdefault(k, v)
    return out


def _read_packed(buf: bytes, pos: int, end: int, conv: _Conv) -> list[object]:
    values: list[object] = []
    while pos < end:
        v, pos = wire.read_varint(buf, pos, end)
        values.append(conv(v))
    return values


def _read_small(buf: bytes, pos: int, end: int, layout: dict[int, int]) -> dict[int, int | bytes]:
    """The fields of a small fixed message: varints as ints, LEN values as bytes."""
    values: dict[int, int | bytes] = {}
    while pos < end:
        number, wire_type, pos = wire.read_key(buf, pos, end)
        expected = layout.get(number)
        if expected is None:
            pos = wire.skip_field(buf, pos, end, wire_type)
        elif wire_type != expected:
            raise DecodeError(f"field {number}: wrong wire type {wire_type}")
        elif wire_type == VARINT:
            values[number], pos = wire.read_varint(buf, pos, end)
        else:
            s, pos = wire.read_len(buf, pos, end)
            values[number] = buf[s:pos]
    return values


def _str(value: int | bytes) -> str:
    # Go strings may hold any bytes; Go's JSON encoder turns invalid UTF-8 into U+FFFD.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _int(value: int | bytes) -> int:
    return value if isinstance(value, int) else 0


# ---- scalar and special-type converters ---------------------------------------------------


def _string(buf: bytes, s: int, e: int) -> str:
    return buf[s:e].decode("utf-8", "replace")


def _bytes(buf: bytes, s: int, e: int) -> str:
    return base64.b64encode(buf[s:e]).decode("ascii")


def _empty_string() -> str:
    return ""


def _bool(v: int) -> bool:
    return v != 0


def _format_time(seconds: int, micros: int, *, fraction: bool) -> str:
    try:
        t = _EPOCH + timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        raise DecodeError(f"time {seconds}s is out of range") from None
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{text}.{t.microsecond:06d}Z" if fraction else text + "Z"


def _time(buf: bytes, s: int, e: int) -> str | None:
    """meta/v1 Time: Timestamp{seconds=1, nanos=2}; empty = zero time = absent."""
    if s == e:
        return None
    seconds = wire.to_int64(_int(_read_small(buf, s, e, {1: VARINT, 2: VARINT}).get(1, 0)))
    if seconds == _GO_ZERO_UNIX:
        return None
    return _format_time(seconds, 0, fraction=False)


def _microtime(buf: bytes, s: int, e: int) -> str | None:
    """meta/v1 MicroTime: like Time, nanos truncated toward zero to microseconds."""
    if s == e:
        return None
    values = _read_small(buf, s, e, {1: VARINT, 2: VARINT})
    seconds = wire.to_int64(_int(values.get(1, 0)))
    nanos = wire.to_int32(_int(values.get(2, 0)))
    micros = nanos // 1000 if nanos >= 0 else -(-nanos // 1000)
    if seconds * 1_000_000 + micros == _GO_ZERO_UNIX * 1_000_000:
        return None
    return _format_time(seconds, micros, fraction=True)


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String()``: "1h2m3.5s", "1.5ms", "0s"."""
    if nanoseconds == 0:
        return "0s"
    u = abs(nanoseconds)
    if u < 1_000:
        text = f"{u}ns"
    elif u < 1_000_000:
        text = _fraction(u, 3) + "µs"
    elif u < 1_000_000_000:
        text = _fraction(u, 6) + "ms"
    else:
        seconds, rest = divmod(u, 1_000_000_000)
        text = _fraction((seconds % 60) * 1_000_000_000 + rest, 9) + "s"
        minutes = seconds // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            if minutes >= 60:
                text = f"{minutes // 60}h{text}"
    return "-" + text if nanoseconds < 0 else text


def _fraction(value: int, precision: int) -> str:
    """value / 10**precision, trailing zeros (and a bare point) dropped: "1.5", "2"."""
    whole, frac = divmod(value, 10**precision)
    digits = f"{frac:0{precision}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _duration(buf: bytes, s: int, e: int) -> str:
    """meta/v1 Duration: {duration=1} in nanoseconds."""
    values = _read_small(buf, s, e, {1: VARINT})
    return go_duration(wire.to_int64(_int(values.get(1, 0))))


def _quantity(buf: bytes, s: int, e: int) -> str:
    """resource.Quantity: {string=1}, already canonical when Go wrote it."""
    return _str(_read_small(buf, s, e, {1: LEN}).get(1, b"")) or "0"


def _int_or_string(buf: bytes, s: int, e: int) -> int | str:
    """intstr.IntOrString: {type=1 (0 int, 1 string), intVal=2, strVal=3}."""
    values = _read_small(buf, s, e, {1: VARINT, 2: VARINT, 3: LEN})
    kind = wire.to_int64(_int(values.get(1, 0)))
    if kind == 0:
        return wire.to_int32(_int(values.get(2, 0)))
    if kind == 1:
        return _str(values.get(3, b""))
    raise DecodeError(f"IntOrString has type {kind}")


def _embedded_json(buf: bytes, s: int, e: int) -> object:
    """FieldsV1 / RawExtension: {raw=1} holding JSON; no raw means null."""
    raw = _read_small(buf, s, e, {1: LEN}).get(1)
    if not isinstance(raw, bytes):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise DecodeError("embedded raw bytes are not JSON") from None


_SCALARS: Final[dict[str, tuple[int, _Conv, Callable[[], object]]]] = {
    "string": (LEN, _string, str),
    "bytes": (LEN, _bytes, lambda: None),  # Go's nil []byte is null
    "bool": (VARINT, _bool, bool),
    "int32": (VARINT, wire.to_int32, int),
    "int64": (VARINT, wire.to_int64, int),
    "time": (LEN, _time, lambda: None),
    "microtime": (LEN, _microtime, lambda: None),
    "duration": (LEN, _duration, lambda: "0s"),
    "quantity": (LEN, _quantity, lambda: "0"),
    "intorstring": (LEN, _int_or_string, lambda: 0),
    "fieldsv1": (LEN, _embedded_json, lambda: None),
    "rawextension": (LEN, _embedded_json, lambda: None),
}

_MODES: Final = {"opt": _SET, "keep": _SET, "omit": _OMIT, "rep": _REP, "map": _MAP}


# ---- compiling the schema tables ----------------------------------------------------------


def _map_entry(value_conv: _Conv, value_zero: Callable[[], object]) -> _Conv:
    """A map entry message {key=1 string, value=2}; a missing part is its zero value."""

    def read_entry(buf: bytes, s: int, e: int) -> tuple[str, object]:
        key = ""
        value: object = None
        have_value = False
        pos = s
        while pos < e:
            number, wire_type, pos = wire.read_key(buf, pos, e)
            if number in (1, 2):
                if wire_type != LEN:
                    raise DecodeError(f"map entry field {number}: wrong wire type {wire_type}")
                vs, pos = wire.read_len(buf, pos, e)
                if number == 1:
                    key = _string(buf, vs, pos)
                else:
                    value, have_value = value_conv(buf, vs, pos), True
            else:
                pos = wire.skip_field(buf, pos, e, wire_type)
        return key, (value if have_value else value_zero())

    return read_entry


def _compile() -> dict[tuple[str, str], _Message]:
    tables: dict[str, dict[int, schema_kinds.Field]] = {}
    for module in (schema_meta, schema_core, schema_groups):
        tables.update(module.MESSAGES)
    messages = {name: _Message(name) for name in tables}

    def message_conv(msg: _Message) -> tuple[_Conv, Callable[[], object]]:
        if msg.name in schema_kinds.LIST_WRAPPERS:

            def read_list(buf: bytes, s: int, e: int) -> object:
                return _read_message(buf, s, e, msg).get("items", [])

            return read_list, lambda: None

        def read(buf: bytes, s: int, e: int) -> object:
            return _read_message(buf, s, e, msg)

        return read, lambda: _read_message(b"", 0, 0, msg)

    for name, table in tables.items():
        msg = messages[name]
        defaults: list[tuple[str, Callable[[], object]]] = []
        inlines: list[tuple[int, _Field]] = []
        for number, (json_name, typ, label, ref) in sorted(table.items()):
            if typ == "message":
                if ref not in messages:
                    raise RuntimeError(f"{name}.{json_name}: unknown message {ref}")
                wire_type, conv, zero = (LEN, *message_conv(messages[ref]))
            else:
                wire_type, conv, zero = _SCALARS[typ]
            if label == "map":
                if wire_type != LEN:
                    raise RuntimeError(f"{name}.{json_name}: map values must be LEN")
                # Go's map decoders start a missing value at its zero, and for bytes that is
                # []byte{} (""), not nil.
                value_zero = _empty_string if typ == "bytes" else zero
                conv, zero = _map_entry(conv, value_zero), dict
            field = _Field(
                name=json_name,
                mode=_INLINE if label == "inline" else _MODES[label],
                wire=wire_type,
                conv=conv,
                zero=zero,
            )
            msg.fields[number] = field
            if label == "keep":
                defaults.append((json_name, zero))
            elif label == "inline":
                inlines.append((number, field))
        msg.defaults = tuple(defaults)
        msg.inlines = tuple(inlines)
    _check_acyclic(tables)
    return {key: messages[ref] for key, ref in schema_kinds.KINDS.items()}


def _check_acyclic(tables: dict[str, dict[int, schema_kinds.Field]]) -> None:
    done: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in stack:
            raise RuntimeError(f"protobuf schema has a cycle: {' → '.join((*stack, name))}")
        if name in done:
            return
        for _, typ, _, ref in tables[name].values():
            if typ == "message" and ref is not None:
                visit(ref, (*stack, name))
        done.add(name)

    for name in tables:
        visit(name, ())


_BY_KIND: Final = _compile()
