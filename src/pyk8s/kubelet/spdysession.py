"""A SPDY/3.1 session over an established byte stream (after ``Upgrade: SPDY/3.1``), on
top of the pure framing in ``spdy``.

Stream ids are odd for the client and even for the server; pings from the peer are
echoed; flow control is not enforced in either direction (the Go implementation
Kubernetes and containerd use, spdystream, does not enforce it either: WINDOW_UPDATE and
SETTINGS are decoded and ignored). A stream is half-closed by a FIN (``close()``), ends
for both sides with RST_STREAM (``reset()``), and every stream ends when the byte stream
does. Reads are buffered without limit: the peers here (kubectl, the runtime) are trusted
and the kubelet relays as fast as it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from pyk8s.kubelet.spdy import (
    Data,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    Headers,
    HeadersFrame,
    Ping,
    ProtocolError,
    RstStatus,
    RstStream,
    SynReply,
    SynStream,
)

__all__ = ["SpdyConnection", "SpdyStream"]

# Data frames we write are cut to this size (peers read any size up to the 24-bit limit).
_WRITE_CHUNK = 32 * 1024


@dataclass(eq=False)
class SpdyStream:
    """One stream of a ``SpdyConnection``. ``read()`` returns b"" once the peer's half
    is closed (FIN), the stream was reset, or the connection ended."""

    conn: SpdyConnection
    id: int
    headers: Headers
    reply_headers: Headers | None = None
    reset_status: int | None = None
    local_closed: bool = False
    remote_closed: bool = False
    _chunks: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    _replied: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> bytes:
        if self.remote_closed and self._chunks.empty():
            return b""
        chunk = await self._chunks.get()
        if not chunk:
            self._chunks.put_nowait(b"")  # keep answering EOF
        return chunk

    async def read_all(self) -> bytes:
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)

    async def wait_reply(self) -> Headers:
        """The headers of the peer's SYN_REPLY (ProtocolError if reset before)."""
        await self._replied.wait()
        if self.reply_headers is None:
            raise ProtocolError(f"stream {self.id} was reset before its reply")
        return self.reply_headers

    async def write(self, data: bytes) -> None:
        if self.local_closed:
            raise ConnectionResetError(f"stream {self.id} is closed for writing")
        for i in range(0, len(data), _WRITE_CHUNK):
            self.conn.send(Data(self.id, data[i : i + _WRITE_CHUNK]))
        await self.conn.drain()

    def reply(self, headers: Headers | None = None, *, fin: bool = False) -> None:
        self.conn.send(SynReply(self.id, headers or {}, fin))
        self.local_closed = self.local_closed or fin

    def close(self) -> None:
        """Half-close: the peer reads EOF; this side may still read."""
        if not self.local_closed:
            self.local_closed = True
            self.conn.send(Data(self.id, b"", fin=True))

    def reset(self, status: int = RstStatus.CANCEL) -> None:
        if self.reset_status is None:
            self.conn.send(RstStream(self.id, status))
            self._ended(status)

    def _feed(self, data: bytes, fin: bool) -> None:
        if self.remote_closed:
            return
        if data:
            self._chunks.put_nowait(data)
        if fin:
            self.remote_closed = True
            self._chunks.put_nowait(b"")

    def _ended(self, status: int | None) -> None:
        self.reset_status = status
        self.local_closed = True
        self._replied.set()
        if not self.remote_closed:
            self.remote_closed = True
            self._chunks.put_nowait(b"")


