"""SPDY/3.1 framing, as the Kubernetes streaming protocols use it (remotecommand and
portforward over ``Upgrade: SPDY/3.1``), and an asyncio connection over a byte stream.

Wire format (draft-mbelshe-httpbis-spdy-00, version 3):

- control frame: ``1 | version(15)=3 | type(16) | flags(8) | length(24) | payload``;
- data frame: ``0 | stream-id(31) | flags(8) | length(24) | data``; flag 0x01 is FIN
  (the sender's half of the stream is closed);
- header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are ``count(32)`` then per pair
  ``len(32) name len(32) value``, zlib-compressed with one compression context per
  direction for the whole connection, seeded with SPDY/3's fixed dictionary and
  sync-flushed after every block. Names are lowercase; several values of one name are
  joined with NUL.

``FrameEncoder`` / ``FrameDecoder`` are pure (no I/O) and keep only the zlib contexts and
the unparsed input; ``spdysession`` runs them over a byte stream.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DICTIONARY",
    "Data",
    "Frame",
    "FrameDecoder",
    "FrameEncoder",
    "GoAway",
    "Headers",
    "HeadersFrame",
    "Ping",
    "ProtocolError",
    "RstStatus",
    "RstStream",
    "Settings",
    "SynReply",
    "SynStream",
    "UnknownControl",
    "WindowUpdate",
]

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_FRAME_LENGTH = 0xFFFFFF
# SPDY/3's header-compression dictionary (spec §2.6.10.1): length-prefixed words, then a
# raw tail.
_DICT_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding "
    "accept-language accept-ranges age allow authorization cache-control connection "
    "content-base content-encoding content-language content-length content-location "
    "content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status"
)
_DICT_MORE_WORDS = "version HTTP/1.1 url public set-cookie keep-alive origin"
_DICT_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
    "charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(
    struct.pack(">I", len(w)) + w.encode("ascii")
    for w in [*_DICT_WORDS.split(), "200 OK", *_DICT_MORE_WORDS.split()]
) + _DICT_TAIL.encode("ascii")


class ControlType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    FRAME_TOO_LARGE = 11


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3 (the connection cannot go on)."""


Headers = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True, slots=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True, slots=True)
class SynReply:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True, slots=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True, slots=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)
    clear: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    id: int


@dataclass(frozen=True, slots=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True, slots=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True, slots=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True, slots=True)
class UnknownControl:
    type: int
    flags: int
    payload: bytes


Frame = (
    Data
    | SynStream
    | SynReply
    | RstStream
    | Settings
    | Ping
    | GoAway
    | HeadersFrame
    | WindowUpdate
    | UnknownControl
)


def _encode_block(headers: Headers) -> bytes:
    parts = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode("utf-8"), value.encode("utf-8")
        parts += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(parts)


def _decode_block(raw: bytes) -> dict[str, str]:
    try:
        (count,) = struct.unpack_from(">I", raw, 0)
        pos, out = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4 : pos + 4 + n]
            pos += 4 + n
            (m,) = struct.unpack_from(">I", raw, pos)
            value = raw[pos + 4 : pos + 4 + m]
            pos += 4 + m
            if len(name) != n or len(value) != m or not name:
                raise ProtocolError("truncated header block")
            key = name.decode("utf-8")
            if key.lower() != key:
                raise ProtocolError(f"header name {key!r} is not lowercase")
            out[key] = value.decode("utf-8")
    except struct.error:
        raise ProtocolError("truncated header block")
    return out


