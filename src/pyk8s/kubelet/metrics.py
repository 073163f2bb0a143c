"""The kubelet's Prometheus metrics (a subset of upstream's ``kubelet_*`` names), in
their own registry, served by the kubelet server's ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["KubeletMetrics"]


class KubeletMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.running_pods = Gauge(
            "kubelet_running_pods", "Number of pods that have a running pod sandbox", registry=r
        )
        self.running_containers = Gauge(
            "kubelet_running_containers",
            "Number of containers currently running",
            ["container_state"],
            registry=r,
        )
        self.pod_worker_duration = Histogram(
            "kubelet_pod_worker_duration_seconds",
            "Duration in seconds to sync a single pod",
            ["operation"],
            registry=r,
        )
        self.pleg_relist_duration = Histogram(
            "kubelet_pleg_relist_duration_seconds",
            "Duration in seconds for relisting pods in PLEG",
            registry=r,
        )
        self.started_pods = Counter(
            "kubelet_started_pods", "Cumulative number of pods started", registry=r
        )
        self.started_containers = Counter(
            "kubelet_started_containers",
            "Cumulative number of containers started",
            ["container_type"],
            registry=r,
        )
        self.node_status_updates = Counter(
            "pyk8s_kubelet_pod_status_writes", "Pod status writes", registry=r
        )
