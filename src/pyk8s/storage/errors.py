"""Storage errors. The apiserver translates each to an API Status at its boundary:
NotFound → 404, AlreadyExists → 409, Conflict → 409, Compacted → 410 Gone,
FutureRevision → 504 "Too large resource version" (as upstream), Unavailable → 503."""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Compacted",
    "Conflict",
    "FutureRevision",
    "NotFound",
    "StorageError",
    "Unavailable",
]


class StorageError(Exception):
    """Base of every storage error."""


class NotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class AlreadyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class Conflict(StorageError):
    """A compare-and-swap lost: the key's mod revision is not the expected one."""

    def __init__(self, key: str, *, expected: int, actual: int) -> None:
        super().__init__(f"revision conflict on {key}: expected {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Compacted(StorageError):
    """The requested revision's history was compacted away."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(
            f"required revision {requested} has been compacted (compacted to {compacted})"
        )
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current {current})")
        self.requested = requested
        self.current = current


class Unavailable(StorageError):
    """The store cannot be reached or opened (etcd down, data dir locked or corrupt)."""
