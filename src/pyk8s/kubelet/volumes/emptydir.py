"""emptyDir volumes and the host's mount table.

An emptyDir is a directory in the pod directory (mode 0777, as upstream), or, with
``medium: Memory``, a tmpfs mounted there. The tmpfs size follows upstream's
``SizeMemoryBackedVolumes`` rule (``memory_size``): the node's allocatable memory, lowered
to the pod's memory limit when every container has one, lowered to the volume's
``sizeLimit`` when that is smaller; no size at all (the kernel's default, half of RAM)
when none of these is known. Secret and projected volumes sit on such a tmpfs too, so
their contents never touch the disk.

I/O helpers (blocking, quick; run them in a thread from async code):
``setup_dir``, ``mount_tmpfs``, ``unmount``, ``mounts_under`` (reads /proc/self/mountinfo),
``unmount_all_under``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyk8s.api.validation.quantity import QuantityError, parse_quantity
from pyk8s.kubelet.volumes.payloads import VolumeSetupError

__all__ = [
    "is_mount_point",
    "memory_size",
    "mount_tmpfs",
    "mounts_under",
    "setup_dir",
    "setup_empty_dir",
    "unmount",
    "unmount_all_under",
]

Obj = dict[str, Any]

_MNT_DETACH = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _bytes(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return math.ceil(parse_quantity(raw).value)
    except QuantityError:
        return None


def _pod_memory_limit(pod: Obj) -> int | None:
    """The pod cgroup's memory limit: set only when every container has one; sidecar
    (restartable init) containers add to the app containers, other init containers
    only raise the floor."""
    spec = pod.get("spec") or {}
    total = 0
    init_max = 0
    for c in spec.get("containers") or []:
        limit = _bytes(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if limit is None:
            return None
        total += limit
    for c in spec.get("initContainers") or []:
        limit = _bytes(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if limit is None:
            return None
        if c.get("restartPolicy") == "Always":
            total += limit
        else:
            init_max = max(init_max, limit)
    overhead = _bytes((spec.get("overhead") or {}).get("memory"))
    return max(total, init_max) + (overhead or 0)


def memory_size(
    pod: Obj, volume: Obj, node_allocatable: Mapping[str, Any] | None = None
) -> int | None:
    """Size in bytes of a memory-backed emptyDir (None: leave the kernel's default)."""
    size = _bytes((node_allocatable or {}).get("memory"))
    pod_limit = _pod_memory_limit(pod)
    if pod_limit is not None and pod_limit > 0 and (size is None or pod_limit <= size):
        size = pod_limit
    requested = _bytes((volume.get("emptyDir") or {}).get("sizeLimit"))
    if requested is not None and requested > 0 and (size is None or requested <= size):
        size = requested
    return size


def setup_dir(path: Path, mode: int = 0o777) -> None:
    """Create ``path`` (and parents) and make its mode exactly ``mode``."""
    path.mkdir(parents=True, exist_ok=True)
    if (path.stat().st_mode & 0o7777) != mode:
        os.chmod(path, mode)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(root: Path) -> list[tuple[Path, str]]:
    """(mount point, fs type) of every mount at or below ``root``, deepest first."""
    prefix = str(Path(root).resolve())
    found: list[tuple[Path, str]] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            parts = left.split()
            if len(parts) < 5 or not right:
                continue
            point = _unescape(parts[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append((Path(point), right.split()[0]))
    found.sort(key=lambda m: len(str(m[0])), reverse=True)
    return found


def is_mount_point(path: Path) -> str | None:
    """The fs type mounted exactly at ``path``, or None."""
    resolved = Path(path).resolve()
    for point, fstype in mounts_under(resolved):
        if point == resolved:
            return fstype
    return None


def mount_tmpfs(path: Path, size: int | None = None) -> None:
    """Mount a tmpfs at ``path`` (idempotent: an existing tmpfs there is kept)."""
    if is_mount_point(path) == "tmpfs":
        return
    options = f"size={size}" if size else ""
    rc = _libc.mount(
        b"tmpfs",
        os.fsencode(path),
        b"tmpfs",
        ctypes.c_ulong(0),
        options.encode() or None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise VolumeSetupError(f"mount failed: tmpfs on {path}: {os.strerror(err)}")


def unmount(path: Path) -> None:
    """Unmount ``path`` (lazily if busy)."""
    if _libc.umount2(os.fsencode(path), 0) == 0:
        return
    err = ctypes.get_errno()
    if err == 16:  # EBUSY: detach now, the kernel frees it when the last user goes
        if _libc.umount2(os.fsencode(path), _MNT_DETACH) == 0:
            return
        err = ctypes.get_errno()
    raise OSError(err, f"unmount {path}: {os.strerror(err)}")


def unmount_all_under(root: Path) -> int:
    """Unmount every mount at or below ``root``, deepest first; how many there were."""
    mounts = mounts_under(root) if Path(root).exists() else []
    for point, _ in mounts:
        unmount(point)
    return len(mounts)


def setup_empty_dir(
    path: Path, pod: Obj, volume: Obj, node_allocatable: Mapping[str, Any] | None = None
) -> None:
    """Set up the emptyDir ``volume`` at ``path``."""
    medium = (volume.get("emptyDir") or {}).get("medium") or ""
    if medium not in ("", "Memory"):
        raise VolumeSetupError(f"unsupported emptyDir medium {medium!r}")
    setup_dir(path)
    if medium == "Memory":
        mount_tmpfs(path, memory_size(pod, volume, node_allocatable))
        setup_dir(path)  # the fresh tmpfs root has the mode 1777; make it 0777 as upstream
