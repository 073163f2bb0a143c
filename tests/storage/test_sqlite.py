"""SQLite-only behaviour: crash durability, the data dir lock, corrupt files, bounded
files under churn, group commit, and the store's lifecycle."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from pyk8s.storage import errors, sqlite, sqlite_schema
from pyk8s.storage.interface import EventType

DEADLINE = 30.0

_WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from pyk8s.storage import sqlite

    async def main() -> None:
        store = await sqlite.open_store(Path(sys.argv[1]), sync=sys.argv[2], compact_interval=0)
        print("ready", flush=True)

        async def write(lane: int) -> None:
            rev = 0
            for i in range(10**9):
                key = f"/k/{lane}"
                value = f"{lane}-{i}".encode()
                if i == 0:
                    rev = await store.create(key, value)
                else:
                    rev = await store.update(key, value, expected_revision=rev)
                await store.create(f"/log/{lane}/{i:08d}", value)
                print(rev, key, value.decode(), flush=True)

        await asyncio.gather(*(write(lane) for lane in range(8)))

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    "sync", [pytest.param("normal", id="normal"), pytest.param("full", id="full")]
)
async def test_acknowledged_writes_survive_kill_9(tmp_path: Path, sync: str) -> None:
    db = tmp_path / "state.db"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER_SCRIPT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(db), sync, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    acked: list[tuple[int, str, str]] = []
    try:
        assert await asyncio.wait_for(proc.stdout.readline(), DEADLINE) == b"ready\n"
        while len(acked) < 1500:
            line = await asyncio.wait_for(proc.stdout.readline(), DEADLINE)
            assert line, "writer died early"
            rev, key, value = line.decode().split()
            acked.append((int(rev), key, value))
    finally:
        proc.send_signal(signal.SIGKILL)
    # Lines printed before the kill are acknowledged writes too.
    async for line in proc.stdout:
        if line.endswith(b"\n"):
            rev, key, value = line.decode().split()
            acked.append((int(rev), key, value))
    assert await asyncio.wait_for(proc.wait(), DEADLINE) == -signal.SIGKILL

    store = await sqlite.open_store(db, compact_interval=0)  # the kernel dropped the lock
    try:
        newest: dict[str, tuple[int, str]] = {}
        for rev, key, value in acked:
            if rev > newest.get(key, (0, ""))[0]:
                newest[key] = (rev, value)
        for key, (rev, value) in newest.items():
            kv = await store.get(key)
            assert kv.mod_revision >= rev
            if kv.mod_revision == rev:
                assert kv.value == value.encode()
        logged = {kv.value for kv in (await store.list("/log/")).items}
        assert {value.encode() for _, _, value in acked} <= logged
        assert await store.current_revision() >= max(rev for rev, _, _ in acked)
        # The store keeps working where the log left off.
        rev = await store.create("/after-crash", b"x")
        assert rev == await store.current_revision()
    finally:
        await store.close()


async def test_second_opener_gets_one_line_unavailable_naming_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await sqlite.open_store(db, compact_interval=0)
    try:
        with pytest.raises(errors.Unavailable) as info:
            await sqlite.open_store(db, compact_interval=0)
        message = str(info.value)
        assert "\n" not in message
        assert str(tmp_path / "state.db.lock") in message
        assert "in use" in message

        # Another process is refused the same way.
        probe = (
            "import asyncio, sys; from pathlib import Path; from pyk8s.storage import sqlite\n"
            "try:\n"
            "    asyncio.run(sqlite.open_store(Path(sys.argv[1])))\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc); sys.exit(3)\n"
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", probe, str(db), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), DEADLINE)
        assert proc.returncode == 3
        assert out.decode().startswith("Unavailable ")
        assert str(tmp_path / "state.db.lock") in out.decode()
        assert f"pid {os.getpid()}" in out.decode()
    finally:
        await store.close()
    reopened = await sqlite.open_store(db, compact_interval=0)
    await reopened.close()


def _write_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _write_text(path: Path) -> None:
    path.write_text("this is not a database\n" * 100)


def _write_foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        pytest.param(_write_garbage, "file is not a database", id="random-bytes"),
        pytest.param(_write_text, "file is not a database", id="text-file"),
        pytest.param(_write_foreign_db, "missing the kv and meta tables", id="foreign-sqlite"),
    ],
)
async def test_corrupt_file_gives_one_line_unavailable_naming_it(
    tmp_path: Path, corrupt: object, reason: str
) -> None:
    db = tmp_path / "state.db"
    assert callable(corrupt)
    corrupt(db)
    with pytest.raises(errors.Unavailable) as info:
        await sqlite.open_store(db, compact_interval=0)
    message = str(info.value)
    assert "\n" not in message
    assert message == f"{db} is not a pyk8s database ({reason})"
    # The failed open released the lock: a good file opens fine.
    db.unlink()
    store = await sqlite.open_store(db, compact_interval=0)
    await store.close()


async def test_compaction_keeps_db_and_wal_bounded_under_churn(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    keys, updates, keep, value_size = 200, 20_000, 500, 2048
    store = await sqlite.open_store(db, compact_keep=keep, compact_interval=0.01)
    # Without compaction the 20,000 rows would take about 80 MB (a 2 KB row fills a page).
    # With it: ~keys + keep + one compactor round of rows in the db (~5 MB) and a WAL of
    # the 1000-page autocheckpoint plus one compaction step (~5-8 MB).
    bound = 16 * 1024 * 1024
    assert updates * value_size > 2 * bound
    try:
        revs = {}
        for k in range(keys):
            revs[k] = await store.create(f"/churn/{k:03d}", b"x" * value_size)
        largest = 0

        async def churn(lane: int, count: int) -> None:
            for i in range(count):
                k = (lane + i * 8) % keys
                value = f"{i:08d}".encode() * (value_size // 8)
                revs[k] = await store.update(f"/churn/{k:03d}", value, expected_revision=revs[k])

        for _ in range(updates // 1000):
            # 8 lanes touch disjoint keys, so no compare-and-swap ever conflicts.
            await asyncio.gather(*(churn(lane, 1000 // 8) for lane in range(8)))
            current = await store.current_revision()
            await asyncio.wait_for(store.wait_compacted(current - keep), DEADLINE)
            size = db.stat().st_size + _size(tmp_path / "state.db-wal")
            largest = max(largest, size)
        assert largest < bound, f"db+wal reached {largest} bytes"
        items = (await store.list("/churn/")).items
        assert len(items) == keys
        assert all(kv.mod_revision == revs[int(kv.key[-3:])] for kv in items)
    finally:
        await store.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def test_group_commit_gives_distinct_dense_revisions(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        n = 2000
        before = store.stats
        revs = await asyncio.gather(*(store.create(f"/g/{i}", b"v") for i in range(n)))
        after = store.stats
        assert sorted(revs) == list(range(before["revision"] + 1, before["revision"] + n + 1))
        assert revs == sorted(revs)  # queued in order, committed in order
        assert after["writes"] - before["writes"] == n
        assert after["batches"] - before["batches"] <= n // 2, "writes were not batched"
        assert len((await store.list("/g/")).items) == n
    finally:
        await store.close()


async def test_failed_ops_in_a_batch_do_not_fail_their_neighbours(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        base = await store.create("/b/existing", b"v0")
        outcomes = await asyncio.gather(
            store.create("/b/new", b"n1"),
            store.create("/b/new", b"n2"),
            store.update("/b/missing", b"x", expected_revision=base),
            store.update("/b/existing", b"v1", expected_revision=base + 100),
            store.update("/b/existing", b"v1", expected_revision=base),
            store.delete("/b/existing", expected_revision=base),
            store.create("/b/other", b"o1"),
            return_exceptions=True,
        )
        created, dup, missing, stale, updated, stale_delete, other = outcomes
        assert isinstance(created, int) and isinstance(updated, int)
        assert isinstance(other, int)
        assert isinstance(dup, errors.AlreadyExists)
        assert isinstance(missing, errors.NotFound)
        assert isinstance(stale, errors.Conflict)
        assert isinstance(stale_delete, errors.Conflict)
        assert stale_delete.actual == updated
        assert sorted([created, updated, other]) == [base + 1, base + 2, base + 3]
        assert (await store.get("/b/new")).value == b"n1"
        assert (await store.get("/b/existing")).value == b"v1"
    finally:
        await store.close()


async def test_reopen_keeps_data_revision_and_compaction(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await sqlite.open_store(db, compact_interval=0)
    rev = await store.create("/a", b"v1")
    rev = await store.update("/a", b"v2", expected_revision=rev)
    await store.create("/b", b"v")
    await store.compact(rev)
    current = await store.current_revision()
    await store.close()

    store = await sqlite.open_store(db, compact_interval=0)
    try:
        assert await store.current_revision() == current
        assert store.compact_revision == rev
        assert (await store.get("/a")).value == b"v2"
        with pytest.raises(errors.Compacted):
            await store.list("/", revision=rev - 1)
        assert await store.create("/c", b"v") == current + 1
    finally:
        await store.close()


async def test_fresh_store_is_at_revision_1_and_first_write_is_2(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        assert await store.current_revision() == 1
        assert (await store.list("/")).revision == 1
        assert await store.create("/a", b"v") == 2
    finally:
        await store.close()


async def test_deleting_the_newest_rows_never_reuses_revisions(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await sqlite.open_store(db, compact_interval=0)
    await store.create("/a", b"v")
    gone = await store.delete("/a")
    await store.compact(gone.mod_revision)
    await store.create("/x", b"v")  # compacting past the tombstone needs a newer revision
    last = await store.current_revision()
    await store.compact(last)
    await store.close()
    store = await sqlite.open_store(db, compact_interval=0)
    try:
        assert await store.create("/a", b"again") == last + 1
    finally:
        await store.close()


async def test_watch_replay_longer_than_one_page(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        start = await store.current_revision()
        n = 2500
        await asyncio.gather(*(store.create(f"/w/{i:05d}", b"v") for i in range(n)))
        watch = store.watch("/w/", from_revision=start)

        async def collect() -> list[int]:
            return [(await anext(watch)).revision for _ in range(n)]

        revs = await asyncio.wait_for(collect(), DEADLINE)
        assert revs == list(range(start + 1, start + n + 1))
        await watch.aclose()  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_close_ends_watches_and_rejects_new_work(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0.01)
    watch = store.watch("/", from_revision=await store.current_revision())
    waiting = asyncio.create_task(anext(watch))
    rev = await store.create("/a", b"v")
    event = await asyncio.wait_for(waiting, DEADLINE)
    assert (event.type, event.revision) == (EventType.ADDED, rev)
    pending = asyncio.create_task(anext(watch))
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, DEADLINE)
    with pytest.raises(errors.Unavailable):
        await store.create("/b", b"v")
    with pytest.raises(errors.Unavailable):
        await store.get("/a")
    await store.close()  # idempotent
    assert not (tmp_path / "state.db-wal").exists() or _size(tmp_path / "state.db-wal") == 0


async def test_garbage_collected_watch_unsubscribes(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        watch = store.watch("/", from_revision=await store.current_revision())
        await store.create("/a", b"v")
        await asyncio.wait_for(anext(watch), DEADLINE)
        assert store.stats["watchers"] == 1
        del watch
        gc.collect()
        assert store.stats["watchers"] == 0
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        pytest.param("/registry/pods/", "/registry/pods0", id="slash"),
        pytest.param("a", "b", id="one-char"),
        pytest.param("", None, id="empty-means-everything"),
        pytest.param("a\U0010ffff", "b", id="max-code-point-carries"),
        pytest.param("\U0010ffff", None, id="only-max-code-points"),
        pytest.param("a\ud7ff", "a\ue000", id="skips-surrogates"),
    ],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert sqlite_schema.prefix_end(prefix) == end


async def test_invalid_sync_mode_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sync"):
        await sqlite.open_store(tmp_path / "state.db", sync="sometimes")
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    await store.close()


async def test_unencodable_key_fails_alone(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        good, bad = await asyncio.gather(
            store.create("/ok", b"v"), store.create("/bad\ud800", b"v"), return_exceptions=True
        )
        assert isinstance(good, int)
        assert isinstance(bad, UnicodeEncodeError)
        assert (await store.get("/ok")).mod_revision == good
    finally:
        await store.close()


async def test_compact_to_a_future_revision_raises(tmp_path: Path) -> None:
    store = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    try:
        with pytest.raises(errors.FutureRevision):
            await store.compact(await store.current_revision() + 1)
    finally:
        await store.close()
