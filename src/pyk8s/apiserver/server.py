"""The apiserver process: opens storage, fills the watch cache, bootstraps the system
namespaces and the ``kubernetes`` Service, and serves the API over HTTPS (aiohttp).

Request pipeline: authentication (client certificate or bearer token) → routing →
handler → registry → storage. Every failure becomes a ``Status``; an unexpected exception
is logged with its traceback and answered 500 InternalError.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import platform
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import prometheus_client
from aiohttp import web

from pyk8s import __version__
from pyk8s.api import errors, resources
from pyk8s.apiserver import authn, certs, routing, streaming
from pyk8s.apiserver.admission import builtin as builtin_admission
from pyk8s.apiserver.admission import webhooks
from pyk8s.apiserver.crds import CRDController
from pyk8s.apiserver.handlers import ResourceHandler
from pyk8s.apiserver.openapi_routes import OpenAPIRoutes
from pyk8s.apiserver.registry import Registry, WriteContext
from pyk8s.apiserver.resourcetable import ResourceTable
from pyk8s.apiserver.services import ServiceAllocations
from pyk8s.apiserver.watchcache import CacheSet, Filter
from pyk8s.client import kubeconfig
from pyk8s.storage import errors as storage_errors
from pyk8s.storage import interface as storage

__all__ = ["Server", "ServerConfig"]

log = logging.getLogger("pyk8s.apiserver")

KUBE_VERSION = "v1.33.0"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

REQUESTS = prometheus_client.Counter(
    "apiserver_request_total",
    "API requests by verb, resource and code",
    ["verb", "resource", "code"],
)
LATENCY = prometheus_client.Histogram(
    "apiserver_request_duration_seconds",
    "API request latency",
    ["verb"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


@dataclass
class ServerConfig:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    port: int = 6443
    storage: str = "sqlite"
    etcd_endpoints: list[str] = field(default_factory=lambda: ["http://127.0.0.1:2379"])
    sqlite_sync: str = "normal"
    service_cidr: str = "10.96.0.0/12"
    node_port_range: tuple[int, int] = (30000, 32767)
    token_auth_file: Path | None = None
    write_kubeconfig: Path | None = None
    advertise_address: str | None = None
    tls_sans: list[str] = field(default_factory=list)


def advertise_address(cfg: ServerConfig) -> str:
    """``--advertise-address``, else the bind address when it names one host address, else
    this host's address toward the default route (upstream's choice)."""
    if cfg.advertise_address:
        return cfg.advertise_address
    bind = cfg.bind_address
    if bind and bind not in ("0.0.0.0", "::") and not bind.startswith("127."):
        return bind
    from pyk8s.client.hostaddr import detect_host_ip

    return detect_host_ip()


async def open_storage(cfg: ServerConfig) -> storage.Interface:
    if cfg.storage == "sqlite":
        from pyk8s.storage import sqlite

        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        return await sqlite.open_store(cfg.data_dir / "state.db", sync=cfg.sqlite_sync)
    if cfg.storage == "etcd":
        from pyk8s.storage import etcd

        return await etcd.open_store(cfg.etcd_endpoints)
    raise ValueError(f"unknown storage backend {cfg.storage!r} (want sqlite or etcd)")


class Server:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.store: storage.Interface | None = None
        self.caches: CacheSet | None = None
        self.registry: Registry | None = None
        self.webhooks: webhooks.WebhookAdmission | None = None
        self.runner: web.AppRunner | None = None
        self.port = cfg.port
        self.table = ResourceTable(resources.BUILTIN)
        self.authenticator = authn.Authenticator(
            authn.load_token_file(cfg.token_auth_file) if cfg.token_auth_file else None
        )
        self.crds: CRDController | None = None
        self.openapi = OpenAPIRoutes(lambda: self.crds.documents if self.crds else {})
        self.started = time.monotonic()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        cfg = self.cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.advertise_address = advertise_address(cfg)
        services = ServiceAllocations(
            service_cidr=cfg.service_cidr, node_port_range=cfg.node_port_range
        )
        tls = certs.ensure_tls(
            cfg.data_dir,
            extra_sans=[*cfg.tls_sans, self.advertise_address],
            service_ip=services.kubernetes_ip,
        )
        self.store = await open_storage(cfg)
        prefixes = [r.storage_key(None) for r in resources.BUILTIN if "list" in r.verbs]
        self._hook_cache: tuple[int, list[dict[str, Any]], list[dict[str, Any]]] | None = None
        self.caches = CacheSet(self.store, prefixes)
        await self.caches.start()
        self.registry = Registry(self.store, self.caches, services)
        self.webhooks = webhooks.WebhookAdmission(
            self._webhook_configurations, self._namespace_labels, self._service_ip
        )
        self.registry.admission = builtin_admission.ChainSequence(
            [
                builtin_admission.BuiltinAdmission(
                    priority_classes=self._objects("scheduling.k8s.io", "v1", "priorityclasses"),
                    storage_classes=self._objects("storage.k8s.io", "v1", "storageclasses"),
                ),
                self.webhooks,
            ]
        )
        svc_res = resources.find("", "v1", "services")
        assert svc_res is not None
        page = await self.registry.list(svc_res, Filter(), rv="0")
        services.load([e.decode() for e in page.entries])
        self._mutating_hooks = self._objects(
            "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"
        )
        self._validating_hooks = self._objects(
            "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"
        )
        await self._bootstrap()
        self.crds = CRDController(registry=self.registry, table=self.table)
        await self.crds.start()
        self.handler = ResourceHandler(
            self.registry,
            kubelet_tls=streaming.KubeletClientTLS(tls.admin_cert, tls.admin_key),
        )
        app = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[self._middleware])
        app["authenticator"] = self.authenticator
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True
        )
        await self.runner.setup()
        sslctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sslctx.load_cert_chain(tls.server_cert, tls.server_key)
        sslctx.load_verify_locations(tls.ca_cert)
        sslctx.verify_mode = ssl.CERT_OPTIONAL
        site = web.TCPSite(
            self.runner, cfg.bind_address, cfg.port, ssl_context=sslctx, backlog=1024
        )
        await site.start()
        if cfg.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        await self._reconcile_kubernetes_endpoints(WriteContext(manager="kube-apiserver"))
        self._write_kubeconfigs(tls)
        log.info(
            "apiserver serving on https://%s:%d (storage: %s)",
            cfg.bind_address,
            self.port,
            cfg.storage,
        )

    @property
    def url(self) -> str:
        host = self.cfg.bind_address
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"https://{host}:{self.port}"

    def _write_kubeconfigs(self, tls: certs.ClusterTLS) -> None:
        cfg = kubeconfig.render(
            server=self.url,
            ca_pem=tls.ca_cert.read_bytes(),
            client_cert_pem=tls.admin_cert.read_bytes(),
            client_key_pem=tls.admin_key.read_bytes(),
        )
        kubeconfig.write(self.cfg.data_dir / "admin.kubeconfig", cfg)
        if self.cfg.write_kubeconfig is not None:
            kubeconfig.write(self.cfg.write_kubeconfig, cfg)

    async def stop(self) -> None:
        if self.crds is not None:
            await self.crds.stop()
        # end the watch streams first: their handlers return, so the HTTP shutdown does
        # not wait for them
        if self.caches is not None:
            await self.caches.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.webhooks is not None:
            await self.webhooks.aclose()
        if self.store is not None:
            await self.store.close()

    def _objects(self, group: str, version: str, plural: str) -> Callable[[], list[dict[str, Any]]]:
        """Decoded objects of one resource, read from the watch cache on each call."""
        res = resources.find(group, version, plural)
        assert res is not None and self.registry is not None
        cache = self.registry.cache_for(res)
        return lambda: [e.decode() for e in cache.objects.values()]

    def _webhook_configurations(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(mutating, validating) configurations, decoded once per cache revision."""
        assert self.caches is not None
        rev = self.caches.revision
        if self._hook_cache is None or self._hook_cache[0] != rev:
            self._hook_cache = (rev, self._mutating_hooks(), self._validating_hooks())
        return self._hook_cache[1], self._hook_cache[2]

    def _namespace_labels(self, name: str) -> dict[str, str] | None:
        assert self.registry is not None
        ns_res = resources.find("", "v1", "namespaces")
        assert ns_res is not None
        entry = self.registry.cache_for(ns_res).objects.get(ns_res.storage_key(None, name))
        return None if entry is None else entry.labels

    def _service_ip(self, namespace: str, name: str) -> str | None:
        assert self.registry is not None
        svc_res = resources.find("", "v1", "services")
        assert svc_res is not None
        entry = self.registry.cache_for(svc_res).objects.get(svc_res.storage_key(namespace, name))
        if entry is None:
            return None
        ip = (entry.decode().get("spec") or {}).get("clusterIP")
        return ip if ip and ip != "None" else None

    async def _bootstrap(self) -> None:
        """The system namespaces and the default ``kubernetes`` Service (upstream's
        bootstrap controller), created only when missing."""
        assert self.registry is not None
        ns_res = resources.find("", "v1", "namespaces")
        svc_res = resources.find("", "v1", "services")
        assert ns_res is not None and svc_res is not None
        ctx = WriteContext(manager="kube-apiserver")
        for ns in SYSTEM_NAMESPACES:
            if self.registry.cache_for(ns_res).objects.get(ns_res.storage_key(None, ns)) is None:
                try:
                    await self.registry.create(
                        ns_res,
                        None,
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                        ctx,
                    )
                except errors.StatusError as exc:
                    if exc.code != 409:
                        raise
        pc_res = resources.find("scheduling.k8s.io", "v1", "priorityclasses")
        assert pc_res is not None
        for pc in builtin_admission.SYSTEM_PRIORITY_CLASSES:
            name = pc["metadata"]["name"]
            if self.registry.cache_for(pc_res).objects.get(pc_res.storage_key(None, name)) is None:
                try:
                    await self.registry.create(pc_res, None, copy.deepcopy(pc), ctx)
                except errors.StatusError as exc:
                    if exc.code != 409:
                        raise
        if (
            self.registry.cache_for(svc_res).objects.get(
                svc_res.storage_key("default", "kubernetes")
            )
            is None
        ):
            svc = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": self.registry.services.kubernetes_ip,
                    "ports": [
                        {
                            "name": "https",
                            "port": 443,
                            "protocol": "TCP",
                            "targetPort": self.port or 6443,
                        }
                    ],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
            }
            try:
                await self.registry.create(svc_res, "default", svc, ctx)
            except errors.StatusError as exc:
                if exc.code != 409:
                    raise

    async def _reconcile_kubernetes_endpoints(self, ctx: WriteContext) -> None:
        """The ``kubernetes`` Service's Endpoints and EndpointSlice name this apiserver's
        advertise address and port (upstream's endpoint reconciler, for one apiserver)."""
        assert self.registry is not None
        address, port = self.advertise_address, self.port or self.cfg.port or 6443
        wanted = {
            ("", "v1", "endpoints"): {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                },
                "subsets": [
                    {
                        "addresses": [{"ip": address}],
                        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                    }
                ],
            },
            ("discovery.k8s.io", "v1", "endpointslices"): {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "kubernetes"},
                },
                "addressType": "IPv6" if ":" in address else "IPv4",
                "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            },
        }
        for (group, version, plural), body in wanted.items():
            res = resources.find(group, version, plural)
            assert res is not None
            current = self.registry.cache_for(res).objects.get(
                res.storage_key("default", "kubernetes")
            )
            if current is None:
                try:
                    await self.registry.create(res, "default", body, ctx)
                except errors.StatusError as exc:
                    if exc.code != 409:
                        raise
                continue

            async def replace(old: dict[str, Any], body: dict[str, Any] = body) -> dict[str, Any]:
                return {**body, "metadata": {**old["metadata"], **body["metadata"]}}

            await self.registry.update(res, "default", "kubernetes", replace, ctx)

    # ------------------------------------------------------------ HTTP

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        t0 = time.perf_counter()
        code = 500
        try:
            user = self.authenticator.authenticate(
                request.headers.get("Authorization"),
                request.transport.get_extra_info("peercert") if request.transport else None,
            )
            if user is None:
                raise errors.unauthorized()
            request["user"] = user
            resp: web.StreamResponse = await handler(request)
            code = resp.status
            return resp
        except errors.StatusError as exc:
            code = exc.code
            return web.Response(
                status=exc.code, body=orjson.dumps(exc.status()), content_type="application/json"
            )
        except storage_errors.Unavailable as exc:
            code = 503
            err = errors.StatusError(503, "ServiceUnavailable", str(exc))
            return web.Response(
                status=503, body=orjson.dumps(err.status()), content_type="application/json"
            )
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("%s %s failed", request.method, request.path)
            err = errors.internal_error(f"{type(exc).__name__}: {exc}")
            return web.Response(
                status=500, body=orjson.dumps(err.status()), content_type="application/json"
            )
        finally:
            verb = request.method
            LATENCY.labels(verb).observe(time.perf_counter() - t0)
            REQUESTS.labels(verb, request.get("resource", ""), str(code)).inc()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        user: authn.User = request["user"]
        if path.startswith("/api"):
            parsed = routing.parse(path, self.table)
            if parsed is None:
                raise errors.not_found_path()
            if user.anonymous:
                raise errors.StatusError(
                    403,
                    "Forbidden",
                    f'forbidden: User "system:anonymous" cannot {request.method.lower()} path "{path}"',
                )
            if isinstance(parsed, routing.Discovery):
                return self._discovery(request, parsed)
            request["resource"] = parsed.resource.plural
            return await self.handler.handle(request, parsed, user)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return web.Response(text="ok")
        if path == "/version":
            return web.Response(body=orjson.dumps(_version()), content_type="application/json")
        if path == "/metrics":
            return web.Response(body=prometheus_client.generate_latest(), content_type="text/plain")
        if path.startswith("/openapi/"):
            return self.openapi.handle(request)
        if path == "/":
            paths = sorted(
                {
                    "/api",
                    "/api/v1",
                    "/apis",
                    "/healthz",
                    "/livez",
                    "/readyz",
                    "/version",
                    "/metrics",
                    "/openapi/v3",
                }
                | {f"/apis/{g}" for g in self.table.docs.group_versions if g}
                | {f"/apis/{g}/{v}" for (g, v) in self.table.docs.by_gv if g}
            )
            return web.Response(
                body=orjson.dumps({"paths": paths}), content_type="application/json"
            )
        raise errors.not_found_path()

    def _discovery(self, request: web.Request, d: routing.Discovery) -> web.Response:
        accept = request.headers.get("Accept", "")
        aggregated = "as=APIGroupDiscoveryList" in accept and "g=apidiscovery.k8s.io" in accept
        if d.group is None:
            if aggregated:
                version = (
                    "v2"
                    if "v=v2;" in accept.replace(" ", "") + ";" or "v=v2," in accept
                    else "v2beta1"
                )
                body = (
                    self.table.docs.aggregated_core if d.legacy else self.table.docs.aggregated_apis
                )
                if version == "v2beta1":
                    body = body.replace(
                        b'"apidiscovery.k8s.io/v2"', b'"apidiscovery.k8s.io/v2beta1"', 1
                    )
                return web.Response(
                    body=body,
                    headers={
                        "Content-Type": f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList",
                        "Vary": "Accept",
                    },
                )
            body = self.table.docs.api_versions if d.legacy else self.table.docs.api_groups
            return web.Response(
                body=body, content_type="application/json", headers={"Vary": "Accept"}
            )
        if d.version is None:
            g = self.table.docs.groups.get(d.group)
            if g is None:
                raise errors.not_found_path()
            return web.Response(body=g, content_type="application/json")
        rl = self.table.docs.resource_lists.get((d.group, d.version))
        if rl is None:
            raise errors.not_found_path()
        return web.Response(body=rl, content_type="application/json")


def _version() -> dict[str, str]:
    major, minor = KUBE_VERSION[1:].split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"{KUBE_VERSION}+pyk8s-{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-11-24T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"linux/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}",
    }
