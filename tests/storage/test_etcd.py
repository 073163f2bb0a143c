"""etcd-specific behaviour: the launcher, failures when etcd is down, key prefixes and the
upstream key layout. The shared CRUD/CAS/list/watch semantics live in test_conformance.py.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import itertools
import json
import os
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pyk8s.storage import errors, etcd, etcd_server, interface

pytestmark = pytest.mark.etcd

DEADLINE = 10.0  # seconds any single wait in these tests may take
_prefixes = itertools.count()
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _gateway_range(
    endpoint: str, key: bytes, range_end: bytes | None = None
) -> list[tuple[bytes, bytes]]:
    """Read a key, or the keys in [key, range_end), straight from etcd's JSON gateway,
    bypassing pyk8s' client."""
    query = {"key": base64.b64encode(key).decode()}
    if range_end is not None:
        query["range_end"] = base64.b64encode(range_end).decode()
    body = json.dumps(query).encode()
    request = urllib.request.Request(f"{endpoint}/v3/kv/range", data=body, method="POST")
    with _no_proxy.open(request, timeout=DEADLINE) as response:
        kvs = json.loads(response.read()).get("kvs", [])
    return [(base64.b64decode(kv["key"]), base64.b64decode(kv.get("value", ""))) for kv in kvs]


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); stop() reaps it, so this means it still runs.
    return False


@pytest.fixture
async def store(etcd_endpoint: str) -> AsyncIterator[etcd.EtcdStorage]:
    backend = await etcd.open_store([etcd_endpoint], key_prefix=f"/e{next(_prefixes)}")
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[etcd_server.EtcdServer]:
    """An etcd of this test's own, for tests that stop it."""
    server = etcd_server.EtcdServer(tmp_path / "etcd")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the launcher ---------------------------------------------------------------------


def test_server_starts_healthy_and_stops(tmp_path: Path) -> None:
    server = etcd_server.EtcdServer(tmp_path)
    server.start()
    try:
        assert server.endpoint.startswith("http://127.0.0.1:")
        with _no_proxy.open(f"{server.endpoint}/health", timeout=DEADLINE) as response:
            assert json.loads(response.read())["health"] == "true"
        assert server.db_path.is_file()
        pid = server.pid
        assert pid is not None
    finally:
        server.stop()
    assert _process_gone(pid)
    assert server.pid is None
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.endpoint


def test_server_restarts_on_its_data(tmp_path: Path) -> None:
    with etcd_server.EtcdServer(tmp_path) as first:
        _put_via_gateway(first.endpoint, b"/kept", b"v")
    with etcd_server.EtcdServer(tmp_path) as second:
        assert _gateway_range(second.endpoint, b"/kept") == [(b"/kept", b"v")]


def _put_via_gateway(endpoint: str, key: bytes, value: bytes) -> None:
    body = json.dumps(
        {"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()}
    ).encode()
    request = urllib.request.Request(f"{endpoint}/v3/kv/put", data=body, method="POST")
    with _no_proxy.open(request, timeout=DEADLINE):
        pass


@pytest.mark.parametrize(
    ("extra_args", "data_dir_is_a_file", "reason"),
    [
        pytest.param(("--no-such-flag",), False, "no-such-flag", id="bad-flag"),
        pytest.param((), True, "not a directory", id="data-dir-is-a-file"),
    ],
)
def test_server_start_failure_reports_etcd_log(
    tmp_path: Path, extra_args: tuple[str, ...], data_dir_is_a_file: bool, reason: str
) -> None:
    server = etcd_server.EtcdServer(tmp_path, extra_args=extra_args)
    if data_dir_is_a_file:
        server.member_dir.write_bytes(b"")
    with pytest.raises(etcd_server.EtcdStartError) as caught:
        server.start()
    assert "exited with code" in str(caught.value)
    assert reason in str(caught.value)
    assert server.pid is None


def test_server_missing_binary(tmp_path: Path) -> None:
    server = etcd_server.EtcdServer(tmp_path, binary="pyk8s-no-such-etcd")
    with pytest.raises(etcd_server.EtcdStartError, match="not found"):
        server.start()


# -- endpoints and ranges (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoints", "target"),
    [
        pytest.param(["http://127.0.0.1:2379"], "127.0.0.1:2379", id="one"),
        pytest.param(["127.0.0.1:2379"], "127.0.0.1:2379", id="no-scheme"),
        pytest.param(["http://localhost"], "localhost:2379", id="default-port"),
        pytest.param(["http://[::1]:2379"], "[::1]:2379", id="ipv6"),
        pytest.param(
            ["http://127.0.0.1:1", "http://127.0.0.2:2"], "ipv4:127.0.0.1:1,127.0.0.2:2", id="many"
        ),
        pytest.param(["http://[::1]:1", "http://[::1]:2"], "ipv6:[::1]:1,[::1]:2", id="many-v6"),
    ],
)
def test_grpc_target(endpoints: list[str], target: str) -> None:
    assert etcd.grpc_target(endpoints) == target


