"""The kubelet's streaming endpoints: exec, attach and port-forward, served by proxying
the container runtime's streaming server (DESIGN §7).

Per request: the pod's container (or sandbox) is looked up through the
``StreamingBackend``; the runtime hands out a one-shot streaming URL (CRI ``Exec``,
``Attach``, ``PortForward``); then, by what the client asked for:

==============================================  =========================================
client request                                  kubelet does
==============================================  =========================================
exec/attach, WebSocket ``v5``/``v4``/``v1``     answers the WebSocket itself and
(and ``base64`` variants)                       translates to SPDY v4 towards the runtime
                                                (``remotecommand.bridge``)
exec/attach, ``Upgrade: SPDY/3.1``              relays the upgrade to the runtime byte for
                                                byte (``upgrade.splice``)
portForward, WebSocket                          answers the WebSocket, relays its payload
``SPDY/3.1+portforward.k8s.io``                 as the raw SPDY stream of a plain SPDY
                                                upgrade to the runtime (``portforward``)
portForward, ``Upgrade: SPDY/3.1`` or another   relays the upgrade byte for byte (the
WebSocket protocol (``?ports=``)                runtime serves both)
==============================================  =========================================

Refusals before the upgrade are HTTP errors with a ``Status`` body (the apiserver hands
them to the client as they are; kubectl falls back from WebSocket to SPDY on any
non-101 answer and then prints the Status message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiohttp import hdrs, web

from pyk8s.api import errors
from pyk8s.kubelet import portforward, remotecommand, upgrade
from pyk8s.kubelet.remotecommand import ExecOptions
from pyk8s.kubelet.spdy import ProtocolError
from pyk8s.kubelet.spdysession import SpdyConnection

__all__ = [
    "ContainerRef",
    "StreamingBackend",
    "StreamingRuntime",
    "error_response",
    "serve_attach",
    "serve_exec",
    "serve_port_forward",
]

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """A container the kubelet runs: its runtime id, its current CRI log file, the log
    file of its previous instance (None if it never restarted) and whether it runs."""

    container_id: str
    log_path: str
    previous_log_path: str | None
    running: bool


class StreamingRuntime(Protocol):
    """The runtime calls behind the streaming endpoints (CRI: ``cri_streaming``)."""

    async def exec_url(self, container_id: str, opts: ExecOptions) -> str: ...

    async def attach_url(self, container_id: str, opts: ExecOptions) -> str: ...

    async def port_forward_url(self, sandbox_id: str, ports: Sequence[int]) -> str: ...

    async def container_running(self, container_id: str) -> bool: ...


class StreamingBackend(Protocol):
    """What the kubelet core offers its HTTPS server. Lookups raise
    ``pyk8s.api.errors.StatusError`` with upstream's wording, e.g. 404 ``pod "web" not
    found`` or 400 ``container "c" in pod "web" is waiting to start:
    ContainerCreating``; they never return None."""

    @property
    def runtime(self) -> StreamingRuntime: ...

    async def find_container(self, namespace: str, pod: str, container: str) -> ContainerRef: ...

    async def find_sandbox(self, namespace: str, pod: str) -> str: ...

    def pods(self) -> list[Obj]:
        """The pods bound to this node, as API objects (for ``GET /pods``)."""
        ...


def error_response(exc: errors.StatusError) -> web.Response:
    return web.Response(
        status=exc.code, body=orjson.dumps(exc.status()), content_type="application/json"
    )


def _upgrade_kind(request: web.Request) -> str | None:
    connection = request.headers.get(hdrs.CONNECTION, "").lower()
    if "upgrade" not in connection:
        return None
    value = request.headers.get(hdrs.UPGRADE, "").lower()
    if value == "websocket":
        return "websocket"
    if value.startswith("spdy/"):
        return "spdy"
    return None


_FORWARDED = {"connection", "upgrade", "x-stream-protocol-version"}
_FORWARDED_WS = _FORWARDED | {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
}


async def _relay(request: web.Request, url: str, *, websocket: bool = False) -> web.StreamResponse:
    """Pass the client's upgrade on to the runtime's URL and splice the connections."""
    allowed = _FORWARDED_WS if websocket else _FORWARDED
    headers = [(k, v) for k, v in request.headers.items() if k.lower() in allowed]
    up = await upgrade.dial_upgrade(url, headers, method="GET" if websocket else "POST")
    if up.status != 101:
        return _runtime_refusal(up)
    return await upgrade.splice(request, up)


def _runtime_refusal(up: upgrade.Upgraded) -> web.Response:
    resp = web.Response(status=up.status, body=up.body)
    ctype = up.header("Content-Type")
    if ctype:
        resp.headers[hdrs.CONTENT_TYPE] = ctype
    return resp


def _spdy_headers(protocol: str) -> list[tuple[str, str]]:
    return [
        ("Connection", "Upgrade"),
        ("Upgrade", "SPDY/3.1"),
        ("X-Stream-Protocol-Version", protocol),
    ]


async def _serve_remote_command(
    request: web.Request, backend: StreamingBackend, *, attach: bool
) -> web.StreamResponse:
    ns, pod = request.match_info["namespace"], request.match_info["pod"]
    container = request.match_info["container"]
    kind = _upgrade_kind(request)
    try:
        if kind is None:
            raise errors.bad_request("Upgrade request required")
        opts = remotecommand.parse_exec_options(request.query, request.query.getall("command", []))
        if not attach and not opts.command:
            raise errors.bad_request("you must specify a command")
        ref = await backend.find_container(ns, pod, container)
        if not ref.running:
            raise errors.bad_request(f'container "{container}" in pod "{pod}" is not running')
        runtime = backend.runtime
        if attach:
            url = await runtime.attach_url(ref.container_id, opts)
        else:
            url = await runtime.exec_url(ref.container_id, opts)
        if kind == "spdy":
            return await _relay(request, url)
        ws = web.WebSocketResponse(protocols=remotecommand.WEBSOCKET_PROTOCOLS, autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok:
            raise errors.bad_request("not a valid WebSocket request")
        protocol = ready.protocol or remotecommand.V1
        up = await upgrade.dial_upgrade(url, _spdy_headers(remotecommand.SPDY_PROTOCOL))
        if up.status != 101:
            return _runtime_refusal(up)
        conn = SpdyConnection(up.reader, up.writer, client=True)
        conn.start()
        try:
            try:
                streams = await remotecommand.open_remote_streams(conn, opts)
            except (ProtocolError, ConnectionError) as exc:
                raise errors.internal_error(f"error creating streams to the runtime: {exc}")
            await ws.prepare(request)
        except BaseException:
            conn.abort()
            raise
        await remotecommand.bridge(ws, protocol, conn, streams)
        return ws
    except errors.StatusError as exc:
        return error_response(exc)
    except upgrade.UpgradeError as exc:
        return error_response(errors.internal_error(str(exc)))


async def serve_exec(request: web.Request, backend: StreamingBackend) -> web.StreamResponse:
    return await _serve_remote_command(request, backend, attach=False)


async def serve_attach(request: web.Request, backend: StreamingBackend) -> web.StreamResponse:
    return await _serve_remote_command(request, backend, attach=True)


async def serve_port_forward(request: web.Request, backend: StreamingBackend) -> web.StreamResponse:
    ns, pod = request.match_info["namespace"], request.match_info["pod"]
    kind = _upgrade_kind(request)
    try:
        if kind is None:
            raise errors.bad_request("Upgrade request required")
        ports = portforward.parse_ports(request.query.getall("ports", []))
        sandbox = await backend.find_sandbox(ns, pod)
        url = await backend.runtime.port_forward_url(sandbox, ports)
        if kind == "spdy":
            return await _relay(request, url)
        ws = web.WebSocketResponse(protocols=(portforward.TUNNEL_PROTOCOL,), autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok:
            raise errors.bad_request("not a valid WebSocket request")
        if ready.protocol != portforward.TUNNEL_PROTOCOL:
            query = request.rel_url.raw_query_string
            return await _relay(request, url + ("?" + query if query else ""), websocket=True)
        up = await upgrade.dial_upgrade(url, _spdy_headers(portforward.PORTFORWARD_PROTOCOL))
        if up.status != 101:
            return _runtime_refusal(up)
        try:
            await ws.prepare(request)
        except BaseException:
            up.writer.close()
            raise
        await portforward.tunnel(ws, up)
        return ws
    except errors.StatusError as exc:
        return error_response(exc)
    except upgrade.UpgradeError as exc:
        return error_response(errors.internal_error(str(exc)))
