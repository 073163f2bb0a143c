"""Prometheus metrics of one ingress controller, in a registry of its own (several
controllers may live in one process, as tests do). Names follow ingress-nginx's where it
has one (``nginx_ingress_controller_*``); ``render()`` is the ``/metrics`` body."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["IngressMetrics"]


class IngressMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.reload_ok = Gauge(
            "nginx_ingress_controller_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful",
            registry=r,
        )
        self.reload_ok_time = Gauge(
            "nginx_ingress_controller_config_last_reload_successful_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            registry=r,
        )
        self.config_hash = Gauge(
            "nginx_ingress_controller_config_hash", "Running configuration hash", registry=r
        )
        self.reloads = Counter(
            "nginx_ingress_controller_success",
            "Cumulative number of Ingress controller reload operations",
            registry=r,
        )
        self.reload_errors = Counter(
            "nginx_ingress_controller_errors",
            "Cumulative number of Ingress controller errors during reload operations",
            registry=r,
        )
        self.syncs = Counter("pyk8s_ingress_syncs", "Configuration syncs run", registry=r)
        self.sync_seconds = Histogram(
            "pyk8s_ingress_sync_duration_seconds",
            "Time to compute, test and apply one configuration",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.ingresses = Gauge(
            "pyk8s_ingress_ingresses", "Ingresses of our classes in the configuration", registry=r
        )
        self.excluded = Gauge(
            "pyk8s_ingress_excluded_ingresses",
            "Ingresses of our classes left out because nginx or the annotations refused them",
            registry=r,
        )
        self.servers = Gauge("pyk8s_ingress_servers", "nginx server blocks", registry=r)
        self.endpoints = Gauge(
            "pyk8s_ingress_upstream_endpoints", "Endpoints over all upstreams", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
