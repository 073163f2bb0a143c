"""The proxy's Prometheus metrics (kube-proxy's names, registered once per process) and
its small HTTP server: ``/metrics`` and ``/healthz``.

``Health`` is kube-proxy's proxier health logic: an update queued (a Service or
EndpointSlice changed) but not applied within ``timeout`` (twice the sync period, as
kube-proxy) makes ``/healthz`` answer 503; otherwise 200. The body is upstream's JSON:
``{"lastUpdated": …, "currentTime": …, "nodeEligible": true}``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import prometheus_client
from aiohttp import web

from pyk8s.client import clock as clock_mod

__all__ = [
    "ENDPOINT_CHANGES",
    "LB_LEADER",
    "NETWORK_PROGRAMMING_SECONDS",
    "SERVICE_CHANGES",
    "SYNC_FAILURES",
    "SYNC_LAST_QUEUED",
    "SYNC_LAST_TIMESTAMP",
    "SYNC_SECONDS",
    "Health",
    "MetricsServer",
]

SYNC_SECONDS = prometheus_client.Histogram(
    "kubeproxy_sync_proxy_rules_duration_seconds",
    "SyncProxyRules latency in seconds",
    buckets=tuple(0.001 * 2**i for i in range(15)),
)
NETWORK_PROGRAMMING_SECONDS = prometheus_client.Histogram(
    "kubeproxy_network_programming_duration_seconds",
    "In Cluster Network Programming Latency in seconds",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
)
SYNC_LAST_TIMESTAMP = prometheus_client.Gauge(
    "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
    "The last time proxy rules were successfully synced",
)
SYNC_LAST_QUEUED = prometheus_client.Gauge(
    "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
    "The last time a sync of proxy rules was queued",
)
SYNC_FAILURES = prometheus_client.Counter(
    "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
    "Cumulative proxy nftables sync failures",
)
ENDPOINT_CHANGES = prometheus_client.Counter(
    "kubeproxy_sync_proxy_rules_endpoint_changes_total",
    "Cumulative proxy rules EndpointSlice changes",
)
SERVICE_CHANGES = prometheus_client.Counter(
    "kubeproxy_sync_proxy_rules_service_changes_total",
    "Cumulative proxy rules Service changes",
)
LB_LEADER = prometheus_client.Gauge(
    "pyk8s_servicelb_leader", "1 while this proxy runs the built-in LoadBalancer."
)


class Health:
    def __init__(self, timeout: float, *, clock: clock_mod.Clock = clock_mod.REAL_CLOCK) -> None:
        self.timeout = timeout
        self._now = clock.now
        self._started = self._now()
        self._pending_since: float | None = None
        self._last_updated_wall: datetime | None = None

    def queued(self) -> None:
        if self._pending_since is None:
            self._pending_since = self._now()

    def take_pending(self) -> float | None:
        """A sync starts: it covers everything queued so far."""
        pending, self._pending_since = self._pending_since, None
        return pending

    def restore_pending(self, since: float | None) -> None:
        """The sync failed: what it covered is pending again, since the first change."""
        if since is not None:
            current = self._pending_since
            self._pending_since = since if current is None else min(current, since)

    def updated(self) -> None:
        self._last_updated_wall = datetime.now(UTC)

    @property
    def healthy(self) -> bool:
        now = self._now()
        if self._pending_since is not None and now - self._pending_since > self.timeout:
            return False
        return self._last_updated_wall is not None or now - self._started <= self.timeout

    def body(self) -> bytes:
        last = self._last_updated_wall
        return orjson.dumps(
            {
                "lastUpdated": last.isoformat() if last else "",
                "currentTime": datetime.now(UTC).isoformat(),
                "nodeEligible": True,
            }
        )


class MetricsServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, health: Health, *, host: str, port: int) -> None:
        self.health = health
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def serve_metrics(_: web.Request) -> web.Response:
            return web.Response(body=prometheus_client.generate_latest(), content_type="text/plain")

        async def healthz(_: web.Request) -> web.Response:
            status = 200 if self.health.healthy else 503
            return web.Response(
                body=self.health.body(), status=status, content_type="application/json"
            )

        app = web.Application()
        app.router.add_get("/metrics", serve_metrics)
        app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self.port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
