"""The kubelet's HTTPS server against a real containerd: exec over WebSocket v5 (stdin EOF,
exit codes) translated to containerd's SPDY, exec over SPDY relayed, attach, port-forward
over SPDY-in-WebSocket and over SPDY to an httpd in a pod, and container logs."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from kubelet.kubelet_fixtures import cluster_tls
from kubelet.spdy_ws import spdy_over_websocket
from pyk8s.api import errors
from pyk8s.apiserver import certs
from pyk8s.client.testing import wait_until
from pyk8s.kubelet import spdysession
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri_streaming import CRIStreamingRuntime
from pyk8s.kubelet.server import KubeletServer
from pyk8s.kubelet.streaming import ContainerRef

from .conftest import CRIEnv

__all__ = ["cluster_tls"]

V5 = "v5.channel.k8s.io"


@dataclass
class CRIBackend:
    """A StreamingBackend over CRI for one test pod (the kubelet core keeps this map)."""

    runtime: CRIStreamingRuntime
    sandbox_id: str
    containers: dict[str, str] = field(default_factory=dict)  # name -> container id
    log_dir: Path = Path("/nonexistent")

    async def find_container(self, namespace: str, pod: str, container: str) -> ContainerRef:
        if (namespace, pod) != ("default", "pod") or container not in self.containers:
            raise errors.StatusError(404, "NotFound", f'pod "{pod}" not found')
        cid = self.containers[container]
        running = await self.runtime.container_running(cid)
        return ContainerRef(cid, str(self.log_dir / container / "0.log"), None, running)

    async def find_sandbox(self, namespace: str, pod: str) -> str:
        if (namespace, pod) != ("default", "pod"):
            raise errors.StatusError(404, "NotFound", f'pod "{pod}" not found')
        return self.sandbox_id

    def pods(self) -> list[dict[str, Any]]:
        return []


@dataclass
class Node:
    server: KubeletServer
    backend: CRIBackend
    tls: certs.ClusterTLS

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        ctx.load_cert_chain(str(self.tls.admin_cert), str(self.tls.admin_key))
        return ctx


def _container(
    name: str, command: Sequence[str], *, stdin: bool = False
) -> api_pb2.ContainerConfig:
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name, attempt=0),
        image=api_pb2.ImageSpec(image="pyk8s.local/testbox:1.0"),
        command=list(command),
        log_path=f"{name}/0.log",
        stdin=stdin,
    )


@pytest.fixture
async def node(cri_env: CRIEnv, cluster_tls: certs.ClusterTLS) -> AsyncIterator[Node]:
    uid = str(uuid.uuid4())
    log_dir = cri_env.log_dir(uid)
    log_dir.mkdir(parents=True)
    sandbox = api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name="pod", uid=uid, namespace="default", attempt=0),
        hostname="pod",
        log_directory=str(log_dir),
        linux=api_pb2.LinuxPodSandboxConfig(
            cgroup_parent=cri_env.cgroup_parent(uid),
            security_context=api_pb2.LinuxSandboxSecurityContext(
                namespace_options=api_pb2.NamespaceOption(
                    network=api_pb2.POD, pid=api_pb2.CONTAINER, ipc=api_pb2.POD
                )
            ),
        ),
    )
    cri = cri_env.cri
    sandbox_id = (
        await cri.call(cri.runtime.RunPodSandbox, api_pb2.RunPodSandboxRequest(config=sandbox))
    ).pod_sandbox_id
    backend = CRIBackend(CRIStreamingRuntime(cri), sandbox_id, log_dir=log_dir)
    for config in (
        _container("web", ["sh", "-c", "echo started; exec httpd -f -p 80 -h /var/www"]),
        _container(
            "echoer", ["sh", "-c", 'while read line; do echo "got $line"; done'], stdin=True
        ),
    ):
        (log_dir / config.metadata.name).mkdir()
        created = await cri.call(
            cri.runtime.CreateContainer,
            api_pb2.CreateContainerRequest(
                pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox
            ),
        )
        await cri.call(
            cri.runtime.StartContainer,
            api_pb2.StartContainerRequest(container_id=created.container_id),
        )
        backend.containers[config.metadata.name] = created.container_id
    server = KubeletServer(
        backend,
        host="127.0.0.1",
        port=0,
        tls_cert=cluster_tls.server_cert,
        tls_key=cluster_tls.server_key,
        client_ca=cluster_tls.ca_cert,
        log_poll_interval=0.05,
        shutdown_timeout=1,
    )
    await server.start()
    try:
        yield Node(server, backend, cluster_tls)
    finally:
        await server.stop()


async def ws_exec(
    node: Node, path: str, send: Sequence[bytes], *, protocol: str = V5
) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(node.base + path, protocols=[protocol], ssl=node.ssl()) as ws,
    ):
        assert ws.protocol == protocol
        for message in send:
            await ws.send_bytes(message)
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.BINARY
            out[msg.data[0]] = out.get(msg.data[0], b"") + msg.data[1:]
        assert ws.close_code == 1000
    return out


async def test_exec_websocket_v5_stdin_eof_and_exit_code(node: Node) -> None:
    query = urlencode(
        [
            ("command", "sh"),
            ("command", "-c"),
            ("command", "cat; echo done >&2; exit 7"),
            *[("stdin", "true"), ("stdout", "true"), ("stderr", "true")],
        ]
    )
    out = await ws_exec(
        node,
        f"/exec/default/pod/web?{query}",
        [b"\x00line one\n", b"\x00line two\n", b"\xff\x00"],
    )
    assert out[1] == b"line one\nline two\n"
    assert out[2] == b"done\n"
    status = json.loads(out[3])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


async def test_exec_websocket_success_and_tty(node: Node) -> None:
    query = "command=echo&command=hello&stdout=true&stderr=true"
    out = await ws_exec(node, f"/exec/default/pod/web?{query}", [])
    assert out[1] == b"hello\n"
    assert json.loads(out[3])["status"] == "Success"
    # with a TTY: no stderr stream, a resize stream, output through the terminal
    query = "command=sh&command=-c&command=echo%20tty&stdin=true&stdout=true&stderr=true&tty=true"
    out = await ws_exec(node, f"/exec/default/pod/web?{query}", [b'\x04{"Width":100,"Height":40}'])
    assert out[1] == b"tty\r\n"
    assert json.loads(out[3])["status"] == "Success"


async def test_exec_over_spdy_is_relayed_to_containerd(node: Node) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.server.port, ssl=node.ssl())
    path = "/exec/default/pod/web?command=sh&command=-c&command=read%20x%3B%20echo%20%24x%3B%20exit%203&stdin=true&stdout=true"
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            "X-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
            "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
        ).encode()
    )
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert head.startswith("HTTP/1.1 101")
    assert "X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    conn = spdysession.SpdyConnection(reader, writer, client=True)
    conn.start()
    try:
        error = await conn.open_stream({"streamtype": "error"})
        stdin = await conn.open_stream({"streamtype": "stdin"})
        stdout = await conn.open_stream({"streamtype": "stdout"})
        await stdin.write(b"via spdy\n")
        stdin.close()
        assert await stdout.read_all() == b"via spdy\n"
        status = json.loads(await error.read_all())
        assert status["details"]["causes"][0]["message"] == "3"
    finally:
        await conn.close()


async def test_attach_to_a_container_with_stdin(node: Node) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            node.base + "/attach/default/pod/echoer?stdin=true&stdout=true&stderr=true",
            protocols=[V5],
            ssl=node.ssl(),
        ) as ws,
    ):
        await ws.send_bytes(b"\x00hello\n")
        msg = await ws.receive(timeout=30)
        assert msg.data == b"\x01got hello\n"
        await ws.close()  # detaching leaves the container running
    assert await node.backend.runtime.container_running(node.backend.containers["echoer"])


async def http_through(conn: spdysession.SpdyConnection, request_id: int) -> bytes:
    headers = {"port": "80", "requestid": str(request_id)}
    error = await conn.open_stream({"streamtype": "error", **headers})
    error.close()
    data = await conn.open_stream({"streamtype": "data", **headers})
    await data.write(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")
    body = await data.read_all()
    assert await error.read_all() == b""
    return body


async def wait_for_httpd(node: Node) -> None:
    log = node.backend.log_dir / "web" / "0.log"
    await wait_until(lambda: log.exists() and b"started" in log.read_bytes(), timeout=30)


async def test_port_forward_spdy_over_websocket_to_httpd(node: Node) -> None:
    await wait_for_httpd(node)
    async with spdy_over_websocket(
        node.base + "/portForward/default/pod", node.ssl(), piece=7
    ) as conn:
        body = b""
        for attempt in range(100):  # httpd may not listen yet right after "started"
            body = await http_through(conn, attempt)
            if body:
                break
        assert body.startswith(b"HTTP/1.")
        assert b"pyk8s testbox" in body
        # two forwarded connections at once on the same session
        first, second = await asyncio.gather(http_through(conn, 1000), http_through(conn, 1001))
        assert b"pyk8s testbox" in first and b"pyk8s testbox" in second


async def test_port_forward_over_spdy_is_relayed(node: Node) -> None:
    await wait_for_httpd(node)
    reader, writer = await asyncio.open_connection("127.0.0.1", node.server.port, ssl=node.ssl())
    writer.write(
        b"POST /portForward/default/pod HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
        b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n"
    )
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert head.startswith("HTTP/1.1 101")
    conn = spdysession.SpdyConnection(reader, writer, client=True)
    conn.start()
    try:
        body = b""
        for attempt in range(100):
            body = await http_through(conn, attempt)
            if body:
                break
        assert b"pyk8s testbox" in body
    finally:
        await conn.close()


async def test_container_logs_from_the_cri_log_file(node: Node) -> None:
    await wait_for_httpd(node)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            node.base + "/containerLogs/default/pod/web?timestamps=true", ssl=node.ssl()
        ) as resp,
    ):
        assert resp.status == 200
        text = await resp.text()
    stamp, _, line = text.partition(" ")
    assert line == "started\n"
    assert "T" in stamp
