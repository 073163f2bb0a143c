"""The cluster DNS server: UDP and TCP listeners, informers, the forwarder and the metrics
port, put together. All decisions live elsewhere (``records`` decides, ``responder``
caches and encodes, ``forward`` talks to upstreams); this module only moves bytes.

Embedding: ``DnsServer(client=..., config=DnsConfig(...))`` then ``await server.run(stop)``
(or ``run_dns(...)``, the same in one call). ``start()`` binds the sockets (port 0 picks
a free port, the same one for UDP and TCP) and returns before the informers have synced;
until then names in the zone that do not exist answer SERVFAIL and /ready says 503.
Pass ``informers=`` to share a running ``SharedInformerFactory`` (the caller runs it);
otherwise the server runs its own.

TCP connections carry any number of length-prefixed queries each, answered in order, and
are closed after ``tcp_idle_timeout`` seconds without a query (CoreDNS: 10 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import prometheus_client
from aiohttp import web

from pyk8s.client import informer, rest
from pyk8s.dns import forward, metrics
from pyk8s.dns.records import Rcode
from pyk8s.dns.responder import Pending, Responder
from pyk8s.dns.watch import ZoneWatcher
from pyk8s.dns.zone import ServiceKey, ZoneConfig, ZoneData

__all__ = ["DnsConfig", "DnsServer", "parse_hostport", "run_dns"]

log = logging.getLogger(__name__)


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """``0.0.0.0:53``, ``[::]:53``, ``127.0.0.1`` → (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest_ = text[1:].partition("]")
        return host, int(rest_[1:]) if rest_.startswith(":") else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host or "0.0.0.0", int(port)
    return text or "0.0.0.0", default_port


@dataclass(frozen=True)
class DnsConfig:
    bind: str = "0.0.0.0:53"
    zone: str = "cluster.local"
    upstreams: Sequence[str] | None = None  # None: the host's /etc/resolv.conf
    ttl: int = 30
    pods_insecure: bool = True
    metrics_bind: str | None = "127.0.0.1:9153"
    dns_service: ServiceKey = ("kube-system", "kube-dns")
    forward_timeout: float = 2.0
    max_concurrent: int = 1000
    tcp_idle_timeout: float = 10.0
    cache_entries: int = 50_000
    resolv_conf: str = "/etc/resolv.conf"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.respond = server.responder.respond
        self.observe = server.durations.observe
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's and asyncio's UDP transports do not all subclass DatagramTransport)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        start = time.perf_counter()
        out = self.respond(data)
        if out.__class__ is bytes:
            assert self.transport is not None
            self.transport.sendto(out, addr)  # type: ignore[arg-type]
            self.observe(time.perf_counter() - start)
        elif isinstance(out, Pending):
            self.server._spawn(self._later(out, addr, start))

    async def _later(self, pending: Pending, addr: tuple[str | int, ...], start: float) -> None:
        out = await self.server._complete(pending)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(out, addr)
        self.observe(time.perf_counter() - start)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp socket error: %s", exc)


