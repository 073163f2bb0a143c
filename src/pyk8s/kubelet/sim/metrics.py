"""Prometheus metrics of one simulated node agent, in a registry of its own (so several
agents can live in one process, as tests do). ``render()`` is the ``/metrics`` body.

Counters only move after the API accepted the write they count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["SimMetrics"]


class SimMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.nodes = Gauge("pyk8s_sim_nodes", "Simulated nodes registered", registry=r)
        self.pods = Gauge("pyk8s_sim_pods", "Pods bound to simulated nodes", registry=r)
        self.pods_started = Counter(
            "pyk8s_sim_pods_started", "Pods reported Running for the first time", registry=r
        )
        self.pod_status_updates = Counter(
            "pyk8s_sim_pod_status_updates", "Pod status writes", registry=r
        )
        self.pod_deletions = Counter(
            "pyk8s_sim_pod_deletions", "Pods removed after their containers stopped", registry=r
        )
        self.lease_renewals = Counter(
            "pyk8s_sim_node_lease_renewals", "Node Lease writes", registry=r
        )
        self.node_status_updates = Counter(
            "pyk8s_sim_node_status_updates", "Node status writes", registry=r
        )
        self.write_errors = Counter(
            "pyk8s_sim_write_errors",
            "Writes the API refused or never answered",
            ["kind"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
