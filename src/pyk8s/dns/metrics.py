"""Metrics and health of the DNS server, served on a small HTTP port (CoreDNS's 9153):
``/metrics`` (Prometheus text), ``/health`` (200 while the process serves) and ``/ready``
(200 once the informers have synced, 503 before).

The hot path never touches prometheus-client: the responder and the server keep plain
integer counters, and a collector turns them into metric families at scrape time, under
CoreDNS's names so its dashboards read them (``coredns_dns_requests_total``,
``coredns_dns_responses_total``, ``coredns_dns_request_duration_seconds``), plus
``pyk8s_dns_*`` for the cache, the forwarder and the zone. Each server has its own
registry, so several servers can run in one process (tests, embedding).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

import prometheus_client
from aiohttp import web
from prometheus_client import core as prom_core

from pyk8s.dns.forward import Forwarder
from pyk8s.dns.records import QType, Rcode
from pyk8s.dns.responder import Responder
from pyk8s.dns.zone import ZoneData

__all__ = ["DURATION_BUCKETS", "Durations", "ServerCollector", "start_http"]

# CoreDNS: prometheus.ExponentialBuckets(0.00025, 2, 16)
DURATION_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
_TYPES = {int(t): t.name for t in QType}
_RCODES = {int(r): r.name for r in Rcode} | {16: "BADVERS"}


class Durations:
    """A histogram as plain counters: ``observe`` costs one bisect and two adds."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.total += seconds


class ServerCollector:
    def __init__(
        self,
        *,
        server: str,
        responder: Responder,
        forwarder: Forwarder,
        zone: ZoneData,
        durations: Durations,
    ) -> None:
        self.server = server
        self.responder = responder
        self.forwarder = forwarder
        self.zone = zone
        self.durations = durations

    def collect(self) -> Iterator[prom_core.Metric]:
        labels = ["server", "zone", "proto", "type"]
        requests = prom_core.CounterMetricFamily(
            "coredns_dns_requests_total",
            "Counter of DNS requests made per zone, protocol and type.",
            labels=labels,
        )
        responses = prom_core.CounterMetricFamily(
            "coredns_dns_responses_total",
            "Counter of response status codes.",
            labels=["server", "zone", "rcode"],
        )
        by_type: dict[tuple[str, str], int] = {}
        by_rcode: dict[str, int] = {}
        for (tcp, qtype, rcode), n in list(self.responder.stats.items()):
            key = ("tcp" if tcp else "udp", _TYPES.get(qtype, "other"))
            by_type[key] = by_type.get(key, 0) + n
            name = _RCODES.get(rcode, str(rcode))
            by_rcode[name] = by_rcode.get(name, 0) + n
        for (proto, qtype_name), n in sorted(by_type.items()):
            requests.add_metric([self.server, ".", proto, qtype_name], n)
        for rcode_name, n in sorted(by_rcode.items()):
            responses.add_metric([self.server, ".", rcode_name], n)
        yield requests
        yield responses
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(DURATION_BUCKETS, self.durations.counts, strict=False):
            running += count
            buckets.append((repr(bound), running))
        running += self.durations.counts[-1]
        buckets.append(("+Inf", running))
        hist = prom_core.HistogramMetricFamily(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took.",
            labels=["server", "zone"],
        )
        hist.add_metric([self.server, "."], buckets, self.durations.total)
        yield hist
        yield _counter(
            "pyk8s_dns_cache_hits_total",
            "Answers served from the cache.",
            self.responder.cache_hits,
        )
        yield _counter(
            "pyk8s_dns_cache_misses_total", "Answers computed.", self.responder.cache_misses
        )
        yield _gauge("pyk8s_dns_cache_entries", "Answers in the cache.", len(self.responder))
        yield _counter(
            "pyk8s_dns_forward_requests_total", "Queries sent upstream.", self.forwarder.requests
        )
        yield _counter(
            "pyk8s_dns_forward_failures_total",
            "Upstream queries that failed.",
            self.forwarder.failures,
        )
        yield _gauge("pyk8s_dns_services", "Services in the zone.", len(self.zone.services))
        yield _gauge("pyk8s_dns_synced", "1 once the informers have synced.", int(self.zone.synced))


def _counter(name: str, doc: str, value: float) -> prom_core.Metric:
    m = prom_core.CounterMetricFamily(name, doc)
    m.add_metric([], value)
    return m


def _gauge(name: str, doc: str, value: float) -> prom_core.Metric:
    m = prom_core.GaugeMetricFamily(name, doc)
    m.add_metric([], value)
    return m


async def start_http(
    host: str,
    port: int,
    *,
    registry: prometheus_client.CollectorRegistry,
    ready: Callable[[], bool],
) -> tuple[web.AppRunner, int]:
    """Serve /metrics, /health and /ready; returns the runner and the bound port."""

    async def metrics(_: web.Request) -> web.Response:
        body = prometheus_client.generate_latest(registry)
        return web.Response(body=body, content_type="text/plain")

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def readiness(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="OK")
        return web.Response(status=503, text="informers not synced")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", readiness)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = int(server.sockets[0].getsockname()[1])
    return runner, bound
