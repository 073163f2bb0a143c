"""The nginx adapter against the real nginx: start, reload with new upstreams, refuse an
invalid configuration without touching the running one, certificate files, stop."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from pyk8s.client.testing import wait_until
from pyk8s.ingress import model, nginx, nginxconf

from . import objs as o
from .backends import backends, get, listen_port
from .test_model import snapshot


@pytest_asyncio.fixture
async def ngx(data_dir: Path) -> AsyncIterator[nginx.Nginx]:
    opts = nginxconf.RenderOptions(
        data_dir=data_dir,
        http_port=listen_port(),
        https_port=listen_port(),
        listen_address="127.0.0.1",
    )
    n = nginx.Nginx(opts)
    n.prepare()
    try:
        yield n
    finally:
        await n.stop()


def routes(port: int) -> model.Configuration:
    ing = o.ingress("a", o.rule("foo.com", o.path("/", "web")))
    return model.build(
        snapshot(ing, services=[o.service("web")], slices=[o.endpoint_slice("web", port)])
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_start_reload_refuse_stop(ngx: nginx.Nginx) -> None:
    assert stat.S_IMODE(ngx.opts.certs_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(ngx.opts.default_certificate.stat().st_mode) == 0o600
    empty = nginxconf.render(model.build(model.Snapshot(ingresses=[])), ngx.opts)
    await ngx.apply(empty)
    master = ngx.pid
    assert master is not None and ngx.workers()
    port = ngx.opts.http_port
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        backends("one", "two") as b,
    ):
        status, _, _ = await get(session, port, "foo.com", "/")
        assert status == 404

        await ngx.apply(nginxconf.render(routes(b["one"].port), ngx.opts))
        assert ngx.pid == master and ngx.reloads == 1
        status, body, _ = await get(session, port, "foo.com", "/x")
        assert (status, body["name"], body["path"]) == (200, "one", "/x")

        good = ngx.conf_file.read_text()
        bad = o.ingress(
            "bad",
            o.rule("x.com", o.path("/(", "web", "ImplementationSpecific")),
            annotations={"nginx.ingress.kubernetes.io/use-regex": "true"},
        )
        with pytest.raises(nginx.ConfigInvalid, match="pcre"):
            await ngx.apply(nginxconf.render(model.build(snapshot(bad)), ngx.opts))
        assert ngx.conf_file.read_text() == good and ngx.reloads == 1
        assert not list(ngx.opts.data_dir.glob("check-*.conf"))

        await ngx.apply(nginxconf.render(routes(b["two"].port), ngx.opts))
        status, body, _ = await get(session, port, "foo.com", "/")
        assert (status, body["name"]) == (200, "two")

    workers = ngx.workers()
    await ngx.stop()
    assert not ngx.running and not alive(master)
    await wait_until(lambda: not any(alive(w) for w in workers), timeout=10)


async def test_certificates_are_private_and_collected(ngx: nginx.Nginx) -> None:
    ing = o.ingress(
        "t", o.rule("foo.com", o.path("/", "web")), tls=[{"hosts": ["foo.com"], "secretName": "s"}]
    )
    cfg = model.build(snapshot(ing, secrets=[o.tls_secret("s", "foo.com")]))
    (cert,) = cfg.certificates
    await ngx.apply(nginxconf.render(cfg, ngx.opts), cfg.certificates)
    path = ngx.opts.certificate(cert.name)
    assert path.read_bytes() == cert.pem and stat.S_IMODE(path.stat().st_mode) == 0o600
    empty = model.build(model.Snapshot(ingresses=[]))
    await ngx.apply(nginxconf.render(empty, ngx.opts))
    assert not path.exists() and ngx.opts.default_certificate.exists()


async def test_start_failure_is_reported(ngx: nginx.Nginx) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ngx.opts.http_port))
        taken.listen()
        empty = nginxconf.render(model.build(model.Snapshot(ingresses=[])), ngx.opts)
        with pytest.raises(nginx.NginxError, match="Address already in use"):
            await ngx.apply(empty)
    assert not ngx.running


async def test_master_killed_leaves_no_workers(ngx: nginx.Nginx) -> None:
    await ngx.apply(nginxconf.render(model.build(model.Snapshot(ingresses=[])), ngx.opts))
    workers = ngx.workers()
    assert workers
    pid = ngx.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await ngx.stop()
    await wait_until(lambda: not any(alive(w) for w in workers), timeout=10)
