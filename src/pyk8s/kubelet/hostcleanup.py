"""Host state the runtime leaves behind and the kubelet (or a node reset) removes:
cgroup directories (containerd never removes a pod's cgroup parent, in any hierarchy —
ENVIRONMENT.md) and mounts under a directory (tmpfs volumes). Best effort: what is still
busy stays."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

__all__ = ["CGROUP_FS", "remove_cgroup_tree", "unmount_below"]

CGROUP_FS = Path("/sys/fs/cgroup")


def remove_cgroup_tree(relative: str, fs: Path = CGROUP_FS) -> None:
    """rmdir ``<hierarchy>/<relative>`` and everything below it (deepest first) in every
    cgroup hierarchy."""
    relative = relative.strip("/")
    if not relative or not fs.is_dir():
        return
    for hierarchy in fs.iterdir():
        top = hierarchy / relative
        if not top.is_dir():
            continue
        for current, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(current)


def unmount_below(path: Path) -> None:
    """Unmount whatever is mounted under ``path`` (deepest first, lazily)."""
    prefix = str(path.resolve()) + "/"
    targets = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(prefix)
    ]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)