class SpdyConnection:
    """A SPDY/3.1 session over an established byte stream (after the HTTP upgrade).

    ``start()`` begins reading; streams opened by the peer are handed out by
    ``accept()`` (they must be answered with ``stream.reply()``); ``open_stream()``
    sends a SYN_STREAM. ``closed`` is set once the byte stream ended or failed."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        client: bool,
        initial: bytes = b"",
    ) -> None:
        self._reader, self._writer = reader, writer
        self._encoder, self._decoder = FrameEncoder(), FrameDecoder()
        self._next_id = 1 if client else 2
        self._client = client
        self._initial = initial
        self.streams: dict[int, SpdyStream] = {}
        self._incoming: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.goaway: GoAway | None = None
        self.error: Exception | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read_loop())

    def send(self, frame: Frame) -> None:
        if self._writer.is_closing():
            raise ConnectionResetError("SPDY connection is closed")
        self._writer.write(self._encoder.encode(frame))

    async def drain(self) -> None:
        await self._writer.drain()

    async def open_stream(
        self,
        headers: Headers,
        *,
        fin: bool = False,
        wait_reply: bool = True,
        reply_timeout: float = 30.0,
    ) -> SpdyStream:
        """Send a SYN_STREAM; unless ``wait_reply`` is false, wait for the peer's
        SYN_REPLY (ProtocolError if it resets the stream or stays silent past
        ``reply_timeout``, as client-go's 30 s)."""
        sid = self._next_id
        self._next_id += 2
        stream = SpdyStream(self, sid, dict(headers), local_closed=fin)
        self.streams[sid] = stream
        self.send(SynStream(sid, headers, fin=fin))
        await self.drain()
        if wait_reply:
            try:
                await asyncio.wait_for(stream.wait_reply(), reply_timeout)
            except TimeoutError:
                raise ProtocolError(f"no reply to stream {sid} within {reply_timeout:g}s")
        return stream

    async def accept(self) -> SpdyStream | None:
        """The next stream the peer opened, or None once the connection ended."""
        stream = await self._incoming.get()
        if stream is None:
            self._incoming.put_nowait(None)
        return stream

    async def _read_loop(self) -> None:
        try:
            if self._initial:
                self._handle_all(self._decoder.feed(self._initial))
            while data := await self._reader.read(65536):
                self._handle_all(self._decoder.feed(data))
        except (ProtocolError, ConnectionError, OSError) as exc:
            self.error = exc
        finally:
            self._finish()

    def _handle_all(self, frames: list[Frame]) -> None:
        for frame in frames:
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        match frame:
            case Data(stream_id=sid, data=data, fin=fin):
                stream = self.streams.get(sid)
                if stream is not None:
                    stream._feed(data, fin)
            case SynStream(stream_id=sid):
                if self.goaway is not None or sid in self.streams:
                    self.send(RstStream(sid, RstStatus.REFUSED_STREAM))
                    return
                stream = SpdyStream(self, sid, frame.headers, local_closed=frame.unidirectional)
                self.streams[sid] = stream
                if frame.fin:
                    stream._feed(b"", True)
                self._incoming.put_nowait(stream)
            case SynReply(stream_id=sid, headers=headers, fin=fin):
                stream = self.streams.get(sid)
                if stream is not None:
                    stream.reply_headers = headers
                    stream._replied.set()
                    if fin:
                        stream._feed(b"", True)
            case HeadersFrame(stream_id=sid, fin=fin):
                stream = self.streams.get(sid)
                if stream is not None and fin:
                    stream._feed(b"", True)
            case RstStream(stream_id=sid, status=status):
                stream = self.streams.get(sid)
                if stream is not None:
                    stream._ended(status)
            case Ping(id=pid):
                # a ping whose id has the peer's parity is the peer's: echo it
                if (pid % 2 == 1) != self._client:
                    self.send(frame)
            case GoAway():
                self.goaway = frame
            case _:
                pass  # SETTINGS, WINDOW_UPDATE, unknown control frames

    def _finish(self) -> None:
        for stream in self.streams.values():
            if not stream.remote_closed:
                stream._feed(b"", True)
            stream._replied.set()
        self._incoming.put_nowait(None)
        self.closed.set()

    def abort(self) -> None:
        """Close the byte stream now, without GOAWAY (the read loop ends by itself)."""
        self._writer.close()

    async def close(self) -> None:
        """GOAWAY, then close the byte stream and wait for the read loop to end."""
        with contextlib.suppress(Exception):
            if not self._writer.is_closing():
                last = max((s for s in self.streams if (s % 2 == 1) != self._client), default=0)
                self.send(GoAway(last))
                await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        else:
            self._finish()
