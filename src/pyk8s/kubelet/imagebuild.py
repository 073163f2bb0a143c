"""Local test images, built from Debian's ``busybox-static`` with ``tarfile`` only (DESIGN §9).

Nothing is downloaded and no container engine is used. Two images, each written as a
docker-archive (the ``docker save`` layout: ``manifest.json``, ``<config digest>.json``,
``<layer digest>/layer.tar``) that ``ctr image import`` and ``pyk8s image load`` accept:

- ``pyk8s.local/testbox:1.0`` → ``testbox.tar``: busybox with applet symlinks in ``/bin``
  (``sh``, ``httpd``, ``nc``, ``wget``, ``sleep``, ``tar`` for ``kubectl cp`` …), ``/etc/passwd``
  and ``/etc/group``, ``/tmp`` (1777), ``/var/www/index.html``; no entrypoint, ``CMD ["sh"]``.
- ``pyk8s.local/pause:3.10`` → ``pause.tar``: busybox ``sh`` running ``/pause``, which sleeps
  until SIGTERM or SIGINT and then exits 0 (the sandbox image of ``containerd.py``).

Output is a pure function of the busybox binary: every entry has mtime ``EPOCH``, owner 0:0,
and entries are in a fixed order, so image IDs (the config digests) are stable between
builds. ``python -m pyk8s.kubelet.imagebuild OUTDIR`` (``make images``) writes both files.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import sys
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUSYBOX",
    "PAUSE_IMAGE",
    "PAUSE_SCRIPT",
    "TESTBOX_APPLETS",
    "TESTBOX_IMAGE",
    "BuiltImage",
    "Entry",
    "build_all",
    "docker_archive",
    "image_config",
    "layer_tar",
    "main",
    "pause_entries",
    "testbox_entries",
]

BUSYBOX = Path("/usr/bin/busybox")
TESTBOX_IMAGE = "pyk8s.local/testbox:1.0"
PAUSE_IMAGE = "pyk8s.local/pause:3.10"
EPOCH = 0  # mtime of every file, so the bytes (and digests) never depend on the build time
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Applets linked into the testbox's /bin (kubectl cp needs tar; tests use sh, httpd, nc, wget).
TESTBOX_APPLETS: tuple[str, ...] = (
    "[",
    "[[",
    "ash",
    "awk",
    "base64",
    "basename",
    "bc",
    "cat",
    "chgrp",
    "chmod",
    "chown",
    "clear",
    "cmp",
    "cp",
    "cut",
    "date",
    "dd",
    "df",
    "diff",
    "dirname",
    "dmesg",
    "du",
    "echo",
    "egrep",
    "env",
    "expr",
    "false",
    "fgrep",
    "find",
    "free",
    "getopt",
    "grep",
    "groups",
    "gunzip",
    "gzip",
    "head",
    "hexdump",
    "hostname",
    "httpd",
    "id",
    "ip",
    "ipcalc",
    "kill",
    "killall",
    "less",
    "ln",
    "logger",
    "ls",
    "md5sum",
    "mkdir",
    "mkfifo",
    "mktemp",
    "more",
    "mount",
    "mv",
    "nc",
    "netstat",
    "nl",
    "nproc",
    "nslookup",
    "od",
    "paste",
    "pidof",
    "printf",
    "ps",
    "pwd",
    "readlink",
    "realpath",
    "rev",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "setsid",
    "sh",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "sleep",
    "sort",
    "stat",
    "strings",
    "sync",
    "tac",
    "tail",
    "tar",
    "tee",
    "telnet",
    "test",
    "time",
    "timeout",
    "top",
    "touch",
    "tr",
    "true",
    "truncate",
    "tty",
    "umount",
    "uname",
    "uniq",
    "unlink",
    "unzip",
    "uptime",
    "usleep",
    "vi",
    "watch",
    "wc",
    "wget",
    "which",
    "whoami",
    "xargs",
    "yes",
    "zcat",
)

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnobody:x:65534:\n"
_INDEX = "<html><body><h1>pyk8s testbox</h1></body></html>\n"
# Sleeps in the background so the shell is in `wait`, which a trapped signal interrupts.
PAUSE_SCRIPT = """#!/bin/sh
trap 'exit 0' TERM INT
while :; do
  sleep 86400 &
  wait $!
