"""exec/attach/port-forward through the kubelet's HTTPS server, against a fake runtime
streaming server (SPDY): WebSocket v5/v4/v1/base64 → SPDY translation, SPDY relay, and
SPDY-over-WebSocket port-forward."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from kubelet.kubelet_fixtures import KubeletEnv, cluster_tls, kubelet_env
from kubelet.spdy_ws import spdy_over_websocket
from pyk8s.kubelet import spdysession

__all__ = ["cluster_tls", "kubelet_env"]

V5 = "v5.channel.k8s.io"


def exec_url(env: KubeletEnv, steps: list[str], **flags: bool) -> str:
    query = [("command", s) for s in steps] + [(k, "true") for k, v in flags.items() if v]
    return f"{env.base}/exec/default/web/app?{urlencode(query)}"


async def run_ws(
    env: KubeletEnv,
    url: str,
    *,
    protocol: str = V5,
    send: list[bytes | str] = (),  # type: ignore[assignment]
) -> tuple[str | None, list[tuple[int, bytes]]]:
    """Connect, send ``send``, collect (channel, data) until the server closes."""
    got: list[tuple[int, bytes]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=[protocol], ssl=env.client_ssl()) as ws,
    ):
        for message in send:
            if isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_bytes(message)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                got.append((msg.data[0], msg.data[1:]))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                got.append((ord(msg.data[0]) - ord("0"), base64.b64decode(msg.data[1:])))
        assert ws.close_code == 1000
        return ws.protocol, got


def channel(got: list[tuple[int, bytes]], ch: int) -> bytes:
    return b"".join(data for c, data in got if c == ch)


async def test_exec_v5_output_and_success_status(kubelet_env: KubeletEnv) -> None:
    url = exec_url(kubelet_env, ["echo hello", "err oops"], stdout=True, stderr=True)
    protocol, got = await run_ws(kubelet_env, url)
    assert protocol == V5
    assert channel(got, 1) == b"hello\n"
    assert channel(got, 2) == b"oops\n"
    assert json.loads(channel(got, 3))["status"] == "Success"
    (session,) = kubelet_env.streaming.sessions
    assert session.protocol == "v4.channel.k8s.io"
    assert list(session.streams) == ["error", "stdout", "stderr"]


async def test_exec_v5_stdin_eof_and_exit_code(kubelet_env: KubeletEnv) -> None:
    url = exec_url(kubelet_env, ["cat", "exit 3"], stdin=True, stdout=True, stderr=True)
    _, got = await run_ws(kubelet_env, url, send=[b"\x00abc", b"\x00", b"\x00def", b"\xff\x00"])
    assert channel(got, 1) == b"abcdef"
    status = json.loads(channel(got, 3))
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert kubelet_env.streaming.sessions[0].stdin_eof


async def test_exec_tty_resize_and_no_stderr_stream(kubelet_env: KubeletEnv) -> None:
    url = exec_url(kubelet_env, ["resize"], stdin=True, stdout=True, stderr=True, tty=True)
    size = b'{"Width":80,"Height":24}'
    _, got = await run_ws(kubelet_env, url, send=[b"\x04" + size])
    assert channel(got, 1) == size
    assert list(kubelet_env.streaming.sessions[0].streams) == ["error", "stdin", "stdout", "resize"]


@pytest.mark.parametrize(
    ("protocol", "status"),
    [
        pytest.param("v4.channel.k8s.io", "json", id="v4"),
        pytest.param("v4.base64.channel.k8s.io", "json", id="v4-base64"),
        pytest.param("channel.k8s.io", "text", id="v1"),
        pytest.param("base64.channel.k8s.io", "text", id="v1-base64"),
    ],
)
async def test_exec_older_websocket_protocols(
    kubelet_env: KubeletEnv, protocol: str, status: str
) -> None:
    url = exec_url(kubelet_env, ["echo hi", "exit 2"], stdout=True)
    negotiated, got = await run_ws(kubelet_env, url, protocol=protocol)
    assert negotiated == protocol
    assert channel(got, 1) == b"hi\n"
    if status == "json":
        assert json.loads(channel(got, 3))["details"]["causes"][0]["message"] == "2"
    else:
        assert channel(got, 3) == b"command terminated with non-zero exit code: exit status 2"


async def test_attach_uses_the_attach_url(kubelet_env: KubeletEnv) -> None:
    url = f"{kubelet_env.base}/attach/default/web/app?stdout=true&stderr=true"
    _, got = await run_ws(kubelet_env, url)
    assert channel(got, 1) == b"attached\n"
    assert kubelet_env.streaming.sessions[0].path.startswith("/attach/")


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        pytest.param(
            "/exec/default/gone/app?command=ls&stdout=true",
            404,
            'pod "gone" not found',
            id="no-pod",
        ),
        pytest.param(
            "/exec/default/web/app?stdout=true", 400, "you must specify a command", id="no-command"
        ),
        pytest.param(
            "/exec/default/web/app?command=ls",
            400,
            "you must specify at least 1 of stdin, stdout, stderr",
            id="no-streams",
        ),
        pytest.param("/portForward/default/gone", 404, 'pod "gone" not found', id="pf-no-pod"),
        pytest.param(
            "/portForward/default/web?ports=x",
            400,
            'unable to parse "x" as a port',
            id="pf-bad-port",
        ),
    ],
)
async def test_refusals_are_status_objects(
    kubelet_env: KubeletEnv, path: str, code: int, message: str
) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(
                kubelet_env.base + path, protocols=[V5], ssl=kubelet_env.client_ssl()
            )
        assert info.value.status == code
        async with session.post(
            kubelet_env.base + path,
            headers={
                "Connection": "Upgrade",
                "Upgrade": "SPDY/3.1",
                "X-Stream-Protocol-Version": "v4.channel.k8s.io",
            },
            ssl=kubelet_env.client_ssl(),
        ) as resp:
            assert resp.status == code
            body = await resp.json()
    assert body["kind"] == "Status" and body["code"] == code and body["message"] == message


async def test_waiting_container_is_refused(kubelet_env: KubeletEnv) -> None:
    kubelet_env.backend.waiting[("default", "web", "init")] = "ContainerCreating"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(
                f"{kubelet_env.base}/exec/default/web/init?command=ls&stdout=1",
                protocols=[V5],
                ssl=kubelet_env.client_ssl(),
            )
    assert info.value.status == 400


# --- SPDY from the client: relayed byte for byte ---------------------------------------


async def spdy_upgrade(
    env: KubeletEnv, path: str, protocols: list[str]
) -> tuple[int, dict[str, str], asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", env.server.port, ssl=env.client_ssl()
    )
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{env.server.port}",
        "Connection: Upgrade",
        "Upgrade: SPDY/3.1",
    ]
    lines += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status_line, *rest = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in rest)}
    return int(status_line.split()[1]), headers, reader, writer


async def test_exec_over_spdy_is_relayed(kubelet_env: KubeletEnv) -> None:
    path = "/exec/default/web/app?" + urlencode(
        [("command", "cat"), ("command", "exit 1"), ("stdin", "true"), ("stdout", "true")]
    )
    code, headers, reader, writer = await spdy_upgrade(
        kubelet_env,
        path,
        [V5, "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"],
    )
    assert code == 101
    assert headers["x-stream-protocol-version"] == "v4.channel.k8s.io"
    conn = spdysession.SpdyConnection(reader, writer, client=True)
    conn.start()
    try:
        error = await conn.open_stream({"streamtype": "error"})
        stdin = await conn.open_stream({"streamtype": "stdin"})
        stdout = await conn.open_stream({"streamtype": "stdout"})
        await stdin.write(b"over spdy")
        stdin.close()
        assert await stdout.read_all() == b"over spdy"
        status = json.loads(await error.read_all())
        assert status["details"]["causes"][0]["message"] == "1"
    finally:
        await conn.close()


async def test_spdy_refusal_of_the_runtime_is_relayed(kubelet_env: KubeletEnv) -> None:
    code, _, _, writer = await spdy_upgrade(
        kubelet_env, "/exec/default/web/app?command=ls&stdout=1", ["v9.channel.k8s.io"]
    )
    writer.close()
    assert code == 403


# --- port-forward ------------------------------------------------------------------------


async def forward_once(
    conn: spdysession.SpdyConnection, request_id: int, port: int, payload: bytes
) -> bytes:
    headers = {"port": str(port), "requestid": str(request_id)}
    error = await conn.open_stream({"streamtype": "error", **headers})
    error.close()
    data = await conn.open_stream({"streamtype": "data", **headers})
    await data.write(payload)
    data.close()
    return await data.read_all()


async def test_port_forward_spdy_over_websocket(kubelet_env: KubeletEnv) -> None:
    url = f"{kubelet_env.base}/portForward/default/web"
    async with spdy_over_websocket(url, kubelet_env.client_ssl()) as conn:
        first, second = await asyncio.gather(
            forward_once(conn, 0, 80, b"hello"), forward_once(conn, 1, 8080, b"again")
        )
    assert first == b"port 80: HELLO"
    assert second == b"port 8080: AGAIN"
    (session,) = kubelet_env.streaming.sessions
    assert session.protocol == "portforward.k8s.io"
    assert kubelet_env.runtime.port_forwards == [("sandbox-1", [])]


async def test_port_forward_over_spdy_is_relayed(kubelet_env: KubeletEnv) -> None:
    code, headers, reader, writer = await spdy_upgrade(
        kubelet_env, "/portForward/default/web", ["portforward.k8s.io"]
    )
    assert code == 101 and headers["x-stream-protocol-version"] == "portforward.k8s.io"
    conn = spdysession.SpdyConnection(reader, writer, client=True)
    conn.start()
    try:
        assert await forward_once(conn, 0, 80, b"plain") == b"port 80: PLAIN"
    finally:
        await conn.close()


async def test_plain_websocket_port_forward_goes_to_the_runtime(kubelet_env: KubeletEnv) -> None:
    # the fake runtime serves no WebSocket: its refusal comes back as is
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(
                f"{kubelet_env.base}/portForward/default/web?ports=80",
                protocols=["portforward.k8s.io"],
                ssl=kubelet_env.client_ssl(),
            )
    assert info.value.status == 403
    assert kubelet_env.runtime.port_forwards == [("sandbox-1", [80])]


# --- authentication ------------------------------------------------------------------


async def test_client_certificate_is_required_except_for_healthz(kubelet_env: KubeletEnv) -> None:
    anonymous = kubelet_env.client_ssl(with_cert=False)
    async with aiohttp.ClientSession() as session:
        async with session.get(kubelet_env.base + "/healthz", ssl=anonymous) as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
        async with session.get(kubelet_env.base + "/pods", ssl=anonymous) as resp:
            assert resp.status == 401
            assert (await resp.json())["reason"] == "Unauthorized"
        async with session.get(kubelet_env.base + "/pods", ssl=kubelet_env.client_ssl()) as resp:
            body: dict[str, Any] = await resp.json()
        assert body["kind"] == "PodList"
        assert [p["metadata"]["name"] for p in body["items"]] == ["web"]
        async with session.get(kubelet_env.base + "/metrics", ssl=kubelet_env.client_ssl()) as resp:
            text = await resp.text()
        assert 'pyk8s_kubelet_server_requests_total{code="401",route="pods"} 1.0' in text


async def test_untrusted_client_certificate_fails_the_handshake(
    kubelet_env: KubeletEnv, tmp_path: Any
) -> None:
    from pathlib import Path

    from pyk8s.apiserver import certs

    other = certs.ensure_tls(Path(tmp_path))
    ctx = ssl.create_default_context(cafile=str(kubelet_env.tls.ca_cert))
    ctx.load_cert_chain(str(other.admin_cert), str(other.admin_key))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(kubelet_env.base + "/pods", ssl=ctx) as resp:
                await resp.read()
