"""postStart / preStop handlers: exec, httpGet (local server), sleep on virtual time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pyk8s.client.testing import FakeClock
from pyk8s.kubelet import hooks

Obj = dict[str, Any]
POD: Obj = {"metadata": {"name": "web", "namespace": "ns", "uid": "u-1"}}


def container(**lifecycle: Obj) -> Obj:
    return {"name": "app", "ports": [{"name": "http", "containerPort": 0}], "lifecycle": lifecycle}


async def exec_fn(cmd: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    assert timeout == 0  # hooks run without a timeout
    if cmd[-1] == "fail":
        return 3, b"some output\n", b"bad thing\n"
    return 0, b"", b""


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[web.Request]]]:
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        return web.Response(status=500 if request.path == "/broken" else 200)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port, seen
    await runner.cleanup()


async def test_exec_success_and_failure() -> None:
    ok = await hooks.post_start(
        POD,
        container(postStart={"exec": {"command": ["sh", "-c", "true"]}}),
        pod_ip="",
        exec_fn=exec_fn,
    )
    assert ok == hooks.HookResult(True)
    bad = await hooks.post_start(
        POD,
        container(postStart={"exec": {"command": ["sh", "-c", "fail"]}}),
        pod_ip="",
        exec_fn=exec_fn,
    )
    assert not bad.ok
    assert bad.message == (
        'Exec lifecycle hook ([sh -c fail]) for Container "app" in Pod "web_ns(u-1)" failed - error: '
        "command 'sh -c fail' exited with 3: bad thing\n, message: \"some output\\nbad thing\\n\""
    )
    assert bad.events == [("Warning", "FailedPostStartHook", "PostStartHook failed")]


async def test_exec_error() -> None:
    async def broken(cmd: list[str], timeout: float) -> tuple[int, bytes]:
        raise RuntimeError("container not found")

    res = await hooks.post_start(
        POD, container(postStart={"exec": {"command": ["x"]}}), pod_ip="", exec_fn=broken
    )
    assert res.message.endswith('failed - error: container not found, message: ""')


async def test_http_any_response_is_success(server: tuple[int, list[web.Request]]) -> None:
    port, seen = server
    c = container(postStart={"httpGet": {"port": port, "path": "/broken"}})
    assert (await hooks.post_start(POD, c, pod_ip="127.0.0.1", exec_fn=exec_fn)).ok
    assert seen[-1].headers["User-Agent"] == "kube-lifecycle/1.33"


async def test_http_named_port_and_failure(server: tuple[int, list[web.Request]]) -> None:
    port, seen = server
    c = container(postStart={"httpGet": {"port": "http", "path": "/hook"}})
    c["ports"][0]["containerPort"] = port
    assert (await hooks.post_start(POD, c, pod_ip="127.0.0.1", exec_fn=exec_fn)).ok
    assert seen[-1].path == "/hook"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    c = container(preStop={"httpGet": {"port": dead, "path": "/stop"}})
    res = await hooks.pre_stop(POD, c, pod_ip="127.0.0.1", exec_fn=exec_fn, grace_period=30)
    assert not res.ok
    assert res.message == (
        f'HTTP lifecycle hook (/stop) for Container "app" in Pod "web_ns(u-1)" failed - error: '
        f'Get "http://127.0.0.1:{dead}/stop": dial tcp 127.0.0.1:{dead}: connect: connection refused'
    )
    assert res.events == [("Warning", "FailedPreStopHook", "PreStopHook failed")]


async def test_https_hook_falls_back_to_http(server: tuple[int, list[web.Request]]) -> None:
    port, seen = server
    headers = [{"name": "Authorization", "value": "Bearer x"}]
    c = container(
        postStart={
            "httpGet": {"port": port, "path": "/", "scheme": "HTTPS", "httpHeaders": headers}
        }
    )
    res = await hooks.post_start(POD, c, pod_ip="127.0.0.1", exec_fn=exec_fn)
    assert res.ok
    assert res.events == [
        (
            "Warning",
            "LifecycleHTTPFallback",
            f"request to HTTPS lifecycle hook 127.0.0.1:{port} got HTTP response, retry with HTTP succeeded",
        )
    ]
    assert "Authorization" not in seen[-1].headers


async def test_sleep_and_grace_period() -> None:
    clock = FakeClock()
    c = container(preStop={"sleep": {"seconds": 5}})
    task = asyncio.ensure_future(
        hooks.pre_stop(POD, c, pod_ip="", exec_fn=exec_fn, grace_period=30, clock=clock)
    )
    await clock.wait_for_sleepers(2)
    await clock.advance(5)
    res = await task
    assert res.ok and res.elapsed == 5

    c = container(preStop={"sleep": {"seconds": 100}})
    task = asyncio.ensure_future(
        hooks.pre_stop(POD, c, pod_ip="", exec_fn=exec_fn, grace_period=30, clock=clock)
    )
    await clock.wait_for_sleepers(2)
    await clock.advance(30)
    res = await task
    assert res.ok and res.elapsed == 30 and res.events == []
    assert clock.sleepers == 0


async def test_no_hook_and_invalid_handler() -> None:
    assert (
        await hooks.pre_stop(POD, {"name": "app"}, pod_ip="", exec_fn=exec_fn, grace_period=1)
    ).ok
    res = await hooks.run_handler({}, pod=POD, container=container(), pod_ip="", exec_fn=exec_fn)
    assert res.message == "Cannot run handler: invalid handler: {}"