done
"""


@dataclass(frozen=True)
class Entry:
    """One member of a layer: a directory, a regular file (``data``) or a symlink."""

    path: str  # relative, no leading slash
    kind: str  # "dir" | "file" | "symlink"
    mode: int = 0o755
    data: bytes = b""
    target: str = ""


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    path: Path
    image_id: str  # "sha256:<config digest>", as containerd and the kubelet report it


def _dirs(*paths: str, mode: int = 0o755) -> list[Entry]:
    return [Entry(p, "dir", mode) for p in paths]


def _base_entries(busybox: bytes) -> list[Entry]:
    return [
        *_dirs("bin", "dev", "etc", "proc", "sys", "usr", "usr/bin", "var"),
        Entry("bin/busybox", "file", 0o755, busybox),
        Entry("bin/sh", "symlink", target="busybox"),
        Entry("etc/passwd", "file", 0o644, _PASSWD.encode()),
        Entry("etc/group", "file", 0o644, _GROUP.encode()),
        *_dirs("root", mode=0o700),
        *_dirs("tmp", mode=0o1777),
    ]


def testbox_entries(busybox: bytes, applets: Iterable[str] = TESTBOX_APPLETS) -> list[Entry]:
    """The testbox file system: busybox, its applets as symlinks, a web root."""
    entries = _base_entries(busybox)
    entries += [Entry(f"bin/{a}", "symlink", target="busybox") for a in applets if a != "sh"]
    entries += [
        Entry("usr/bin/env", "symlink", target="../../bin/busybox"),
        *_dirs("var/www"),
        Entry("var/www/index.html", "file", 0o644, _INDEX.encode()),
    ]
    return entries


def pause_entries(busybox: bytes) -> list[Entry]:
    """The pause file system: busybox ``sh`` and ``sleep``, and the ``/pause`` script."""
    return [
        *_base_entries(busybox),
        Entry("bin/sleep", "symlink", target="busybox"),
        Entry("pause", "file", 0o755, PAUSE_SCRIPT.encode()),
    ]


def _member(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def layer_tar(entries: Sequence[Entry]) -> bytes:
    """An uncompressed layer tar of ``entries`` (sorted by path, parents first)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in sorted(entries, key=lambda e: e.path):
            if e.kind == "dir":
                tar.addfile(_member(e.path + "/", tarfile.DIRTYPE, e.mode))
            elif e.kind == "symlink":
                info = _member(e.path, tarfile.SYMTYPE, 0o777)
                info.linkname = e.target
                tar.addfile(info)
            elif e.kind == "file":
                info = _member(e.path, tarfile.REGTYPE, e.mode)
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                raise ValueError(f"unknown entry kind {e.kind!r} for {e.path}")
    return buf.getvalue()


def _goarch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def image_config(
    layer: bytes,
    *,
    cmd: Sequence[str] | None = None,
    entrypoint: Sequence[str] | None = None,
    architecture: str | None = None,
) -> bytes:
    """The image config JSON (OCI/docker image spec) for a single-layer image."""
    config: dict[str, object] = {"Env": [PATH_ENV], "WorkingDir": "/"}
    if cmd is not None:
        config["Cmd"] = list(cmd)
    if entrypoint is not None:
        config["Entrypoint"] = list(entrypoint)
    doc = {
        "architecture": architecture or _goarch(),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "pyk8s imagebuild"}],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def docker_archive(ref: str, layer: bytes, config: bytes) -> bytes:
    """A ``docker save``-style archive holding one image tagged ``ref``."""
    layer_id = hashlib.sha256(layer).hexdigest()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [f"{layer_id}/layer.tar"]}]
    name, _, tag = ref.rpartition(":")
    repositories = {name: {tag: layer_id}}
    files = [
        (f"{layer_id}/VERSION", b"1.0"),
        (f"{layer_id}/layer.tar", layer),
        (config_name, config),
        ("manifest.json", json.dumps(manifest, separators=(",", ":")).encode()),
        ("repositories", json.dumps(repositories, separators=(",", ":")).encode()),
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_member(f"{layer_id}/", tarfile.DIRTYPE, 0o755))
        for name_, data in files:
            info = _member(name_, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _build(
    ref: str,
    entries: list[Entry],
    out: Path,
    *,
    cmd: Sequence[str] | None = None,
    entrypoint: Sequence[str] | None = None,
) -> BuiltImage:
    layer = layer_tar(entries)
    cfg = image_config(layer, cmd=cmd, entrypoint=entrypoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(docker_archive(ref, layer, cfg))
    tmp.replace(out)
    return BuiltImage(ref, out, "sha256:" + hashlib.sha256(cfg).hexdigest())


def build_testbox(out: Path, *, busybox: Path = BUSYBOX) -> BuiltImage:
    return _build(TESTBOX_IMAGE, testbox_entries(busybox.read_bytes()), out, cmd=["sh"])


def build_pause(out: Path, *, busybox: Path = BUSYBOX) -> BuiltImage:
    return _build(PAUSE_IMAGE, pause_entries(busybox.read_bytes()), out, entrypoint=["/pause"])


def build_all(outdir: Path, *, busybox: Path = BUSYBOX) -> dict[str, BuiltImage]:
    """Build ``testbox.tar`` and ``pause.tar`` into ``outdir``; keyed by image ref."""
    images = [
        build_testbox(outdir / "testbox.tar", busybox=busybox),
        build_pause(outdir / "pause.tar", busybox=busybox),
    ]
    return {image.ref: image for image in images}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m pyk8s.kubelet.imagebuild OUTDIR", file=sys.stderr)
        return 2
    for image in build_all(Path(args[0])).values():
        print(f"{image.ref}\t{image.image_id}\t{image.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
