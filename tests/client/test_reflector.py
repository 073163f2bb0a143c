"""Reflector: list, watch, resume, relist with a delta, never backwards — against the
in-memory FakeListerWatcher on virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.client import ratelimit, reflector, testing
from pyk8s.client import store as store_mod

Obj = dict[str, Any]


def cm(name: str, ns: str = "ns", uid: str = "", **data: str) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "uid": uid or f"uid-{name}"}
    return {"metadata": meta, "data": data}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def on_add(self, obj: Obj) -> None:
        self.events.append(("add", obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))

    def on_update(self, old: Obj, new: Obj) -> None:
        assert int(new["metadata"]["resourceVersion"]) > int(old["metadata"]["resourceVersion"])
        self.events.append(("update", new["metadata"]["name"], new["metadata"]["resourceVersion"]))

    def on_delete(self, obj: Obj) -> None:
        self.events.append(("delete", obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))

    def take(self) -> list[tuple[str, str, str]]:
        out, self.events = self.events, []
        return out


class Harness:
    def __init__(self) -> None:
        self.clock = testing.FakeClock()
        self.lw = testing.FakeListerWatcher()
        self.store: store_mod.Store[Obj] = store_mod.Store()
        self.handler = Recorder()
        self.reflector = reflector.Reflector(
            self.lw,
            self.store,
            handler=self.handler,
            name="test",
            clock=self.clock,
            backoff=ratelimit.Backoff(initial=1.0, cap=8.0, jitter=0.0),
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.reflector.run(self.stop))
        await testing.wait_until(lambda: self.lw.open_watches == 1)

    async def close(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)

    def names(self) -> dict[str, str]:
        return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in self.store.list()}


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    if harness.task is not None and not harness.task.done():
        await harness.close()


async def test_list_then_watch(h: Harness) -> None:
    h.lw.put(cm("a"))
    h.lw.put(cm("b"))
    await h.start()
    assert h.reflector.synced.is_set()
    assert h.handler.take() == [("add", "a", "1"), ("add", "b", "2")]
    assert h.lw.watches == ["2"]
    h.lw.put(cm("a", x="1"))
    h.lw.put(cm("c"))
    h.lw.remove("ns", "b")
    await testing.wait_until(lambda: len(h.handler.events) == 3)
    assert h.handler.take() == [("update", "a", "3"), ("add", "c", "4"), ("delete", "b", "5")]
    assert h.names() == {"a": "3", "c": "4"}
    assert h.reflector.last_resource_version == "5"


async def test_broken_watch_resumes_from_last_version_after_backoff(h: Harness) -> None:
    h.lw.put(cm("a"))
    await h.start()
    h.lw.put(cm("b"))
    h.lw.bookmark()
    await testing.wait_until(lambda: h.reflector.last_resource_version == "2")
    h.lw.put(cm("other", ns="elsewhere"))
    await testing.wait_until(lambda: h.reflector.last_resource_version == "3")
    h.lw.break_watches()
    await h.clock.wait_for_sleepers(1)
    h.lw.put(cm("c"))  # happens while we are disconnected
    await h.clock.advance(1.0)
    await testing.wait_until(lambda: "c" in h.names())
    assert h.lw.watches == ["1", "3"], "resumes from the last version seen, no relist"
    assert h.lw.lists == 1
    assert [e[:2] for e in h.handler.take()] == [
        ("add", "a"),
        ("add", "b"),
        ("add", "other"),
        ("add", "c"),
    ]


async def test_gone_relists_and_emits_the_delta(h: Harness) -> None:
    for n in "abcd":
        h.lw.put(cm(n))
    await h.start()
    h.handler.take()
    h.lw.break_watches()
    await h.clock.wait_for_sleepers(1)
    # while disconnected: change a, delete b, re-create c under a new uid, add e; d unchanged
    h.lw.put(cm("a", x="changed"))
    h.lw.remove("ns", "b")
    h.lw.remove("ns", "c")
    h.lw.put(cm("c", uid="uid-c2"))
    h.lw.put(cm("e"))
    h.lw.expire()
    await h.clock.advance(1.0)
    await testing.wait_until(lambda: h.reflector.relists == 1 and h.lw.open_watches == 1)
    events = h.handler.take()
    assert sorted(events) == sorted(
        [
            ("update", "a", "5"),
            ("delete", "b", "2"),  # the last state we knew
            ("delete", "c", "3"),
            ("add", "c", "8"),
            ("add", "e", "9"),
        ]
    )
    assert events.index(("delete", "c", "3")) < events.index(("add", "c", "8"))
    assert h.names() == {"a": "5", "c": "8", "d": "4", "e": "9"}
    assert h.lw.watches[-1] == "9"


async def test_gone_on_an_open_watch_relists_immediately(h: Harness) -> None:
    h.lw.put(cm("a"))
    await h.start()
    h.lw.expire()
    await testing.wait_until(lambda: h.lw.lists == 2 and h.lw.open_watches == 1)
    assert h.clock.sleepers == 0, "no back-off before a relist on 410"
    assert h.handler.take() == [("add", "a", "1")]


async def test_list_failures_back_off_exponentially(h: Harness) -> None:
    h.lw.fail_lists = 3
    h.lw.put(cm("a"))
    task = asyncio.ensure_future(h.reflector.run(h.stop))
    h.task = task
    for delay in (1.0, 2.0, 4.0):
        await h.clock.wait_for_sleepers(1)
        deadline = h.clock.next_deadline()
        assert deadline is not None and deadline - h.clock.now() == pytest.approx(delay)
        await h.clock.advance(delay)
    await testing.wait_until(lambda: h.reflector.synced.is_set())
    assert h.lw.lists == 4


async def test_clean_watch_end_rewatches_without_backoff(h: Harness) -> None:
    h.lw.put(cm("a"))
    await h.start()
    h.lw.end_watches()
    await testing.wait_until(lambda: len(h.lw.watches) == 2 and h.lw.open_watches == 1)
    assert h.lw.watches == ["1", "1"] and h.lw.lists == 1


class ScriptedLW:
    """Serves scripted lists and watch streams, to feed deliberately stale data."""

    def __init__(self, lists: list[tuple[list[Obj], str]], streams: list[list[tuple[str, Obj]]]):
        self.lists = lists
        self.streams = streams
        self.hang = asyncio.Event()

    async def list(self) -> tuple[list[Obj], str]:
        return self.lists.pop(0)

    async def watch(self, resource_version: str) -> AsyncIterator[tuple[str, Obj]]:
        if not self.streams:
            await self.hang.wait()
            return
        for ev in self.streams.pop(0):
            yield ev
        from pyk8s.client import errors

        raise errors.Gone(code=410, reason="Expired", message="too old")


def rv(obj: Obj, version: str) -> Obj:
    obj["metadata"]["resourceVersion"] = version
    return obj


async def test_never_goes_backwards() -> None:
    clock = testing.FakeClock()
    lw = ScriptedLW(
        lists=[
            ([rv(cm("a"), "5")], "5"),
            ([rv(cm("a"), "4")], "4"),  # a lagging server: stale, must not be applied
            ([rv(cm("a"), "9"), rv(cm("b"), "8")], "9"),
        ],
        streams=[
            [("MODIFIED", rv(cm("a"), "7")), ("MODIFIED", rv(cm("a"), "6"))],  # 6 < 7: dropped
        ],
    )
    s: store_mod.Store[Obj] = store_mod.Store()
    rec = Recorder()
    r = reflector.Reflector(lw, s, handler=rec, clock=clock, backoff=ratelimit.Backoff(jitter=0))
    stop = asyncio.Event()
    task = asyncio.ensure_future(r.run(stop))
    await clock.wait_for_sleepers(1)  # backing off after the stale list
    assert [o["metadata"]["resourceVersion"] for o in s.list()] == ["7"]
    await clock.advance(1.0)
    await testing.wait_until(lambda: not lw.lists)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert rec.events == [
        ("add", "a", "5"),
        ("update", "a", "7"),
        ("update", "a", "9"),
        ("add", "b", "8"),
    ]


def test_newer() -> None:
    assert reflector.newer("10", "9") is True
    assert reflector.newer("9", "10") is False
    assert reflector.newer("x", "10") is None