@pytest.mark.parametrize(
    "endpoints",
    [
        pytest.param([], id="none"),
        pytest.param(["https://127.0.0.1:2379"], id="tls"),
        pytest.param(["http://a:1", "http://b:2"], id="many-names"),
        pytest.param(["http://127.0.0.1:1", "http://[::1]:2"], id="mixed-families"),
    ],
)
def test_grpc_target_rejects(endpoints: list[str]) -> None:
    with pytest.raises(ValueError):
        etcd.grpc_target(endpoints)


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        pytest.param(b"/registry/pods/", b"/registry/pods0", id="slash"),
        pytest.param(b"a\xff", b"b", id="trailing-ff"),
        pytest.param(b"\xff\xff", b"\x00", id="all-ff"),
        pytest.param(b"", b"\x00", id="empty"),
    ],
)
def test_prefix_end(prefix: bytes, end: bytes) -> None:
    assert etcd.prefix_end(prefix) == end


# -- etcd down ---------------------------------------------------------------------------


async def test_open_store_unavailable_when_nothing_listens(tmp_path: Path) -> None:
    server = etcd_server.EtcdServer(tmp_path)
    server.start()
    endpoint = server.endpoint
    server.stop()
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(errors.Unavailable) as caught:
            await etcd.open_store([endpoint], connect_timeout=2.0)
    message = str(caught.value)
    assert "\n" not in message
    assert "unavailable" in message


async def test_operations_unavailable_after_etcd_stops(
    own_server: etcd_server.EtcdServer,
) -> None:
    store = await etcd.open_store([own_server.endpoint], request_timeout=2.0)
    try:
        revision = await store.create("/registry/pods/default/a", b"{}")
        streaming = store.watch("/registry/pods/", from_revision=revision - 1)
        async with asyncio.timeout(DEADLINE):
            assert (await anext(streaming)).revision == revision
        not_yet_opened = store.watch("/registry/pods/", from_revision=revision)
        own_server.stop()
        async with asyncio.timeout(DEADLINE):
            with pytest.raises(errors.Unavailable):
                await store.get("/registry/pods/default/a")
            with pytest.raises(errors.Unavailable):
                await store.create("/registry/pods/default/b", b"{}")
            with pytest.raises(errors.Unavailable):
                await anext(streaming)
            with pytest.raises(errors.Unavailable):
                await anext(not_yet_opened)
    finally:
        await store.close()


async def test_closed_store_is_unavailable(store: etcd.EtcdStorage) -> None:
    await store.close()
    with pytest.raises(errors.Unavailable, match="closed"):
        await store.get("/registry/pods/default/a")


# -- key layout and prefixes -------------------------------------------------------------


async def test_keys_are_stored_as_given_under_the_prefix(etcd_endpoint: str) -> None:
    prefix = f"/layout{next(_prefixes)}"
    store = await etcd.open_store([etcd_endpoint], key_prefix=prefix)
    try:
        await store.create("/registry/pods/default/web-1", b'{"kind":"Pod"}')
        await store.create("/registry/namespaces/default", b'{"kind":"Namespace"}')
    finally:
        await store.close()
    raw = _gateway_range(etcd_endpoint, prefix.encode() + b"/", prefix.encode() + b"0")
    assert raw == [
        (f"{prefix}/registry/namespaces/default".encode(), b'{"kind":"Namespace"}'),
        (f"{prefix}/registry/pods/default/web-1".encode(), b'{"kind":"Pod"}'),
    ]


