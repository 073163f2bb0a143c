"""``pyk8s image load`` against the session's containerd."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pyk8s.cli import main as cli
from pyk8s.kubelet import imagebuild, images

from .conftest import ContainerdNode

REF = "pyk8s.local/cli-load:1"


def ctr(node: ContainerdNode, *args: str) -> str:
    return subprocess.run(
        ["ctr", "--address", str(node.socket), "-n", images.NAMESPACE, *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_image_load_imports_an_archive_found_through_the_data_dir(
    containerd_node: ContainerdNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layer = imagebuild.layer_tar(imagebuild.pause_entries(b"#!/bin/sh\n"))
    archive = tmp_path / "cli.tar"
    archive.write_bytes(
        imagebuild.docker_archive(REF, layer, imagebuild.image_config(layer, cmd=["sh"]))
    )
    try:
        code = cli.main(
            ["image", "load", str(archive), "--data-dir", str(containerd_node.data_dir)]
        )
        assert code == 0
        assert f"loaded {REF} from {archive}" in capsys.readouterr().out
        assert REF in ctr(containerd_node, "images", "ls", "-q").split()
    finally:
        subprocess.run(
            [
                "ctr",
                "--address",
                str(containerd_node.socket),
                "-n",
                images.NAMESPACE,
                "images",
                "rm",
                REF,
            ],
            capture_output=True,
            check=False,
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--data-dir", "{tmp}/nowhere"], "no containerd socket", id="no-socket"),
        pytest.param(["--containerd-socket", "{socket}"], "does not exist", id="missing-file"),
    ],
)
def test_image_load_failures_exit_1(
    containerd_node: ContainerdNode,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    argv = [a.format(tmp=tmp_path, socket=containerd_node.socket) for a in args]
    assert cli.main(["image", "load", str(tmp_path / "absent.tar"), *argv]) == 1
    assert message in capsys.readouterr().err
