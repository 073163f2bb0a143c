"""The apiserver process: graceful stop with open and abandoned watches, a locked or
corrupt data dir answered with one line, state kept across restarts."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

from cluster import Cluster, free_port


def _open_watch(c: Cluster) -> http.client.HTTPSConnection:
    ctx = c.ssl_context()
    conn = http.client.HTTPSConnection("127.0.0.1", c.port, context=ctx, timeout=10)
    conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true")
    resp = conn.getresponse()
    assert resp.status == 200
    resp.readline()  # the first ADDED (or nothing to read until an event): read one line
    return conn


def test_sigterm_with_watches_exits(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "d", free_port())
    c.start()
    try:
        c.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
        abandoned = _open_watch(c)
        abandoned.close()
        open_one = _open_watch(c)  # still open when the server stops
        assert c.proc is not None
        c.proc.terminate()
        assert c.proc.wait(timeout=10) == 0
        open_one.close()
    finally:
        c.stop(sig_kill=True)


def test_state_survives_restart_and_kill(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "d", free_port())
    c.start()
    try:
        status, _, _ = c.request(
            "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "kept"}}
        )
        assert status == 201
        c.stop(sig_kill=True)
        c.start()
        status, body, _ = c.request("GET", "/api/v1/namespaces/default/configmaps/kept")
        assert status == 200, body
    finally:
        c.stop()


def _server(data_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pyk8s.cli.main",
            "server",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--disable-agent",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_locked_data_dir_is_one_line(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "d", free_port())
    c.start()
    try:
        cp = _server(c.data_dir, free_port())
        assert cp.returncode == 1
        lines = cp.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pyk8s: error:"), cp.stderr
        assert "state.db" in lines[0] or "lock" in lines[0]
    finally:
        c.stop()


def test_corrupt_state_db_is_one_line(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "state.db").write_bytes(b"this is not sqlite" * 100)
    cp = _server(d, free_port())
    assert cp.returncode == 1
    lines = cp.stderr.strip().splitlines()
    assert len(lines) == 1 and str(d / "state.db") in lines[0], cp.stderr