async def test_no_prefix_uses_the_keys_verbatim(etcd_endpoint: str) -> None:
    key = f"/registry/verbatim{next(_prefixes)}/default/a"
    store = await etcd.open_store([etcd_endpoint])
    try:
        revision = await store.create(key, b"v")
        assert _gateway_range(etcd_endpoint, key.encode()) == [(key.encode(), b"v")]
        await store.delete(key, expected_revision=revision)
    finally:
        await store.close()


async def test_prefixes_isolate_stores(etcd_endpoint: str) -> None:
    one = await etcd.open_store([etcd_endpoint], key_prefix=f"/iso{next(_prefixes)}")
    two = await etcd.open_store([etcd_endpoint], key_prefix=f"/iso{next(_prefixes)}")
    try:
        start = await one.current_revision()
        key = "/registry/pods/default/a"
        await one.create(key, b"one")
        await two.create(key, b"two")  # no AlreadyExists: another prefix
        assert (await one.get(key)).value == b"one"
        assert (await two.get(key)).value == b"two"
        assert [kv.value for kv in (await one.list("/registry/")).items] == [b"one"]
        await two.delete(key)
        assert (await one.get(key)).value == b"one"
        with pytest.raises(errors.NotFound):
            await two.get(key)
        events = one.watch("/registry/", from_revision=start)
        try:
            async with asyncio.timeout(DEADLINE):
                first = await anext(events)
                await one.update(key, b"one-2", expected_revision=first.revision)
                second = await anext(events)
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        assert [(e.type, e.key, e.value) for e in (first, second)] == [
            (interface.EventType.ADDED, key, b"one"),
            (interface.EventType.MODIFIED, key, b"one-2"),
        ]
    finally:
        await one.close()
        await two.close()


# -- etcd specifics of the contract --------------------------------------------------------


async def test_list_pages_read_one_snapshot(store: etcd.EtcdStorage) -> None:
    for i in range(5):
        await store.create(f"/registry/pods/default/p{i}", b"%d" % i)
    first = await store.list("/registry/pods/", limit=2)
    assert [kv.key[-2:] for kv in first.items] == ["p0", "p1"]
    assert first.remaining == 3
    await store.create("/registry/pods/default/p2a", b"later")
    await store.delete("/registry/pods/default/p4")
    keys = [kv.key[-2:] for kv in first.items]
    token = first.continue_
    while token is not None:
        page = await store.list("/registry/pods/", limit=2, continue_=token)
        assert page.revision == first.revision
        keys += [kv.key[-2:] for kv in page.items]
        token = page.continue_
    assert keys == ["p0", "p1", "p2", "p3", "p4"]


async def test_compacted_and_future_revisions(store: etcd.EtcdStorage) -> None:
    old = await store.create("/registry/pods/default/a", b"1")
    new = await store.update("/registry/pods/default/a", b"2", expected_revision=old)
    await store.compact(new)
    await store.compact(old)  # at or below the last compaction: nothing to do
    with pytest.raises(errors.Compacted) as compacted:
        await store.list("/registry/pods/", revision=old)
    assert (compacted.value.requested, compacted.value.compacted) == (old, new)
    assert [kv.value for kv in (await store.list("/registry/pods/", revision=new)).items] == [b"2"]
    current = await store.current_revision()
    with pytest.raises(errors.FutureRevision) as future:
        await store.list("/registry/pods/", revision=current + 100)
    assert future.value.current >= current
    with pytest.raises(errors.FutureRevision):
        await store.compact(current + 100)
    events = store.watch("/registry/pods/", from_revision=old - 1)
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(errors.Compacted):
            await anext(events)


async def test_deleted_event_carries_last_value(store: etcd.EtcdStorage) -> None:
    created = await store.create("/registry/pods/default/a", b"v1")
    updated = await store.update("/registry/pods/default/a", b"v2", expected_revision=created)
    deleted = await store.delete("/registry/pods/default/a", expected_revision=updated)
    assert (deleted.value, deleted.create_revision) == (b"v2", created)
    events = store.watch("/registry/pods/", from_revision=updated)
    async with asyncio.timeout(DEADLINE):
        event = await anext(events)
    assert event == interface.Event(
        type=interface.EventType.DELETED,
        key="/registry/pods/default/a",
        value=b"v2",
        revision=deleted.mod_revision,
        create_revision=created,
    )


