"""Container logs as the kubelet serves them (``GET /containerLogs/<ns>/<pod>/<container>``)
from the runtime's CRI log files.

File format, one record per line: ``<RFC3339Nano time> <stdout|stderr> <tags> <text>``,
fields split on the first three spaces; the first of the ``:``-separated tags is ``F``
(full: the record ends a line) or ``P`` (partial: the line continues in the next record;
runtimes cut lines at 16 KiB). Unparseable records are skipped.

Output, as upstream's kubelet writes it: the records' text, partial records joined into
their line; ``timestamps`` prefixes every line with the time of its first record as
written in the file (RFC3339Nano) and a space; ``sinceTime``/``sinceSeconds`` drop
records older than that instant; ``tailLines=N`` starts at the N-th last line (lines,
not records, are counted); ``limitBytes`` cuts the output after that many bytes, even
inside a line. ``follow`` keeps reading as the file grows and ends once the container
is no longer running and the file is drained, or when the client has gone; a file
replaced under the same name (rotation) is finished, then the new one read from its
start.

The parsing and formatting are pure (``parse_record``, ``LogFormatter``,
``tail_offset`` on a file object); ``stream_logs`` is the only I/O, its blocking reads
run in a thread.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from pyk8s.api import errors

__all__ = [
    "LogFormatter",
    "LogOptions",
    "LogRecord",
    "parse_log_options",
    "parse_record",
    "parse_time_ns",
    "stream_logs",
    "tail_offset",
]

_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)$"
)
_READ_CHUNK = 1 << 20
_TAIL_BLOCK = 64 * 1024


def parse_time_ns(text: str) -> int:
    """An RFC 3339 time (any fraction up to nanoseconds) as Unix nanoseconds."""
    m = _TIME.match(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7) or "", m.group(8)
    if zone in ("Z", "z"):
        tz = datetime.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = datetime.timezone(
            sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        )
    dt = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    seconds = (dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) // datetime.timedelta(
        seconds=1
    )
    return seconds * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


@dataclass(frozen=True, slots=True)
class LogRecord:
    time: str
    time_ns: int
    stream: str
    partial: bool
    content: bytes


def parse_record(line: bytes) -> LogRecord | None:
    """One line of a CRI log file (without its newline); None if it is not one."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    time, stream, tags = parts[0].decode("latin-1"), parts[1].decode("latin-1"), parts[2]
    if stream not in ("stdout", "stderr"):
        return None
    try:
        time_ns = parse_time_ns(time)
    except ValueError:
        return None
    tag = tags.split(b":", 1)[0]
    if tag not in (b"F", b"P"):
        return None
    return LogRecord(time, time_ns, stream, tag == b"P", parts[3] if len(parts) > 3 else b"")


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    limit_bytes: int | None = None


def _bool(query: Mapping[str, str], key: str) -> bool:
    return query.get(key, "") in ("1", "t", "T", "true", "TRUE", "True")


