"""Fixtures of the ingress tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir for nginx that its workers (user nobody) can reach, as /var/lib/pyk8s
    is: pytest's own temp dirs are private to root, and nginx would refuse request
    bodies that need a temp file there."""
    d = Path(tempfile.mkdtemp(prefix="pyk8s-ingress-test-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
