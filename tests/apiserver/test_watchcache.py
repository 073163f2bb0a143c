"""The watch cache over a real SQLite store: lists from memory, watches with filters that
turn "stops matching" into DELETED, resumption from a revision, and 410 for old ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from pyk8s.apiserver.watchcache import CacheSet, Filter, TooOld
from pyk8s.storage import sqlite

PREFIX = "/registry/configmaps/"


def _cm(name: str, ns: str = "a", labels: dict[str, str] | None = None) -> bytes:
    return orjson.dumps({"metadata": {"name": name, "namespace": ns, "labels": labels or {}}})


@pytest.fixture
async def caches(tmp_path: Path) -> AsyncIterator[CacheSet]:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    await store.create(PREFIX + "a/pre", _cm("pre"))
    cs = CacheSet(store, [PREFIX, "/registry/pods/"])
    await cs.start()
    try:
        yield cs
    finally:
        await cs.stop()
        await store.close()


async def _batch(w, n: int) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    out: list[tuple[str, dict]] = []
    async with asyncio.timeout(5):
        while len(out) < n:
            batch = await w.next_batch(1.0)
            assert batch is not None
            out += [(t, orjson.loads(line)["object"]) for t, line, _ in batch]
    return out


async def test_initial_list_and_resource_version(caches: CacheSet) -> None:
    cache = caches.caches[PREFIX]
    [entry] = list(cache.scan(Filter()))
    assert entry.name == "pre"
    assert orjson.loads(entry.raw)["metadata"]["resourceVersion"] == str(entry.revision)


async def test_consistent_read_sees_own_write(caches: CacheSet) -> None:
    rev = await caches.store.create(PREFIX + "a/x", _cm("x"))
    await caches.consistent()
    assert caches.revision >= rev
    assert PREFIX + "a/x" in caches.caches[PREFIX].objects


async def test_label_filter_turns_unmatch_into_deleted(caches: CacheSet) -> None:
    cache = caches.caches[PREFIX]
    w = cache.watch(
        Filter(labels=lambda lbl: lbl.get("tier") == "web"), after=caches.revision, initial=False
    )
    rev = await caches.store.create(PREFIX + "a/m", _cm("m", labels={"tier": "web"}))
    await caches.store.update(
        PREFIX + "a/m", _cm("m", labels={"tier": "db"}), expected_revision=rev
    )
    await caches.store.create(PREFIX + "a/other", _cm("other"))
    events = await _batch(w, 2)
    assert [(t, o["metadata"]["name"]) for t, o in events] == [("ADDED", "m"), ("DELETED", "m")]


async def test_resume_from_revision_and_too_old(caches: CacheSet) -> None:
    cache = caches.caches[PREFIX]
    r1 = await caches.store.create(PREFIX + "b/one", _cm("one", "b"))
    await caches.store.create(PREFIX + "b/two", _cm("two", "b"))
    await caches.consistent()
    w = cache.watch(Filter(namespace="b"), after=r1, initial=False)
    events = await _batch(w, 1)
    assert [o["metadata"]["name"] for _, o in events] == ["two"]
    with pytest.raises(TooOld):
        cache.watch(Filter(), after=cache.floor - 1, initial=False)


async def test_initial_events_then_live(caches: CacheSet) -> None:
    cache = caches.caches[PREFIX]
    w = cache.watch(Filter(), after=None, initial=True)
    await caches.store.create(PREFIX + "a/live", _cm("live"))
    events = await _batch(w, 2)
    assert [(t, o["metadata"]["name"]) for t, o in events] == [("ADDED", "pre"), ("ADDED", "live")]


async def test_cache_added_at_run_time_is_filled_and_follows(caches: CacheSet) -> None:
    prefix = "/registry/example.com/widgets/"
    await caches.store.create(prefix + "a/w1", _cm("w1"))
    await caches.consistent()
    cache = await caches.add_filled(prefix)
    assert [e.name for e in cache.scan(Filter())] == ["w1"]
    rev = await caches.store.create(prefix + "a/w2", _cm("w2"))
    assert await caches.wait_for(rev)
    assert sorted(e.name for e in cache.scan(Filter())) == ["w1", "w2"]
    caches.remove(prefix)
    assert caches.route(prefix + "a/w3") is None
