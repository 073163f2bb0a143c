"""exec, attach and portforward: the apiserver tunnels the client's upgraded connection
(WebSocket or SPDY, as kubectl negotiates it) to the kubelet of the pod's node, byte for
byte, the way upstream's UpgradeAwareHandler proxies it. The kubelet endpoint is the node's
InternalIP and ``status.daemonEndpoints.kubeletEndpoint.Port`` (HTTPS); the apiserver
presents its client certificate there.

Kubelet paths, as upstream's: ``/exec/<ns>/<pod>/<container>``,
``/attach/<ns>/<pod>/<container>``, ``/portForward/<ns>/<pod>``, with the client's query.
Until the upgrade answer comes back the exchange is plain HTTP, so a kubelet refusal
reaches the client as the kubelet's status and body.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pyk8s.api import errors, resources

if TYPE_CHECKING:
    from pyk8s.apiserver.handlers import ResourceHandler
    from pyk8s.apiserver.routing import ResourceRequest

__all__ = ["KubeletClientTLS", "tunnel"]

Obj = dict[str, Any]

_HOP_HEADERS = {"host", "authorization", "content-length", "transfer-encoding"}


class KubeletClientTLS:
    """TLS toward kubelets: the apiserver's client certificate, the kubelet's serving
    certificate not verified (upstream's default without --kubelet-certificate-authority)."""

    def __init__(self, cert: Path | None = None, key: Path | None = None) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert is not None and key is not None:
            ctx.load_cert_chain(cert, key)
        self.context = ctx


class _Pipe:
    """The aiohttp payload parser slot: bytes from the client go to the kubelet."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.closed = asyncio.Event()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if not self.writer.is_closing():
            self.writer.write(data)
        return False, b""

    def feed_eof(self) -> None:
        self.closed.set()
        with contextlib.suppress(Exception):
            self.writer.close()


SIM_NODE_ANNOTATION = "pyk8s.io/sim-node"


def is_local_address(addr: str) -> bool:
    """Whether ``addr`` belongs to this machine (binding to it succeeds). The apiserver
    dials kubelets only there: every node of a pyk8s cluster runs on this host, and a
    connection to any other address would leave the machine."""
    try:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


def kubelet_endpoint(node: Obj) -> tuple[str, int]:
    """(address, port) of a node's kubelet, or a StatusError saying why there is none."""
    name = (node.get("metadata") or {}).get("name", "")
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    if annotations.get(SIM_NODE_ANNOTATION) == "true":
        raise errors.bad_request(
            f"node {name} is a simulated node: it runs no containers and has no kubelet to reach"
        )
    target = _kubelet_address(node)
    if target is None:
        raise errors.StatusError(503, "ServiceUnavailable", f"node {name} has no kubelet endpoint")
    if not is_local_address(target[0]):
        raise errors.StatusError(
            503,
            "ServiceUnavailable",
            f"node {name}: kubelet address {target[0]} is not on this machine; pyk8s does "
            "not dial off-machine addresses",
        )
    return target


def _kubelet_address(node: Obj) -> tuple[str, int] | None:
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    addr = next(
        (a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"),
        None,
    )
    return (addr, int(port)) if addr and port else None


def _kubelet_path(sub: str, ns: str, pod: Obj, query: Any, query_string: str) -> str:
    name = pod["metadata"]["name"]
    if sub == "portforward":
        base = f"/portForward/{ns}/{name}"
    else:
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container")
        if not container:
            if len(containers) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            container = containers[0]
        elif container not in containers and container not in [
            c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []
        ]:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        base = f"/{sub}/{ns}/{name}/{container}"
    return base + ("?" + query_string if query_string else "")


async def tunnel(
    h: ResourceHandler, request: web.Request, rr: ResourceRequest, tls: KubeletClientTLS
) -> web.StreamResponse:
    assert rr.name is not None and rr.subresource is not None
    pod = (await h.registry.get(rr.resource, rr.namespace, rr.name)).decode()
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {rr.name} does not have a host assigned")
    nodes = resources.find("", "v1", "nodes")
    assert nodes is not None
    node = (await h.registry.get(nodes, None, node_name)).decode()
    host, port = kubelet_endpoint(node)
    path = _kubelet_path(
        rr.subresource, rr.namespace or "", pod, request.query, request.rel_url.raw_query_string
    )
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls.context), timeout=10
        )
    except (OSError, TimeoutError) as exc:
        raise errors.StatusError(
            503, "ServiceUnavailable", f"error dialing backend: dial tcp {host}:{port}: {exc}"
        )
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for k, v in request.headers.items():
        if k.lower() not in _HOP_HEADERS:
            lines.append(f"{k}: {v}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
        writer.close()
        raise errors.StatusError(503, "ServiceUnavailable", "the kubelet closed the connection")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    code = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip()] = v.strip()
    if code != 101:
        body = await reader.read(65536)
        writer.close()
        refused = web.Response(status=code, body=body)
        if "Content-Type" in headers:
            refused.content_type = headers["Content-Type"].split(";")[0]
        return refused
    resp = web.StreamResponse(status=101, reason="Switching Protocols")
    for k, v in headers.items():
        if k.lower() not in ("content-length", "transfer-encoding", "date", "server"):
            resp.headers[k] = v
    await resp.prepare(request)
    pipe = _Pipe(writer)
    assert request.protocol is not None
    request.protocol.set_parser(pipe)  # type: ignore[arg-type]
    transport = request.transport
    try:
        while transport is not None and not transport.is_closing():
            data = await reader.read(65536)
            if not data:
                break
            transport.write(data)
    finally:
        writer.close()
        if transport is not None and not transport.is_closing():
            transport.close()
    return resp
