"""Reading a watch: the ``?watch=1`` response as an async iterator of ``WatchEvent``.

The apiserver streams one JSON object per line, ``{"type": …, "object": …}``, over a
chunked response; chunk boundaries fall anywhere, so lines are reassembled here.

Contract:
- ADDED, MODIFIED and DELETED events are yielded with the object as decoded.
- BOOKMARK events are yielded too: their object carries only ``metadata.resourceVersion``
  (a watcher uses it to advance its resume point, nothing else).
- An ERROR event is raised as the ``errors.ApiError`` its Status describes (410 →
  ``errors.Gone``); the stream is closed first.
- The iterator ends when the server ends the response cleanly (its ``timeoutSeconds``);
  a broken connection, a read timeout or a stream cut inside an event raises
  ``errors.TransportError``. Cancellation closes the connection.
- ``Watch`` opens its connection lazily (first ``__anext__``) or in ``start()`` /
  ``async with``; ``aclose()`` releases it and is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from types import TracebackType
from typing import Any, NamedTuple, Self

import aiohttp
import orjson

from pyk8s.client import errors

__all__ = ["EventType", "Watch", "WatchEvent"]

Obj = dict[str, Any]


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"


class WatchEvent(NamedTuple):
    type: str
    object: Obj


class Watch:
    """One watch connection (see the module docstring)."""

    def __init__(
        self, open_stream: Callable[[], Awaitable[aiohttp.ClientResponse]], *, description: str
    ) -> None:
        self._open_stream = open_stream
        self._description = description
        self._resp: aiohttp.ClientResponse | None = None
        self._buf = bytearray()
        self._closed = False

    def __str__(self) -> str:
        return f"watch {self._description}"

    async def start(self) -> None:
        """Open the stream now (``__anext__`` does it on first use otherwise)."""
        if self._resp is None and not self._closed:
            self._resp = await self._open_stream()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._closed:
            raise StopAsyncIteration
        await self.start()
        assert self._resp is not None
        while True:
            line = self._next_line()
            if line is not None:
                return await self._event(line)
            try:
                chunk = await self._resp.content.readany()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                await self.aclose()
                raise errors.TransportError(f"{self}: {exc!r}") from exc
            except asyncio.CancelledError:
                await self.aclose()
                raise
            if not chunk:
                partial = bytes(self._buf).strip()
                await self.aclose()
                if partial:
                    raise errors.TransportError(f"{self}: stream ended mid-event")
                raise StopAsyncIteration
            self._buf += chunk

    def _next_line(self) -> bytes | None:
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return None
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if line.strip():
                return line

    async def _event(self, line: bytes) -> WatchEvent:
        try:
            decoded = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            await self.aclose()
            raise errors.TransportError(f"{self}: undecodable event: {exc}") from exc
        etype = str(decoded.get("type") or "") if isinstance(decoded, dict) else ""
        obj = decoded.get("object") if isinstance(decoded, dict) else None
        if etype == EventType.ERROR:
            await self.aclose()
            code = obj.get("code") if isinstance(obj, dict) else None
            raise errors.from_status(code if isinstance(code, int) else 500, obj)
        if not isinstance(obj, dict):
            await self.aclose()
            raise errors.TransportError(f"{self}: event without an object")
        return WatchEvent(etype, obj)
