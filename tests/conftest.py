"""Shared fixtures: one real apiserver (SQLite, in a temp dir) for the integration and e2e
suites; tests isolate themselves with their own namespaces."""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster import Cluster, free_port

_ns = itertools.count()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"), free_port())
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = re.sub("[^a-z0-9-]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"t{next(_ns)}-{slug}".rstrip("-")
    status, body, _ = cluster.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    assert status == 201, body
    yield name
