"""The kubelet's HTTPS server (port 10250, ``status.daemonEndpoints.kubeletEndpoint``).

Routes, as upstream's kubelet names them:

- ``GET /healthz`` — ``ok``; the only route open without a client certificate;
- ``GET /metrics`` — Prometheus text of the given registry;
- ``GET /pods`` — a ``PodList`` of the pods bound to this node;
- ``GET /containerLogs/<ns>/<pod>/<container>?follow&tailLines&sinceSeconds&sinceTime&
  timestamps&previous&limitBytes`` — ``text/plain`` (``logs``);
- ``GET|POST /exec/<ns>/<pod>[/<uid>]/<container>?command=…&stdin&stdout&stderr&tty``,
  ``/attach/…`` and ``/portForward/<ns>/<pod>[/<uid>]`` — upgrades (``streaming``).

TLS: the serving certificate and key from files; clients must present a certificate
signed by the cluster CA (``client_ca``), which is how the apiserver (its admin client
certificate) authenticates. ``authorize(user, groups)`` may narrow who is let in
(default: anyone with such a certificate). Errors are ``Status`` JSON, except for
``/containerLogs``, whose errors are the message as plain text (the apiserver's log proxy
reads them as text).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from pyk8s.api import errors
from pyk8s.kubelet import logs, streaming
from pyk8s.kubelet.streaming import StreamingBackend

__all__ = ["KubeletServer"]

log = logging.getLogger("pyk8s.kubelet.server")

Authorizer = Callable[[str, tuple[str, ...]], bool]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "pyk8s_kubelet_server_requests",
            "Requests to the kubelet's HTTPS server, by route and answer code",
            ["route", "code"],
            registry=registry,
        )
        self.sessions = Gauge(
            "pyk8s_kubelet_server_streaming_sessions",
            "Open exec, attach, port-forward and log-follow sessions",
            ["route"],
            registry=registry,
        )


def _subject(peercert: object) -> tuple[str, tuple[str, ...]]:
    """(common name, organizations) of a verified peer certificate."""
    user, groups = "", []
    subject = peercert.get("subject", ()) if isinstance(peercert, dict) else ()
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return user, tuple(groups)


class KubeletServer:
    """``start()`` binds (``port=0`` picks a free port, then ``self.port`` holds it);
    ``stop()`` closes the listener and ends open sessions; ``run(stop)`` does both
    around waiting for ``stop``."""

    def __init__(
        self,
        backend: StreamingBackend,
        *,
        host: str,
        port: int,
        tls_cert: Path,
        tls_key: Path,
        client_ca: Path,
        registry: CollectorRegistry | None = None,
        authorize: Authorizer | None = None,
        log_poll_interval: float = 0.2,
        shutdown_timeout: float = 5.0,
    ) -> None:
        self.backend = backend
        self.host, self.port = host, port
        self.registry = registry if registry is not None else CollectorRegistry()
        self._metrics = _Metrics(self.registry)
        self._authorize = authorize
        self._poll = log_poll_interval
        self._shutdown_timeout = shutdown_timeout
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
        self._ssl.load_cert_chain(str(tls_cert), str(tls_key))
        # optional at the TLS level so /healthz answers without one; required below
        self._ssl.verify_mode = ssl.CERT_OPTIONAL
        self._runner: web.AppRunner | None = None
        self.app = self._make_app()

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        stream: list[tuple[str, Handler]] = [
            ("/exec/{namespace}/{pod}/{container}", self._exec),
            ("/exec/{namespace}/{pod}/{uid}/{container}", self._exec),
            ("/attach/{namespace}/{pod}/{container}", self._attach),
            ("/attach/{namespace}/{pod}/{uid}/{container}", self._attach),
            ("/portForward/{namespace}/{pod}", self._port_forward),
            ("/portForward/{namespace}/{pod}/{uid}", self._port_forward),
        ]
        for path, handler in stream:
            app.router.add_route("GET", path, handler)
            app.router.add_route("POST", path, handler)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_text)
        app.router.add_get("/pods", self._pods)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        return app

    async def start(self) -> None:
        runner = web.AppRunner(
            self.app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        log.info("kubelet server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # --- middleware: authentication, errors, metrics ---------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.path.split("/", 2)[1] if request.path != "/" else ""
        code = 500
        try:
            if request.path != "/healthz":
                self._check_client(request)
            resp = await handler(request)
            code = resp.status
            return resp
        except errors.StatusError as exc:
            code = exc.code
            return streaming.error_response(exc)
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            known = route if route in _ROUTES else "other"
            self._metrics.requests.labels(known, str(code)).inc()

    def _check_client(self, request: web.Request) -> None:
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        if not peercert:
            raise errors.unauthorized()
        user, groups = _subject(peercert)
        if self._authorize is not None and not self._authorize(user, groups):
            raise errors.forbidden(
                f'User "{user}" cannot access the kubelet API at {request.path.split("?")[0]}'
            )

    # --- plain routes -------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def _metrics_text(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": self.backend.pods()}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    # --- logs ---------------------------------------------------------------------

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod = request.match_info["namespace"], request.match_info["pod"]
        container = request.match_info["container"]
        try:
            opts = logs.parse_log_options(request.query, now_ns=time.time_ns())
            ref = await self.backend.find_container(ns, pod, container)
        except errors.StatusError as exc:
            return web.Response(status=exc.code, text=exc.message)
        path = ref.previous_log_path if opts.previous else ref.log_path
        if path is None:
            return web.Response(
                status=400,
                text=f'previous terminated container "{container}" in pod "{pod}" not found',
            )
        runtime = self.backend.runtime

        async def running() -> bool:
            # a container found stopped never runs again (a restart is a new container)
            if opts.previous or not ref.running:
                return False
            return await runtime.container_running(ref.container_id)

        def gone() -> bool:
            return request.transport is None or request.transport.is_closing()

        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        gauge = self._metrics.sessions.labels("containerLogs")
        gauge.inc()
        try:
            await logs.stream_logs(
                path, opts, resp.write, running=running, gone=gone, poll_interval=self._poll
            )
            await resp.write_eof()
        except (ConnectionError, errors.StatusError) as exc:
            log.debug("logs of %s/%s/%s ended early: %s", ns, pod, container, exc)
        finally:
            gauge.dec()
        return resp

    # --- streaming ----------------------------------------------------------------

    async def _session(
        self, route: str, handler: Handler, request: web.Request
    ) -> web.StreamResponse:
        gauge = self._metrics.sessions.labels(route)
        gauge.inc()
        try:
            return await handler(request)
        finally:
            gauge.dec()

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        return await self._session("exec", lambda r: streaming.serve_exec(r, self.backend), request)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        return await self._session(
            "attach", lambda r: streaming.serve_attach(r, self.backend), request
        )

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        return await self._session(
            "portForward", lambda r: streaming.serve_port_forward(r, self.backend), request
        )


_ROUTES = {"healthz", "metrics", "pods", "containerLogs", "exec", "attach", "portForward"}
