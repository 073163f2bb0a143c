"""Parsing what ``ctr images import`` reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.kubelet import images


@pytest.mark.parametrize(
    ("output", "refs"),
    [
        pytest.param(
            "unpacking pyk8s.local/testbox:1.0 (sha256:edd6)...done\n",
            ["pyk8s.local/testbox:1.0"],
            id="one",
        ),
        pytest.param(
            "unpacking a/b:1 (sha256:1)...done\nunpacking c/d:2 (sha256:2)...done\n",
            ["a/b:1", "c/d:2"],
            id="two",
        ),
        pytest.param("", [], id="no-unpack"),
    ],
)
def test_imported_refs(output: str, refs: list[str]) -> None:
    assert images.imported_refs(output) == refs


async def test_import_of_a_missing_file_fails_before_ctr(tmp_path: Path) -> None:
    with pytest.raises(images.ImageImportError, match="does not exist"):
        await images.import_archive(tmp_path / "c.sock", tmp_path / "absent.tar")
