"""A small stand-in for a container runtime's SPDY streaming server (containerd's), for
tests of the kubelet's streaming translation without containers.

It answers ``POST /exec/<token>`` and ``/portforward/<token>`` upgrades to SPDY/3.1 the
way the CRI streaming server does: protocol negotiation through
``X-Stream-Protocol-Version`` (v4.channel.k8s.io … channel.k8s.io, portforward.k8s.io),
one stream per ``streamtype``, a Status JSON on the error stream, then every stream reset
and the connection closed.

exec runs a tiny script instead of a process — the "command" is a list of steps:
``echo TEXT`` (stdout), ``err TEXT`` (stderr), ``cat`` (stdin to stdout until EOF),
``resize`` (the first resize message to stdout), ``exit N`` (the exit code).
port-forward echoes every data stream upper-cased and reports the port it saw.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from pyk8s.kubelet import spdysession

EXEC_PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]


def token_for(steps: list[str], opts: dict[str, bool]) -> str:
    raw = json.dumps({"steps": steps, "opts": opts}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return result


@dataclass
class Session:
    path: str
    protocol: str
    headers: dict[str, list[str]]
    streams: dict[str, spdysession.SpdyStream] = field(default_factory=dict)
    stdin_eof: bool = False
    forwarded: list[tuple[str, bytes]] = field(default_factory=list)


class FakeStreamingServer:
    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, kind: str, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{token}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
            pass  # closed by the test's teardown, or the client went away
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.rstrip("\r\n").split("\r\n")
        _method, path, _ = request_line.split(" ", 2)
        headers: dict[str, list[str]] = {}
        for line in lines:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).extend(
                p.strip() for p in v.split(",") if p.strip()
            )
        kind = path.split("/")[1]
        supported = ["portforward.k8s.io"] if kind == "portforward" else EXEC_PROTOCOLS
        offered = headers.get("x-stream-protocol-version", [])
        protocol = next((p for p in offered if p in supported), None)
        if protocol is None or headers.get("upgrade", [""])[0].lower() != "spdy/3.1":
            body = b"unsupported protocol"
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            + f"X-Stream-Protocol-Version: {protocol}\r\n\r\n".encode()
        )
        await writer.drain()
        session = Session(path, protocol, headers)
        self.sessions.append(session)
        conn = spdysession.SpdyConnection(reader, writer, client=False)
        conn.start()
        try:
            if kind == "portforward":
                await self._port_forward(conn, session)
            else:
                await self._exec(conn, session, _decode_token(path.split("/")[2]))
        finally:
            await conn.close()

    async def _exec(
        self, conn: spdysession.SpdyConnection, session: Session, spec: dict[str, Any]
    ) -> None:
        opts = spec["opts"]
        expected = 1 + sum(
            [opts["stdin"], opts["stdout"], opts["stderr"] and not opts["tty"], opts["tty"]]
        )
        while len(session.streams) < expected:
            stream = await conn.accept()
            assert stream is not None, "connection ended before all streams were created"
            stream.reply()
            session.streams[stream.headers["streamtype"]] = stream
        code = 0
        for step in spec["steps"]:
            verb, _, arg = step.partition(" ")
            if verb == "echo":
                await session.streams["stdout"].write(arg.encode() + b"\n")
            elif verb == "err":
                await session.streams["stderr"].write(arg.encode() + b"\n")
            elif verb == "cat":
                data = await session.streams["stdin"].read_all()
                session.stdin_eof = True
                await session.streams["stdout"].write(data)
            elif verb == "resize":
                await session.streams["stdout"].write(await session.streams["resize"].read())
            elif verb == "exit":
                code = int(arg)
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        if code:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: exit status {code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
            }
        if session.protocol == "v4.channel.k8s.io":
            await session.streams["error"].write(json.dumps(status).encode())
        elif code:
            await session.streams["error"].write(status["message"].encode())
        for stream in session.streams.values():
            stream.reset()
        await conn.drain()

    async def _port_forward(self, conn: spdysession.SpdyConnection, session: Session) -> None:
        async def echo(stream: spdysession.SpdyStream) -> None:
            while data := await stream.read():
                session.forwarded.append((stream.headers.get("port", ""), data))
                with contextlib.suppress(ConnectionError):
                    await stream.write(
                        f"port {stream.headers.get('port')}: ".encode() + data.upper()
                    )
            with contextlib.suppress(ConnectionError):
                stream.close()

        tasks = []
        try:
            while (stream := await conn.accept()) is not None:
                stream.reply()
                session.streams[f"{stream.headers.get('streamtype')}-{stream.id}"] = stream
                if stream.headers.get("streamtype") == "data":
                    tasks.append(asyncio.ensure_future(echo(stream)))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
