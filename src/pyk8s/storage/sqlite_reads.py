"""Reads of the SQLite store: a small thread pool with one read connection per thread.

WAL readers never block the writer and never see a half-written batch. Every read that
needs more than one statement runs in one deferred transaction, so it sees one snapshot:
the compact revision it checks and the rows it returns agree.

- ``get`` is the newest row of a name; a tombstone means absent.
- ``list_at`` at revision R is, for each name in ``[start, prefix_end)``, the row with the
  largest id <= R, tombstones left out, in name (byte) order. One ``GROUP BY name`` walk of
  the ``(name, prev_revision)`` index (which is also ``(name, id)``, see ``sqlite_schema``)
  streams the groups in order (SQLite's documented bare-column rule makes the other
  columns come from the ``MAX(id)`` row), so a page costs its own size plus the
  tombstoned names it skips, not the size of the whole prefix.
- ``events_between`` reads the log by id for watch replay.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pyk8s.storage import errors, sqlite_schema
from pyk8s.storage.interface import Event, EventType, KeyValue

__all__ = ["ListPage", "ReadPool", "events_between", "get", "list_at"]

T = TypeVar("T")

ListPage = tuple[list[KeyValue], str | None]  # items, first key of the next page


class ReadPool:
    def __init__(self, layout: sqlite_schema.Layout, *, workers: int = 4) -> None:
        self._layout = layout
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="pyk8s-sqlite-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise errors.Unavailable(f"sqlite store {self._layout.db} is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, fn)
        except RuntimeError as exc:  # the executor was shut down under us
            raise errors.Unavailable(f"sqlite store {self._layout.db} is closed") from exc

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite_schema.connect_reader(self._layout)
            with self._lock:
                if self._closed:
                    conn.close()
                    raise errors.Unavailable(f"sqlite store {self._layout.db} is closed")
                self._conns.append(conn)
            self._local.conn = conn
        try:
            return fn(conn)
        except sqlite3.Error as exc:
            raise errors.Unavailable(f"sqlite {self._layout.db}: read failed: {exc}") from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def close(self) -> None:
        """Blocking: waits for reads in flight, then closes every connection."""
        self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()


def get(conn: sqlite3.Connection, key: str) -> KeyValue | None:
    row = conn.execute(
        "SELECT id, create_revision, deleted, value FROM kv WHERE name = ? ORDER BY prev_revision DESC LIMIT 1",
        (key,),
    ).fetchone()
    if row is None or row[2]:
        return None
    return KeyValue(key, bytes(row[3]), int(row[0]), int(row[1]))


def _check_compacted(conn: sqlite3.Connection, needed: int) -> None:
    compacted = sqlite_schema.read_compact_revision(conn)
    if needed < compacted:
        raise errors.Compacted(needed, compacted)


def _check_not_future(conn: sqlite3.Connection, revision: int) -> None:
    # Checked here, in the snapshot, not against the loop's published revision: a get may
    # already have shown a committed revision that the loop has not published yet.
    current = sqlite_schema.read_current_revision(conn)
    if revision > current:
        raise errors.FutureRevision(revision, current)


def list_at(
    conn: sqlite3.Connection, *, prefix: str, start: str, revision: int, limit: int
) -> ListPage:
    """Live keys in ``[start, prefix_end(prefix))`` at ``revision``; at most ``limit``
    (0 = all) and the key the next page starts at."""
    end = sqlite_schema.prefix_end(prefix)
    sql = (
        "SELECT name, MAX(id), create_revision, deleted, value FROM kv"
        " WHERE name >= ?" + (" AND name < ?" if end is not None else "") + " AND id <= ?"
        " GROUP BY name ORDER BY name"
    )
    params: tuple[str | int, ...] = (start, end, revision) if end is not None else (start, revision)
    conn.execute("BEGIN")
    _check_not_future(conn, revision)
    _check_compacted(conn, revision)
    items: list[KeyValue] = []
    cursor = conn.execute(sql, params)
    while rows := cursor.fetchmany(256):
        for name, rev, created, deleted, value in rows:
            if deleted:
                continue
            if limit and len(items) == limit:
                cursor.close()
                return items, str(name)
            items.append(KeyValue(str(name), bytes(value), int(rev), int(created)))
    return items, None


def events_between(
    conn: sqlite3.Connection, *, prefix: str, after: int, upto: int, limit: int
) -> list[Event]:
    """Changes under ``prefix`` with after < revision <= upto, oldest first."""
    end = sqlite_schema.prefix_end(prefix)
    sql = (
        "SELECT id, name, create_revision, created, deleted, value FROM kv WHERE id > ? AND id <= ?"
    )
    params: tuple[str | int, ...] = (after, upto)
    if prefix:
        sql += " AND name >= ?"
        params += (prefix,)
    if end is not None:
        sql += " AND name < ?"
        params += (end,)
    sql += " ORDER BY id LIMIT ?"
    params += (limit,)
    conn.execute("BEGIN")
    _check_compacted(conn, after + 1)
    events: list[Event] = []
    for rev, name, created_rev, created, deleted, value in conn.execute(sql, params):
        kind = EventType.DELETED if deleted else EventType.ADDED if created else EventType.MODIFIED
        events.append(Event(kind, str(name), bytes(value), int(rev), int(created_rev)))
    return events
