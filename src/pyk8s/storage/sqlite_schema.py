"""On-disk layout of the SQLite store: the data dir lock, the schema, connection setup.

Everything here is blocking and runs off the event loop (in ``asyncio.to_thread`` or in
the store's own threads).

- ``kv`` is the append-only log; ``id`` is the global revision. Unique
  ``(name, prev_revision)`` is the compare-and-swap safety net behind the writer's own
  check, and the only secondary index. A name's rows have strictly increasing
  ``prev_revision`` in id order (each row points at the name's previous newest row, or 0
  when compaction left none), and every index entry ends with the rowid, so this index
  is also ``(name, id)``: it finds a key's newest row and drives ranged lists. A separate
  ``(name, id)`` index (as kine has) would double the index pages every commit writes.
- ``meta`` holds the schema version and the compact revision. The compact revision is
  written in the same transaction as the rows it removes, so any read snapshot sees rows
  and compact revision that agree.
- ``sqlite_sequence`` is seeded to 1: a fresh store is at revision 1, the first write is 2.
- ``auto_vacuum=INCREMENTAL`` can only be chosen before the first table exists, so it is
  set when the file is created; later opens keep whatever the file has.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pyk8s.storage import errors

__all__ = [
    "SCHEMA_VERSION",
    "DataDirLock",
    "Layout",
    "connect_reader",
    "connect_writer",
    "lock_data_dir",
    "prefix_end",
    "read_compact_revision",
    "read_current_revision",
]

SCHEMA_VERSION = 1

_SYNC_MODES = {"normal": "NORMAL", "full": "FULL"}

_SCHEMA = """
CREATE TABLE kv (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER,
    deleted INTEGER,
    create_revision INTEGER,
    prev_revision INTEGER,
    lease INTEGER,
    value BLOB
);
CREATE UNIQUE INDEX kv_name_prev_revision ON kv (name, prev_revision);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a store's files live: ``state.db`` plus ``-wal``/``-shm`` and the lock."""

    db: Path

    @property
    def lock(self) -> Path:
        return self.db.with_name(self.db.name + ".lock")

    @property
    def wal(self) -> Path:
        return self.db.with_name(self.db.name + "-wal")


class DataDirLock:
    """An exclusive ``flock`` on the lock file, held for the life of the store. The kernel
    drops it when the process dies, so a crashed pyk8s never leaves a stale lock."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def lock_data_dir(layout: Layout) -> DataDirLock:
    layout.db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise errors.Unavailable(
            f"data dir {layout.db.parent} is in use by another pyk8s "
            f"(lock {layout.lock} held{holder})"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise errors.Unavailable(f"cannot lock {layout.lock}: {exc.strerror}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return DataDirLock(fd)


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" by pid {pid}"
    return ""


def connect_writer(layout: Layout, *, sync: str) -> sqlite3.Connection:
    """The one read-write connection; creates the schema on a new file. A file that is
    not a SQLite database, or not ours, is reported as Unavailable naming the file."""
    if sync not in _SYNC_MODES:
        raise ValueError(f"sync must be one of {sorted(_SYNC_MODES)}, not {sync!r}")
    conn = sqlite3.connect(
        layout.db, isolation_level=None, check_same_thread=False, cached_statements=64
    )
    try:
        _init_writer(conn, layout, sync=_SYNC_MODES[sync])
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise errors.Unavailable(f"{layout.db} is not a pyk8s database ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _init_writer(conn: sqlite3.Connection, layout: Layout, *, sync: str) -> None:
    # Reading the schema is the first access to the file: garbage fails here.
    tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
    if not tables:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    if mode.lower() != "wal":
        raise sqlite3.DatabaseError(f"cannot switch to WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {sync}")
    # The WAL is truncated back to this size after checkpoints reset it, so a burst of
    # writes does not leave a large file behind.
    conn.execute("PRAGMA journal_size_limit = 16777216")
    conn.execute("PRAGMA cache_size = -32768")
    conn.execute("PRAGMA temp_store = MEMORY")
    if not tables:
        conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", SCHEMA_VERSION), ("compact_revision", 1)],
        )
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('kv', 1)")
        conn.execute("COMMIT")
        return
    if not {"kv", "meta", "sqlite_sequence"} <= tables:
        raise sqlite3.DatabaseError("missing the kv and meta tables")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or int(row[0]) != SCHEMA_VERSION:
        found = "none" if row is None else str(row[0])
        raise sqlite3.DatabaseError(
            f"schema version {found}, this pyk8s reads version {SCHEMA_VERSION}"
        )


def connect_reader(layout: Layout) -> sqlite3.Connection:
    """A read connection for the read pool. ``query_only`` rather than ``mode=ro`` so the
    connection can still use (and recover) the WAL index like any other connection."""
    conn = sqlite3.connect(
        layout.db, isolation_level=None, check_same_thread=False, cached_statements=64
    )
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA cache_size = -32768")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def read_current_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").fetchone()
    return 1 if row is None else int(row[0])


def read_compact_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'compact_revision'").fetchone()
    return 1 if row is None else int(row[0])


_MAX_CHAR = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (UTF-8 byte
    order equals code point order), or None when there is none (empty prefix)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop
        if code <= _MAX_CHAR:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None
