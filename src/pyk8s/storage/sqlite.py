"""The embedded storage backend: etcd semantics on one append-only SQLite table (kine).

Role: the default ``storage.Interface`` for a single apiserver process. Layout, writer,
reads and watch fan-out live in ``sqlite_schema``, ``sqlite_writer``, ``sqlite_reads`` and
``sqlite_watch``; this module wires them together and owns the store's lifecycle.

Invariants:

- Revision = row id of the ``kv`` log. Every create, update and delete appends one row
  (a delete appends a tombstone carrying the last value), so the log is the history.
  The previous value of an update is not stored (kine's ``old_value``): the apiserver's
  watch cache keeps previous state, and events do not need it.
- One writer thread owns the only write connection; concurrent writes are group-committed.
  A revision is visible through this API (``current_revision()``, list at revision 0,
  watch replay) only once the loop has published it, and it is published before the
  write's caller resumes, so a caller can always read and watch from a revision it saw.
- Reads run on a thread pool with their own connections, each in one WAL snapshot.
- ``compact(R)`` removes, in short batches through the writer, rows superseded at or
  before R and tombstones older than R. Lists at revisions >= R and watches from R - 1
  keep working; the newest row of every live key is never removed. A background task
  compacts to ``current - compact_keep`` every ``compact_interval`` seconds (sooner when
  more than ``max(10 * compact_batch, compact_keep)`` revisions beyond the kept ones pile
  up), then vacuums free pages and checkpoints the WAL, so the files stay bounded under
  churn however fast the writes come.
- ``<db>.lock`` is ``flock``ed for the life of the store: one process per data dir.
- No blocking call runs on the event loop.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from pyk8s.storage import errors, sqlite_reads, sqlite_schema, sqlite_watch, sqlite_writer
from pyk8s.storage.interface import (
    Event,
    KeyValue,
    ListResult,
    decode_continue,
    encode_continue,
)
from pyk8s.storage.sqlite_writer import Op, OpKind

__all__ = ["SQLiteStorage", "open_store"]

log = logging.getLogger(__name__)


async def open_store(
    path: Path,
    *,
    sync: str = "normal",
    compact_keep: int = 1000,
    compact_interval: float = 5.0,
    compact_batch: int = 1000,
) -> SQLiteStorage:
    """Open (or create) the store at ``path``. ``sync`` is ``"normal"`` (survives a
    process crash; the default) or ``"full"`` (also survives power loss).
    ``compact_interval=0`` turns the background compactor off; ``compact()`` still works.
    Raises Unavailable, with one line naming the file, when the data dir is locked by
    another process or the file is not a pyk8s database."""
    if compact_keep < 0 or compact_batch < 1 or compact_interval < 0:
        raise ValueError("compact_keep >= 0, compact_batch >= 1 and compact_interval >= 0")
    layout = sqlite_schema.Layout(Path(path))
    lock = await asyncio.to_thread(sqlite_schema.lock_data_dir, layout)
    try:
        conn = await asyncio.to_thread(sqlite_schema.connect_writer, layout, sync=sync)
    except BaseException:
        lock.release()
        raise
    try:
        store = SQLiteStorage(
            layout=layout,
            conn=conn,
            lock=lock,
            compact_keep=compact_keep,
            compact_interval=compact_interval,
            compact_batch=compact_batch,
        )
    except BaseException:
        conn.close()
        lock.release()
        raise
    store._start()
    return store


class SQLiteStorage:
    """Build with ``open_store``. Use from one event loop."""

    def __init__(
        self,
        *,
        layout: sqlite_schema.Layout,
        conn: sqlite3.Connection,
        lock: sqlite_schema.DataDirLock,
        compact_keep: int,
        compact_interval: float,
        compact_batch: int,
    ) -> None:
        self._layout = layout
        self._lock = lock
        self._compact_keep = compact_keep
        self._compact_interval = compact_interval
        self._loop = asyncio.get_running_loop()
        self._writer = sqlite_writer.Writer(
            conn,
            layout=layout,
            loop=self._loop,
            deliver=self._deliver,
            compact_batch=compact_batch,
        )
        self._hub = sqlite_watch.Hub(
            revision=self._writer.revision, compact_revision=self._writer.compact_revision
        )
        self._reads = sqlite_reads.ReadPool(layout)
        self._closed = False
        # The compactor wakes every compact_interval, or sooner once this many revisions
        # beyond compact_keep are waiting, so a write burst cannot outgrow it.
        self._compact_backlog = max(10 * compact_batch, compact_keep)
        self._wake = asyncio.Event()
        self._compactor: asyncio.Task[None] | None = None
        self._compacted = asyncio.Condition()

    def _start(self) -> None:
        self._writer.start()
        if self._compact_interval > 0:
            self._compactor = asyncio.create_task(
                self._compact_periodically(), name="pyk8s-sqlite-compactor"
            )

    @property
    def path(self) -> Path:
        return self._layout.db

    # -- writes -------------------------------------------------------------------------

    async def _write(
        self, kind: OpKind, key: str = "", value: bytes = b"", expected: int | None = None
    ) -> sqlite_writer.Result:
        if type(key) is not str or type(value) is not bytes:
            raise TypeError(f"keys are str and values bytes, not {type(key)}, {type(value)}")
        if not key.isascii():
            key.encode()  # a lone surrogate raises here, not in the writer's batch
        if self._closed:
            raise errors.Unavailable(f"sqlite store {self._layout.db} is closed")
        future: asyncio.Future[sqlite_writer.Result] = self._loop.create_future()
        self._writer.submit(Op(kind, future, key, value, expected))
        return await future

    def _deliver(self, batch: sqlite_writer.Batch) -> None:
        """On the loop, once per writer round: publish, then wake the callers."""
        self._hub.publish(
            batch.events, revision=batch.revision, compact_revision=batch.compact_revision
        )
        backlog = batch.revision - batch.compact_revision - self._compact_keep
        if backlog > self._compact_backlog and self._compactor is not None:
            self._wake.set()
        for future, outcome in batch.outcomes:
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def create(self, key: str, value: bytes) -> int:
        revision = await self._write(OpKind.CREATE, key, value)
        assert isinstance(revision, int)
        return revision

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        revision = await self._write(OpKind.UPDATE, key, value, expected_revision)
        assert isinstance(revision, int)
        return revision

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        last = await self._write(OpKind.DELETE, key, expected=expected_revision)
        assert isinstance(last, KeyValue)
        return last

    # -- reads --------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue:
        kv = await self._reads.run(lambda conn: sqlite_reads.get(conn, key))
        if kv is None:
            raise errors.NotFound(key)
        return kv

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        limit: int = 0,
        continue_: str | None = None,
    ) -> ListResult:
        if limit < 0 or revision < 0:
            raise ValueError("limit and revision must not be negative")
        start = prefix
        if continue_:
            revision, start = decode_continue(continue_, prefix=prefix)  # ValueError if bad
        at = revision if revision > 0 else self._hub.revision
        items, next_key = await self._reads.run(
            lambda conn: sqlite_reads.list_at(
                conn, prefix=prefix, start=start, revision=at, limit=limit
            )
        )
        token = None
        if next_key is not None:
            token = encode_continue(revision=at, start_key=next_key, prefix=prefix)
        return ListResult(items=items, revision=at, continue_=token)

    async def current_revision(self) -> int:
        return self._hub.revision

    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]:
        if from_revision < 0:
            raise ValueError("from_revision must not be negative")
        return sqlite_watch.Watch(
            hub=self._hub, read_events=self._read_events, prefix=prefix, after=from_revision
        )

    async def _read_events(
        self, prefix: str, after: int, upto: int, limit: int
    ) -> builtins.list[Event]:
        return await self._reads.run(
            lambda conn: sqlite_reads.events_between(
                conn, prefix=prefix, after=after, upto=upto, limit=limit
            )
        )

    # -- compaction ---------------------------------------------------------------------

    @property
    def compact_revision(self) -> int:
        """History before this revision is gone."""
        return self._hub.compact_revision

    async def compact(self, revision: int) -> None:
        """Compact history to ``revision`` (no-op if it already is); returns when done."""
        if revision <= self._hub.compact_revision:
            return
        reached = self._hub.compact_revision
        while reached < revision:
            before = reached
            step = await self._write(OpKind.COMPACT, expected=revision)
            assert isinstance(step, int)
            reached = step
            async with self._compacted:
                self._compacted.notify_all()
            if reached <= before:
                break  # cannot advance (the writer reloaded its state); next call retries
        await self._write(OpKind.MAINTAIN)

    async def wait_compacted(self, revision: int) -> None:
        """Wait until history is compacted to at least ``revision`` (for tests and
        operators watching the background compactor)."""
        async with self._compacted:
            await self._compacted.wait_for(lambda: self._hub.compact_revision >= revision)

    async def _compact_periodically(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._compact_interval)
            self._wake.clear()
            if self._closed:
                return
            target = self._hub.revision - self._compact_keep
            try:
                await self.compact(target)
            except Exception:
                if self._closed:
                    return
                # Never let the compactor die: a store that stops compacting grows forever.
                log.exception("background compaction to %d failed; will retry", target)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Counters for metrics: writer rounds that committed writes, rows written,
        watchers, current and compact revision."""
        return {
            "batches": self._writer.batches,
            "writes": self._writer.writes,
            "watchers": self._hub.watchers,
            "revision": self._hub.revision,
            "compact_revision": self._hub.compact_revision,
        }

    async def close(self) -> None:
        """Stop the compactor, end watches, finish queued writes, close the files and
        release the lock. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._compactor is not None:
            await asyncio.gather(self._compactor, return_exceptions=True)
        self._hub.close()
        try:
            await asyncio.to_thread(self._reads.close)
            await self._writer.stop()
        finally:
            self._lock.release()
