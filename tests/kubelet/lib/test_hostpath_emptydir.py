"""hostPath type checks; emptyDir directories and tmpfs (a real mount: we are root)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.kubelet.volumes import emptydir
from pyk8s.kubelet.volumes.hostpath import check_host_path
from pyk8s.kubelet.volumes.payloads import VolumeSetupError

Obj = dict[str, Any]


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "dir", tmp_path / "link-to-dir")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        yield tmp_path
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("name", "kind", "error"),
    [
        pytest.param("dir", "Directory", None, id="dir-ok"),
        pytest.param("link-to-dir", "Directory", None, id="symlink-followed"),
        pytest.param("file", "Directory", "{p} is not a directory", id="file-not-dir"),
        pytest.param("missing", "Directory", "{p} is not a directory", id="missing-dir"),
        pytest.param("file", "File", None, id="file-ok"),
        pytest.param("dir", "File", "{p} is not a file", id="dir-not-file"),
        pytest.param("sock", "Socket", None, id="socket-ok"),
        pytest.param("file", "Socket", "{p} is not a socket file", id="not-socket"),
        pytest.param("file", "CharDevice", "{p} is not a character device", id="not-char"),
        pytest.param("file", "BlockDevice", "{p} is not a block device", id="not-block"),
        pytest.param(
            "file", "DirectoryOrCreate", "{p} is not a directory", id="dir-or-create-on-file"
        ),
        pytest.param("dir", "FileOrCreate", "{p} is not a file", id="file-or-create-on-dir"),
        pytest.param("missing", "", None, id="unset-type-no-check"),
    ],
)
def test_type_checks(tree: Path, name: str, kind: str, error: str | None) -> None:
    path = str(tree / name)
    if error is None:
        check_host_path(path, kind)
        return
    with pytest.raises(VolumeSetupError) as e:
        check_host_path(path, kind)
    assert str(e.value) == "hostPath type check failed: " + error.format(p=path)


def test_char_device() -> None:
    check_host_path("/dev/null", "CharDevice")


def test_or_create(tmp_path: Path) -> None:
    check_host_path(str(tmp_path / "a" / "b"), "DirectoryOrCreate")
    assert (tmp_path / "a" / "b").is_dir()
    check_host_path(str(tmp_path / "f"), "FileOrCreate")
    assert (tmp_path / "f").is_file()
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644 & ~_umask()
    with pytest.raises(VolumeSetupError, match=r"No such file or directory"):
        check_host_path(str(tmp_path / "no" / "f"), "FileOrCreate")  # parents are not created


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_invalid_type_and_backsteps(tmp_path: Path) -> None:
    with pytest.raises(VolumeSetupError, match=r"^Bogus is an invalid volume type$"):
        check_host_path(str(tmp_path), "Bogus")
    with pytest.raises(VolumeSetupError, match=r"must not contain '..'"):
        check_host_path("/tmp/../etc", "")


# --- emptyDir --------------------------------------------------------------------------


def pod_with_limits(*limits: str | None, overhead: str | None = None) -> Obj:
    containers = [
        {"name": f"c{i}", "resources": {"limits": {"memory": m}} if m else {}}
        for i, m in enumerate(limits)
    ]
    spec: Obj = {"containers": containers}
    if overhead:
        spec["overhead"] = {"memory": overhead}
    return {"metadata": {"uid": "u"}, "spec": spec}


@pytest.mark.parametrize(
    ("pod", "size_limit", "allocatable", "expected"),
    [
        pytest.param(pod_with_limits(None), None, None, None, id="nothing-known"),
        pytest.param(pod_with_limits(None), None, "1Gi", 1 << 30, id="allocatable"),
        pytest.param(pod_with_limits("64Mi", "64Mi"), None, "1Gi", 128 << 20, id="pod-limit"),
        pytest.param(
            pod_with_limits("64Mi", None), None, "1Gi", 1 << 30, id="partial-limits-ignored"
        ),
        pytest.param(pod_with_limits("64Mi"), "16Mi", "1Gi", 16 << 20, id="size-limit-smaller"),
        pytest.param(
            pod_with_limits("64Mi"), "256Mi", "1Gi", 64 << 20, id="size-limit-larger-ignored"
        ),
        pytest.param(pod_with_limits("64Mi", overhead="1Mi"), None, None, 65 << 20, id="overhead"),
    ],
)
def test_memory_size(
    pod: Obj, size_limit: str | None, allocatable: str | None, expected: int | None
) -> None:
    volume: Obj = {"name": "v", "emptyDir": {"medium": "Memory"}}
    if size_limit:
        volume["emptyDir"]["sizeLimit"] = size_limit
    alloc = {"memory": allocatable} if allocatable else None
    assert emptydir.memory_size(pod, volume, alloc) == expected


def test_disk_empty_dir(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    emptydir.setup_empty_dir(target, pod_with_limits(None), {"name": "v", "emptyDir": {}})
    assert target.is_dir()
    assert target.stat().st_mode & 0o7777 == 0o777
    assert emptydir.is_mount_point(target) is None


def test_memory_empty_dir_is_a_sized_tmpfs(tmp_path: Path) -> None:
    target = tmp_path / "mem"
    volume = {"name": "v", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}
    try:
        emptydir.setup_empty_dir(target, pod_with_limits(None), volume)
        emptydir.setup_empty_dir(target, pod_with_limits(None), volume)  # idempotent
        mounts = emptydir.mounts_under(tmp_path)
        assert mounts == [(target, "tmpfs")]
        assert target.stat().st_mode & 0o7777 == 0o777
        st = os.statvfs(target)
        assert st.f_blocks * st.f_frsize == 8 << 20
        (target / "f").write_text("in memory")
    finally:
        assert emptydir.unmount_all_under(tmp_path) == 1
    assert emptydir.mounts_under(tmp_path) == []
    assert not (target / "f").exists()


def test_unsupported_medium(tmp_path: Path) -> None:
    with pytest.raises(VolumeSetupError):
        emptydir.setup_empty_dir(
            tmp_path / "x", pod_with_limits(None), {"emptyDir": {"medium": "HugePages"}}
        )


def test_mountinfo_escapes(tmp_path: Path) -> None:
    target = tmp_path / "with space"
    target.mkdir()
    try:
        emptydir.mount_tmpfs(target, 1 << 20)
        assert emptydir.is_mount_point(target) == "tmpfs"
    finally:
        emptydir.unmount_all_under(tmp_path)
    assert emptydir.mounts_under(tmp_path) == []
