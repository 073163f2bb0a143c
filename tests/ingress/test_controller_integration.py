"""The ingress controller end to end: a real apiserver, the real nginx on 127.0.0.1 high
ports, and small aiohttp servers standing in for pods, put into EndpointSlices by the
tests (Services without selectors, one slice per backend so each has its own port)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from pyk8s.client import config as client_config
from pyk8s.client import paths, rest
from pyk8s.client.store import ObjectKey
from pyk8s.ingress import bootstrap, tlscerts
from pyk8s.ingress import controller as ctl
from pyk8s.ingress.config import IngressControllerConfig

from . import objs as o
from .backends import Backend, backends, get, listen_port, tls_peer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster import Cluster

Obj = dict[str, Any]

EVENTS = paths.resource_for("", "v1", "events", kind="Event")


@pytest_asyncio.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    cfg = client_config.from_kubeconfig(cluster.kubeconfig)
    async with rest.RESTClient(cfg, qps=500, burst=1000) as c:
        yield c


@pytest_asyncio.fixture
async def controller(
    client: rest.RESTClient, namespace: str, data_dir: Path
) -> AsyncIterator[ctl.IngressController]:
    config = IngressControllerConfig(
        data_dir=data_dir,
        http_port=listen_port(),
        https_port=listen_port(),
        listen_address="127.0.0.1",
        metrics_bind="127.0.0.1:0",
        watch_namespace=namespace,
        sync_delay=0.02,
    )
    c = ctl.IngressController(client=client, config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(c.run(stop))
    try:
        yield c
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        assert not c.nginx.running


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # a fresh connection per request: a kept-alive one may still reach a retiring worker
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        yield s


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30, what: str = ""
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def serve(client: rest.RESTClient, namespace: str, service: str, *pods: Backend) -> None:
    """A selector-less Service and one EndpointSlice per stand-in pod."""
    await client.create(ctl.SERVICES, o.service(service, namespace=namespace))
    for pod in pods:
        await client.create(
            ctl.ENDPOINTSLICES,
            o.endpoint_slice(
                service, pod.port, "127.0.0.1", name=f"{service}-{pod.name}", namespace=namespace
            ),
        )


def answers(
    http: aiohttp.ClientSession, c: ctl.IngressController, host: str, path: str, want: str
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        # a reload in progress may leave old workers answering: judge settled states only
        await eventually(lambda: _async(idle(c)), what="controller idle")
        try:
            status, body, _ = await get(http, c.config.http_port, host, path)
        except aiohttp.ClientError:
            return False
        if want.isdigit():
            return status == int(want)
        return status == 200 and isinstance(body, dict) and body.get("name") == want

    return check


def idle(c: ctl.IngressController) -> bool:
    """No sync queued, waiting or running (so no nginx reload under way)."""
    return len(c.queue) == 0 and c.queue.waiting == 0 and not c.queue.processing


async def events_for(client: rest.RESTClient, namespace: str, name: str) -> list[Obj]:
    got = await client.list(
        EVENTS, namespace=namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(got.get("items") or [])


async def test_two_hosts_two_paths_status_and_metrics(
    client: rest.RESTClient,
    namespace: str,
    controller: ctl.IngressController,
    http: aiohttp.ClientSession,
) -> None:
    async with backends("a-one", "a-two", "b-one", "b-two") as pods:
        for name, pod in pods.items():
            await serve(client, namespace, name, pod)
        ing = o.ingress(
            "hosts",
            o.rule("a.example", o.path("/one", "a-one"), o.path("/two", "a-two")),
            o.rule("b.example", o.path("/one", "b-one"), o.path("/two", "b-two")),
            namespace=namespace,
        )
        await client.create(ctl.INGRESSES, ing)
        for host in ("a", "b"):
            for p in ("one", "two"):
                await eventually(
                    answers(http, controller, f"{host}.example", f"/{p}/x", f"{host}-{p}"),
                    what=f"{host}.example/{p}",
                )
        # element-wise prefix, unknown host, unknown path
        assert await answers(http, controller, "a.example", "/one", "a-one")()
        assert await answers(http, controller, "a.example", "/onesie", "404")()
        assert await answers(http, controller, "c.example", "/one", "404")()
        # what the pod sees: the client's Host and ingress-nginx's forwarding headers
        _, body, _ = await get(http, controller.config.http_port, "b.example:8080", "/two/deep?q=1")
        assert body["path"] == "/two/deep?q=1" and body["host"] == "b.example:8080"
        headers = {k.lower(): v for k, v in body["headers"].items()}
        assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-real-ip"] == "127.0.0.1"
        assert (
            headers["x-forwarded-proto"] == "http"
            and headers["x-forwarded-host"] == "b.example:8080"
        )
        assert headers["x-forwarded-port"] == str(controller.config.http_port)
        assert headers["x-request-id"]
        # a body over client_body_buffer_size goes through nginx's temp files (workers: nobody)
        async with http.post(
            f"http://127.0.0.1:{controller.config.http_port}/one/upload",
            data=b"x" * 300_000,
            headers={"Host": "a.example"},
        ) as r:
            assert r.status == 200
            got = await r.json()
        assert (got["name"], got["method"], got["body_length"]) == ("a-one", "POST", 300_000)

    async def published() -> bool:
        got = await client.get(ctl.INGRESSES, "hosts", namespace=namespace)
        return got.get("status", {}).get("loadBalancer", {}).get("ingress") == [{"ip": "127.0.0.1"}]

    await eventually(published, what="status.loadBalancer")
    ic = await client.get(bootstrap.INGRESSCLASSES, "pyk8s")
    assert ic["spec"]["controller"] == "pyk8s.io/ingress-nginx"

    async def scheduled() -> bool:
        reasons = {
            (e["reason"], e["message"]) for e in await events_for(client, namespace, "hosts")
        }
        return ("Sync", "Scheduled for sync") in reasons

    await eventually(scheduled, what="Sync event")
    async with http.get(controller.metrics_url + "/healthz") as r:
        assert r.status == 200
    async with http.get(controller.metrics_url + "/metrics") as r:
        text = await r.text()
    assert "nginx_ingress_controller_config_last_reload_successful 1.0" in text
    assert "pyk8s_ingress_ingresses 1.0" in text
    # ClusterIPs never appear in nginx.conf: upstreams are the pods' addresses
    conf = controller.nginx.conf_file.read_text()
    assert set(re.findall(r"server (\S+) max_fails", conf)) == {
        f"127.0.0.1:{p.port}" for p in pods.values()
    }


async def test_https_with_certificate_from_secret(
    client: rest.RESTClient,
    namespace: str,
    controller: ctl.IngressController,
    http: aiohttp.ClientSession,
) -> None:
    secret = o.tls_secret("secure-tls", "secure.example", namespace=namespace)
    crt = tlscerts.from_secret(secret).pem.split(b"-----BEGIN PRIVATE KEY")[0]
    async with backends("web") as pods:
        await serve(client, namespace, "web", pods["web"])
        await client.create(ctl.SECRETS, secret)
        await client.create(
            ctl.INGRESSES,
            o.ingress(
                "secure",
                o.rule("secure.example", o.path("/", "web")),
                o.rule("plain.example", o.path("/", "web")),
                tls=[{"hosts": ["secure.example"], "secretName": "secure-tls"}],
                namespace=namespace,
            ),
        )
        await eventually(answers(http, controller, "plain.example", "/", "web"), what="plain host")
        port = controller.config.https_port
        # SNI picks the Secret's certificate, which verifies for the host
        cn, body = await tls_peer(port, "secure.example", cafile_pem=crt)
        assert cn == "secure.example"
        assert body.startswith("HTTP/1.1 200") and '"name": "web"' in body
        assert (
            '"x-forwarded-proto": "https"' in body.lower()
            and '"x-forwarded-port": "443"' in body.lower()
        )
        # other names get the default certificate
        cn, _ = await tls_peer(port, "plain.example")
        assert cn == tlscerts.FAKE_CERTIFICATE_CN
        # plain HTTP to the TLS host: ingress-nginx's 308 (trailing slash dropped)
        status, _, headers = await get(
            http, controller.config.http_port, "secure.example", "/path/?a=b"
        )
        assert status == 308 and headers["Location"] == "https://secure.example/path/?a=b"
        status, _, headers = await get(http, controller.config.http_port, "secure.example", "/dir/")
        assert status == 308 and headers["Location"] == "https://secure.example/dir"
        assert await answers(http, controller, "plain.example", "/", "web")()
    cert_files = list(controller.opts.certs_dir.glob("*.pem"))
    assert len(cert_files) == 2  # the Secret's and the default certificate
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in cert_files)


async def test_rewrite_target(
    client: rest.RESTClient,
    namespace: str,
    controller: ctl.IngressController,
    http: aiohttp.ClientSession,
) -> None:
    async with backends("app") as pods:
        await serve(client, namespace, "app", pods["app"])
        await client.create(
            ctl.INGRESSES,
            o.ingress(
                "rw",
                o.rule(
                    "rw.example", o.path("/something(/|$)(.*)", "app", "ImplementationSpecific")
                ),
                annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$2"},
                namespace=namespace,
            ),
        )
        await eventually(
            answers(http, controller, "rw.example", "/something/new", "app"), what="rewrite"
        )
        for uri, upstream in [
            ("/something/new", "/new"),
            ("/something", "/"),
            ("/SOMETHING/a/b?x=1", "/a/b?x=1"),
        ]:
            _, body, _ = await get(http, controller.config.http_port, "rw.example", uri)
            assert body["path"] == upstream, uri


async def test_invalid_ingress_gets_event_and_others_keep_working(
    client: rest.RESTClient,
    namespace: str,
    controller: ctl.IngressController,
    http: aiohttp.ClientSession,
) -> None:
    async with backends("good", "fixed") as pods:
        await serve(client, namespace, "good", pods["good"])
        await serve(client, namespace, "fixed", pods["fixed"])
        await client.create(
            ctl.INGRESSES,
            o.ingress("good", o.rule("good.example", o.path("/", "good")), namespace=namespace),
        )
        await eventually(
            answers(http, controller, "good.example", "/", "good"), what="good ingress"
        )
        bad = o.ingress(
            "bad",
            o.rule("bad.example", o.path("/broken(", "fixed", "ImplementationSpecific")),
            annotations={"nginx.ingress.kubernetes.io/use-regex": "true"},
            namespace=namespace,
        )
        await client.create(ctl.INGRESSES, bad)
        notls = o.ingress(
            "notls",
            o.rule("notls.example", o.path("/", "good")),
            namespace=namespace,
            tls=[{"hosts": ["notls.example"], "secretName": "missing"}],
        )
        await client.create(ctl.INGRESSES, notls)

        async def warned(name: str, reason: str, fragment: str) -> bool:
            return any(
                e["type"] == "Warning" and e["reason"] == reason and fragment in e["message"]
                for e in await events_for(client, namespace, name)
            )

        await eventually(lambda: warned("bad", "RELOAD", "pcre"), what="RELOAD event on bad")
        (event,) = [
            e for e in await events_for(client, namespace, "bad") if e["reason"] == "RELOAD"
        ]
        io = event["involvedObject"]
        assert (io["kind"], io["apiVersion"], io["name"]) == (
            "Ingress",
            "networking.k8s.io/v1",
            "bad",
        )
        assert io["uid"] and event["source"]["component"] == "nginx-ingress-controller"
        await eventually(
            lambda: warned("notls", "Sync", "was not found"), what="Sync event on notls"
        )
        assert controller.excluded.keys() == {ObjectKey(namespace, "bad")}
        # the others are served: the good one, and the one without its certificate over HTTP
        assert await answers(http, controller, "good.example", "/", "good")()
        await eventually(
            answers(http, controller, "notls.example", "/", "good"), what="notls over http"
        )
        assert await answers(http, controller, "bad.example", "/broken", "404")()
        assert "bad.example" not in controller.nginx.conf_file.read_text()

        fixed = await client.get(ctl.INGRESSES, "bad", namespace=namespace)
        fixed["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/broken(.*)"
        await client.update(ctl.INGRESSES, fixed)
        await eventually(
            answers(http, controller, "bad.example", "/brokenXYZ", "fixed"), what="fixed ingress"
        )
        assert not controller.excluded
        assert await answers(http, controller, "good.example", "/", "good")()


async def test_endpoint_changes_are_picked_up(
    client: rest.RESTClient,
    namespace: str,
    controller: ctl.IngressController,
    http: aiohttp.ClientSession,
) -> None:
    async with backends("first", "second") as pods:
        await serve(client, namespace, "svc", pods["first"])
        await client.create(
            ctl.INGRESSES,
            o.ingress("ep", o.rule("ep.example", o.path("/", "svc")), namespace=namespace),
        )
        await eventually(answers(http, controller, "ep.example", "/", "first"), what="first pod")

        # the slice now points at the second pod
        sl = await client.get(ctl.ENDPOINTSLICES, "svc-first", namespace=namespace)
        sl["ports"][0]["port"] = pods["second"].port
        await client.update(ctl.ENDPOINTSLICES, sl)
        await eventually(answers(http, controller, "ep.example", "/", "second"), what="second pod")

        # not ready → no endpoints → 503
        sl = await client.get(ctl.ENDPOINTSLICES, "svc-first", namespace=namespace)
        sl["endpoints"][0]["conditions"] = {"ready": False}
        await client.update(ctl.ENDPOINTSLICES, sl)
        await eventually(
            answers(http, controller, "ep.example", "/", "503"), what="503 without endpoints"
        )

        # a new slice brings the first pod back; deleting it empties the Service again
        await client.create(
            ctl.ENDPOINTSLICES,
            o.endpoint_slice(
                "svc", pods["first"].port, "127.0.0.1", name="svc-again", namespace=namespace
            ),
        )
        await eventually(
            answers(http, controller, "ep.example", "/", "first"), what="first pod again"
        )
        await client.delete(ctl.ENDPOINTSLICES, "svc-again", namespace=namespace)
        await eventually(answers(http, controller, "ep.example", "/", "503"), what="503 again")

        # deleting the Ingress removes the host
        await client.delete(ctl.INGRESSES, "ep", namespace=namespace)
        await eventually(answers(http, controller, "ep.example", "/", "404"), what="ingress gone")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


async def test_cli_serves_default_class_and_stops_nginx(
    cluster: Cluster,
    client: rest.RESTClient,
    namespace: str,
    tmp_path: Path,
    data_dir: Path,
    http: aiohttp.ClientSession,
) -> None:
    data, port = data_dir, listen_port()
    log = open(tmp_path / "cli.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyk8s.cli.main",
            "ingress-controller",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--data-dir",
            str(data),
            "--http-port",
            str(port),
            "--https-port",
            str(listen_port()),
            "--listen-address",
            "127.0.0.1",
            "--metrics-bind",
            "127.0.0.1:0",
            "--watch-namespace",
            namespace,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with backends("dflt") as pods:
            await serve(client, namespace, "dflt", pods["dflt"])
            # no class: ours is the default IngressClass; another class: not ours
            await client.create(
                ctl.INGRESSES,
                o.ingress(
                    "free",
                    o.rule("free.example", o.path("/", "dflt")),
                    class_name=None,
                    namespace=namespace,
                ),
            )
            await client.create(
                ctl.INGRESSES,
                o.ingress(
                    "other",
                    o.rule("other.example", o.path("/", "dflt")),
                    class_name="traefik",
                    namespace=namespace,
                ),
            )

            async def routed() -> bool:
                try:
                    status, body, _ = await get(http, port, "free.example", "/")
                except aiohttp.ClientError:
                    return False
                return status == 200 and body["name"] == "dflt"

            try:
                await eventually(routed, what="CLI controller routes")
            except TimeoutError:
                raise AssertionError((tmp_path / "cli.log").read_text()[-5000:]) from None
            status, _, _ = await get(http, port, "other.example", "/")
            assert status == 404
            await eventually(
                lambda: lb_status(client, namespace, "free", [{"ip": "127.0.0.1"}]),
                what="status published",
            )
            assert await lb_status(client, namespace, "other", [])
        master = int((data / "nginx.pid").read_text())
        assert _alive(master)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        log.close()
    assert code == 0, (tmp_path / "cli.log").read_text()[-2000:]
    assert not _alive(master)
    assert await lb_status(client, namespace, "free", [])  # cleared on shutdown, as upstream


async def lb_status(client: rest.RESTClient, namespace: str, name: str, want: list[Obj]) -> bool:
    got = await client.get(ctl.INGRESSES, name, namespace=namespace)
    return (got.get("status", {}).get("loadBalancer", {}).get("ingress") or []) == want


async def test_cancelling_run_ingress_controller_stops_nginx(
    client: rest.RESTClient, namespace: str, data_dir: Path
) -> None:
    config = IngressControllerConfig(
        data_dir=data_dir,
        http_port=listen_port(),
        https_port=listen_port(),
        listen_address="127.0.0.1",
        metrics_bind=None,
        watch_namespace=namespace,
    )
    task = asyncio.create_task(ctl.run_ingress_controller(client=client, config=config))
    pid_file = config.data_dir / "nginx.pid"

    async def started() -> bool:
        return pid_file.exists() and pid_file.read_text().strip().isdigit()

    await eventually(started, what="nginx started")
    master = int(pid_file.read_text())
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert not _alive(master)


async def test_nginx_is_restarted_when_killed(
    client: rest.RESTClient,
    namespace: str,
    controller: ctl.IngressController,
    http: aiohttp.ClientSession,
) -> None:
    async with backends("web") as pods:
        await serve(client, namespace, "web", pods["web"])
        await client.create(
            ctl.INGRESSES,
            o.ingress("k", o.rule("k.example", o.path("/", "web")), namespace=namespace),
        )
        await eventually(answers(http, controller, "k.example", "/", "web"), what="served")
        master, workers = controller.nginx.pid, controller.nginx.workers()
        assert master is not None and workers
        os.kill(master, signal.SIGKILL)
        await eventually(
            lambda: _async(controller.nginx.running and controller.nginx.pid != master),
            what="a new master",
        )
        assert not any(_alive(w) for w in workers)  # the orphans were cleared first
        assert await answers(http, controller, "k.example", "/", "web")()


async def _async(value: bool) -> bool:
    return value
