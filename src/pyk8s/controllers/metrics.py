"""Prometheus metrics the controllers share (registered once per process).

``instrument(controller, sync)`` wraps a ``sync(key)`` so every call is counted by result
and timed: ``pyk8s_controller_syncs_total{controller,result}`` and
``pyk8s_controller_sync_duration_seconds{controller}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import prometheus_client

__all__ = ["LEADER", "SYNCS", "SYNC_SECONDS", "instrument"]

K = TypeVar("K")

SYNCS = prometheus_client.Counter(
    "pyk8s_controller_syncs_total", "Controller syncs by result.", ["controller", "result"]
)
SYNC_SECONDS = prometheus_client.Histogram(
    "pyk8s_controller_sync_duration_seconds", "Time spent in one sync.", ["controller"]
)
LEADER = prometheus_client.Gauge(
    "pyk8s_controller_manager_leader", "1 while this controller-manager holds the lease."
)


def instrument(
    controller: str, sync: Callable[[K], Awaitable[None]]
) -> Callable[[K], Awaitable[None]]:
    seconds = SYNC_SECONDS.labels(controller)
    ok = SYNCS.labels(controller, "success")
    failed = SYNCS.labels(controller, "error")

    async def timed(key: K) -> None:
        start = time.perf_counter()
        try:
            await sync(key)
        except BaseException:
            failed.inc()
            raise
        else:
            ok.inc()
        finally:
            seconds.observe(time.perf_counter() - start)

    return timed
