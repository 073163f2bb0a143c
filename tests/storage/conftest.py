"""Fixtures for the storage conformance suite: one ``store`` per backend.

The etcd backend runs against a real etcd (Debian's etcd-server) started once per session
on free loopback ports in a temp dir; each test gets its own key prefix, so tests never see
each other's keys.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pyk8s.storage import etcd, etcd_server, interface, sqlite

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def etcd_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = etcd_server.EtcdServer(tmp_path_factory.mktemp("etcd"))
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "etcd"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[interface.Interface]:
    backend: interface.Interface
    if request.param == "sqlite":
        backend = await sqlite.open_store(tmp_path / "state.db", compact_interval=0)
    else:
        endpoint = request.getfixturevalue("etcd_endpoint")
        backend = await etcd.open_store([endpoint], key_prefix=f"/t{next(_prefixes)}")
    try:
        yield backend
    finally:
        await backend.close()
