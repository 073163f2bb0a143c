"""Shared pieces of the controller integration tests: a real apiserver per test module, an
in-process controller-manager, the fake kubelet, and waiting on conditions with deadlines.

Import the fixtures into a test module (``from harness import api, client, ns, ...``);
each module then gets its own apiserver, so the controllers under test only ever see that
module's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakekubelet import FakeKubelet

from cluster import Cluster, free_port
from pyk8s.api import resources
from pyk8s.client import config, informer, paths, reflector, rest
from pyk8s.controllers import manager

Obj = dict[str, Any]
T = TypeVar("T")

NAMESPACES = paths.resource_for("", "v1", "namespaces", kind="Namespace")
PODS = paths.resource_for("", "v1", "pods", kind="Pod")
REPLICASETS = paths.resource_for("apps", "v1", "replicasets", kind="ReplicaSet")
DEPLOYMENTS = paths.resource_for("apps", "v1", "deployments", kind="Deployment")
EVENTS = paths.resource_for("", "v1", "events", kind="Event")
CONFIGMAPS = paths.resource_for("", "v1", "configmaps", kind="ConfigMap")

_names = itertools.count()

# the controllers these tests are about (the others in ALL have their own tests)
MINE = ("deployment", "replicaset", "replicationcontroller", "garbagecollector", "namespace")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("ctl-cluster"), free_port())
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest_asyncio.fixture
async def client(api: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(config.from_kubeconfig(api.kubeconfig), qps=500, burst=1000) as c:
        yield c
    await connections_closed(api.port)


def connections_to(port: int) -> int:
    """Sockets of this process connected to ``port`` (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                count += 1
    return count


async def connections_closed(port: int, timeout: float = 10.0) -> None:
    """Wait until every connection to the apiserver is gone. aiohttp closes TLS
    transports asynchronously after ``close()``; one left for the garbage collector
    after the test's event loop ends would be reported as an unclosed transport."""
    await eventually(
        lambda: _true(connections_to(port) == 0), timeout=timeout, message="connections closed"
    )


async def _true(value: bool) -> bool:
    return value


@pytest_asyncio.fixture
async def ns(client: rest.RESTClient, request: pytest.FixtureRequest) -> str:
    name = f"t{next(_names)}-{request.node.name.lower()}"[:50]
    name = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in name).strip("-")
    await client.create(NAMESPACES, {"metadata": {"name": name}})
    return name


@contextlib.asynccontextmanager
async def running(
    api: Cluster,
    *,
    controllers: Sequence[str] = MINE,
    kubelet: bool = True,
    hold: Callable[[Any], bool] | None = None,
) -> AsyncIterator[manager.ControllerManager]:
    """An in-process controller-manager (no leader election) and, optionally, the fake
    kubelet; both stop when the block ends."""
    stop = asyncio.Event()
    cm = manager.ControllerManager(
        config.from_kubeconfig(api.kubeconfig),
        manager.ManagerConfig(controllers=list(controllers), leader_elect=False),
    )
    tasks = [asyncio.ensure_future(cm.run(stop))]
    kubelet_client = rest.RESTClient(config.from_kubeconfig(api.kubeconfig), qps=500, burst=1000)
    if kubelet:
        fk = FakeKubelet(kubelet_client, **({"hold": hold} if hold is not None else {}))
        tasks.append(asyncio.ensure_future(fk.run(stop)))
    try:
        await eventually(lambda: _ready(cm, tasks), timeout=20, message="controller-manager start")
        yield cm
    finally:
        stop.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        await kubelet_client.close()
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r


async def _ready(cm: manager.ControllerManager, tasks: list[asyncio.Future[None]]) -> bool:
    for t in tasks:
        if t.done():
            t.result()  # raise what made it stop
            raise AssertionError("a background task ended early")
    return (
        cm.leading.is_set()
        and cm.informers is not None
        and all(i.has_synced for i in cm.informers.informers)
    )


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, message: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {message or check}: {last!r}"
            )
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def observing(
    client: rest.RESTClient, resource: resources.Resource, namespace: str | None
) -> AsyncIterator[list[tuple[str, Obj]]]:
    """Every change to ``resource`` in ``namespace`` while the block runs, in order, as
    (ADDED|MODIFIED|DELETED, object) — through an informer, so nothing is missed."""
    seen: list[tuple[str, Obj]] = []
    inf: informer.SharedInformer[Obj] = informer.SharedInformer(
        reflector.ResourceListerWatcher(client, resource, namespace=namespace)
    )
    inf.add_handler(
        on_add=lambda o: seen.append(("ADDED", o)),
        on_update=lambda _old, new: seen.append(("MODIFIED", new)),
        on_delete=lambda o: seen.append(("DELETED", o)),
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(inf.run(stop))
    try:
        await inf.wait_synced(10)
        yield seen
    finally:
        stop.set()
        await task


async def list_pods(
    client: rest.RESTClient, namespace: str, selector: str | None = None
) -> list[Obj]:
    items, _ = await client.list_all(PODS, namespace=namespace, label_selector=selector)
    return items


async def list_rs(client: rest.RESTClient, namespace: str) -> list[Obj]:
    items, _ = await client.list_all(REPLICASETS, namespace=namespace)
    return items


async def events_for(client: rest.RESTClient, namespace: str, name: str) -> list[Obj]:
    items, _ = await client.list_all(
        EVENTS, namespace=namespace, field_selector=f"involvedObject.name={name}"
    )
    return sorted(items, key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def deployment(
    name: str,
    *,
    replicas: int = 3,
    image: str = "nginx:1.14.2",
    strategy: Obj | None = None,
    **spec: Any,
) -> Obj:
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return body


def replicaset(name: str, *, replicas: int = 3, labels: dict[str, str] | None = None) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
