"""SharedInformer handler semantics (against the in-memory lister-watcher) and the
factory's de-duplication."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.client import config, informer, paths, rest, testing
from pyk8s.client.store import ObjectKey

Obj = dict[str, Any]


def cm(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": labels}}


class Running:
    def __init__(self, resync: float | None = None) -> None:
        self.clock = testing.FakeClock()
        self.lw = testing.FakeListerWatcher()
        self.inf: informer.SharedInformer[Obj] = informer.SharedInformer(
            self.lw, name="cms", clock=self.clock, resync_period=resync
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.inf.run(self.stop))
        await self.inf.wait_synced(5)
        await testing.wait_until(lambda: self.lw.open_watches == 1)


@pytest.fixture
async def r() -> AsyncIterator[Running]:
    running = Running()
    yield running
    running.stop.set()
    if running.task is not None:
        await asyncio.wait_for(running.task, 5)


def log_handler(inf: informer.SharedInformer[Obj], log: list[str], tag: str = "") -> None:
    inf.add_handler(
        on_add=lambda o: log.append(f"{tag}add {o['metadata']['name']}"),
        on_update=lambda old, new: log.append(f"{tag}update {new['metadata']['name']}"),
        on_delete=lambda o: log.append(f"{tag}delete {o['metadata']['name']}"),
    )


async def test_handlers_see_the_stream_in_order_with_the_store_updated_first(r: Running) -> None:
    log: list[str] = []
    seen_in_store: list[bool] = []
    log_handler(r.inf, log)
    r.inf.on_change(lambda o: seen_in_store.append(r.inf.get(ObjectKey.of(o)) is not None))
    r.lw.put(cm("a"))
    await r.start()
    r.lw.put(cm("a", x="y"))
    r.lw.put(cm("b"))
    r.lw.remove("ns", "a")
    await testing.wait_until(lambda: len(log) == 4)
    assert log == ["add a", "update a", "add b", "delete a"]
    assert seen_in_store == [True, True, True, False]
    assert r.inf.has_synced
    assert [o["metadata"]["name"] for o in r.inf.list()] == ["b"]


async def test_late_handler_gets_synthetic_adds_then_live_events_once(r: Running) -> None:
    for n in "abc":
        r.lw.put(cm(n))
    await r.start()
    log: list[str] = []
    log_handler(r.inf, log)
    r.lw.put(cm("d"))  # delivered live, or part of the replay: never both
    await testing.wait_until(lambda: len(log) >= 4)
    await testing.settle()
    assert sorted(log) == ["add a", "add b", "add c", "add d"]


async def test_a_failing_handler_does_not_starve_the_others(r: Running) -> None:
    def boom(o: Obj) -> None:
        raise RuntimeError("handler bug")

    ok: list[str] = []
    r.inf.add_handler(on_add=boom)
    r.inf.add_handler(on_add=lambda o: ok.append(o["metadata"]["name"]))
    r.lw.put(cm("a"))
    await r.start()
    r.lw.put(cm("b"))
    await testing.wait_until(lambda: ok == ["a", "b"])


async def test_removed_handler_gets_nothing_more(r: Running) -> None:
    log: list[str] = []
    await r.start()
    reg = r.inf.on_change(lambda o: log.append(o["metadata"]["name"]))
    await testing.settle()
    r.lw.put(cm("a"))
    await testing.wait_until(lambda: log == ["a"])
    reg.remove()
    r.lw.put(cm("b"))
    await testing.wait_until(lambda: r.inf.get(ObjectKey("ns", "b")) is not None)
    assert log == ["a"]


async def test_by_owner_index() -> None:
    r = Running()
    owner = {"metadata": {"uid": "rs-1"}}
    pod = cm("p")
    pod["metadata"]["ownerReferences"] = [{"uid": "rs-1", "kind": "ReplicaSet", "name": "rs"}]
    r.lw.put(pod)
    r.lw.put(cm("orphan"))
    await r.start()
    assert [p["metadata"]["name"] for p in r.inf.by_owner(owner)] == ["p"]
    r.stop.set()
    assert r.task is not None
    await asyncio.wait_for(r.task, 5)


async def test_resync_redelivers_updates_on_the_clock() -> None:
    r = Running(resync=30.0)
    r.lw.put(cm("a"))
    updates: list[str] = []
    r.inf.add_handler(on_update=lambda old, new: updates.append(new["metadata"]["name"]))
    await r.start()
    await r.clock.wait_for_sleepers(1)
    await r.clock.advance(30.0)
    await testing.wait_until(lambda: updates == ["a"])
    r.stop.set()
    assert r.task is not None
    await asyncio.wait_for(r.task, 5)


async def test_wait_synced_times_out() -> None:
    inf: informer.SharedInformer[Obj] = informer.SharedInformer(testing.FakeListerWatcher())
    with pytest.raises(TimeoutError):
        await inf.wait_synced(0.01)


async def test_factory_dedupes_by_resource_namespace_and_selectors() -> None:
    client = rest.RESTClient(config.Config(server="https://127.0.0.1:1"))
    f = informer.SharedInformerFactory(client)
    pods = paths.resource_for("", "v1", "pods")
    nodes = paths.resource_for("", "v1", "nodes")
    a = f.informer(pods)
    assert f.informer(pods) is a
    assert f.informer(pods, namespace="x") is not a
    assert f.informer(pods, label_selector="app=web") is not a
    assert f.informer(pods, label_selector="app=web") is f.informer(pods, label_selector="app=web")
    assert f.informer(nodes, namespace="ignored") is f.informer(nodes)
    typed = f.informer(pods, of=dict)
    assert typed is a
    assert len(f.informers) == 4
    await client.close()


# --------------------------------------------------------------------- real apiserver


class Shadow:
    """Rebuilds the collection from handler calls alone, failing on any inconsistency:
    an add for a key already present, an update or delete for one absent, or an update
    that goes backwards."""

    def __init__(self) -> None:
        self.objects: dict[ObjectKey, Obj] = {}
        self.errors: list[str] = []
        self.calls = 0

    def on_add(self, obj: Obj) -> None:
        self.calls += 1
        key = ObjectKey.of(obj)
        if key in self.objects:
            self.errors.append(f"duplicate add {key}")
        self.objects[key] = obj

    def on_update(self, old: Obj, new: Obj) -> None:
        self.calls += 1
        key = ObjectKey.of(new)
        if key not in self.objects:
            self.errors.append(f"update of unknown {key}")
        elif int(new["metadata"]["resourceVersion"]) <= int(
            self.objects[key]["metadata"]["resourceVersion"]
        ):
            self.errors.append(f"{key} went backwards")
        self.objects[key] = new

    def on_delete(self, obj: Obj) -> None:
        self.calls += 1
        key = ObjectKey.of(obj)
        if self.objects.pop(key, None) is None:
            self.errors.append(f"delete of unknown {key}")


def _state(objs: list[Obj]) -> dict[str, tuple[str, str]]:
    return {
        str(ObjectKey.of(o)): (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for o in objs
    }


async def test_informer_converges_after_apiserver_restarts(tmp_path: Any) -> None:
    from cluster import Cluster, free_port
    from pyk8s.client import errors, ratelimit, reflector

    cms = paths.resource_for("", "v1", "configmaps")
    port = free_port()
    data_dir = tmp_path / "cluster"
    server = Cluster(data_dir, port)
    await asyncio.to_thread(server.start)
    client = rest.RESTClient(config.from_kubeconfig(server.kubeconfig))
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await client.create(
            paths.resource_for("", "v1", "namespaces"), {"metadata": {"name": "inf"}}
        )
        for i in range(10):
            await client.create(
                cms, {"metadata": {"name": f"cm{i}"}, "data": {"v": "0"}}, namespace="inf"
            )
        lw = reflector.ResourceListerWatcher(client, cms, namespace="inf")
        inf: informer.SharedInformer[Obj] = informer.SharedInformer(
            lw, backoff=ratelimit.Backoff(initial=0.05, cap=0.5)
        )
        shadow = Shadow()
        inf.add_handler(
            on_add=shadow.on_add, on_update=shadow.on_update, on_delete=shadow.on_delete
        )
        task = asyncio.ensure_future(inf.run(stop))
        await inf.wait_synced(10)
        await client.patch(cms, "cm0", {"data": {"v": "live"}}, namespace="inf")
        await testing.wait_until(
            lambda: (inf.get(ObjectKey("inf", "cm0")) or {}).get("data") == {"v": "live"}
        )

        async def fresh() -> dict[str, tuple[str, str]]:
            items, _ = await client.list_all(cms, namespace="inf")
            return _state(items)

        async def converged() -> dict[str, tuple[str, str]]:
            want: dict[str, tuple[str, str]] = {}

            async def check() -> bool:
                nonlocal want
                want = await fresh()
                return _state(inf.list()) == want

            deadline = asyncio.get_running_loop().time() + 30
            while not await check():
                assert asyncio.get_running_loop().time() < deadline, (
                    f"cache {_state(inf.list())} != server {want}"
                )
                await asyncio.sleep(0.05)
            return want

        # 1. restart on the same data dir and port; change things once it is back
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        await client.patch(cms, "cm5", {"data": {"v": "after-restart"}}, namespace="inf")
        await client.delete(cms, "cm6", namespace="inf")
        await client.create(cms, {"metadata": {"name": "new1"}}, namespace="inf")
        await converged()

        # 2. the server crashes; changes the informer cannot see live are made through a
        #    second server on the same data dir while the informer's port is down
        await asyncio.to_thread(server.stop, True)
        other = Cluster(data_dir, free_port())
        await asyncio.to_thread(other.start)
        try:
            async with rest.RESTClient(config.from_kubeconfig(other.kubeconfig)) as c2:
                await c2.delete(cms, "cm1", namespace="inf")
                await c2.delete(cms, "cm2", namespace="inf")
                await c2.patch(cms, "cm3", {"data": {"v": "missed"}}, namespace="inf")
                await c2.delete(cms, "cm4", namespace="inf")
                await c2.create(
                    cms, {"metadata": {"name": "cm4"}, "data": {"v": "reborn"}}, namespace="inf"
                )
                for i in range(2, 5):
                    await c2.create(cms, {"metadata": {"name": f"new{i}"}}, namespace="inf")
        finally:
            await asyncio.to_thread(other.stop)
        await asyncio.to_thread(server.start)
        final = await converged()

        assert shadow.errors == []
        assert _state(list(shadow.objects.values())) == final
        assert sorted(final) == sorted(
            [f"inf/cm{i}" for i in (0, 3, 4, 5, 7, 8, 9)] + [f"inf/new{i}" for i in (1, 2, 3, 4)]
        )
        assert inf.get(ObjectKey("inf", "cm4"))["data"] == {"v": "reborn"}  # type: ignore[index]
    finally:
        stop.set()
        if task is not None:
            try:
                await asyncio.wait_for(task, 10)
            except errors.ApiError:
                pass
        await client.close()
        # SIGKILL: the apiserver does not exit on SIGTERM while it holds (even abandoned)
        # watch streams, and would cost Cluster.stop's 15 s timeout here
        await asyncio.to_thread(server.stop, True)
