"""port-forward: kubectl's SPDY-over-WebSocket tunnel to the runtime's SPDY server.

kubectl 1.33 opens ``GET /portForward/<ns>/<pod>`` as a WebSocket with subprotocol
``SPDY/3.1+portforward.k8s.io`` and then speaks plain SPDY/3.1 (protocol
``portforward.k8s.io``) inside binary messages split at arbitrary points. The runtime's
streaming server speaks that SPDY protocol after a normal ``Upgrade: SPDY/3.1``, so the
translation is only a change of carrier: payloads of binary messages become the raw
byte stream to the runtime, and bytes from the runtime become binary messages. The SPDY
session itself (its error/data stream pairs per ``requestid``, pings) passes untouched
between kubectl and the runtime.

Plain WebSocket port-forward (``?ports=…``, one data and one error channel per port) is
what the runtime itself serves; the kubelet relays that upgrade unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiohttp import WSMsgType, web

from pyk8s.api import errors
from pyk8s.kubelet.upgrade import Upgraded

__all__ = ["PORTFORWARD_PROTOCOL", "TUNNEL_PROTOCOL", "parse_ports", "tunnel"]

PORTFORWARD_PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+" + PORTFORWARD_PROTOCOL


def parse_ports(values: Iterable[str]) -> list[int]:
    """``ports=80,8080`` (or the parameter repeated) as upstream's kubelet reads it."""
    ports = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                port = int(item)
            except ValueError:
                raise errors.bad_request(f'unable to parse "{item}" as a port')
            if not 0 < port < 65536:
                raise errors.bad_request(f"port {port} must be > 0 and < 65536")
            ports.append(port)
    return ports


async def _client_to_runtime(ws: web.WebSocketResponse, upstream: Upgraded) -> None:
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            upstream.writer.write(msg.data)
            await upstream.writer.drain()
        elif msg.type == WSMsgType.TEXT:
            return  # not part of the tunnel protocol: end the session


async def _runtime_to_client(ws: web.WebSocketResponse, upstream: Upgraded) -> None:
    while data := await upstream.reader.read(65536):
        await ws.send_bytes(data)


async def tunnel(ws: web.WebSocketResponse, upstream: Upgraded) -> None:
    """Relay between a prepared WebSocket and an upgraded runtime connection until
    either ends; closes both."""
    tasks = [
        asyncio.ensure_future(_client_to_runtime(ws, upstream)),
        asyncio.ensure_future(_runtime_to_client(ws, upstream)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # synchronous cleanup first: a second cancellation may interrupt the awaits
        upstream.writer.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.close()
