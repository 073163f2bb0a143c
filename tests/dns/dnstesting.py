"""Helpers for the DNS tests: manifests, a zone built from them, a small DNS client and a
fake upstream resolver on loopback (the only upstream tests ever forward to)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import dnslib

from pyk8s.dns import zone as zone_mod
from pyk8s.dns.zone import ZoneConfig, ZoneData

Obj = dict[str, Any]


def svc(
    ns: str,
    name: str,
    *,
    ip: str | None = None,
    ips: Sequence[str] | None = None,
    ports: Sequence[tuple[str, int, str]] = (("http", 80, "TCP"),),
    external: str | None = None,
    publish_not_ready: bool = False,
    annotations: dict[str, str] | None = None,
) -> Obj:
    spec: Obj = {"ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}
    if external is not None:
        spec = {"type": "ExternalName", "externalName": external}
    else:
        spec["clusterIP"] = ip if ip is not None else (ips[0] if ips else "None")
        if ips:
            spec["clusterIPs"] = list(ips)
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    meta: Obj = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def ep(ip: str, *, hostname: str | None = None, ready: bool | None = True) -> Obj:
    out: Obj = {"addresses": [ip]}
    if ready is not None:
        out["conditions"] = {"ready": ready}
    if hostname:
        out["hostname"] = hostname
    return out


def eslice(
    ns: str,
    service: str,
    endpoints: Sequence[Obj],
    *,
    name: str | None = None,
    ports: Sequence[tuple[str, int, str]] | None = (("http", 80, "TCP"),),
    address_type: str = "IPv4",
) -> Obj:
    out: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service}-abcde",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": address_type,
        "endpoints": list(endpoints),
    }
    if ports is not None:
        out["ports"] = [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]
    return out


def build_zone(
    services: Sequence[Obj],
    slices: Sequence[Obj] = (),
    *,
    namespaces: Sequence[str] = (),
    config: ZoneConfig | None = None,
    synced: bool = True,
    serial: int = 1700000000,
) -> ZoneData:
    z = ZoneData(config or ZoneConfig())
    for s in services:
        meta = s["metadata"]
        mine = [
            sl
            for sl in slices
            if sl["metadata"]["namespace"] == meta["namespace"]
            and sl["metadata"]["labels"]["kubernetes.io/service-name"] == meta["name"]
        ]
        z.put(zone_mod.service_entry(s, mine))
    for ns in namespaces:
        z.set_namespace(ns, True)
    z.synced = synced
    z.serial = serial
    return z


# ---------------------------------------------------------------------- a DNS client


def query_packet(
    name: str, qtype: str = "A", *, qid: int = 4242, rd: bool = True, edns: int | None = None
) -> bytes:
    q = dnslib.DNSRecord(
        dnslib.DNSHeader(id=qid, rd=int(rd)),
        q=dnslib.DNSQuestion(name, getattr(dnslib.QTYPE, qtype)),
    )
    if edns is not None:
        q.add_ar(dnslib.EDNS0(udp_len=edns))
    return bytes(q.pack())


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


async def udp_query(addr: tuple[str, int], packet: bytes, *, timeout: float = 5.0) -> bytes:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Client, remote_addr=addr)
    try:
        transport.sendto(packet)
        async with asyncio.timeout(timeout):
            return await proto.replies.get()
    finally:
        transport.close()


async def tcp_query(
    addr: tuple[str, int], packets: Sequence[bytes], *, timeout: float = 5.0
) -> list[bytes]:
    """Send ``packets`` on one connection (pipelined) and read as many replies."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(*addr)
        try:
            writer.write(b"".join(len(p).to_bytes(2, "big") + p for p in packets))
            await writer.drain()
            out = []
            for _ in packets:
                n = int.from_bytes(await reader.readexactly(2), "big")
                out.append(await reader.readexactly(n))
            return out
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def answers(reply: bytes) -> list[tuple[str, str, str]]:
    """(owner, type, rdata) of the answer section, owners lower-cased."""
    rec = dnslib.DNSRecord.parse(reply)
    return [(str(rr.rname).lower(), dnslib.QTYPE[rr.rtype], str(rr.rdata)) for rr in rec.rr]


def rcode(reply: bytes) -> str:
    return str(dnslib.RCODE[dnslib.DNSRecord.parse(reply).header.rcode])


# ---------------------------------------------------------------------- a fake upstream


Handler = Callable[[dnslib.DNSRecord], dnslib.DNSRecord | None]


def static_upstream(table: dict[tuple[str, str], list[str]]) -> Handler:
    """Answers (name, type) from ``table`` (zone-file rdata), NXDOMAIN otherwise."""

    def handle(q: dnslib.DNSRecord) -> dnslib.DNSRecord:
        reply = q.reply()
        key = (str(q.q.qname).lower(), str(dnslib.QTYPE[q.q.qtype]))
        if key not in table:
            reply.header.rcode = dnslib.RCODE.NXDOMAIN
        for rdata in table.get(key, ()):
            reply.add_answer(*dnslib.RR.fromZone(f"{q.q.qname} 60 IN {key[1]} {rdata}"))
        return reply

    return handle


class FakeUpstream:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) answering through ``handler``;
    ``None`` from the handler means no answer (a dead upstream)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.queries: list[tuple[str, str, str]] = []  # (transport, name, type)
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _answer(self, data: bytes, transport: str) -> bytes | None:
        q = dnslib.DNSRecord.parse(data)
        self.queries.append((transport, str(q.q.qname).lower(), str(dnslib.QTYPE[q.q.qtype])))
        reply = self.handler(q)
        return None if reply is None else bytes(reply.pack())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        outer = self

        class Proto(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                out = outer._answer(data, "udp")
                if out is not None:
                    self.transport.sendto(out, addr)  # type: ignore[attr-defined]

        for _ in range(20):
            transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", port)
            except OSError:
                transport.close()
                continue
            self._udp, self.port = transport, port  # type: ignore[assignment]
            return
        raise RuntimeError("no free port for the fake upstream")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                n = int.from_bytes(await reader.readexactly(2), "big")
                out = self._answer(await reader.readexactly(n), "tcp")
                if out is None:
                    break
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()


@contextlib.asynccontextmanager
async def fake_upstream(handler: Handler) -> AsyncIterator[FakeUpstream]:
    up = FakeUpstream(handler)
    await up.start()
    try:
        yield up
    finally:
        await up.stop()
