"""What every controller gets, and the one method it offers (DESIGN §6, STYLE.md).

A controller is built from a ``ControllerContext`` — the shared REST client, the shared
informer factory (one watch per resource for the whole controller-manager), an event
recorder, a clock — and runs until ``stop`` is set. Its event handlers only enqueue keys;
``sync(key)`` reconciles from the informer caches and is safe to run again at any time.

The controller-manager builds the controllers named in ``pyk8s.controllers.ALL`` (a
mapping name → factory), starts the informer factory after every controller has asked
for its informers, waits for the caches, then runs every controller's ``run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pyk8s.client import clock as clock_mod
from pyk8s.client import events, informer, rest

__all__ = ["Controller", "ControllerContext", "Factory", "Options"]


@dataclass(frozen=True, slots=True)
class Options:
    """controller-manager flags that controllers read (upstream's names)."""

    cluster_cidr: str = "10.244.0.0/16"
    node_cidr_mask_size: int = 24
    service_cluster_ip_range: str = "10.96.0.0/12"
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    pod_eviction_timeout: float = 300.0
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    unhealthy_zone_threshold: float = 0.55
    large_cluster_size_threshold: int = 50
    terminated_pod_gc_threshold: int = 12500
    concurrent_syncs: int = 5
    root_ca_pem: str = ""  # published as kube-root-ca.crt in every namespace
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class ControllerContext:
    client: rest.RESTClient
    informers: informer.SharedInformerFactory
    recorder: events.EventRecorder
    options: Options = field(default_factory=Options)
    clock: clock_mod.Clock = clock_mod.REAL_CLOCK


class Controller(Protocol):
    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


Factory = Callable[[ControllerContext], Controller]
