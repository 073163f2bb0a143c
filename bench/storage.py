"""Storage benchmark: the same workload against the SQLite backend and a real etcd.

Prints ONE JSON line. For each backend:

- ``create_p50_ms``/``create_p99_ms``: latency of sequential creates;
- ``writes_per_s_1``/``writes_per_s_64``: creates per second with 1 and 64 concurrent writers;
- ``list_10000_ms``: one unpaginated list of 10,000 keys (median of several);
- ``watch_p50_ms``/``watch_p99_ms``: with 100 watchers on one prefix, from just before a
  write call until each watcher has the event (writes go one at a time, each once every
  watcher has the previous one);
- ``db_bytes``: the files after 100,000 updates to 1,000 keys by 64 writers with
  compaction keeping 1,000 revisions: SQLite's state.db + WAL once its background
  compactor has caught up; etcd's bbolt ``db`` file after the same compaction (the
  benchmark calls Compact every ``compact_interval`` s, as kube-apiserver's compactor
  would), and ``db_bytes_defragmented`` after a defrag (bbolt never shrinks without one).

Both backends run in this process through ``storage.Interface``, so client overhead is
counted for both. etcd runs with its defaults (it fsyncs its WAL on every commit);
SQLite with ``sync`` (default "normal": WAL, no fsync per commit) — see ``params``.
Ratios are sqlite / etcd. ``--quick`` shrinks every phase for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pyk8s.storage import errors, etcd, etcd_server, interface

BACKENDS = ("sqlite", "etcd")


@dataclass(frozen=True)
class Params:
    sequential_creates: int = 1000
    single_writer_creates: int = 1000
    concurrent_writers: int = 64
    concurrent_creates_each: int = 80
    list_keys: int = 10_000
    list_repeats: int = 5
    watchers: int = 100
    watch_writes: int = 200
    update_keys: int = 1000
    updates: int = 100_000
    compact_keep: int = 1000
    compact_interval: float = 1.0
    value_bytes: int = 1024
    sqlite_sync: str = "normal"


QUICK = Params(
    sequential_creates=200,
    single_writer_creates=200,
    concurrent_creates_each=10,
    list_keys=2000,
    list_repeats=3,
    watchers=20,
    watch_writes=50,
    update_keys=100,
    updates=5000,
    compact_keep=500,
)

OpenStore = Callable[[], Awaitable[interface.Interface]]


def make_value(size: int, tag: int) -> bytes:
    """A JSON object of about ``size`` bytes, like a small Pod."""
    head = f'{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{tag}"}},"pad":"'
    return (head + "x" * max(0, size - len(head) - 2) + '"}').encode()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# -- phases -----------------------------------------------------------------------------


async def sequential_creates(store: interface.Interface, p: Params) -> dict[str, float]:
    latencies = []
    for i in range(p.sequential_creates):
        value = make_value(p.value_bytes, i)
        start = time.perf_counter()
        await store.create(f"/registry/pods/seq/p{i:06d}", value)
        latencies.append(time.perf_counter() - start)
    return {
        "create_p50_ms": ms(percentile(latencies, 0.50)),
        "create_p99_ms": ms(percentile(latencies, 0.99)),
    }


async def create_many(
    store: interface.Interface, *, prefix: str, writers: int, each: int, value_bytes: int
) -> float:
    """Creates ``writers * each`` keys from ``writers`` concurrent tasks; returns writes/s."""

    async def writer(w: int) -> None:
        for i in range(each):
            await store.create(f"{prefix}w{w:03d}-{i:06d}", make_value(value_bytes, i))

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for w in range(writers):
            group.create_task(writer(w))
    return writers * each / (time.perf_counter() - start)


async def throughput(store: interface.Interface, p: Params) -> dict[str, float]:
    one = await create_many(
        store,
        prefix="/registry/pods/one/",
        writers=1,
        each=p.single_writer_creates,
        value_bytes=p.value_bytes,
    )
    many = await create_many(
        store,
        prefix="/registry/pods/many/",
        writers=p.concurrent_writers,
        each=p.concurrent_creates_each,
        value_bytes=p.value_bytes,
    )
    return {"writes_per_s_1": round(one), f"writes_per_s_{p.concurrent_writers}": round(many)}


async def big_list(store: interface.Interface, p: Params) -> dict[str, float]:
    prefix = "/registry/configmaps/list/"
    writers = p.concurrent_writers
    await create_many(
        store,
        prefix=prefix,
        writers=writers,
        each=-(-p.list_keys // writers),
        value_bytes=p.value_bytes,
    )
    total = writers * -(-p.list_keys // writers)
    timings = []
    for _ in range(p.list_repeats):
        start = time.perf_counter()
        result = await store.list(prefix)
        timings.append(time.perf_counter() - start)
        assert len(result.items) == total, (len(result.items), total)
    return {f"list_{p.list_keys}_ms": ms(percentile(timings, 0.5))}


async def watch_latency(store: interface.Interface, p: Params) -> dict[str, float]:
    prefix = "/registry/events/watch/"
    sent: dict[int, float] = {}
    received: list[tuple[int, float]] = []
    counts: collections.Counter[int] = collections.Counter()
    arrived: collections.defaultdict[int, asyncio.Event] = collections.defaultdict(asyncio.Event)

    async def watcher(events: AsyncIterator[interface.Event]) -> None:
        async for event in events:
            received.append((event.revision, time.perf_counter()))
            counts[event.revision] += 1
            if counts[event.revision] == p.watchers:
                arrived[event.revision].set()

    start_revision = await store.current_revision()
    iterators = [store.watch(prefix, from_revision=start_revision) for _ in range(p.watchers)]
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(watcher(it)) for it in iterators]
        # A first write, not measured, proves every watch stream is up.
        warmup = await store.create(f"{prefix}warmup", b"{}")
        await asyncio.wait_for(arrived[warmup].wait(), 60)
        received.clear()
        value = make_value(p.value_bytes, 0)
        revision = warmup
        for _ in range(p.watch_writes):
            before = time.perf_counter()
            revision = await store.update(f"{prefix}warmup", value, expected_revision=revision)
            sent[revision] = before
            await asyncio.wait_for(arrived[revision].wait(), 60)
        for it in iterators:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await aclose()
        for task in tasks:
            task.cancel()
    latencies = [at - sent[rev] for rev, at in received if rev in sent]
    assert len(latencies) == p.watchers * p.watch_writes, len(latencies)
    return {
        "watch_p50_ms": ms(percentile(latencies, 0.50)),
        "watch_p99_ms": ms(percentile(latencies, 0.99)),
    }


async def churn(
    store: interface.Interface, p: Params, *, compactor: bool
) -> tuple[int, float, dict[str, float]]:
    """``p.updates`` compare-and-swap updates spread over ``p.update_keys`` keys by the
    concurrent writers; with ``compactor``, compacts to ``current - keep`` every
    ``compact_interval`` s meanwhile. Returns the final revision, the seconds taken and
    stats."""
    prefix = "/registry/leases/churn/"
    revisions: dict[str, int] = {}
    for k in range(p.update_keys):
        key = f"{prefix}k{k:05d}"
        revisions[key] = await store.create(key, make_value(p.value_bytes, k))
    keys = list(revisions)
    writers = min(p.concurrent_writers, len(keys))
    per_writer = p.updates // writers
    done = asyncio.Event()

    async def writer(w: int) -> None:
        mine = keys[w::writers]
        for i in range(per_writer):
            key = mine[i % len(mine)]
            revisions[key] = await store.update(
                key, make_value(p.value_bytes, i), expected_revision=revisions[key]
            )

    async def compact_periodically() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), p.compact_interval)
            target = await store.current_revision() - p.compact_keep
            if target > 0:
                await store.compact(target)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        if compactor:
            group.create_task(compact_periodically())
        async with asyncio.TaskGroup() as writers_group:
            for w in range(writers):
                writers_group.create_task(writer(w))
        elapsed = time.perf_counter() - start
        done.set()
    final = await store.current_revision()
    return final, elapsed, {"updates_per_s": round(writers * per_writer / elapsed)}


# -- backends ---------------------------------------------------------------------------


def file_bytes(*paths: Path) -> int:
    return sum(path.stat().st_size for path in paths if path.exists())


def tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


async def run_phases(store: interface.Interface, p: Params) -> dict[str, float]:
    results: dict[str, float] = {}
    for phase in (sequential_creates, throughput, big_list, watch_latency):
        results |= await phase(store, p)
    return results


async def bench_sqlite(p: Params, workdir: Path) -> dict[str, float]:
    from pyk8s.storage import sqlite

    store = await sqlite.open_store(workdir / "main" / "state.db", sync=p.sqlite_sync)
    try:
        results = await run_phases(store, p)
    finally:
        await store.close()

    db = workdir / "churn" / "state.db"
    churn_store = await sqlite.open_store(
        db,
        sync=p.sqlite_sync,
        compact_keep=p.compact_keep,
        compact_interval=p.compact_interval,
    )
    try:
        final, elapsed, stats = await churn(churn_store, p, compactor=False)
        target = final - p.compact_keep
        await asyncio.wait_for(churn_store.wait_compacted(target), 120)
        # The background compactor queued its vacuum + WAL checkpoint right after reaching
        # the target; one more (one-revision) compaction queues behind it on the single
        # writer, so when it returns the files are as the compactor leaves them.
        await churn_store.compact(target + 1)
        results |= stats
        results["churn_s"] = round(elapsed, 2)
        wal = db.with_name(db.name + "-wal")
        results["db_bytes"] = file_bytes(db, wal)
        results["db_file_bytes"] = file_bytes(db)
        results["wal_bytes"] = file_bytes(wal)
    finally:
        await churn_store.close()
    return results


async def bench_etcd(p: Params, workdir: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    server = etcd_server.EtcdServer(workdir / "etcd-main")
    await asyncio.to_thread(server.start)
    try:
        store = await etcd.open_store([server.endpoint])
        try:
            results |= await run_phases(store, p)
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(server.stop)

    server = etcd_server.EtcdServer(workdir / "etcd-churn")
    await asyncio.to_thread(server.start)
    try:
        store = await etcd.open_store([server.endpoint])
        try:
            final, elapsed, stats = await churn(store, p, compactor=True)
            await store.compact(final - p.compact_keep)
            results |= stats
            results["churn_s"] = round(elapsed, 2)
            results["db_bytes"] = file_bytes(server.db_path)
            results["wal_dir_bytes"] = tree_bytes(server.member_dir / "member" / "wal")
            await store.defragment()
            results["db_bytes_defragmented"] = file_bytes(server.db_path)
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(server.stop)
    return results


def ratios(sqlite_results: dict[str, float], etcd_results: dict[str, float]) -> dict[str, float]:
    return {
        key: round(value / etcd_results[key], 3)
        for key, value in sqlite_results.items()
        if etcd_results.get(key)
    }


def etcd_version() -> str:
    try:
        out = subprocess.run(
            ["etcd", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return "missing"
    return out.splitlines()[0].split()[-1] if out else "unknown"


async def main_async(p: Params, backends: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "storage",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "etcd": etcd_version(),
        },
        "params": asdict(p),
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-storage-") as tmp:
        for name in backends:
            run = bench_sqlite if name == "sqlite" else bench_etcd
            out[name] = await run(p, Path(tmp) / name)
    if "sqlite" in out and "etcd" in out:
        out["sqlite_over_etcd"] = ratios(out["sqlite"], out["etcd"])
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Prints one JSON line on stdout.",
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (seconds)")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of %(default)s",
    )
    parser.add_argument(
        "--sqlite-sync", choices=("normal", "full"), default="normal", help="SQLite durability"
    )
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        parser.error(f"unknown backends: {', '.join(sorted(unknown)) or '(none)'}")
    p = QUICK if args.quick else Params()
    if args.sqlite_sync != p.sqlite_sync:
        p = Params(**(asdict(p) | {"sqlite_sync": args.sqlite_sync}))
    try:
        out = asyncio.run(main_async(p, backends))
    except (errors.StorageError, etcd_server.EtcdStartError) as exc:
        print(f"bench/storage.py: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
