"""Helpers shared by the benchmarks: process CPU and memory from /proc, Prometheus text
scraping, and waiting for a condition with a deadline and progress output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
    return out


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: process exited {proc.returncode}")
        if time.monotonic() - last_note > 10:
            print(f"… waiting for {what}", file=sys.stderr)
            last_note = time.monotonic()
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")
