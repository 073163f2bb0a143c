"""HTTP/1.1 connection upgrades, both ways, for the kubelet's streaming endpoints.

- ``dial_upgrade``: the client side. Sends one upgrade request (``Connection: Upgrade``)
  to a runtime streaming URL (containerd's ``http://127.0.0.1:<port>/exec/<token>``) and
  reads the answer's head. On 101 the returned (reader, writer) carry the upgraded
  protocol; on any other status the body (up to 64 KiB) is returned for the caller to
  relay.
- ``splice``: the server side. Answers an aiohttp request with 101 and the given
  headers, takes the connection over (aiohttp hands every later byte from the client to
  the parser slot we install) and copies bytes both ways until either side ends.

Only loopback streaming URLs are dialled: the runtime's streaming server listens there,
and the kubelet must never send traffic off the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["UpgradeError", "Upgraded", "dial_upgrade", "splice"]

_HEAD_LIMIT = 64 * 1024


class UpgradeError(Exception):
    """The runtime's streaming server could not be reached or spoke no HTTP."""


@dataclass(slots=True)
class Upgraded:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise UpgradeError(f"streaming URL host {host} is not a loopback address")


def request_head(method: str, target: str, host: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_response_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    status_line, *rest = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise UpgradeError(f"not an HTTP response: {status_line[:80]!r}")
    headers = []
    for line in rest:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def dial_upgrade(
    url: str,
    headers: Iterable[tuple[str, str]],
    *,
    method: str = "POST",
    timeout: float = 10.0,
) -> Upgraded:
    parts = urlsplit(url)
    host = parts.hostname or ""
    _check_loopback(host)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, limit=_HEAD_LIMIT), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise UpgradeError(f"dial {host}:{port}: {exc}")
    target = parts.path + ("?" + parts.query if parts.query else "")
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        writer.write(request_head(method, target, hostport, headers))
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            OSError,
        ) as exc:
            raise UpgradeError(f"no answer from the streaming server at {hostport}: {exc!r}")
        status, reason, resp_headers = parse_response_head(head)
        up = Upgraded(status, reason, resp_headers, reader, writer)
        if status != 101:
            with contextlib.suppress(Exception):
                length = int(up.header("Content-Length") or -1)
                body = reader.readexactly(length) if length >= 0 else reader.read(_HEAD_LIMIT)
                up.body = await asyncio.wait_for(body, timeout)
            writer.close()
        return up
    except BaseException:
        writer.close()
        raise


class _Pipe:
    """aiohttp's payload-parser slot: what the client sends after the upgrade goes to
    the upstream writer."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if not self.writer.is_closing():
            self.writer.write(data)
        return False, b""

    def feed_eof(self) -> None:
        # the client is gone (TLS has no half-close): end the upstream session too
        self.writer.close()


_SKIP_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "date", "server"}


async def splice(request: web.Request, upstream: Upgraded) -> web.StreamResponse:
    """Answer ``request`` with the upstream's 101 and relay bytes both ways."""
    resp = web.StreamResponse(status=101, reason=upstream.reason or "Switching Protocols")
    for k, v in upstream.headers:
        if k.lower() not in _SKIP_RESPONSE_HEADERS:
            resp.headers.add(k, v)
    await resp.prepare(request)
    assert request.protocol is not None
    request.protocol.set_parser(_Pipe(upstream.writer))  # type: ignore[arg-type]
    transport = request.transport
    try:
        while transport is not None and not transport.is_closing():
            data = await upstream.reader.read(65536)
            if not data:
                break
            transport.write(data)
    except (ConnectionError, OSError):
        pass
    finally:
        upstream.writer.close()
        if transport is not None and not transport.is_closing():
            transport.close()
    return resp
