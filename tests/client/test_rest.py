"""RESTClient: wire behaviour against a scripted loopback server (watch framing, ERROR
events, Retry-After, auth headers), then CRUD, selectors, paging, patches, deletes,
subresources and watch resume against a real apiserver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from cluster import Cluster
from pyk8s.client import config, errors, paths, rest

Obj = dict[str, Any]
CONFIGMAPS = paths.resource_for("", "v1", "configmaps")
DEPLOYMENTS = paths.resource_for("apps", "v1", "deployments")
PODS = paths.resource_for("", "v1", "pods")
NODES = paths.resource_for("", "v1", "nodes")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Handler], Awaitable[rest.RESTClient]]]:
    runners: list[web.AppRunner] = []
    clients: list[rest.RESTClient] = []

    async def serve(handler: Handler) -> rest.RESTClient:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        client = rest.RESTClient(config.Config(server=f"http://127.0.0.1:{port}", token="t0k"))
        clients.append(client)
        return client

    yield serve
    for c in clients:
        await c.close()
    for r in runners:
        await r.cleanup()


def line(etype: str, obj: Obj) -> bytes:
    return orjson.dumps({"type": etype, "object": obj}) + b"\n"


def cm_obj(name: str, rv: str) -> Obj:
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
    }


async def stream(request: web.Request, chunks: list[bytes]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for chunk in chunks:
        await resp.write(chunk)
        await asyncio.sleep(0)
    await resp.write_eof()
    return resp


async def test_watch_frames_events_across_chunks_and_passes_bookmarks(scripted: Any) -> None:
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, dict(request.query), request.headers.get("Authorization")))
        data = (
            line("ADDED", cm_obj("a", "5"))
            + b"\n"
            + line("BOOKMARK", {"metadata": {"resourceVersion": "7"}})
        )
        data += line("DELETED", cm_obj("a", "8"))
        return await stream(request, [data[:10], data[10:70], data[70:]])

    client = await scripted(handler)
    async with client.watch(
        CONFIGMAPS, namespace="ns", resource_version="4", label_selector="a=b", timeout_seconds=30
    ) as w:
        events = [(t, o["metadata"]["resourceVersion"]) async for t, o in w]
    assert events == [("ADDED", "5"), ("BOOKMARK", "7"), ("DELETED", "8")]
    path, query, auth = seen[0]
    assert path == "/api/v1/namespaces/ns/configmaps"
    assert query == {
        "watch": "1",
        "labelSelector": "a=b",
        "resourceVersion": "4",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "30",
    }
    assert auth == "Bearer t0k"


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        pytest.param(
            {
                "kind": "Status",
                "code": 410,
                "reason": "Expired",
                "message": "too old resource version: 1 (9)",
            },
            errors.Gone,
            id="410-gone",
        ),
        pytest.param(
            {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"},
            errors.ApiError,
            id="500",
        ),
    ],
)
async def test_watch_error_event_raises_typed_error(
    scripted: Any, status: Obj, exc_type: type[Exception]
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await stream(request, [line("ADDED", cm_obj("a", "5")), line("ERROR", status)])

    client = await scripted(handler)
    got = []
    with pytest.raises(exc_type) as info:
        async for ev in client.watch(CONFIGMAPS, resource_version="1"):
            got.append(ev.type)
    assert got == ["ADDED"]
    assert info.value.code == status["code"]  # type: ignore[attr-defined]


async def test_watch_refused_up_front_with_410(scripted: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
        return web.json_response(body, status=410)

    client = await scripted(handler)
    with pytest.raises(errors.Gone):
        async with client.watch(CONFIGMAPS, resource_version="1"):
            pass


async def test_watch_cut_mid_event_is_a_transport_error(scripted: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await stream(request, [line("ADDED", cm_obj("a", "5")), b'{"type":"ADDED","obj'])

    client = await scripted(handler)
    with pytest.raises(errors.TransportError, match="mid-event"):
        async for _ in client.watch(CONFIGMAPS):
            pass


async def test_retry_after_is_honoured(scripted: Any) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls < 3:
            return web.json_response(
                {"kind": "Status", "code": 429, "reason": "TooManyRequests"},
                status=429,
                headers={"Retry-After": "0"},
            )
        return web.json_response(cm_obj("a", "1"))

    client = await scripted(handler)
    got = await client.get(CONFIGMAPS, "a", namespace="ns")
    assert got["metadata"]["name"] == "a" and calls == 3


async def test_connection_refused_is_a_transport_error() -> None:
    from cluster import free_port

    async with rest.RESTClient(config.Config(server=f"http://127.0.0.1:{free_port()}")) as client:
        with pytest.raises(errors.TransportError):
            await client.get(CONFIGMAPS, "a", namespace="ns")


# --------------------------------------------------------------------- real apiserver


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig)) as c:
        yield c


def configmap(name: str, **data: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": name[0]}},
        "data": data,
    }


async def test_crud_round_trip(client: rest.RESTClient, namespace: str) -> None:
    created = await client.create(CONFIGMAPS, configmap("a", k="v"), namespace=namespace)
    assert created["metadata"]["namespace"] == namespace
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, configmap("a"), namespace=namespace)
    got = await client.get(CONFIGMAPS, "a", namespace=namespace)
    assert got["data"] == {"k": "v"}

    got["data"]["k"] = "v2"
    updated = await client.update(CONFIGMAPS, got)
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    with pytest.raises(errors.Conflict) as stale:
        await client.update(CONFIGMAPS, got)  # got's resourceVersion is now stale
    assert errors.is_conflict(stale.value)

    merged = await client.patch(CONFIGMAPS, "a", {"data": {"m": "1"}}, namespace=namespace)
    assert merged["data"] == {"k": "v2", "m": "1"}
    strategic = await client.patch(
        CONFIGMAPS,
        "a",
        {"data": {"s": "2"}},
        namespace=namespace,
        patch_type=rest.PatchType.STRATEGIC,
    )
    assert strategic["data"]["s"] == "2"
    jsonp = await client.patch(
        CONFIGMAPS,
        "a",
        [{"op": "remove", "path": "/data/m"}],
        namespace=namespace,
        patch_type=rest.PatchType.JSON,
    )
    assert "m" not in jsonp["data"]

    with pytest.raises(errors.Conflict):
        await client.delete(
            CONFIGMAPS,
            "a",
            namespace=namespace,
            preconditions=paths.Preconditions(uid="not-the-uid"),
        )
    await client.delete(
        CONFIGMAPS,
        "a",
        namespace=namespace,
        propagation_policy="Background",
        grace_period_seconds=0,
        preconditions=paths.Preconditions(uid=created["metadata"]["uid"]),
    )
    with pytest.raises(errors.NotFound) as missing:
        await client.get(CONFIGMAPS, "a", namespace=namespace)
    assert errors.is_not_found(missing.value) and missing.value.details.get("name") == "a"


async def test_list_selectors_and_paging(client: rest.RESTClient, namespace: str) -> None:
    for name in ("a1", "a2", "a3", "b1", "b2"):
        await client.create(CONFIGMAPS, configmap(name), namespace=namespace)
    page = await client.list(CONFIGMAPS, namespace=namespace, label_selector="app=a")
    assert sorted(i["metadata"]["name"] for i in page["items"]) == ["a1", "a2", "a3"]
    page = await client.list(CONFIGMAPS, namespace=namespace, field_selector="metadata.name=b2")
    assert [i["metadata"]["name"] for i in page["items"]] == ["b2"]
    first = await client.list(CONFIGMAPS, namespace=namespace, limit=2)
    assert len(first["items"]) == 2 and first["metadata"].get("continue")
    items, rv = await client.list_all(CONFIGMAPS, namespace=namespace, page_size=2)
    assert sorted(i["metadata"]["name"] for i in items) == ["a1", "a2", "a3", "b1", "b2"]
    assert int(rv) >= max(int(i["metadata"]["resourceVersion"]) for i in items)
    with pytest.raises(errors.ApiError) as bad:
        await client.list(CONFIGMAPS, namespace=namespace, label_selector="a in (")
    assert bad.value.code == 400


async def test_watch_resumes_from_a_resource_version(
    client: rest.RESTClient, namespace: str
) -> None:
    x = await client.create(CONFIGMAPS, configmap("x"), namespace=namespace)
    await client.patch(CONFIGMAPS, "x", {"data": {"n": "1"}}, namespace=namespace)
    await client.create(CONFIGMAPS, configmap("y"), namespace=namespace)
    await client.delete(CONFIGMAPS, "y", namespace=namespace)
    seen: list[tuple[str, str]] = []
    async with client.watch(
        CONFIGMAPS,
        namespace=namespace,
        resource_version=x["metadata"]["resourceVersion"],
        timeout_seconds=10,
    ) as w:
        async for etype, obj in w:
            if etype != "BOOKMARK":
                seen.append((etype, obj["metadata"]["name"]))
            if len(seen) == 3:
                break
    assert seen == [("MODIFIED", "x"), ("ADDED", "y"), ("DELETED", "y")]


async def test_watch_ends_cleanly_at_timeout(client: rest.RESTClient, namespace: str) -> None:
    lst = await client.list(CONFIGMAPS, namespace=namespace)
    w = client.watch(
        CONFIGMAPS,
        namespace=namespace,
        resource_version=lst["metadata"]["resourceVersion"],
        timeout_seconds=1,
    )
    events = [ev async for ev in w if ev.type != "BOOKMARK"]
    assert events == []


async def test_status_and_subresources(client: rest.RESTClient, namespace: str) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    created = await client.create(DEPLOYMENTS, deploy, namespace=namespace)
    scale = await client.subresource("GET", DEPLOYMENTS, "d", "scale", namespace=namespace)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 3
    await client.subresource("PUT", DEPLOYMENTS, "d", "scale", namespace=namespace, body=scale)
    assert (await client.get(DEPLOYMENTS, "d", namespace=namespace))["spec"]["replicas"] == 3

    latest = await client.get(DEPLOYMENTS, "d", namespace=namespace)
    latest["status"] = {"observedGeneration": latest["metadata"]["generation"], "replicas": 0}
    latest["spec"]["replicas"] = 7  # ignored by the status subresource
    written = await client.update_status(DEPLOYMENTS, latest)
    assert written["status"]["observedGeneration"] == created["metadata"]["generation"] + 1
    assert written["spec"]["replicas"] == 3


def pod(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


async def test_eviction_subresource(client: rest.RESTClient, namespace: str) -> None:
    await client.create(PODS, pod("p"), namespace=namespace)
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "p", "namespace": namespace},
    }
    await client.subresource("POST", PODS, "p", "eviction", namespace=namespace, body=eviction)
    with pytest.raises(errors.NotFound):
        await client.get(PODS, "p", namespace=namespace)


async def test_binding_subresource(client: rest.RESTClient, namespace: str) -> None:
    await client.create(PODS, pod("p"), namespace=namespace)
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    await client.subresource("POST", PODS, "p", "binding", namespace=namespace, body=binding)
    assert (await client.get(PODS, "p", namespace=namespace))["spec"]["nodeName"] == "node-1"


async def test_namespace_is_required_for_namespaced_objects(client: rest.RESTClient) -> None:
    with pytest.raises(ValueError, match="namespace"):
        await client.get(CONFIGMAPS, "a")
