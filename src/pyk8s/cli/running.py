"""What every long-running ``pyk8s`` component shares: one log format, and running its
async ``serve(args)`` to completion (the component's exit status is its return)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["LOG_FORMAT", "configure_logging", "serve"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)


def serve(
    args: argparse.Namespace, component: Callable[[argparse.Namespace], Awaitable[int]]
) -> int:
    configure_logging(bool(getattr(args, "verbose", False)))
    return asyncio.run(component(args))  # type: ignore[arg-type]
