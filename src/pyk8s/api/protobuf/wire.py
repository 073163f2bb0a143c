"""The protobuf wire format, read-only: varints, fixed-width values, length-delimited
spans and skipping of unknown fields.

Every reader takes ``(buf, pos, end)`` and returns the value and the position after it;
nothing is copied until a caller slices. Nothing reads at or past ``end`` — a field
that claims more bytes than its enclosing message holds raises ``DecodeError`` — so a
caller can bound any nested message by its own length. Limits follow Go's generated
unmarshallers (gogo, which Kubernetes uses): a varint has at most 10 bytes and keeps
the low 64 bits; a field number of 0 and wire types 4, 6 and 7 at field level are
errors; unknown fields, groups included, are skipped.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "FIXED32",
    "FIXED64",
    "LEN",
    "START_GROUP",
    "VARINT",
    "DecodeError",
    "read_fixed32",
    "read_fixed64",
    "read_key",
    "read_len",
    "read_varint",
    "skip_field",
    "to_int32",
    "to_int64",
]

VARINT: Final = 0
FIXED64: Final = 1
LEN: Final = 2
START_GROUP: Final = 3
END_GROUP: Final = 4
FIXED32: Final = 5

_MASK64: Final = (1 << 64) - 1
_MAX_GROUP_DEPTH: Final = 64


class DecodeError(ValueError):
    """A protobuf body that cannot be decoded. ``path`` names the field (JSON names,
    outermost first) where decoding stopped, when known."""

    def __init__(self, reason: str, *, path: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{'.'.join(path)}: {reason}" if path else reason)

    def within(self, name: str) -> DecodeError:
        """The same error, one field further out."""
        return DecodeError(self.reason, path=(name, *self.path)) if name else self


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A base-128 varint: (value as an unsigned 64-bit int, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def read_key(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """A field key: (field number, wire type, next position)."""
    if pos >= end:
        raise DecodeError("truncated field key")
    b = buf[pos]
    if b < 0x80:
        key, pos = b, pos + 1
    else:
        key, pos = read_varint(buf, pos, end)
    number = key >> 3
    if number == 0 or number > 0x1FFFFFFF:
        raise DecodeError(f"illegal field number {number}")
    return number, key & 7, pos


def read_len(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A length-delimited value: (start, stop) of its bytes; the next field is at stop."""
    b = buf[pos] if pos < end else 0x80
    if b < 0x80:
        n, pos = b, pos + 1
    else:
        n, pos = read_varint(buf, pos, end)
    stop = pos + n
    if stop > end:
        raise DecodeError(f"length {n} runs past the end of its message")
    return pos, stop


def read_fixed32(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 4 > end:
        raise DecodeError("truncated fixed32")
    return int.from_bytes(buf[pos : pos + 4], "little"), pos + 4


def read_fixed64(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos + 8 > end:
        raise DecodeError("truncated fixed64")
    return int.from_bytes(buf[pos : pos + 8], "little"), pos + 8


def skip_field(buf: bytes, pos: int, end: int, wire_type: int) -> int:
    """The position after a field's value whose key has been read."""
    if wire_type == VARINT:
        return read_varint(buf, pos, end)[1]
    if wire_type == LEN:
        return read_len(buf, pos, end)[1]
    if wire_type == FIXED64:
        return read_fixed64(buf, pos, end)[1]
    if wire_type == FIXED32:
        return read_fixed32(buf, pos, end)[1]
    if wire_type == START_GROUP:
        return _skip_group(buf, pos, end)
    raise DecodeError(f"unexpected wire type {wire_type}")


def _skip_group(buf: bytes, pos: int, end: int) -> int:
    depth = 1
    while depth:
        if pos >= end:
            raise DecodeError("unterminated group")
        _, wire_type, pos = read_key(buf, pos, end)
        if wire_type == START_GROUP:
            depth += 1
            if depth > _MAX_GROUP_DEPTH:
                raise DecodeError("groups nested too deeply")
        elif wire_type == END_GROUP:
            depth -= 1
        else:
            pos = skip_field(buf, pos, end, wire_type)
    return pos


def to_int64(value: int) -> int:
    """A varint's 64 bits as Go's int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_int32(value: int) -> int:
    """A varint's low 32 bits as Go's int32 (Go truncates, as here)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
