"""hostPath volumes: the path's type check (``pkg/volume/hostpath``).

``check_host_path(path, type)`` validates (and for the ``…OrCreate`` types creates) the
host path before it is mounted, with upstream's messages:

=====================  ===============================================================
type                   behaviour
=====================  ===============================================================
"" (unset)             no check; the runtime creates a missing path as a directory
DirectoryOrCreate      missing → ``mkdir -p`` with mode 0755; else must be a directory
Directory              ``hostPath type check failed: <path> is not a directory``
FileOrCreate           missing → empty file, mode 0644 (parent must exist); else a file
File                   ``… is not a file``
Socket                 ``… is not a socket file``
CharDevice             ``… is not a character device``
BlockDevice            ``… is not a block device``
=====================  ===============================================================

Symlinks are followed (``stat``), as upstream's type checker does. A path with a ``..``
element is refused (``invalid HostPath `<path>`: must not contain '..'``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pyk8s.kubelet.volumes.payloads import VolumeSetupError

__all__ = ["HOST_PATH_TYPES", "check_host_path"]

HOST_PATH_TYPES = frozenset(
    {
        "",
        "DirectoryOrCreate",
        "Directory",
        "FileOrCreate",
        "File",
        "Socket",
        "CharDevice",
        "BlockDevice",
    }
)

_CHECKS = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def check_host_path(path: str, path_type: str | None) -> None:
    """Check (or create) ``path`` for a hostPath volume of type ``path_type``."""
    if ".." in path.split("/"):
        raise VolumeSetupError(f"invalid HostPath `{path}`: must not contain '..'")
    kind = path_type or ""
    if kind == "":
        return
    if kind not in HOST_PATH_TYPES:
        raise VolumeSetupError(f"{kind} is an invalid volume type")
    exists = os.path.lexists(path)
    if kind == "DirectoryOrCreate":
        if not exists:
            try:
                Path(path).mkdir(mode=0o755, parents=True, exist_ok=True)
            except OSError as e:
                raise VolumeSetupError(f"mkdir {path}: {e.strerror}") from None
            return
        kind = "Directory"
    elif kind == "FileOrCreate":
        if not exists:
            try:
                fd = os.open(path, os.O_CREAT | os.O_RDONLY, 0o644)
            except OSError as e:
                raise VolumeSetupError(f"open {path}: {e.strerror}") from None
            os.close(fd)
            return
        kind = "File"
    test, what = _CHECKS[kind]
    mode = _mode(path)
    if mode is None or not test(mode):
        raise VolumeSetupError(f"hostPath type check failed: {path} is not {what}")
