"""The ..data symlink-swap writer in a temp dir."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pyk8s.kubelet.volumes.atomic_writer import (
    AtomicWriter,
    FileProjection,
    PayloadError,
    validate_path,
)


def fp(text: str, mode: int = 0o644) -> FileProjection:
    return FileProjection(text.encode(), mode)


def visible(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root, followlinks=True):
        rel = os.path.relpath(dirpath, root)
        if rel.split("/")[0].startswith(".."):
            continue
        for f in files:
            path = Path(dirpath) / f
            out[str(path.relative_to(root))] = path.read_text()
    return out


def test_layout_and_modes(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path, now=lambda: datetime(2026, 1, 2, 15, 4, 5, tzinfo=UTC))
    assert writer.write({"a": fp("A", 0o400), "dir/b": fp("B"), "dir/sub/c": fp("C", 0o600)})
    data = os.readlink(tmp_path / "..data")
    assert data.startswith("..2026_01_02_15_04_05.")
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert os.readlink(tmp_path / "dir") == "..data/dir"
    assert sorted(os.listdir(tmp_path)) == sorted(["..data", data, "a", "dir"])
    assert visible(tmp_path) == {"a": "A", "dir/b": "B", "dir/sub/c": "C"}
    assert (tmp_path / data / "a").stat().st_mode & 0o777 == 0o400
    assert (tmp_path / data / "dir" / "sub" / "c").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / data).stat().st_mode & 0o777 == 0o755


def test_unchanged_payload_is_not_rewritten(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    assert writer.write({"a": fp("A")})
    first = os.readlink(tmp_path / "..data")
    assert not writer.write({"a": fp("A", 0o600)})  # modes alone never trigger a rewrite
    assert os.readlink(tmp_path / "..data") == first


def test_update_swaps_and_removes_old(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"a": fp("1"), "gone": fp("x"), "d/keep": fp("k"), "d/drop": fp("d")})
    first = os.readlink(tmp_path / "..data")
    assert writer.write({"a": fp("2"), "d/keep": fp("k"), "new": fp("n")})
    second = os.readlink(tmp_path / "..data")
    assert second != first
    assert not (tmp_path / first).exists()
    assert not os.path.lexists(tmp_path / "gone")
    assert visible(tmp_path) == {"a": "2", "d/keep": "k", "new": "n"}
    assert not (tmp_path / "..data_tmp").exists()


def test_removal_only_rewrites(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"a": fp("1"), "b": fp("2")})
    assert writer.write({"a": fp("1")})
    assert visible(tmp_path) == {"a": "1"}


def test_open_file_keeps_old_content(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"a": fp("old")})
    with open(tmp_path / "a") as held:
        writer.write({"a": fp("new")})
        assert held.read() == "old"
    assert (tmp_path / "a").read_text() == "new"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("", 'invalid path: must not be empty: ""', id="empty"),
        pytest.param("/abs", "invalid path: must be relative path: /abs", id="absolute"),
        pytest.param("a/../b", "invalid path: must not contain '..': a/../b", id="backstep"),
        pytest.param("..a", "invalid path: must not start with '..': ..a", id="reserved-prefix"),
        pytest.param(
            "x" * 256, "invalid path: filenames must be less than 255 characters", id="long-name"
        ),
        pytest.param(
            "a/" * 2049, "invalid path: must be less than 4096 characters", id="long-path"
        ),
    ],
)
def test_invalid_paths(path: str, message: str) -> None:
    with pytest.raises(PayloadError) as e:
        validate_path(path)
    assert str(e.value) == message


def test_empty_payload(tmp_path: Path) -> None:
    assert AtomicWriter(tmp_path).write({})
    assert (tmp_path / "..data").is_symlink()
    assert visible(tmp_path) == {}