class FrameEncoder:
    """Frames to bytes. One instance per connection direction: it owns the header
    compression context, so frames must be written in the order they are encoded."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, zdict=DICTIONARY)

    def _block(self, headers: Headers) -> bytes:
        return self._z.compress(_encode_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(ctype: int, flags: int, payload: bytes) -> bytes:
        if len(payload) > MAX_FRAME_LENGTH:
            raise ValueError("control frame too large")
        return struct.pack(">HHI", 0x8000 | VERSION, ctype, (flags << 24) | len(payload)) + payload

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case Data(stream_id=sid, data=data, fin=fin):
                if len(data) > MAX_FRAME_LENGTH:
                    raise ValueError("data frame too large")
                flags = FLAG_FIN if fin else 0
                return struct.pack(">II", sid & 0x7FFFFFFF, (flags << 24) | len(data)) + data
            case SynStream():
                flags = (FLAG_FIN if frame.fin else 0) | (
                    FLAG_UNIDIRECTIONAL if frame.unidirectional else 0
                )
                head = struct.pack(
                    ">IIBB",
                    frame.stream_id & 0x7FFFFFFF,
                    frame.associated_id & 0x7FFFFFFF,
                    (frame.priority & 0x7) << 5,
                    0,
                )
                return self._control(
                    ControlType.SYN_STREAM, flags, head + self._block(frame.headers)
                )
            case SynReply(stream_id=sid, headers=headers, fin=fin):
                payload = struct.pack(">I", sid & 0x7FFFFFFF) + self._block(headers)
                return self._control(ControlType.SYN_REPLY, FLAG_FIN if fin else 0, payload)
            case HeadersFrame(stream_id=sid, headers=headers, fin=fin):
                payload = struct.pack(">I", sid & 0x7FFFFFFF) + self._block(headers)
                return self._control(ControlType.HEADERS, FLAG_FIN if fin else 0, payload)
            case RstStream(stream_id=sid, status=status):
                payload = struct.pack(">II", sid & 0x7FFFFFFF, status)
                return self._control(ControlType.RST_STREAM, 0, payload)
            case Settings(entries=entries, clear=clear):
                payload = struct.pack(">I", len(entries)) + b"".join(
                    struct.pack(">II", (f << 24) | (i & 0xFFFFFF), v) for f, i, v in entries
                )
                return self._control(ControlType.SETTINGS, 1 if clear else 0, payload)
            case Ping(id=pid):
                return self._control(ControlType.PING, 0, struct.pack(">I", pid))
            case GoAway(last_good_stream_id=last, status=status):
                payload = struct.pack(">II", last & 0x7FFFFFFF, status)
                return self._control(ControlType.GOAWAY, 0, payload)
            case WindowUpdate(stream_id=sid, delta=delta):
                payload = struct.pack(">II", sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
                return self._control(ControlType.WINDOW_UPDATE, 0, payload)
            case UnknownControl(type=ctype, flags=flags, payload=payload):
                return self._control(ctype, flags, payload)
        raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameDecoder:
    """Bytes to frames, fed in pieces split anywhere. One instance per direction (it owns
    the header decompression context)."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)
        self._buf = bytearray()

    def _block(self, compressed: bytes) -> dict[str, str]:
        try:
            raw = self._z.decompress(compressed)
        except zlib.error as exc:
            raise ProtocolError(f"header block: {exc}")
        return _decode_block(raw)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word0, word1 = struct.unpack_from(">II", self._buf, 0)
            length = word1 & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            flags = word1 >> 24
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            if word0 & 0x80000000:
                version, ctype = (word0 >> 16) & 0x7FFF, word0 & 0xFFFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(self._control(ctype, flags, payload))
            else:
                frames.append(Data(word0 & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, ctype: int, flags: int, p: bytes) -> Frame:
        fin = bool(flags & FLAG_FIN)
        try:
            match ctype:
                case ControlType.SYN_STREAM:
                    sid, assoc, prio = struct.unpack_from(">IIB", p, 0)
                    return SynStream(
                        sid & 0x7FFFFFFF,
                        self._block(p[10:]),
                        assoc & 0x7FFFFFFF,
                        prio >> 5,
                        fin,
                        bool(flags & FLAG_UNIDIRECTIONAL),
                    )
                case ControlType.SYN_REPLY:
                    (sid,) = struct.unpack_from(">I", p, 0)
                    return SynReply(sid & 0x7FFFFFFF, self._block(p[4:]), fin)
                case ControlType.HEADERS:
                    (sid,) = struct.unpack_from(">I", p, 0)
                    return HeadersFrame(sid & 0x7FFFFFFF, self._block(p[4:]), fin)
                case ControlType.RST_STREAM:
                    sid, status = struct.unpack_from(">II", p, 0)
                    return RstStream(sid & 0x7FFFFFFF, status)
                case ControlType.SETTINGS:
                    (count,) = struct.unpack_from(">I", p, 0)
                    entries = []
                    for k in range(count):
                        fid, value = struct.unpack_from(">II", p, 4 + 8 * k)
                        entries.append((fid >> 24, fid & 0xFFFFFF, value))
                    return Settings(tuple(entries), bool(flags & 1))
                case ControlType.PING:
                    return Ping(struct.unpack_from(">I", p, 0)[0])
                case ControlType.GOAWAY:
                    last, *rest = struct.unpack_from(">II" if len(p) >= 8 else ">I", p, 0)
                    return GoAway(last & 0x7FFFFFFF, rest[0] if rest else 0)
                case ControlType.WINDOW_UPDATE:
                    sid, delta = struct.unpack_from(">II", p, 0)
                    return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        except struct.error:
            raise ProtocolError(f"truncated control frame of type {ctype}")
        return UnknownControl(ctype, flags, p)
