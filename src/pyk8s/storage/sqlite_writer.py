"""The single writer of the SQLite store: one thread, one connection, group commit.

Async callers put an op on a thread-safe queue and await its future. The writer thread
takes everything pending (up to ``max_batch``) and applies the writes in one
``BEGIN IMMEDIATE … COMMIT``. Invariants:

- Only this thread writes, so there is never a "database is locked" and the writer's
  in-memory revision is the database's: the next row id is ``revision + 1``, ids are
  assigned here and rows inserted with one ``executemany`` per batch.
- Every compare-and-swap is decided in Python against the key's newest row (batch overlay,
  then a bounded cache, then the ``(name, prev_revision)`` index) *before* anything is inserted, so a
  failed op never fails its neighbours and ``IntegrityError`` mid-transaction cannot
  happen. The unique ``(name, prev_revision)`` index is only the safety net; if it (or
  anything else) fails a commit, every write in that batch fails with Unavailable and the
  writer reloads its state from the database.
- After the commit, one ``call_soon_threadsafe`` hands the loop the whole batch: its
  events in revision order, the new revision and the op outcomes. The loop publishes the
  events before it resolves the futures, so a caller that saw revision N can watch from N.
- Compaction and checkpoints are ops on the same queue, each step in its own short
  transaction, so they interleave with writes and never hold the writer for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pyk8s.storage import errors, sqlite_schema
from pyk8s.storage.interface import Event, EventType, KeyValue

__all__ = ["Batch", "Op", "OpKind", "Writer"]

log = logging.getLogger(__name__)

Result = int | KeyValue | None


class OpKind(enum.Enum):
    CREATE = enum.auto()
    UPDATE = enum.auto()
    DELETE = enum.auto()
    COMPACT = enum.auto()  # one compaction step towards ``expected`` (the target)
    MAINTAIN = enum.auto()  # incremental vacuum + WAL checkpoint
    STOP = enum.auto()


class Op:
    __slots__ = ("expected", "future", "key", "kind", "value")

    def __init__(
        self,
        kind: OpKind,
        future: asyncio.Future[Result] | None,
        key: str = "",
        value: bytes = b"",
        expected: int | None = None,
    ) -> None:
        self.kind = kind
        self.future = future
        self.key = key
        self.value = value
        self.expected = expected


@dataclass(slots=True)
class Batch:
    """What one writer round hands to the loop."""

    events: list[Event]
    revision: int
    compact_revision: int
    outcomes: list[tuple[asyncio.Future[Result], Result | BaseException]] = field(
        default_factory=list
    )


# The newest row of a name: (id, create_revision, deleted).
_Head = tuple[int, int, bool]

_INSERT = (
    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, lease, value)"
    " VALUES (?, ?, ?, ?, ?, ?, 0, ?)"
)
_HEAD = (
    "SELECT id, create_revision, deleted FROM kv WHERE name = ? ORDER BY prev_revision DESC LIMIT 1"
)


class Writer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        layout: sqlite_schema.Layout,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Batch], None],
        max_batch: int = 512,
        compact_batch: int = 1000,
        cache_size: int = 100_000,
    ) -> None:
        self._conn = conn
        self._layout = layout
        self._loop = loop
        self._deliver = deliver
        self._max_batch = max_batch
        self._compact_batch = compact_batch
        self._cache_size = cache_size
        self._queue: queue.SimpleQueue[Op] = queue.SimpleQueue()
        self._cache: dict[str, _Head] = {}
        self.revision = sqlite_schema.read_current_revision(conn)
        self.compact_revision = sqlite_schema.read_compact_revision(conn)
        self.batches = 0
        self.writes = 0
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, name="pyk8s-sqlite-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, op: Op) -> None:
        self._queue.put(op)

    async def stop(self) -> None:
        """Apply everything queued so far, close the connection, end the thread."""
        self._queue.put(Op(OpKind.STOP, None))
        await self._stopped

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                ops = [self._queue.get()]
                with contextlib.suppress(queue.Empty):
                    while len(ops) < self._max_batch:
                        ops.append(self._queue.get_nowait())
                try:
                    keep_going = self._round(ops)
                except Exception as exc:  # a bug: fail this round, keep the writer alive
                    log.exception("sqlite writer round failed")
                    self._recover()
                    failed = Batch(
                        events=[], revision=self.revision, compact_revision=self.compact_revision
                    )
                    for op in ops:
                        self._outcome(failed, op, errors.Unavailable(f"sqlite writer: {exc!r}"))
                    self._publish(failed)
                    keep_going = not any(op.kind is OpKind.STOP for op in ops)
                if not keep_going:
                    break
        finally:
            self._conn.close()
            self._call_loop(self._set_stopped)

    def _set_stopped(self) -> None:
        if not self._stopped.done():
            self._stopped.set_result(None)

    def _call_loop(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(callback)

    def _publish(self, batch: Batch) -> None:
        self._call_loop(functools.partial(self._deliver, batch))

    def _round(self, ops: list[Op]) -> bool:
        """One group commit plus any maintenance; False once STOP was seen."""
        writes = [op for op in ops if op.kind in _WRITES]
        batch = Batch(events=[], revision=self.revision, compact_revision=self.compact_revision)
        if writes:
            self._apply_writes(writes, batch)
        keep_going = True
        for op in ops:
            if op.kind is OpKind.COMPACT:
                self._outcome(batch, op, self._guard(self._compact, op.expected or 0))
            elif op.kind is OpKind.MAINTAIN:
                self._outcome(batch, op, self._guard(self._maintain))
            elif op.kind is OpKind.STOP:
                keep_going = False
        batch.revision = self.revision
        batch.compact_revision = self.compact_revision
        self._publish(batch)
        return keep_going

    @staticmethod
    def _outcome(batch: Batch, op: Op, result: Result | BaseException) -> None:
        if op.future is not None:
            batch.outcomes.append((op.future, result))

    def _guard(self, fn: Callable[..., Result], *args: int) -> Result | BaseException:
        try:
            return fn(*args)
        except errors.StorageError as exc:
            return exc
        except Exception as exc:
            log.exception("sqlite maintenance failed")
            if self._conn.in_transaction:
                self._conn.rollback()
            return errors.Unavailable(f"sqlite {self._layout.db}: {exc}")

    def _apply_writes(self, ops: list[Op], batch: Batch) -> None:
        conn = self._conn
        overlay: dict[str, tuple[int, int, bool, bytes]] = {}
        rows: list[tuple[int, str, int, int, int, int, bytes]] = []
        applied: list[tuple[Op, Result]] = []
        failed: list[tuple[Op, BaseException]] = []
        revision = self.revision
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                key = op.key
                ov = overlay.get(key)
                head: _Head | None
                if ov is not None:
                    head = (ov[0], ov[1], ov[2])
                else:
                    head = self._cache.get(key)
                    if head is None:
                        row = conn.execute(_HEAD, (key,)).fetchone()
                        if row is not None:
                            head = (int(row[0]), int(row[1]), bool(row[2]))
                live = head is not None and not head[2]
                kind = op.kind
                if kind is OpKind.CREATE:
                    if live:
                        failed.append((op, errors.AlreadyExists(key)))
                        continue
                    revision += 1
                    prev = 0 if head is None else head[0]
                    rows.append((revision, key, 1, 0, revision, prev, op.value))
                    overlay[key] = (revision, revision, False, op.value)
                    batch.events.append(Event(EventType.ADDED, key, op.value, revision, revision))
                    applied.append((op, revision))
                    continue
                if head is None or not live:
                    failed.append((op, errors.NotFound(key)))
                    continue
                if op.expected is not None and op.expected != head[0]:
                    failed.append((op, errors.Conflict(key, expected=op.expected, actual=head[0])))
                    continue
                revision += 1
                if kind is OpKind.UPDATE:
                    rows.append((revision, key, 0, 0, head[1], head[0], op.value))
                    overlay[key] = (revision, head[1], False, op.value)
                    batch.events.append(Event(EventType.MODIFIED, key, op.value, revision, head[1]))
                    applied.append((op, revision))
                else:
                    last = ov[3] if ov is not None else self._value_of(head[0])
                    rows.append((revision, key, 0, 1, head[1], head[0], last))
                    overlay[key] = (revision, head[1], True, last)
                    batch.events.append(Event(EventType.DELETED, key, last, revision, head[1]))
                    applied.append((op, KeyValue(key, last, revision, head[1])))
            if rows:
                conn.executemany(_INSERT, rows)
            conn.execute("COMMIT")
        except Exception as exc:  # sqlite3.Error, or a bug: nothing of this batch is kept
            log.exception("sqlite write batch of %d ops failed", len(ops))
            self._recover()
            batch.events.clear()
            failure = f"sqlite {self._layout.db}: write failed: {exc}"
            for op in ops:
                self._outcome(batch, op, errors.Unavailable(failure))
            return
        self.revision = revision
        if rows:
            self.batches += 1
            self.writes += len(rows)
        cache = self._cache
        if len(cache) + len(overlay) > self._cache_size:
            cache.clear()  # cheaper than LRU bookkeeping; a miss is one index lookup
        for key, (rev, created, deleted, _) in overlay.items():
            cache[key] = (rev, created, deleted)
        for op, result in applied:
            self._outcome(batch, op, result)
        for op, error in failed:
            self._outcome(batch, op, error)

    def _value_of(self, revision: int) -> bytes:
        row = self._conn.execute("SELECT value FROM kv WHERE id = ?", (revision,)).fetchone()
        return b"" if row is None or row[0] is None else bytes(row[0])

    def _recover(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        self._cache.clear()
        with contextlib.suppress(sqlite3.Error):
            self.revision = sqlite_schema.read_current_revision(self._conn)
            self.compact_revision = sqlite_schema.read_compact_revision(self._conn)

    # -- compaction and maintenance ------------------------------------------------------

    def _compact(self, target: int) -> int:
        """One step: compact from the current compact revision C0 towards ``target`` by at
        most ``compact_batch`` revisions, to E. Removes the rows that a row in (C0, E]
        superseded and the tombstones in [C0, E). Afterwards every row with id >= E is
        intact (watches from E-1 work) and every key's newest row <= E is intact (lists
        at E work)."""
        if target > self.revision:
            raise errors.FutureRevision(target, self.revision)
        start = self.compact_revision
        end = min(target, start + self._compact_batch)
        if end <= start:
            return start
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv"
            " WHERE id > ? AND id <= ? AND prev_revision > 0)",
            (start, end),
        )
        conn.execute("DELETE FROM kv WHERE id >= ? AND id < ? AND deleted = 1", (start, end))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'compact_revision'", (end,))
        conn.execute("COMMIT")
        self.compact_revision = end
        return end

    def _maintain(self) -> None:
        """Give free pages back to the file system (bounded per call) and checkpoint the
        WAL: PASSIVE normally, TRUNCATE when the WAL has grown past its size limit because
        readers kept it from being reset."""
        conn = self._conn
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        if free > 256 and free * 4 > pages:
            conn.execute(f"PRAGMA incremental_vacuum({min(free, 4096)})").fetchall()
        try:
            wal_size = os.stat(self._layout.wal).st_size
        except FileNotFoundError:
            wal_size = 0
        mode = "TRUNCATE" if wal_size > _WAL_TRUNCATE_AT else "PASSIVE"
        conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        return None


_WRITES = frozenset({OpKind.CREATE, OpKind.UPDATE, OpKind.DELETE})
_WAL_TRUNCATE_AT = 32 * 1024 * 1024
