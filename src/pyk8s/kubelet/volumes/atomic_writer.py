"""Atomic projection of a set of files into a directory (upstream's ``AtomicWriter``).

Layout of a target directory after ``write({"a": …, "dir/b": …})``::

    ..2026_01_02_15_04_05.123456789/   the real files (mode 0755 directory)
    ..data -> ..2026_01_02_15_04_05.123456789
    a      -> ..data/a
    dir    -> ..data/dir

User-visible entries are symlinks of the *top-level* names into ``..data``; an update
writes a whole new timestamped directory, points a ``..data_tmp`` symlink at it and
renames that over ``..data`` (one atomic step for readers), then drops top-level names
that disappeared and removes the previous timestamped directory. Names starting with
``..`` are reserved. A write whose payload equals what ``..data`` holds (same paths,
same bytes) does nothing; modes alone never trigger a rewrite, as upstream.

Not safe for concurrent writers on one directory: callers serialise (the volume manager
holds one lock per pod).
"""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "DATA_DIR",
    "AtomicWriter",
    "FileProjection",
    "PayloadError",
    "validate_path",
]

DATA_DIR = "..data"
NEW_DATA_DIR = "..data_tmp"
MAX_FILE_NAME = 255
MAX_PATH = 4096


class FileProjection(NamedTuple):
    """One file of a payload: its bytes and permission bits."""

    data: bytes
    mode: int


class PayloadError(ValueError):
    """An invalid payload path; ``str()`` is upstream's message."""


def validate_path(target: str) -> None:
    """Reject empty, absolute, over-long, ``..``-containing or ``..``-prefixed paths."""
    if target == "":
        raise PayloadError('invalid path: must not be empty: ""')
    if target.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH:
        raise PayloadError(f"invalid path: must be less than {MAX_PATH} characters")
    items = target.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME:
            raise PayloadError(
                f"invalid path: filenames must be less than {MAX_FILE_NAME} characters"
            )
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {target}")


def _clean(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    for path, projection in payload.items():
        validate_path(path)
        out[posixpath.normpath(path)] = projection
    return out


class AtomicWriter:
    """Writes payloads into ``target_dir``, which must exist."""

    def __init__(
        self, target_dir: Path, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.target_dir = Path(target_dir)
        self._now = now

    def current_dir(self) -> Path | None:
        """The timestamped directory ``..data`` points at, if any."""
        try:
            return self.target_dir / os.readlink(self.target_dir / DATA_DIR)
        except FileNotFoundError:
            return None

    def write(self, payload: Mapping[str, FileProjection]) -> bool:
        """Project ``payload`` (relative path → file); True when the directory changed."""
        clean = _clean(payload)
        if not self.target_dir.is_dir():
            raise FileNotFoundError(f"target directory {self.target_dir} does not exist")
        old = self.current_dir()
        to_remove: set[str] = set()
        if old is not None:
            to_remove = self._paths_to_remove(clean, old)
            if not to_remove and not self._differs(clean, old):
                self._create_user_visible(clean)
                return False
        ts_dir = self._new_timestamp_dir()
        try:
            self._write_payload(clean, ts_dir)
            tmp_link = self.target_dir / NEW_DATA_DIR
            if tmp_link.is_symlink():
                tmp_link.unlink()
            os.symlink(ts_dir.name, tmp_link)
            os.rename(tmp_link, self.target_dir / DATA_DIR)
        except BaseException:
            shutil.rmtree(ts_dir, ignore_errors=True)
            raise
        self._create_user_visible(clean)
        self._remove_user_visible(to_remove)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return True

    def _differs(self, payload: Mapping[str, FileProjection], old: Path) -> bool:
        for path, projection in payload.items():
            try:
                if (old / path).read_bytes() != projection.data:
                    return True
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return True
        return False

    def _paths_to_remove(self, payload: Mapping[str, FileProjection], old: Path) -> set[str]:
        existing: set[str] = set()
        for root, dirs, files in os.walk(old):
            rel_root = os.path.relpath(root, old)
            for name in dirs + files:
                existing.add(name if rel_root == "." else f"{rel_root}/{name}")
        wanted: set[str] = set()
        for path in payload:
            sub = path
            while sub:
                wanted.add(sub)
                sub = posixpath.dirname(sub)
        return existing - wanted

    def _new_timestamp_dir(self) -> Path:
        stamp = self._now().astimezone(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        while True:
            candidate = self.target_dir / f"..{stamp}.{secrets.randbelow(10**9):09d}"
            try:
                candidate.mkdir()
                break
            except FileExistsError:
                continue
        os.chmod(candidate, 0o755)
        return candidate

    def _write_payload(self, payload: Mapping[str, FileProjection], ts_dir: Path) -> None:
        for path, projection in payload.items():
            full = ts_dir / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(projection.data)
            os.chmod(full, projection.mode & 0o7777)

    def _create_user_visible(self, payload: Mapping[str, FileProjection]) -> None:
        for path in payload:
            top = path.split("/", 1)[0]
            link = self.target_dir / top
            if not link.is_symlink() and not link.exists():
                os.symlink(f"{DATA_DIR}/{top}", link)

    def _remove_user_visible(self, paths: set[str]) -> None:
        for path in paths:
            if "/" in path:
                continue  # only top-level names are links; the rest lives in ..data
            try:
                (self.target_dir / path).unlink()
            except FileNotFoundError:
                pass
