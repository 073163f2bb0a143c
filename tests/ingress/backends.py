"""Stand-in pods for the ingress tests: small aiohttp servers on 127.0.0.1 that answer
every request with who they are and what they received (JSON)."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

NAME = web.AppKey("name", str)


def listen_port() -> int:
    """A free port below the ephemeral range (32768+ here) for nginx to listen on.

    A port from ``bind(0)`` is an ephemeral one: by the time nginx binds it, some
    client connection of this busy machine may use it as its local port, and nginx
    fails with "Address already in use" (seen). Ports below that range are only ever
    taken by listeners."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


@dataclass
class Backend:
    name: str
    port: int
    runner: web.AppRunner


async def _answer(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "name": request.app[NAME],
            "method": request.method,
            "body_length": len(body),
            "path": request.path_qs,
            "host": request.headers.get("Host", ""),
            "headers": dict(request.headers),
        }
    )


async def start_backend(name: str) -> Backend:
    app = web.Application()
    app[NAME] = name
    app.router.add_route("*", "/{tail:.*}", _answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    return Backend(name, int(server.sockets[0].getsockname()[1]), runner)


@asynccontextmanager
async def backends(*names: str) -> AsyncIterator[dict[str, Backend]]:
    started = [await start_backend(n) for n in names]
    try:
        yield {b.name: b for b in started}
    finally:
        for b in started:
            await b.runner.cleanup()


async def get(
    session: aiohttp.ClientSession, port: int, host: str, path: str, *, scheme: str = "http"
) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body or text, headers) of a request to nginx on 127.0.0.1:port."""
    async with session.get(
        f"{scheme}://127.0.0.1:{port}{path}",
        headers={"Host": host},
        allow_redirects=False,
        ssl=False,
    ) as resp:
        text = await resp.text()
        try:
            body: Any = await resp.json(content_type=None)
        except ValueError:
            body = text
        return resp.status, body, dict(resp.headers)


async def tls_peer(port: int, server_name: str, cafile_pem: bytes | None = None) -> tuple[str, str]:
    """(subject CN of the certificate nginx presents for SNI ``server_name``, body of a
    GET / over that connection). With ``cafile_pem`` the certificate must verify for
    ``server_name``."""
    if cafile_pem is not None:
        ctx = ssl.create_default_context(cadata=cafile_pem.decode())
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=server_name
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        writer.write(f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ssl.SSLError, ConnectionError):
            pass
    return str(cn[0].value), data.decode(errors="replace")