def _int(query: Mapping[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'{key}: Invalid value: "{raw}": must be an integer')


def parse_log_options(query: Mapping[str, str], *, now_ns: int) -> LogOptions:
    """The query of ``/containerLogs``, validated as upstream validates PodLogOptions."""
    tail, limit, since_seconds = (
        _int(query, "tailLines"),
        _int(query, "limitBytes"),
        _int(query, "sinceSeconds"),
    )
    since_time = query.get("sinceTime") or None
    if tail is not None and tail < 0:
        raise errors.bad_request(
            f"tailLines: Invalid value: {tail}: must be greater than or equal to 0"
        )
    if limit is not None and limit < 1:
        raise errors.bad_request(f"limitBytes: Invalid value: {limit}: must be greater than 0")
    if since_seconds is not None and since_time is not None:
        raise errors.bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
    since_ns = None
    if since_seconds is not None:
        if since_seconds < 1:
            raise errors.bad_request(
                f"sinceSeconds: Invalid value: {since_seconds}: must be greater than 0"
            )
        since_ns = now_ns - since_seconds * 1_000_000_000
    elif since_time is not None:
        try:
            since_ns = parse_time_ns(since_time)
        except ValueError:
            raise errors.bad_request(
                f'sinceTime: Invalid value: "{since_time}": must be an RFC 3339 time'
            )
    return LogOptions(
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
        timestamps=_bool(query, "timestamps"),
        tail_lines=tail,
        since_ns=since_ns,
        limit_bytes=limit,
    )


class LogFormatter:
    """Records to output bytes, in order. Keeps whether the next record starts a line
    (for timestamp prefixes) and the bytes left under ``limitBytes``."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self._line_start = True
        self._remaining = opts.limit_bytes

    @property
    def exhausted(self) -> bool:
        return self._remaining is not None and self._remaining <= 0

    def render(self, record: LogRecord) -> bytes:
        if self.exhausted:
            return b""
        if self.opts.since_ns is not None and record.time_ns < self.opts.since_ns:
            self._line_start = not record.partial
            return b""
        prefix = record.time.encode() + b" " if self.opts.timestamps and self._line_start else b""
        out = prefix + record.content + (b"" if record.partial else b"\n")
        self._line_start = not record.partial
        if self._remaining is not None:
            out = out[: self._remaining]
            self._remaining -= len(out)
        return out


def tail_offset(f: BinaryIO, end: int, lines: int) -> int:
    """Byte offset in ``f`` of the record starting the ``lines``-th last line among the
    records before ``end`` (``end`` is 0 or follows a newline); 0 if there are fewer."""
    if lines <= 0:
        return end
    pos, buf = end, b""
    while pos > 0:
        step = min(max(_TAIL_BLOCK, len(buf)), pos)  # doubling: each pass re-parses buf
        pos -= step
        f.seek(pos)
        buf = f.read(step) + buf
        pieces = buf.split(b"\n")[:-1]  # buf ends with a newline
        records = [parse_record(p) for p in pieces]
        starts, offset = [], pos
        for i, piece in enumerate(pieces):
            # below pos > 0 the first piece may be cut, so neither it nor the piece
            # after it is known to start a line; unparseable pieces are no lines
            if records[i] is None:
                pass
            elif pos == 0 and i == 0:
                starts.append(offset)
            elif i > 1 or (i == 1 and pos == 0):
                before = records[i - 1]
                if before is None or not before.partial:
                    starts.append(offset)
            offset += len(piece) + 1
        if len(starts) >= lines:
            return starts[-lines]
    return 0


def last_newline_end(f: BinaryIO, size: int) -> int:
    """The offset just after the last newline before ``size`` (0 if none)."""
    pos = size
    while pos > 0:
        step = min(_TAIL_BLOCK, pos)
        pos -= step
        f.seek(pos)
        cut = f.read(step).rfind(b"\n")
        if cut >= 0:
            return pos + cut + 1
    return 0


class _LogFile:
    """Blocking reads of one log file, run off the event loop."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f: BinaryIO | None = None
        self.pos = 0

    def open(self, tail: int | None) -> bool:
        try:
            self.f = open(self.path, "rb")  # noqa: SIM115 (kept open while following)
        except FileNotFoundError:
            return False
        if tail is not None:
            # only complete records count, so the tail ends after the last newline
            end = last_newline_end(self.f, os.fstat(self.f.fileno()).st_size)
            self.pos = tail_offset(self.f, end, tail)
        return True

    def read(self) -> bytes:
        assert self.f is not None
        self.f.seek(self.pos)
        data = self.f.read(_READ_CHUNK)
        self.pos += len(data)
        return data

    def rotated(self) -> bool:
        """Whether the name now points to another file, or the file was truncated."""
        assert self.f is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        own = os.fstat(self.f.fileno())
        return (st.st_ino, st.st_dev) != (own.st_ino, own.st_dev) or own.st_size < self.pos

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


async def stream_logs(
    path: str,
    opts: LogOptions,
    write: Callable[[bytes], Awaitable[None]],
    *,
    running: Callable[[], Awaitable[bool]],
    gone: Callable[[], bool],
    poll_interval: float = 0.2,
) -> None:
    """Write the log of ``path`` per ``opts`` through ``write``. ``running`` says
    whether the container still runs (asked only when following and idle); ``gone``
    whether the client has disconnected."""
    formatter = LogFormatter(opts)
    log = _LogFile(path)
    rest = b""

    async def emit(data: bytes) -> None:
        nonlocal rest
        *lines, rest = (rest + data).split(b"\n")
        out = bytearray()
        for line in lines:
            record = parse_record(line)
            if record is not None:
                out += formatter.render(record)
        if out:
            await write(bytes(out))

    try:
        opened = await asyncio.to_thread(log.open, opts.tail_lines)
        while not opened and opts.follow and not gone() and await running():
            await asyncio.sleep(poll_interval)
            opened = await asyncio.to_thread(log.open, opts.tail_lines)
        if not opened:
            return
        draining = False
        while not formatter.exhausted:
            data = await asyncio.to_thread(log.read)
            if data:
                await emit(data)
                continue
            if not opts.follow or draining or gone():
                return
            if await asyncio.to_thread(log.rotated):
                await asyncio.to_thread(log.close)
                rest = b""
                log = _LogFile(path)
                await asyncio.to_thread(log.open, None)
                continue
            if not await running():
                draining = True  # one more read picks up what was written before the exit
                continue
            await asyncio.sleep(poll_interval)
    finally:
        await asyncio.to_thread(log.close)
