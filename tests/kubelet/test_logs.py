"""Container logs: CRI log parsing, formatting options, tails, following (pyk8s.kubelet.logs),
and ``GET /containerLogs`` on the kubelet server."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiohttp
import pytest

from kubelet.kubelet_fixtures import KubeletEnv, cluster_tls, kubelet_env
from pyk8s.api import errors
from pyk8s.client.testing import wait_until
from pyk8s.kubelet import logs
from pyk8s.kubelet.streaming import ContainerRef

__all__ = ["cluster_tls", "kubelet_env"]

T0 = "2024-05-01T10:00:00.000000001Z"
T1 = "2024-05-01T10:00:01.5Z"
T2 = "2024-05-01T12:00:02+02:00"  # 10:00:02 UTC
T0_NS = 1714557600 * 10**9 + 1

LOG = (
    f"{T0} stdout F first\n"
    f"{T1} stderr P sec\n"
    f"{T1} stderr F ond\n"
    f"garbage line\n"
    f"{T2} stdout F third\n"
    f"{T2} stdout F \n"
).encode()


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        pytest.param("2024-05-01T10:00:00Z", T0_NS - 1, id="seconds"),
        pytest.param(T0, T0_NS, id="nanoseconds"),
        pytest.param("2024-05-01T12:00:00.000000001+02:00", T0_NS, id="offset"),
        pytest.param("2024-05-01T10:00:00.5Z", T0_NS - 1 + 500_000_000, id="short-fraction"),
    ],
)
def test_parse_time_ns(text: str, ns: int) -> None:
    assert logs.parse_time_ns(text) == ns


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            f"{T0} stdout F hello world".encode(),
            logs.LogRecord(T0, T0_NS, "stdout", False, b"hello world"),
            id="full",
        ),
        pytest.param(
            f"{T0} stderr P  two  spaces".encode(),
            logs.LogRecord(T0, T0_NS, "stderr", True, b" two  spaces"),
            id="partial-keeps-spaces",
        ),
        pytest.param(
            f"{T0} stdout F".encode(), logs.LogRecord(T0, T0_NS, "stdout", False, b""), id="empty"
        ),
        pytest.param(
            f"{T0} stdout F:x y".encode(),
            logs.LogRecord(T0, T0_NS, "stdout", False, b"y"),
            id="tags",
        ),
        pytest.param(b"not a log line", None, id="garbage"),
        pytest.param(f"{T0} stdin F x".encode(), None, id="bad-stream"),
        pytest.param(f"{T0} stdout X x".encode(), None, id="bad-tag"),
    ],
)
def test_parse_record(line: bytes, expected: logs.LogRecord | None) -> None:
    assert logs.parse_record(line) == expected


def render(data: bytes, opts: logs.LogOptions) -> bytes:
    formatter = logs.LogFormatter(opts)
    records = [logs.parse_record(line) for line in data.split(b"\n")]
    return b"".join(formatter.render(r) for r in records if r is not None)


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        pytest.param(logs.LogOptions(), b"first\nsecond\nthird\n\n", id="plain"),
        pytest.param(
            logs.LogOptions(timestamps=True),
            f"{T0} first\n{T1} second\n{T2} third\n{T2} \n".encode(),
            id="timestamps-once-per-line",
        ),
        pytest.param(logs.LogOptions(since_ns=T0_NS + 1), b"second\nthird\n\n", id="since"),
        pytest.param(logs.LogOptions(limit_bytes=9), b"first\nsec", id="limit-cuts-lines"),
    ],
)
def test_formatter(opts: logs.LogOptions, expected: bytes) -> None:
    assert render(LOG, opts) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(0, b"", id="zero"),
        pytest.param(1, b"\n", id="one"),
        pytest.param(3, b"second\nthird\n\n", id="partial-line-counts-once"),
        pytest.param(4, b"first\nsecond\nthird\n\n", id="all"),
        pytest.param(100, b"first\nsecond\nthird\n\n", id="more-than-all"),
    ],
)
def test_tail_offset(lines: int, expected: bytes) -> None:
    f = io.BytesIO(LOG)
    offset = logs.tail_offset(f, len(LOG), lines)
    assert render(LOG[offset:], logs.LogOptions()) == expected


def test_tail_offset_across_blocks() -> None:
    data = b"".join(f"{T0} stdout F line {i:05d}\n".encode() for i in range(20000))
    offset = logs.tail_offset(io.BytesIO(data), len(data), 15000)
    assert render(data[offset:], logs.LogOptions()).split(b"\n")[0] == b"line 05000"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param({"tailLines": "-1"}, "tailLines: Invalid value: -1", id="tail"),
        pytest.param({"limitBytes": "0"}, "limitBytes: Invalid value: 0", id="limit"),
        pytest.param({"sinceSeconds": "0"}, "sinceSeconds: Invalid value: 0", id="since-seconds"),
        pytest.param({"sinceSeconds": "1", "sinceTime": T0}, "at most one of", id="both-since"),
        pytest.param({"sinceTime": "yesterday"}, "sinceTime: Invalid value", id="since-time"),
        pytest.param({"tailLines": "x"}, "tailLines: Invalid value", id="not-int"),
    ],
)
def test_parse_log_options_refuses(query: dict[str, str], message: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        logs.parse_log_options(query, now_ns=0)
    assert info.value.code == 400 and message in info.value.message


def test_parse_log_options() -> None:
    opts = logs.parse_log_options(
        {"follow": "true", "timestamps": "1", "tailLines": "5", "sinceSeconds": "10"},
        now_ns=100 * 10**9,
    )
    assert opts == logs.LogOptions(follow=True, timestamps=True, tail_lines=5, since_ns=90 * 10**9)


async def test_follow_reads_growth_until_the_container_stops(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(f"{T0} stdout F one\n".encode())
    out: list[bytes] = []
    running = True

    async def is_running() -> bool:
        return running

    async def write(data: bytes) -> None:
        out.append(data)

    task = asyncio.ensure_future(
        logs.stream_logs(
            str(path),
            logs.LogOptions(follow=True, tail_lines=1),
            write,
            running=is_running,
            gone=lambda: False,
            poll_interval=0.01,
        )
    )
    await wait_until(lambda: b"".join(out) == b"one\n", timeout=10)
    with path.open("ab") as f:
        f.write(f"{T1} stdout P t".encode())
        f.flush()
        f.write(f"w\n{T1} stdout F o\n".encode())
    await wait_until(lambda: b"".join(out) == b"one\ntwo\n", timeout=10)
    # rotation: the name now points at a new file
    path.rename(tmp_path / "0.log.old")
    path.write_bytes(f"{T2} stdout F three\n".encode())
    await wait_until(lambda: b"".join(out) == b"one\ntwo\nthree\n", timeout=10)
    with path.open("ab") as f:
        f.write(f"{T2} stdout F last\n".encode())
    running = False
    await asyncio.wait_for(task, 10)
    assert b"".join(out) == b"one\ntwo\nthree\nlast\n"


async def test_a_half_written_record_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(f"{T0} stdout F one\n{T1} stdout F tw".encode())
    out: list[bytes] = []

    async def not_running() -> bool:
        return False

    async def write(data: bytes) -> None:
        out.append(data)

    await logs.stream_logs(
        str(path), logs.LogOptions(), write, running=not_running, gone=lambda: False
    )
    assert out == [b"one\n"]


async def test_follow_ends_when_the_client_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"")
    gone = False

    async def is_running() -> bool:
        return True

    async def write(data: bytes) -> None:
        pass

    task = asyncio.ensure_future(
        logs.stream_logs(
            str(path),
            logs.LogOptions(follow=True),
            write,
            running=is_running,
            gone=lambda: gone,
            poll_interval=0.01,
        )
    )
    gone = True
    await asyncio.wait_for(task, 10)


# --- through the server -------------------------------------------------------------


async def get_logs(env: KubeletEnv, query: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{env.base}/containerLogs/default/web/app?{query}", ssl=env.client_ssl()
        ) as resp,
    ):
        return resp.status, await resp.read()


@pytest.fixture
def log_files(kubelet_env: KubeletEnv, tmp_path: Path) -> Path:
    (tmp_path / "1.log").write_bytes(LOG)
    (tmp_path / "0.log").write_bytes(f"{T0} stdout F before the restart\n".encode())
    kubelet_env.backend.containers[("default", "web", "app")] = ContainerRef(
        "cid", str(tmp_path / "1.log"), str(tmp_path / "0.log"), False
    )
    return tmp_path


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", b"first\nsecond\nthird\n\n", id="all"),
        pytest.param("tailLines=2&timestamps=true", f"{T2} third\n{T2} \n".encode(), id="tail"),
        pytest.param("limitBytes=3", b"fir", id="limit"),
        pytest.param("sinceTime=2024-05-01T10:00:02Z", b"third\n\n", id="since-time"),
        pytest.param("previous=true", b"before the restart\n", id="previous"),
        pytest.param("follow=true", b"first\nsecond\nthird\n\n", id="follow-exited"),
    ],
)
async def test_container_logs(
    kubelet_env: KubeletEnv, log_files: Path, query: str, expected: bytes
) -> None:
    assert await get_logs(kubelet_env, query) == (200, expected)


async def test_container_logs_errors_are_text(kubelet_env: KubeletEnv, log_files: Path) -> None:
    kubelet_env.backend.containers[("default", "web", "app")] = ContainerRef(
        "cid", str(log_files / "1.log"), None, True
    )
    assert await get_logs(kubelet_env, "previous=true") == (
        400,
        b'previous terminated container "app" in pod "web" not found',
    )
    assert await get_logs(kubelet_env, "tailLines=-2") == (
        400,
        b"tailLines: Invalid value: -2: must be greater than or equal to 0",
    )
    kubelet_env.backend.waiting[("default", "web", "app")] = "ContainerCreating"
    assert await get_logs(kubelet_env, "") == (
        400,
        b'container "app" in pod "web" is waiting to start: ContainerCreating',
    )


async def test_container_logs_follow_streams_until_exit(
    kubelet_env: KubeletEnv, log_files: Path
) -> None:
    kubelet_env.backend.containers[("default", "web", "app")] = ContainerRef(
        "cid", str(log_files / "1.log"), None, True
    )
    kubelet_env.runtime.running["cid"] = True
    got = bytearray()
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{kubelet_env.base}/containerLogs/default/web/app?follow=true&tailLines=1",
            ssl=kubelet_env.client_ssl(),
        ) as resp,
    ):

        async def read() -> None:
            async for chunk in resp.content.iter_any():
                got.extend(chunk)

        reader = asyncio.ensure_future(read())
        await wait_until(lambda: bytes(got) == b"\n", timeout=10)
        with (log_files / "1.log").open("ab") as f:
            f.write(f"{T2} stdout F more\n".encode())
        await wait_until(lambda: bytes(got) == b"\nmore\n", timeout=10)
        kubelet_env.runtime.running["cid"] = False
        await asyncio.wait_for(reader, 10)
