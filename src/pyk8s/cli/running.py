"""What every long-running ``pyk8s`` component shares: one log format, and running its
async ``serve(args)`` to completion (the component's exit status is its return).

Components run on uvloop (libuv's event loop with C TLS plumbing: about a third less CPU
per request than asyncio's, measured on the apiserver) with the garbage collector tuned
as the apiserver's: what exists after start-up is frozen out of collections, and the
young generation is collected every 50,000 allocations instead of 700 (decoded JSON
makes many short-lived containers, few cycles).
"""

from __future__ import annotations

import argparse
import gc
import logging
from collections.abc import Awaitable, Callable

import uvloop

__all__ = ["LOG_FORMAT", "configure_logging", "serve", "tune_gc"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)


def tune_gc() -> None:
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def serve(
    args: argparse.Namespace, component: Callable[[argparse.Namespace], Awaitable[int]]
) -> int:
    configure_logging(bool(getattr(args, "verbose", False)))
    tune_gc()

    async def main() -> int:
        return await component(args)

    return int(uvloop.run(main()))
