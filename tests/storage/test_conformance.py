"""The storage contract (``pyk8s.storage.interface``), checked against every backend.

Every test runs once per backend through the ``store`` fixture. The etcd instance is
shared by the whole session (each test gets its own key prefix), so no test assumes an
absolute revision: revisions are only compared with revisions the test itself saw.
Nothing sleeps; waits are conditions with deadlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pyk8s.storage import errors
from pyk8s.storage.interface import Event, EventType, Interface, KeyValue

P = "/registry/widgets/"
DEADLINE = 10.0


async def next_event(watch: AsyncIterator[Event]) -> Event:
    return await asyncio.wait_for(anext(watch), DEADLINE)


async def take(watch: AsyncIterator[Event], n: int) -> list[Event]:
    async def collect() -> list[Event]:
        return [await anext(watch) for _ in range(n)]

    return await asyncio.wait_for(collect(), DEADLINE)


async def aclose(watch: AsyncIterator[Event]) -> None:
    close = getattr(watch, "aclose", None)
    if close is not None:
        await close()


def summary(events: list[Event]) -> list[tuple[EventType, str, bytes, int]]:
    return [(e.type, e.key, e.value, e.revision) for e in events]


async def assert_no_more_events(store: Interface, watch: AsyncIterator[Event]) -> None:
    """Exactly-once check: after the expected events, the next one is a fresh marker."""
    rev = await store.create(P + "zz-marker", b"marker")
    event = await next_event(watch)
    assert (event.key, event.revision) == (P + "zz-marker", rev)


# -- CRUD ------------------------------------------------------------------------------


async def test_create_get_update_delete_roundtrip(store: Interface) -> None:
    before = await store.current_revision()
    created = await store.create(P + "a", b"v1")
    assert created > before >= 1
    assert await store.get(P + "a") == KeyValue(P + "a", b"v1", created, created)

    updated = await store.update(P + "a", b"v2", expected_revision=created)
    assert updated > created
    assert await store.get(P + "a") == KeyValue(P + "a", b"v2", updated, created)

    last = await store.delete(P + "a", expected_revision=updated)
    assert last.key == P + "a"
    assert last.value == b"v2"
    assert last.create_revision == created
    assert last.mod_revision > updated
    assert await store.current_revision() >= last.mod_revision
    with pytest.raises(errors.NotFound):
        await store.get(P + "a")


async def test_values_are_opaque_bytes(store: Interface) -> None:
    value = bytes(range(256)) * 4 + b"\x00"
    rev = await store.create(P + "bin", value)
    assert (await store.get(P + "bin")).value == value
    rev = await store.update(P + "bin", b"", expected_revision=rev)
    assert (await store.get(P + "bin")).value == b""


async def test_create_existing_key_raises_already_exists(store: Interface) -> None:
    rev = await store.create(P + "a", b"v1")
    with pytest.raises(errors.AlreadyExists):
        await store.create(P + "a", b"v2")
    assert await store.get(P + "a") == KeyValue(P + "a", b"v1", rev, rev)


async def test_create_after_delete_starts_a_new_lifetime(store: Interface) -> None:
    first = await store.create(P + "a", b"v1")
    await store.delete(P + "a")
    again = await store.create(P + "a", b"v2")
    assert again > first
    assert await store.get(P + "a") == KeyValue(P + "a", b"v2", again, again)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("get", id="get"),
        pytest.param("update", id="update"),
        pytest.param("delete", id="delete"),
        pytest.param("delete-cas", id="delete-with-expected-revision"),
    ],
)
async def test_missing_key_raises_not_found(store: Interface, op: str) -> None:
    rev = await store.create(P + "other", b"x")
    with pytest.raises(errors.NotFound):
        if op == "get":
            await store.get(P + "missing")
        elif op == "update":
            await store.update(P + "missing", b"x", expected_revision=rev)
        elif op == "delete":
            await store.delete(P + "missing")
        else:
            await store.delete(P + "missing", expected_revision=rev)


async def test_deleted_key_is_not_found_for_update_and_delete(store: Interface) -> None:
    rev = await store.create(P + "a", b"v")
    gone = await store.delete(P + "a")
    with pytest.raises(errors.NotFound):
        await store.update(P + "a", b"v2", expected_revision=rev)
    with pytest.raises(errors.NotFound):
        await store.delete(P + "a", expected_revision=gone.mod_revision)


async def test_update_with_stale_revision_conflicts(store: Interface) -> None:
    first = await store.create(P + "a", b"v1")
    second = await store.update(P + "a", b"v2", expected_revision=first)
    with pytest.raises(errors.Conflict) as info:
        await store.update(P + "a", b"v3", expected_revision=first)
    assert (info.value.key, info.value.expected, info.value.actual) == (P + "a", first, second)
    assert await store.get(P + "a") == KeyValue(P + "a", b"v2", second, first)


async def test_delete_with_stale_revision_conflicts(store: Interface) -> None:
    first = await store.create(P + "a", b"v1")
    second = await store.update(P + "a", b"v2", expected_revision=first)
    with pytest.raises(errors.Conflict) as info:
        await store.delete(P + "a", expected_revision=first)
    assert (info.value.expected, info.value.actual) == (first, second)
    assert (await store.get(P + "a")).mod_revision == second
    last = await store.delete(P + "a", expected_revision=second)
    assert last.value == b"v2"


async def test_delete_without_expected_revision_is_unconditional(store: Interface) -> None:
    rev = await store.create(P + "a", b"v1")
    await store.update(P + "a", b"v2", expected_revision=rev)
    last = await store.delete(P + "a")
    assert last.value == b"v2"


async def test_every_write_gets_a_new_increasing_revision(store: Interface) -> None:
    revisions = [await store.create(P + f"k{i}", b"v") for i in range(5)]
    revisions.append(await store.update(P + "k0", b"w", expected_revision=revisions[0]))
    revisions.append((await store.delete(P + "k1")).mod_revision)
    assert revisions == sorted(set(revisions))
    assert await store.current_revision() >= revisions[-1]


# -- list ------------------------------------------------------------------------------


async def test_list_returns_live_keys_under_prefix_in_byte_order(store: Interface) -> None:
    inside = ["b", "a", "B", "a/nested", "é", "z", "a-b"]
    outside = ["/registry/widgets", "/registry/widgetsx", "/registry/widgets-x"]
    for name in inside:
        await store.create(P + name, name.encode())
    for key in outside:
        await store.create(key, b"outside")
    await store.create(P + "gone", b"x")
    last = (await store.delete(P + "gone")).mod_revision

    result = await store.list(P)
    keys = [kv.key for kv in result.items]
    assert keys == sorted((P + n for n in inside), key=lambda k: k.encode())
    assert [kv.value for kv in result.items] == [k[len(P) :].encode() for k in keys]
    assert result.revision >= last
    assert result.continue_ is None


async def test_list_empty_prefix_range(store: Interface) -> None:
    await store.create(P + "a", b"x")
    result = await store.list(P + "nothing-here/")
    assert result.items == []
    assert result.continue_ is None


async def test_list_items_carry_mod_and_create_revisions(store: Interface) -> None:
    created = await store.create(P + "a", b"v1")
    updated = await store.update(P + "a", b"v2", expected_revision=created)
    (item,) = (await store.list(P)).items
    assert item == KeyValue(P + "a", b"v2", updated, created)


async def test_list_pages_stay_at_the_first_pages_revision(store: Interface) -> None:
    keys = [P + f"k{i:02d}" for i in range(25)]
    revs = {key: await store.create(key, b"old") for key in keys}
    expected = [KeyValue(k, b"old", revs[k], revs[k]) for k in keys]

    first = await store.list(P, limit=10)
    assert first.items == expected[:10]
    assert first.continue_ is not None
    at = first.revision

    # Writes between pages: the next pages must not see any of them.
    await store.update(P + "k12", b"new", expected_revision=revs[P + "k12"])
    await store.delete(P + "k15")
    await store.create(P + "k105", b"new")  # sorts between k10 and k11
    await store.create(P + "k99", b"new")  # after the last key
    await store.delete(P + "k03")  # already returned

    second = await store.list(P, limit=10, continue_=first.continue_)
    assert second.revision == at
    assert second.items == expected[10:20]
    assert second.continue_ is not None
    third = await store.list(P, limit=10, continue_=second.continue_)
    assert third.revision == at
    assert third.items == expected[20:]
    assert third.continue_ is None

    now = await store.list(P)
    assert now.revision > at
    names = [kv.key[len(P) :] for kv in now.items]
    assert "k15" not in names and "k03" not in names
    assert {"k105", "k99"} <= set(names)


async def test_list_pagination_with_exact_multiple_of_limit(store: Interface) -> None:
    for i in range(6):
        await store.create(P + f"k{i}", b"v")
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        result = await store.list(P, limit=3, continue_=token)
        pages.append([kv.key[len(P) :] for kv in result.items])
        token = result.continue_
        if token is None:
            break
    assert [k for page in pages for k in page] == [f"k{i}" for i in range(6)]
    assert all(len(page) <= 3 for page in pages)
    assert len(pages) <= 3  # a final empty page at most


async def test_list_skips_deleted_keys_across_page_boundaries(store: Interface) -> None:
    for i in range(10):
        await store.create(P + f"k{i}", b"v")
    for i in (1, 2, 3, 5, 6):
        await store.delete(P + f"k{i}")
    seen: list[str] = []
    token: str | None = None
    while True:
        result = await store.list(P, limit=2, continue_=token)
        seen += [kv.key[len(P) :] for kv in result.items]
        token = result.continue_
        if token is None:
            break
    assert seen == ["k0", "k4", "k7", "k8", "k9"]


async def test_list_at_an_old_revision(store: Interface) -> None:
    a1 = await store.create(P + "a", b"a1")
    b1 = await store.create(P + "b", b"b1")
    a2 = await store.update(P + "a", b"a2", expected_revision=a1)
    await store.delete(P + "b")
    await store.create(P + "c", b"c1")

    at_b1 = await store.list(P, revision=b1)
    assert at_b1.revision == b1
    assert at_b1.items == [KeyValue(P + "a", b"a1", a1, a1), KeyValue(P + "b", b"b1", b1, b1)]
    at_a1 = await store.list(P, revision=a1)
    assert at_a1.items == [KeyValue(P + "a", b"a1", a1, a1)]
    now = await store.list(P)
    assert [kv.key for kv in now.items] == [P + "a", P + "c"]
    assert now.items[0] == KeyValue(P + "a", b"a2", a2, a1)


async def test_list_at_old_revision_paginates_at_that_revision(store: Interface) -> None:
    for i in range(5):
        await store.create(P + f"k{i}", b"v1")
    at = await store.current_revision()
    for i in range(5):
        await store.delete(P + f"k{i}")
    first = await store.list(P, revision=at, limit=2)
    assert first.revision == at
    assert [kv.key for kv in first.items] == [P + "k0", P + "k1"]
    rest = await store.list(P, limit=10, continue_=first.continue_)
    assert rest.revision == at
    assert [kv.key for kv in rest.items] == [P + "k2", P + "k3", P + "k4"]


async def test_list_at_a_compacted_revision_raises_compacted(store: Interface) -> None:
    old = await store.create(P + "a", b"v1")
    rev = await store.update(P + "a", b"v2", expected_revision=old)
    rev = await store.update(P + "a", b"v3", expected_revision=rev)
    await store.compact(rev)
    with pytest.raises(errors.Compacted):
        await store.list(P, revision=old)
    with pytest.raises(errors.Compacted):
        await store.list(P, revision=rev - 1)
    at = await store.list(P, revision=rev)
    assert at.items == [KeyValue(P + "a", b"v3", rev, old)]


async def test_continue_token_at_a_compacted_revision_raises_compacted(
    store: Interface,
) -> None:
    for i in range(4):
        await store.create(P + f"k{i}", b"v")
    first = await store.list(P, limit=2)
    assert first.continue_ is not None
    rev = await store.update(P + "k0", b"w", expected_revision=first.items[0].mod_revision)
    await store.compact(rev)
    with pytest.raises(errors.Compacted):
        await store.list(P, limit=2, continue_=first.continue_)


async def test_list_at_a_future_revision_raises_future_revision(store: Interface) -> None:
    await store.create(P + "a", b"v")
    current = await store.current_revision()
    with pytest.raises(errors.FutureRevision):
        await store.list(P, revision=current + 1_000_000)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"continue_": "not-a-token"}, id="garbage-continue-token"),
        pytest.param({"continue_": "eyJ2IjoidjAifQ"}, id="wrong-token-version"),
        pytest.param({"limit": -1}, id="negative-limit"),
        pytest.param({"revision": -1}, id="negative-revision"),
    ],
)
async def test_list_rejects_bad_arguments_with_value_error(
    store: Interface, kwargs: dict[str, object]
) -> None:
    await store.create(P + "a", b"v")
    with pytest.raises(ValueError):
        await store.list(P, **kwargs)  # type: ignore[arg-type]


# -- watch -----------------------------------------------------------------------------


async def test_watch_yields_every_change_in_order_exactly_once(store: Interface) -> None:
    start = await store.current_revision()
    watch = store.watch(P, from_revision=start)
    try:
        a = await store.create(P + "a", b"a1")
        a2 = await store.update(P + "a", b"a2", expected_revision=a)
        b = await store.create(P + "b", b"b1")
        gone = await store.delete(P + "a")
        b2 = await store.update(P + "b", b"b2", expected_revision=b)
        events = await take(watch, 5)
        assert summary(events) == [
            (EventType.ADDED, P + "a", b"a1", a),
            (EventType.MODIFIED, P + "a", b"a2", a2),
            (EventType.ADDED, P + "b", b"b1", b),
            (EventType.DELETED, P + "a", b"a2", gone.mod_revision),
            (EventType.MODIFIED, P + "b", b"b2", b2),
        ]
        assert [e.create_revision for e in events] == [a, a, b, a, b]
        await assert_no_more_events(store, watch)
    finally:
        await aclose(watch)


async def test_watch_sees_only_its_prefix(store: Interface) -> None:
    start = await store.current_revision()
    watch = store.watch(P + "mine/", from_revision=start)
    try:
        await store.create(P + "other/a", b"x")
        await store.create(P + "mine", b"x")  # the prefix without its slash
        await store.create(P + "mine-not/a", b"x")
        rev = await store.create(P + "mine/a", b"x")
        event = await next_event(watch)
        assert (event.key, event.revision) == (P + "mine/a", rev)
    finally:
        await aclose(watch)


async def test_watch_replays_history_from_a_revision_then_goes_live(store: Interface) -> None:
    history = [await store.create(P + f"k{i}", f"v{i}".encode()) for i in range(10)]
    resume = history[4]
    watch = store.watch(P, from_revision=resume)
    try:
        # Writes race with the watch's start: the replay/live seam must have no gap and
        # no duplicate whichever side each write lands on.
        async def write_more() -> list[int]:
            return [await store.create(P + f"live{i:02d}", b"x") for i in range(20)]

        writer = asyncio.create_task(write_more())
        first = await next_event(watch)
        live = await asyncio.wait_for(writer, DEADLINE)
        rest = await take(watch, len(history) - 5 + len(live) - 1)
        assert [e.revision for e in [first, *rest]] == history[5:] + live
        assert [e.key for e in [first, *rest]][:5] == [P + f"k{i}" for i in range(5, 10)]
        await assert_no_more_events(store, watch)
    finally:
        await aclose(watch)


async def test_watch_resumes_from_every_revision_without_gaps(store: Interface) -> None:
    revs = [await store.create(P + "k", b"v0")]
    for i in range(1, 6):
        revs.append(await store.update(P + "k", f"v{i}".encode(), expected_revision=revs[-1]))
    for i, rev in enumerate(revs[:-1]):
        watch = store.watch(P, from_revision=rev)
        try:
            events = await take(watch, len(revs) - i - 1)
            assert [e.revision for e in events] == revs[i + 1 :]
            assert events[0].value == f"v{i + 1}".encode()
        finally:
            await aclose(watch)


async def test_watch_from_the_current_revision_sees_only_new_changes(store: Interface) -> None:
    await store.create(P + "old", b"x")
    watch = store.watch(P, from_revision=await store.current_revision())
    try:
        rev = await store.create(P + "new", b"x")
        event = await next_event(watch)
        assert (event.type, event.key, event.revision) == (EventType.ADDED, P + "new", rev)
    finally:
        await aclose(watch)


async def test_deleted_event_carries_the_last_value(store: Interface) -> None:
    created = await store.create(P + "a", b"v1")
    updated = await store.update(P + "a", b"last", expected_revision=created)
    watch = store.watch(P, from_revision=updated)
    try:
        deleted = await store.delete(P + "a")
        assert deleted == KeyValue(P + "a", b"last", deleted.mod_revision, created)
        event = await next_event(watch)
        assert event == Event(EventType.DELETED, P + "a", b"last", deleted.mod_revision, created)
    finally:
        await aclose(watch)
    replayed = store.watch(P, from_revision=created)
    try:
        events = await take(replayed, 2)
        assert events[1] == Event(
            EventType.DELETED, P + "a", b"last", deleted.mod_revision, created
        )
    finally:
        await aclose(replayed)


async def test_watch_from_a_compacted_revision_raises_compacted(store: Interface) -> None:
    first = await store.create(P + "a", b"v1")
    rev = await store.update(P + "a", b"v2", expected_revision=first)
    rev = await store.update(P + "a", b"v3", expected_revision=rev)
    await store.compact(rev)
    watch = store.watch(P, from_revision=first)
    try:
        with pytest.raises(errors.Compacted):
            await asyncio.wait_for(anext(watch), DEADLINE)
    finally:
        await aclose(watch)


async def test_watch_from_just_before_the_compact_revision_works(store: Interface) -> None:
    first = await store.create(P + "a", b"v1")
    rev = await store.update(P + "a", b"v2", expected_revision=first)
    rev = await store.update(P + "a", b"v3", expected_revision=rev)
    await store.compact(rev)
    watch = store.watch(P, from_revision=rev - 1)
    try:
        event = await next_event(watch)
        assert (event.type, event.value, event.revision) == (EventType.MODIFIED, b"v3", rev)
    finally:
        await aclose(watch)


async def test_many_watchers_each_see_every_event(store: Interface) -> None:
    start = await store.current_revision()
    watches = [store.watch(P, from_revision=start) for _ in range(10)]
    try:
        revs = [await store.create(P + f"k{i}", b"v") for i in range(10)]
        for watch in watches:
            assert [e.revision for e in await take(watch, 10)] == revs
    finally:
        for watch in watches:
            await aclose(watch)


async def test_closed_watch_ends(store: Interface) -> None:
    watch = store.watch(P, from_revision=await store.current_revision())
    await store.create(P + "a", b"v")
    await next_event(watch)
    await aclose(watch)
    await store.create(P + "b", b"v")
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(watch), DEADLINE)


# -- concurrency and compaction --------------------------------------------------------


async def test_concurrent_cas_increments_never_lose_an_update(store: Interface) -> None:
    writers, increments = 20, 25
    key = P + "counter"
    await store.create(key, b"0")

    async def increment() -> None:
        for _ in range(increments):
            while True:
                kv = await store.get(key)
                try:
                    await store.update(
                        key, str(int(kv.value) + 1).encode(), expected_revision=kv.mod_revision
                    )
                    break
                except errors.Conflict:
                    continue

    async with asyncio.timeout(120):
        async with asyncio.TaskGroup() as group:
            for _ in range(writers):
                group.create_task(increment())
    assert int((await store.get(key)).value) == writers * increments


async def test_compaction_keeps_the_newest_value_of_every_key(store: Interface) -> None:
    rev = await store.create(P + "a", b"a0")
    for i in range(1, 6):
        rev = await store.update(P + "a", f"a{i}".encode(), expected_revision=rev)
    b = await store.create(P + "b", b"b0")
    await store.create(P + "c", b"c0")
    await store.delete(P + "c")
    await store.create(P + "d", b"d0")
    await store.delete(P + "d")
    d = await store.create(P + "d", b"d1")
    e = await store.create(P + "e", b"e0")
    last = await store.update(P + "b", b"b1", expected_revision=b)
    before = await store.list(P)

    await store.compact(last)

    after = await store.list(P)
    assert after.items == before.items
    assert [(kv.key, kv.value) for kv in after.items] == [
        (P + "a", b"a5"),
        (P + "b", b"b1"),
        (P + "d", b"d1"),
        (P + "e", b"e0"),
    ]
    assert (await store.get(P + "d")).create_revision == d
    assert (await store.get(P + "e")).mod_revision == e
    with pytest.raises(errors.NotFound):
        await store.get(P + "c")
    # The survivors are still writable by compare-and-swap and watchable.
    watch = store.watch(P, from_revision=last)
    try:
        a_now = (await store.get(P + "a")).mod_revision
        rev = await store.update(P + "a", b"a6", expected_revision=a_now)
        event = await next_event(watch)
        assert (event.key, event.revision, event.value) == (P + "a", rev, b"a6")
    finally:
        await aclose(watch)


async def test_compaction_does_not_disturb_later_history(store: Interface) -> None:
    revs = [await store.create(P + f"k{i}", b"v") for i in range(6)]
    await store.compact(revs[2])
    at = await store.list(P, revision=revs[3])
    assert [kv.key for kv in at.items] == [P + f"k{i}" for i in range(4)]
    watch = store.watch(P, from_revision=revs[2])
    try:
        assert [e.revision for e in await take(watch, 3)] == revs[3:]
    finally:
        await aclose(watch)