class DnsServer:
    def __init__(
        self,
        *,
        client: rest.RESTClient | None,
        config: DnsConfig | None = None,
        informers: informer.SharedInformerFactory | None = None,
    ) -> None:
        self.config = cfg = config or DnsConfig()
        self.zone = ZoneData(
            ZoneConfig(
                zone=cfg.zone,
                ttl=cfg.ttl,
                pods_insecure=cfg.pods_insecure,
                dns_service=cfg.dns_service,
            )
        )
        self.responder = Responder(self.zone, max_entries=cfg.cache_entries)
        self.durations = metrics.Durations()
        self._own_informers = informers is None
        if informers is None:
            if client is None:
                raise ValueError("DnsServer needs a client or an informer factory")
            informers = informer.SharedInformerFactory(client)
        self.informers = informers
        self.watcher = ZoneWatcher(
            zone=self.zone,
            informers=informers,
            on_change=self.responder.invalidate,
            on_synced=self.responder.clear,
        )
        self.forwarder = forward.Forwarder(
            [], timeout=cfg.forward_timeout, max_concurrent=cfg.max_concurrent
        )
        self.registry = prometheus_client.CollectorRegistry()
        self.udp_address: tuple[str, int] = ("", 0)
        self.metrics_url = ""
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._http: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.started = False

    @property
    def ready(self) -> bool:
        return self.started and self.zone.synced

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        cfg = self.config
        host, port = parse_hostport(cfg.bind, 53)
        await self._bind(host, port)
        if cfg.upstreams is not None:
            ups = [forward.parse_upstream(u) for u in cfg.upstreams]
        else:
            ups = forward.default_upstreams(Path(cfg.resolv_conf), bind=self.udp_address)
        self.forwarder.upstreams = ups
        await self.forwarder.start()
        server_label = f"dns://{host}:{self.udp_address[1]}"
        self.registry.register(
            metrics.ServerCollector(
                server=server_label,
                responder=self.responder,
                forwarder=self.forwarder,
                zone=self.zone,
                durations=self.durations,
            )
        )
        if cfg.metrics_bind:
            mhost, mport = parse_hostport(cfg.metrics_bind, 9153)
            runner, bound = await metrics.start_http(
                mhost, mport, registry=self.registry, ready=lambda: self.ready
            )
            self._http = runner
            self.metrics_url = f"http://{mhost}:{bound}"
        self.started = True
        log.info(
            "dns: serving %s on %s:%d (udp, tcp); upstreams %s",
            cfg.zone,
            host,
            self.udp_address[1],
            ", ".join(f"{h}:{p}" for h, p in ups) or "none",
        )

    async def _bind(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(20):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(host, port)
            )
            bound = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, host, bound, reuse_address=True, backlog=512
                )
            except OSError:
                transport.close()
                if port != 0 or attempt == 19:
                    raise
                continue
            self._udp = transport  # type: ignore[assignment]
            self.udp_address = (host, int(bound))
            return

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 5)
        await self.forwarder.close()
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        self.started = False

    async def run(self, stop: asyncio.Event) -> None:
        if not self.started:
            await self.start()
        try:
            async with asyncio.TaskGroup() as tg:
                if self._own_informers:
                    tg.create_task(self.informers.run(stop), name="dns informers")
                tg.create_task(self.watcher.run(stop), name="dns sync")
                await stop.wait()
        finally:
            await self.close()

    # ------------------------------------------------------------------ network work

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, pending: Pending) -> bytes:
        if pending.answer is None:
            reply = await self.forwarder.forward(pending.packet, tcp=pending.tcp)
            return self.responder.finish_forward(pending, reply)
        found = await self.forwarder.lookup(pending.answer.chase, pending.query.qtype)
        if found is None:
            return self.responder.finish_chase(pending, None, ())
        rcode, rrs = found
        if rcode not in (Rcode.NOERROR, Rcode.NXDOMAIN):
            return self.responder.finish_chase(pending, Rcode.SERVFAIL, ())
        return self.responder.finish_chase(pending, rcode, rrs)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:  # so close() can cancel connections still open
            self._tasks.add(task)  # type: ignore[arg-type]
            task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                async with asyncio.timeout(self.config.tcp_idle_timeout):
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    packet = await reader.readexactly(size)
                start = time.perf_counter()
                out = self.responder.respond(packet, tcp=True)
                if isinstance(out, Pending):
                    out = await self._complete(out)
                if out is None:
                    continue
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
                self.durations.observe(time.perf_counter() - start)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def run_dns(
    *,
    client: rest.RESTClient | None,
    bind: str = "0.0.0.0:53",
    zone: str = "cluster.local",
    upstreams: Sequence[str] | None = None,
    ttl: int = 30,
    metrics_bind: str | None = "127.0.0.1:9153",
    pods_insecure: bool = True,
    informers: informer.SharedInformerFactory | None = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[DnsServer], None] | None = None,
) -> None:
    """Run the cluster DNS until ``stop`` is set (forever when None).

    ``upstreams``: ``ip[:port]`` strings for names outside the zone; None reads the host's
    /etc/resolv.conf. ``on_started`` is called once the sockets are bound (with the server,
    e.g. to read ``udp_address`` when binding port 0)."""
    server = DnsServer(
        client=client,
        informers=informers,
        config=DnsConfig(
            bind=bind,
            zone=zone,
            upstreams=upstreams,
            ttl=ttl,
            metrics_bind=metrics_bind,
            pods_insecure=pods_insecure,
        ),
    )
    await server.start()
    if on_started is not None:
        on_started(server)
    await server.run(stop if stop is not None else asyncio.Event())
