"""The storage contract every backend implements, with etcd v3 semantics.

- Keys are strings such as ``/registry/pods/default/web-1``; values are opaque bytes (the
  apiserver stores JSON). The backend never parses a value.
- A revision is a global, strictly increasing integer: every successful write (create,
  update, delete) gets the next one. ``current_revision()`` is the newest committed one; a
  fresh store is at revision 1 and its first write is revision 2 or later.
- ``KeyValue.mod_revision`` is the revision of the key's last write; the apiserver shows it
  as ``metadata.resourceVersion``. ``create_revision`` is the revision that created it.
- ``update``/``delete`` with ``expected_revision`` are compare-and-swap on mod_revision and
  raise ``Conflict`` when it moved. ``delete`` without it deletes unconditionally.
- ``list(prefix, revision=R)`` reads a consistent snapshot at R (0 = current) and returns
  keys in byte order. With ``limit`` the result is cut and carries a ``continue_`` token;
  passing it back reads the next page *at the same revision*. A revision older than the
  last compaction raises ``Compacted``; one newer than current raises ``FutureRevision``.
- ``watch(prefix, from_revision=R)`` yields every change with revision > R, exactly once,
  in revision order, then live changes, until the consumer closes the iterator (or the
  store closes). R older than the compacted history raises ``Compacted`` from the first
  ``__anext__``. A DELETED event carries the value the key had when it was deleted.
- ``compact(R)`` drops history older than R: reads at revisions < R and watches that need
  events before R fail with ``Compacted`` afterwards. The newest value of each key stays.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import orjson

__all__ = [
    "Event",
    "EventType",
    "Interface",
    "KeyValue",
    "ListResult",
    "decode_continue",
    "encode_continue",
]


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


class EventType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    key: str
    value: bytes  # the new value; for DELETED, the value before the delete
    revision: int  # the revision of this change (for DELETED: the delete's revision)
    create_revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the snapshot the list was read at
    continue_: str | None  # token for the next page, or None when this is the last one
    remaining: int | None = None  # items after this page, when the backend knows cheaply


class Interface(Protocol):
    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; returns its revision. AlreadyExists if it is live."""
        ...

    async def get(self, key: str) -> KeyValue:
        """The current value of a key. NotFound if absent."""
        ...

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        limit: int = 0,
        continue_: str | None = None,
    ) -> ListResult: ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> int:
        """Replace a key's value if its mod revision is expected_revision; returns the new
        revision. NotFound if absent, Conflict if it moved."""
        ...

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        """Delete a key; returns its last value with mod_revision = the delete's revision."""
        ...

    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]: ...

    async def current_revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...

    async def close(self) -> None: ...


def encode_continue(*, revision: int, start_key: str, prefix: str) -> str:
    """Upstream's continue token: base64 of {"v","rv","start"} where start is the key to
    resume at (inclusive), relative to the listed prefix."""
    rel = start_key[len(prefix) :] if start_key.startswith(prefix) else start_key
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": rel})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str, *, prefix: str) -> tuple[int, str]:
    """(revision, absolute start key) from a token; ValueError when malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
            raise ValueError("unknown continue token version")
        rv = int(data["rv"])
        start = str(data["start"])
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"invalid continue token: {exc}") from exc
    if rv <= 0 or ".." in start.split("/"):
        raise ValueError("invalid continue token")
    return rv, prefix + start
