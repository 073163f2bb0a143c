"""Forwarding names outside the cluster zone to upstream resolvers (CoreDNS's *forward*).

Contract:
- Upstreams are (ip, port) pairs: ``--upstream`` values, else the ``nameserver`` lines of
  the host's ``/etc/resolv.conf`` (``parse_resolv_conf``; the server's own listening
  address is left out so it never forwards to itself, ``is_self``). Tests and benchmarks always pass
  upstreams on loopback explicitly.
- ``Forwarder.forward(packet, tcp=...)`` sends the client's query unchanged except for a
  fresh random ID over the client's transport (UDP → UDP, TCP → TCP, as CoreDNS does by
  default), trying the upstreams in order with ``timeout`` seconds each, and returns the
  upstream's response bytes (ID restored by the caller) or None when none answered. A
  truncated UDP answer is passed through: the client retries over TCP. UDP responses are
  accepted only from the upstream the query went to, with the ID and question it was sent
  with.
- ``Forwarder.lookup(name, qtype)`` resolves a name for CNAME chasing: UDP, then TCP when
  truncated; returns (rcode, answer RRs as dnslib objects) or None.
- At most ``max_concurrent`` queries are in flight; beyond that ``forward`` answers None
  at once (SERVFAIL), like CoreDNS's ``max_concurrent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import dnslib  # type: ignore[import-untyped]

__all__ = [
    "Forwarder",
    "Upstream",
    "default_upstreams",
    "is_self",
    "parse_resolv_conf",
    "parse_upstream",
]

log = logging.getLogger(__name__)

Upstream = tuple[str, int]
MAX_TCP_MESSAGE = 65535


def parse_upstream(text: str) -> Upstream:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``::1``, ``[::1]:5353`` → (ip, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    ip = ipaddress.ip_address(host).compressed
    if not 0 < port < 65536:
        raise ValueError(f"bad port in {text!r}")
    return ip, port


def parse_resolv_conf(text: str) -> list[Upstream]:
    out: list[Upstream] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                ip = ipaddress.ip_address(fields[1].split("%", 1)[0]).compressed
            except ValueError:
                continue
            out.append((ip, 53))
    return out


def is_self(upstream: Upstream, bind: tuple[str, int]) -> bool:
    """Would forwarding to ``upstream`` reach this server, listening on ``bind``? (A
    wildcard bind holds the port on every address, loopback included.)"""
    host, port = bind
    if upstream[1] != port:
        return False
    if host in ("", "0.0.0.0", "::"):
        return ipaddress.ip_address(upstream[0]).is_loopback
    try:
        return ipaddress.ip_address(host).compressed == upstream[0]
    except ValueError:
        return False


def default_upstreams(
    path: Path = Path("/etc/resolv.conf"), *, bind: tuple[str, int] | None = None
) -> list[Upstream]:
    """The host's nameservers, without the server's own address (``bind``)."""
    try:
        found = parse_resolv_conf(path.read_text())
    except OSError:
        return []
    return [u for u in found if bind is None or not is_self(u, bind)]


def _same(addr: Sequence[object], upstream: Upstream) -> bool:
    try:
        return (ipaddress.ip_address(str(addr[0])).compressed, addr[1]) == upstream
    except ValueError:
        return False


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, owner: Forwarder) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's and asyncio's UDP transports do not all subclass DatagramTransport)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.owner._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("forwarder socket error: %s", exc)


class Forwarder:
    def __init__(
        self,
        upstreams: Sequence[Upstream],
        *,
        timeout: float = 2.0,
        max_concurrent: int = 1000,
    ) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self._sockets: dict[int, _Socket] = {}  # address family → socket
        self._inflight: dict[int, tuple[asyncio.Future[bytes], Upstream, bytes]] = {}
        self.requests = 0
        self.failures = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        families = {6 if ":" in ip else 4 for ip, _ in self.upstreams}
        for family in sorted(families):
            local = ("::", 0) if family == 6 else ("0.0.0.0", 0)
            _, proto = await loop.create_datagram_endpoint(lambda: _Socket(self), local_addr=local)
            self._sockets[family] = proto

    async def close(self) -> None:
        for proto in self._sockets.values():
            if proto.transport is not None:
                proto.transport.close()
        self._sockets.clear()
        for fut, _, _ in self._inflight.values():
            if not fut.done():
                fut.cancel()
        self._inflight.clear()

    # ------------------------------------------------------------------ queries

    async def forward(self, packet: bytes, *, tcp: bool) -> bytes | None:
        if len(self._inflight) >= self.max_concurrent:
            self.failures += 1
            return None
        for upstream in self.upstreams:
            self.requests += 1
            try:
                if tcp:
                    return await self._tcp(upstream, packet)
                return await self._udp(upstream, packet)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                log.debug("upstream %s:%d failed: %r", *upstream, exc)
                self.failures += 1
        return None

    async def lookup(self, name: str, qtype: int) -> tuple[int, list[object]] | None:
        query = dnslib.DNSRecord(dnslib.DNSHeader(id=0, rd=1), q=dnslib.DNSQuestion(name, qtype))
        query.add_ar(dnslib.EDNS0(udp_len=1232))
        packet = query.pack()
        reply = await self.forward(packet, tcp=False)
        if reply is not None and len(reply) > 3 and reply[2] & 0x02:
            reply = await self.forward(packet, tcp=True)
        if reply is None:
            return None
        try:
            parsed = dnslib.DNSRecord.parse(reply)
        except (dnslib.DNSError, struct.error, IndexError):
            return None
        return int(parsed.header.rcode), list(parsed.rr)

    # ------------------------------------------------------------------ transports

    def _new_id(self) -> int:
        while True:
            qid = secrets.randbits(16)
            if qid not in self._inflight:
                return qid

    async def _udp(self, upstream: Upstream, packet: bytes) -> bytes:
        proto = self._sockets.get(6 if ":" in upstream[0] else 4)
        if proto is None or proto.transport is None:
            raise OSError("forwarder not started")
        qid = self._new_id()
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        question = _question(packet)
        self._inflight[qid] = (fut, upstream, question)
        try:
            proto.transport.sendto(qid.to_bytes(2, "big") + packet[2:], upstream)
            async with asyncio.timeout(self.timeout):
                return await fut
        finally:
            self._inflight.pop(qid, None)

    def _received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) < 12:
            return
        waiting = self._inflight.get(int.from_bytes(data[:2], "big"))
        if waiting is None:
            return
        fut, upstream, question = waiting
        if fut.done() or not _same(addr, upstream) or _question(data) != question:
            return
        fut.set_result(data)

    async def _tcp(self, upstream: Upstream, packet: bytes) -> bytes:
        qid = self._new_id()
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(*upstream)
            try:
                out = qid.to_bytes(2, "big") + packet[2:]
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if len(data) < 12 or int.from_bytes(data[:2], "big") != qid:
            raise OSError("upstream answered another query")
        return data


def _question(packet: bytes) -> bytes:
    """The lower-cased question section (for matching responses to queries)."""
    try:
        i = 12
        while packet[i]:
            if packet[i] > 63:
                return b""
            i += packet[i] + 1
        return packet[12:i].lower() + packet[i : i + 5]
    except IndexError:
        return b""
