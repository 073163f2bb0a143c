"""Probe execution against real local servers: HTTP(S), TCP, gRPC health, exec."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web

from pyk8s.kubelet.probe_transports import canonical_header, decode_health_status, go_duration
from pyk8s.kubelet.probes import ProbeResult, resolve_port, run_probe

Obj = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpServer:
    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.port = 0
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        path = request.path
        if path.startswith("/status/"):
            return web.Response(status=int(path.rsplit("/", 1)[1]), text="body")
        if path == "/redirect-local":
            raise web.HTTPFound(f"http://127.0.0.1:{self.port}/status/200")
        if path == "/redirect-other-host":
            raise web.HTTPFound(f"http://localhost:{self.port}/status/200")
        if path == "/redirect-to-fail":
            raise web.HTTPFound("/status/503")
        if path == "/loop":
            raise web.HTTPFound("/loop")
        if path == "/slow":
            await self.release.wait()
        if path == "/big":
            return web.Response(body=b"x" * 100_000)
        return web.Response(text="ok")


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    server = HttpServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    server.port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", server.port)
    await site.start()
    yield server
    server.release.set()
    await runner.cleanup()


def http_probe(port: Any, path: str, **extra: Any) -> Obj:
    return {"httpGet": {"port": port, "path": path, **extra}, "timeoutSeconds": 1}


PORTS = [{"name": "http", "containerPort": 0}]


async def probe_http(server: HttpServer, path: str, **extra: Any) -> ProbeResult:
    return await run_probe(http_probe(server.port, path, **extra), pod_ip="127.0.0.1")


@pytest.mark.parametrize(
    ("path", "result", "output"),
    [
        pytest.param("/status/200", "success", "body", id="200"),
        pytest.param("/status/204", "success", "", id="204"),
        pytest.param("/status/299", "success", "body", id="299"),
        pytest.param(
            "/status/399",
            "warning",
            "Probe terminated redirects, Response body: body",
            id="3xx-is-warning",
        ),
        pytest.param("/status/400", "failure", "HTTP probe failed with statuscode: 400", id="400"),
        pytest.param("/status/500", "failure", "HTTP probe failed with statuscode: 500", id="500"),
        pytest.param("/redirect-local", "success", "body", id="same-host-redirect-followed"),
        pytest.param(
            "/redirect-to-fail",
            "failure",
            "HTTP probe failed with statuscode: 503",
            id="relative-redirect-followed",
        ),
        pytest.param(
            "/redirect-other-host",
            "warning",
            "Probe terminated redirects, Response body: 302: Found",
            id="other-host-redirect-not-followed",
        ),
    ],
)
async def test_http_statuses(http_server: HttpServer, path: str, result: str, output: str) -> None:
    got = await probe_http(http_server, path)
    assert (got.result, got.message, got.error) == (result, output, None)


async def test_http_request_shape(http_server: HttpServer) -> None:
    await probe_http(
        http_server, "/status/200?x=1", httpHeaders=[{"name": "x-custom", "value": "v"}]
    )
    req = http_server.requests[-1]
    assert req.path_qs == "/status/200?x=1"
    assert req.headers["User-Agent"] == "kube-probe/1.33"
    assert req.headers["Accept"] == "*/*"
    assert req.headers["X-Custom"] == "v"
    assert req.headers.get("Connection", "").lower() == "close"


async def test_http_header_overrides(http_server: HttpServer) -> None:
    headers = [
        {"name": "User-Agent", "value": "mine"},
        {"name": "Accept", "value": ""},
        {"name": "Host", "value": "example.test"},
    ]
    await probe_http(http_server, "/", httpHeaders=headers)
    req = http_server.requests[-1]
    assert req.headers["User-Agent"] == "mine"
    assert "Accept" not in req.headers
    assert req.host == "example.test"


async def test_http_named_port_and_host_default(http_server: HttpServer) -> None:
    ports = [{"name": "web", "containerPort": http_server.port}]
    got = await run_probe(
        http_probe("web", "/status/200"), pod_ip="127.0.0.1", container_ports=ports
    )
    assert got.result == "success"
    got = await run_probe(http_probe(str(http_server.port), "/status/200"), pod_ip="127.0.0.1")
    assert got.result == "success"  # a number written as text
    got = await run_probe(
        http_probe(http_server.port, "/status/200", host="127.0.0.1"), pod_ip="10.255.255.1"
    )
    assert got.result == "success"


async def test_http_redirect_loop(http_server: HttpServer) -> None:
    got = await probe_http(http_server, "/loop")
    assert got == ProbeResult(
        "failure", f'Get "http://127.0.0.1:{http_server.port}/loop": stopped after 10 redirects'
    )


async def test_http_body_is_bounded(http_server: HttpServer) -> None:
    got = await probe_http(http_server, "/big")
    assert got.result == "success" and len(got.message) == 10 * 1024


async def test_http_connection_refused() -> None:
    port = free_port()
    got = await run_probe(http_probe(port, "/healthz"), pod_ip="127.0.0.1")
    assert got == ProbeResult(
        "failure",
        f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: connection refused',
    )


async def test_http_timeout(http_server: HttpServer) -> None:
    got = await probe_http(http_server, "/slow")
    assert got == ProbeResult(
        "failure",
        f'Get "http://127.0.0.1:{http_server.port}/slow": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)",
    )


@pytest.fixture
async def https_server(tmp_path: Path) -> AsyncIterator[int]:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=x",
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="secure")

    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    yield port
    await runner.cleanup()


async def test_https_without_verification(https_server: int) -> None:
    got = await run_probe(http_probe(https_server, "/", scheme="HTTPS"), pod_ip="127.0.0.1")
    assert got == ProbeResult("success", "secure")


async def test_https_to_plain_http_server(http_server: HttpServer) -> None:
    got = await probe_http(http_server, "/", scheme="HTTPS")
    assert got == ProbeResult(
        "failure",
        f'Get "https://127.0.0.1:{http_server.port}/": http: server gave HTTP response to HTTPS client',
    )


# --- TCP -------------------------------------------------------------------------------


async def test_tcp() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        got = await run_probe({"tcpSocket": {"port": port}}, pod_ip="127.0.0.1")
        assert got == ProbeResult("success", "")
    finally:
        server.close()
        await server.wait_closed()
    got = await run_probe({"tcpSocket": {"port": port}}, pod_ip="127.0.0.1")
    assert got == ProbeResult("failure", f"dial tcp 127.0.0.1:{port}: connect: connection refused")


@pytest.mark.parametrize(
    ("port", "error"),
    [
        pytest.param(
            "metrics", 'strconv.Atoi: parsing "metrics": invalid syntax', id="unknown-name"
        ),
        pytest.param(0, "invalid port number: 0", id="zero"),
        pytest.param(70000, "invalid port number: 70000", id="too-big"),
    ],
)
async def test_port_errors_are_unknown(port: Any, error: str) -> None:
    got = await run_probe({"tcpSocket": {"port": port}}, pod_ip="127.0.0.1", container_ports=PORTS)
    assert got == ProbeResult("unknown", "", error)


def test_resolve_port() -> None:
    assert resolve_port("http", [{"name": "http", "containerPort": 8080}]) == 8080
    assert resolve_port("+81", []) == 81
    assert resolve_port(443, []) == 443


# --- gRPC ------------------------------------------------------------------------------


class Health(grpc.GenericRpcHandler):
    def __init__(self, statuses: dict[str, int]) -> None:
        self.statuses = statuses
        self.user_agents: list[str] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != "/grpc.health.v1.Health/Check":
            return None
        self.user_agents += [v for k, v in details.invocation_metadata if k == "user-agent"]

        async def check(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            service = request[2:].decode() if request else ""
            if service == "slow":
                await asyncio.sleep(30)
            if service not in self.statuses:
                await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
            status = self.statuses[service]
            return b"\x08" + bytes([status]) if status else b""

        return grpc.unary_unary_rpc_method_handler(check)


@pytest.fixture
async def grpc_server() -> AsyncIterator[tuple[int, Health]]:
    health = Health({"": 1, "down": 2, "zero": 0, "slow": 1})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([health])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port, health
    await server.stop(None)


@pytest.mark.parametrize(
    ("service", "result", "output"),
    [
        pytest.param(None, "success", "service is serving", id="serving"),
        pytest.param(
            "down", "failure", 'service unhealthy (responded with "NOT_SERVING")', id="not-serving"
        ),
        pytest.param(
            "zero", "failure", 'service unhealthy (responded with "UNKNOWN")', id="unknown-status"
        ),
        pytest.param(
            "nope",
            "failure",
            "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service",
            id="rpc-error",
        ),
        pytest.param(
            "slow", "failure", "timeout: health rpc did not complete within 1s", id="rpc-timeout"
        ),
    ],
)
async def test_grpc(
    grpc_server: tuple[int, Health], service: str | None, result: str, output: str
) -> None:
    port, health = grpc_server
    spec: Obj = {"port": port}
    if service is not None:
        spec["service"] = service
    got = await run_probe({"grpc": spec, "timeoutSeconds": 1}, pod_ip="127.0.0.1")
    assert (got.result, got.message) == (result, output)
    assert health.user_agents[-1].startswith("kube-probe/1.33")


async def test_grpc_unimplemented() -> None:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        got = await run_probe({"grpc": {"port": port}}, pod_ip="127.0.0.1")
    finally:
        await server.stop(None)
    assert got.result == "failure"
    assert got.message.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "
    )


async def test_grpc_nothing_listening() -> None:
    port = free_port()
    got = await run_probe({"grpc": {"port": port}, "timeoutSeconds": 1}, pod_ip="127.0.0.1")
    assert got == ProbeResult(
        "failure",
        f'timeout: failed to connect service "127.0.0.1:{port}" within 1s: context deadline exceeded',
    )


def test_decode_health_status() -> None:
    assert decode_health_status(b"") == 0
    assert decode_health_status(b"\x08\x01") == 1
    assert decode_health_status(b"\x12\x02ab\x08\x03") == 3  # unknown fields are skipped


# --- exec ------------------------------------------------------------------------------


async def test_exec() -> None:
    calls: list[tuple[list[str], float]] = []

    async def exec_fn(cmd: list[str], timeout: float) -> tuple[int, bytes, bytes]:
        calls.append((cmd, timeout))
        if cmd[-1] == "timeout":
            raise TimeoutError
        if cmd[-1] == "boom":
            raise RuntimeError("container not running")
        code = 0 if cmd[-1] == "ok" else 1
        return code, b"out:", b"err" * 5000

    async def probe(last: str) -> ProbeResult:
        spec = {"exec": {"command": ["sh", "-c", "$(MODE)", last]}, "timeoutSeconds": 3}
        env = [
            {"name": "MODE", "value": "check"},
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {}}},
        ]
        return await run_probe(spec, pod_ip="", exec_fn=exec_fn, static_env=env)

    ok = await probe("ok")
    assert (
        ok.result == "success" and ok.message.startswith("out:err") and len(ok.message) == 10 * 1024
    )
    assert calls[0] == (["sh", "-c", "check", "ok"], 3.0)
    assert (await probe("bad")).result == "failure"
    assert await probe("timeout") == ProbeResult(
        "failure", 'command "sh -c check timeout" timed out'
    )
    assert await probe("boom") == ProbeResult("unknown", "", "container not running")


def test_helpers() -> None:
    assert go_duration(1) == "1s"
    assert go_duration(60) == "1m0s"
    assert go_duration(3725) == "1h2m5s"
    assert canonical_header("x-custom-HEADER") == "X-Custom-Header"
    assert canonical_header("bad header") == "bad header"