async def test_close_ends_pending_watches(etcd_endpoint: str) -> None:
    store = await etcd.open_store([etcd_endpoint], key_prefix=f"/close{next(_prefixes)}")
    revision = await store.current_revision()
    events = store.watch("/registry/", from_revision=revision)
    created = await store.create("/registry/pods/default/a", b"v")
    async with asyncio.timeout(DEADLINE):
        assert (await anext(events)).revision == created
    waiter = asyncio.create_task(anext(events))
    await store.close()
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(StopAsyncIteration):
            await waiter


async def test_closing_a_watch_ends_its_iteration(store: etcd.EtcdStorage) -> None:
    events = store.watch("/registry/", from_revision=await store.current_revision())
    waiter = asyncio.create_task(anext(events))
    await events.aclose()  # type: ignore[attr-defined]
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(StopAsyncIteration):
            await waiter
    # The store still works after a watch went away.
    await store.create("/registry/pods/default/a", b"v")


def _etcd_watchers(endpoint: str) -> int:
    with _no_proxy.open(f"{endpoint}/metrics", timeout=DEADLINE) as response:
        text = response.read().decode()
    found = re.search(r"^etcd_debugging_mvcc_watcher_total (\S+)$", text, re.MULTILINE)
    assert found is not None, "etcd no longer exports etcd_debugging_mvcc_watcher_total"
    return int(float(found.group(1)))


async def _until_etcd_has_watchers(endpoint: str, count: int) -> None:
    """Poll etcd's metrics (nothing to subscribe to) until it has ``count`` watchers."""
    async with asyncio.timeout(DEADLINE):
        while await asyncio.to_thread(_etcd_watchers, endpoint) != count:
            await asyncio.sleep(0.02)


async def test_watches_end_on_etcd_when_closed_dropped_or_store_closed(
    own_server: etcd_server.EtcdServer,
) -> None:
    endpoint = own_server.endpoint
    store = await etcd.open_store([endpoint])

    async def started_watch() -> AsyncIterator[interface.Event]:
        events = store.watch("/registry/", from_revision=await store.current_revision())
        waiter = asyncio.create_task(anext(events))
        await store.create(f"/registry/pods/default/p{next(_prefixes)}", b"v")
        async with asyncio.timeout(DEADLINE):
            await waiter
        return events

    try:
        closed = await started_watch()
        await _until_etcd_has_watchers(endpoint, 1)
        await closed.aclose()  # type: ignore[attr-defined]
        await _until_etcd_has_watchers(endpoint, 0)

        dropped = await started_watch()
        await _until_etcd_has_watchers(endpoint, 1)
        del dropped
        gc.collect()
        await _until_etcd_has_watchers(endpoint, 0)

        kept = [await started_watch() for _ in range(2)]
        await _until_etcd_has_watchers(endpoint, 2)
    finally:
        await store.close()
    await _until_etcd_has_watchers(endpoint, 0)
    async with asyncio.timeout(DEADLINE):
        for events in kept:
            with pytest.raises(StopAsyncIteration):
                await anext(events)


async def test_watch_batches_are_delivered_one_by_one(store: etcd.EtcdStorage) -> None:
    start = await store.current_revision()
    revisions = [await store.create(f"/registry/pods/default/p{i}", b"v") for i in range(50)]
    events = store.watch("/registry/pods/", from_revision=start)
    seen: list[int] = []
    async with asyncio.timeout(DEADLINE):
        while len(seen) < len(revisions):
            seen.append((await anext(events)).revision)
    assert seen == revisions


async def test_large_list_exceeds_default_grpc_message_size(store: etcd.EtcdStorage) -> None:
    value = b"x" * 1_000_000
    for i in range(6):
        await store.create(f"/registry/configmaps/default/big{i}", value)
    result = await store.list("/registry/configmaps/")
    assert len(result.items) == 6


async def test_request_too_large_is_a_storage_error(store: etcd.EtcdStorage) -> None:
    with pytest.raises(errors.StorageError, match="too large") as caught:
        await store.create("/registry/configmaps/default/huge", b"x" * 1_700_000)
    assert not isinstance(caught.value, errors.Unavailable)
