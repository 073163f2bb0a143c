"""exec/attach: kubectl's WebSocket channel protocols translated to the SPDY remotecommand
protocol the container runtime's streaming server speaks (upstream's apiserver performs
the same translation in its StreamTranslatorHandler).

WebSocket side (the client): every binary message starts with a channel byte — 0 stdin,
1 stdout, 2 stderr, 3 error/status, 4 resize. ``v5.channel.k8s.io`` adds message
``0xff <channel>`` = "the client closed that channel" (stdin EOF). The ``base64``
variants send text messages whose first character is the channel digit and whose rest
is base64. On channels 3, ``v4``/``v5`` carry a JSON ``Status`` (exit codes as a
``NonZeroExitCode`` failure); the older protocols carry the error text only.

SPDY side (the runtime, always ``v4.channel.k8s.io``): one stream per channel, created in
the order error, stdin, stdout, stderr (not with a TTY), resize (only with a TTY), each
named by its ``streamtype`` header; stdin EOF is the stdin stream's FIN; the runtime
writes the Status to the error stream, then resets the streams and closes the
connection.

The session ends when the runtime ends it (then the Status goes to channel 3 and the
WebSocket is closed normally, which kubectl reads as the end of every channel) or when
the client goes away (then the runtime connection is closed).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from pyk8s.api import errors
from pyk8s.kubelet.spdysession import SpdyConnection, SpdyStream

__all__ = [
    "SPDY_PROTOCOL",
    "WEBSOCKET_PROTOCOLS",
    "ExecOptions",
    "RemoteStreams",
    "bridge",
    "decode_ws_message",
    "encode_ws_message",
    "open_remote_streams",
    "parse_exec_options",
    "status_for_channel",
]

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
# Preference does not matter: the client's order picks among these.
WEBSOCKET_PROTOCOLS = (V5, V4, V4_BASE64, V1, V1_BASE64)
SPDY_PROTOCOL = V4

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}


@dataclass(frozen=True, slots=True)
class ExecOptions:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def parse_exec_options(query: Mapping[str, str], commands: list[str]) -> ExecOptions:
    """The streams asked for (``stdin=true`` as kubectl sends it, or upstream
    apiserver's ``stdin=1``); with a TTY there is no separate stderr."""
    stdin, stdout, stderr, tty = (
        query.get(k, "") in _TRUE for k in ("stdin", "stdout", "stderr", "tty")
    )
    if tty and stderr:
        stderr = False
    if not (stdin or stdout or stderr):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return ExecOptions(tuple(commands), stdin, stdout, stderr, tty)


def _is_base64(protocol: str) -> bool:
    return protocol in (V4_BASE64, V1_BASE64)


def encode_ws_message(protocol: str, channel: int, data: bytes) -> bytes | str:
    if _is_base64(protocol):
        return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
    return bytes([channel]) + data


def decode_ws_message(protocol: str, message: bytes | str) -> tuple[int, bytes] | None:
    """(channel, data); channel CLOSE with data = the closed channel. None for messages
    that carry nothing (empty, or a text message in a binary protocol)."""
    if isinstance(message, str):
        if not _is_base64(protocol) or not message:
            return None
        try:
            return ord(message[0]) - ord("0"), base64.b64decode(message[1:], validate=True)
        except ValueError:
            return None
    if not message:
        return None
    if message[0] == CLOSE and protocol == V5:
        return (CLOSE, message[1:2]) if len(message) == 2 else None
    return message[0], message[1:]


def status_for_channel(protocol: str, raw: bytes) -> bytes | None:
    """What goes on channel 3 once the runtime's error stream ended with ``raw`` (the
    runtime speaks v4: a JSON Status, or nothing for success)."""
    status: dict[str, Any] = {"metadata": {}, "status": "Success"}
    verbatim = False
    if raw.strip():
        try:
            status, verbatim = orjson.loads(raw), True
        except orjson.JSONDecodeError:
            status = errors.internal_error(raw.decode("utf-8", "replace")).status()
    if protocol in (V5, V4, V4_BASE64):
        return raw if verbatim else orjson.dumps(status)
    if status.get("status") == "Success":
        return None
    return str(status.get("message") or "error executing remote command").encode()


@dataclass(slots=True)
class RemoteStreams:
    error: SpdyStream
    stdin: SpdyStream | None = None
    stdout: SpdyStream | None = None
    stderr: SpdyStream | None = None
    resize: SpdyStream | None = None


async def open_remote_streams(conn: SpdyConnection, opts: ExecOptions) -> RemoteStreams:
    """Create the streams one at a time, each after the runtime replied to the previous."""

    async def open_(kind: str) -> SpdyStream:
        return await conn.open_stream({"streamtype": kind})

    streams = RemoteStreams(error=await open_("error"))
    if opts.stdin:
        streams.stdin = await open_("stdin")
    if opts.stdout:
        streams.stdout = await open_("stdout")
    if opts.stderr and not opts.tty:
        streams.stderr = await open_("stderr")
    if opts.tty:
        streams.resize = await open_("resize")
    return streams


async def _client_to_runtime(
    ws: web.WebSocketResponse, protocol: str, streams: RemoteStreams
) -> None:
    async for msg in ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        decoded = decode_ws_message(protocol, msg.data)
        if decoded is None:
            continue
        channel, data = decoded
        target = {STDIN: streams.stdin, RESIZE: streams.resize}.get(channel)
        if channel == CLOSE:
            closing = {STDIN: streams.stdin, RESIZE: streams.resize}.get(data[0])
            if closing is not None:
                with contextlib.suppress(ConnectionError):
                    closing.close()
        elif target is not None and data and not target.local_closed:
            with contextlib.suppress(ConnectionError):
                await target.write(data)


async def _runtime_to_client(
    ws: web.WebSocketResponse, protocol: str, channel: int, stream: SpdyStream
) -> None:
    while data := await stream.read():
        await ws.send_frame(*_frame(protocol, channel, data))


def _frame(protocol: str, channel: int, data: bytes) -> tuple[bytes, WSMsgType]:
    out = encode_ws_message(protocol, channel, data)
    if isinstance(out, str):
        return out.encode("ascii"), WSMsgType.TEXT
    return out, WSMsgType.BINARY


async def bridge(
    ws: web.WebSocketResponse, protocol: str, conn: SpdyConnection, streams: RemoteStreams
) -> None:
    """Relay one session (``ws`` prepared, ``streams`` open) until it ends; always
    closes both the WebSocket and the runtime connection."""
    outputs = [
        asyncio.ensure_future(_runtime_to_client(ws, protocol, ch, s))
        for ch, s in ((STDOUT, streams.stdout), (STDERR, streams.stderr))
        if s is not None
    ]
    error = asyncio.ensure_future(streams.error.read_all())
    inputs = asyncio.ensure_future(_client_to_runtime(ws, protocol, streams))
    try:
        await asyncio.wait([error, inputs], return_when=asyncio.FIRST_COMPLETED)
        if error.done() and not error.cancelled():
            # the runtime wrote its status; output written before it is queued already,
            # and the runtime resets the output streams right after
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*outputs, return_exceptions=True), 30)
            raw = error.result()
            if not raw.strip() and conn.error is not None:
                raw = orjson.dumps(
                    errors.internal_error(f"error executing command: {conn.error}").status()
                )
            status = status_for_channel(protocol, raw)
            if status is not None and not ws.closed:
                with contextlib.suppress(ConnectionError):
                    await ws.send_frame(*_frame(protocol, ERROR, status))
    finally:
        # synchronous cleanup first: a second cancellation may interrupt the awaits
        conn.abort()
        for task in [*outputs, error, inputs]:
            task.cancel()
        await asyncio.gather(*outputs, error, inputs, return_exceptions=True)
        await conn.close()
        if not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.close()
