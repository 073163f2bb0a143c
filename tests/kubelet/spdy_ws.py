"""A SPDY client tunnelled through a WebSocket (``SPDY/3.1+portforward.k8s.io``), as
kubectl 1.33's port-forward does: the SPDY bytes travel in binary messages, and this
helper cuts them into pieces of ``piece`` bytes to exercise arbitrary splits."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp

from pyk8s.kubelet import spdysession

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


@contextlib.asynccontextmanager
async def spdy_over_websocket(
    url: str, ssl_context: ssl.SSLContext, *, piece: int = 3
) -> AsyncIterator[spdysession.SpdyConnection]:
    a, b = socket.socketpair()
    ra, wa = await asyncio.open_connection(sock=a)
    rb, wb = await asyncio.open_connection(sock=b)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, protocols=[TUNNEL_PROTOCOL], ssl=ssl_context) as ws,
        ):
            assert ws.protocol == TUNNEL_PROTOCOL

            async def up() -> None:
                while data := await rb.read(65536):
                    for i in range(0, len(data), piece):
                        await ws.send_bytes(data[i : i + piece])

            async def down() -> None:
                async for msg in ws:
                    assert msg.type == aiohttp.WSMsgType.BINARY
                    wb.write(msg.data)

            tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
            conn = spdysession.SpdyConnection(ra, wa, client=True)
            conn.start()
            try:
                yield conn
            finally:
                await conn.close()
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        wa.close()
        wb.close()
