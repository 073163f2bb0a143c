"""Zone disruption and eviction rate limits of the node lifecycle controller (upstream's
nodelifecycle ``ComputeZoneState``, ``handleDisruption`` and the per-zone NoExecute tainter).

Contract:
- A node's zone is ``<region>:\\x00:<zone>`` from the ``topology.kubernetes.io`` labels
  (upstream's ``GetZoneKey``); nodes without them share the zone ``""``.
- A zone is ``FullDisruption`` when it has nodes and none is ready, ``PartialDisruption``
  when more than two are not ready and they are at least ``unhealthy_zone_threshold`` of
  it, else ``Normal``.
- The NoExecute taints that evict pods are added at a limited rate per zone, a token
  bucket of burst 1: ``node_eviction_rate`` per second in a Normal zone and in a fully
  disrupted one; in a partially disrupted zone ``secondary_node_eviction_rate`` when the
  zone has more than ``large_cluster_size_threshold`` nodes, else none at all. When every
  zone is fully disrupted (the control plane more likely lost the network than every
  node died), no pod is evicted and the controller removes its NoExecute taints.
  Removing taints is never rate-limited.
Everything here is pure except ``TokenBucket``, which reads the time it is given.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EvictionRates",
    "TokenBucket",
    "ZoneState",
    "all_fully_disrupted",
    "zone_key",
    "zone_rate",
    "zone_state",
]

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"


class ZoneState(enum.StrEnum):
    NORMAL = "Normal"
    PARTIAL = "PartialDisruption"
    FULL = "FullDisruption"


@dataclass(frozen=True, slots=True)
class EvictionRates:
    """controller-manager flags (upstream names and defaults)."""

    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    unhealthy_zone_threshold: float = 0.55
    large_cluster_size_threshold: int = 50


def zone_key(node: Mapping[str, Any]) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region, zone = labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def zone_state(ready: Iterable[bool], rates: EvictionRates) -> ZoneState:
    """The zone's state from the readiness of its nodes."""
    flags = list(ready)
    not_ready = flags.count(False)
    if flags and not_ready == len(flags):
        return ZoneState.FULL
    if not_ready > 2 and not_ready / len(flags) >= rates.unhealthy_zone_threshold:
        return ZoneState.PARTIAL
    return ZoneState.NORMAL


def all_fully_disrupted(states: Mapping[str, ZoneState]) -> bool:
    return bool(states) and all(s is ZoneState.FULL for s in states.values())


def zone_rate(state: ZoneState, size: int, rates: EvictionRates) -> float:
    """Tainting rate (nodes per second) for a zone of ``size`` nodes in ``state``."""
    if state is ZoneState.PARTIAL:
        if size > rates.large_cluster_size_threshold:
            return rates.secondary_node_eviction_rate
        return 0.0
    return rates.node_eviction_rate


class TokenBucket:
    """Burst-1 token bucket whose rate may change (upstream swaps the limiter)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = 1.0
        self.stamp = now

    def set_rate(self, rate: float, now: float) -> None:
        if rate != self.rate:
            self._refill(now)
            self.rate = rate

    def try_take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def _refill(self, now: float) -> None:
        if self.rate > 0:
            self.tokens = min(1.0, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
