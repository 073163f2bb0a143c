"""Image archives built with tarfile: layout, determinism, and the pause process."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
from pathlib import Path

import pytest

from pyk8s.client.testing import wait_until
from pyk8s.kubelet import imagebuild

FAKE_BUSYBOX = b"\x7fELF not really busybox"


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def test_testbox_layer_has_busybox_applets_and_web_root() -> None:
    layer = imagebuild.layer_tar(imagebuild.testbox_entries(FAKE_BUSYBOX))
    m = members(layer)
    assert read(layer, "bin/busybox") == FAKE_BUSYBOX
    assert m["bin/busybox"].mode == 0o755
    for applet in ("sh", "httpd", "nc", "wget", "sleep", "cat", "echo", "ls", "tar", "env"):
        assert m[f"bin/{applet}"].issym() and m[f"bin/{applet}"].linkname == "busybox"
    assert m["usr/bin/env"].linkname == "../../bin/busybox"
    assert m["tmp"].isdir() and m["tmp"].mode == 0o1777
    assert read(layer, "etc/passwd").startswith(b"root:x:0:0:")
    assert b"pyk8s testbox" in read(layer, "var/www/index.html")
    assert {i.mtime for i in m.values()} == {imagebuild.EPOCH}
    assert {(i.uid, i.gid) for i in m.values()} == {(0, 0)}
    names = [n for n in m]
    assert names == sorted(names)


def test_docker_archive_layout_and_digests() -> None:
    layer = imagebuild.layer_tar(imagebuild.pause_entries(FAKE_BUSYBOX))
    config = imagebuild.image_config(layer, entrypoint=["/pause"], architecture="amd64")
    archive = imagebuild.docker_archive(imagebuild.PAUSE_IMAGE, layer, config)
    layer_id = hashlib.sha256(layer).hexdigest()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.loads(read(archive, "manifest.json"))
    assert manifest == [
        {
            "Config": config_name,
            "RepoTags": [imagebuild.PAUSE_IMAGE],
            "Layers": [f"{layer_id}/layer.tar"],
        }
    ]
    assert read(archive, f"{layer_id}/layer.tar") == layer
    doc = json.loads(read(archive, config_name))
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]}
    assert (doc["os"], doc["architecture"]) == ("linux", "amd64")
    assert doc["config"]["Entrypoint"] == ["/pause"]
    assert "Cmd" not in doc["config"]
    assert read(layer, "pause").decode() == imagebuild.PAUSE_SCRIPT


def test_build_all_is_deterministic(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(FAKE_BUSYBOX)
    first = imagebuild.build_all(tmp_path / "a", busybox=busybox)
    second = imagebuild.build_all(tmp_path / "b", busybox=busybox)
    assert set(first) == {imagebuild.TESTBOX_IMAGE, imagebuild.PAUSE_IMAGE}
    for ref, image in first.items():
        assert image.path.read_bytes() == second[ref].path.read_bytes()
        assert image.image_id == second[ref].image_id
        assert image.image_id.startswith("sha256:")
    assert first[imagebuild.TESTBOX_IMAGE].path.name == "testbox.tar"
    assert first[imagebuild.PAUSE_IMAGE].path.name == "pause.tar"
    testbox = first[imagebuild.TESTBOX_IMAGE].path.read_bytes()
    manifest = json.loads(read(testbox, "manifest.json"))
    assert json.loads(read(testbox, manifest[0]["Config"]))["config"]["Cmd"] == ["sh"]


def test_main_builds_into_outdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert imagebuild.main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pause.tar", "testbox.tar"]
    assert imagebuild.TESTBOX_IMAGE in capsys.readouterr().out
    assert imagebuild.main([]) == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
async def test_pause_script_sleeps_until_signalled_then_exits_0(tmp_path: Path, sig: int) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for applet in ("sh", "sleep"):
        (bindir / applet).symlink_to(imagebuild.BUSYBOX)
    script = tmp_path / "pause"
    script.write_text(imagebuild.PAUSE_SCRIPT)
    proc = subprocess.Popen([str(bindir / "sh"), str(script)], env={"PATH": str(bindir)})
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    sleepers: list[int] = []
    try:
        # Once the shell has its background sleep, it is in `wait` with the trap set.
        await wait_until(lambda: bool(children.read_text().split()), timeout=30)
        sleepers = [int(pid) for pid in children.read_text().split()]
        assert proc.poll() is None
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in sleepers:  # the orphaned sleep (in a container, PID 1's exit ends it)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
