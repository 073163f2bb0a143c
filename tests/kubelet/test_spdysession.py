"""SPDY/3.1 sessions over a socket pair (pyk8s.kubelet.spdysession)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from pyk8s.client.testing import wait_until
from pyk8s.kubelet import spdy, spdysession


@pytest.fixture
async def pair() -> AsyncIterator[tuple[spdysession.SpdyConnection, spdysession.SpdyConnection]]:
    a, b = socket.socketpair()
    ra, wa = await asyncio.open_connection(sock=a)
    rb, wb = await asyncio.open_connection(sock=b)
    client = spdysession.SpdyConnection(ra, wa, client=True)
    server = spdysession.SpdyConnection(rb, wb, client=False)
    client.start()
    server.start()
    try:
        yield client, server
    finally:
        await client.close()
        await server.close()


async def test_streams_carry_data_both_ways_with_half_close(
    pair: tuple[spdysession.SpdyConnection, spdysession.SpdyConnection],
) -> None:
    client, server = pair

    async def serve() -> None:
        stream = await server.accept()
        assert stream is not None and stream.headers == {"streamtype": "stdin"}
        stream.reply()
        data = await stream.read_all()  # until the client's FIN
        await stream.write(data.upper())
        stream.close()

    task = asyncio.ensure_future(serve())
    stream = await client.open_stream({"streamtype": "stdin"})
    assert stream.id == 1 and stream.reply_headers == {}
    await stream.write(b"abc")
    await stream.write(b"def" * 20000)  # more than one data frame
    stream.close()
    assert await stream.read_all() == b"ABC" + b"DEF" * 20000
    await task


async def test_reset_ends_reads_and_pings_are_echoed(
    pair: tuple[spdysession.SpdyConnection, spdysession.SpdyConnection],
) -> None:
    client, server = pair
    task = asyncio.ensure_future(server.accept())
    stream = await client.open_stream({"k": "v"}, wait_reply=False)
    remote = await task
    assert remote is not None
    remote.reset()
    assert await stream.read() == b""
    assert stream.reset_status == spdy.RstStatus.CANCEL
    with pytest.raises(spdy.ProtocolError):
        await stream.wait_reply()

    seen: list[spdy.Frame] = []
    original = client._handle

    def spy(frame: spdy.Frame) -> None:
        seen.append(frame)
        original(frame)

    client._handle = spy  # type: ignore[method-assign]
    client.send(spdy.Ping(1))
    await wait_until(lambda: spdy.Ping(1) in seen, timeout=5)


async def test_connection_end_ends_every_stream(
    pair: tuple[spdysession.SpdyConnection, spdysession.SpdyConnection],
) -> None:
    client, server = pair
    task = asyncio.ensure_future(server.accept())
    stream = await client.open_stream({"k": "v"}, wait_reply=False)
    assert await task is not None
    await server.close()
    assert await stream.read() == b""
    await client.closed.wait()
    assert await server.accept() is None
