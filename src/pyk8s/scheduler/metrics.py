"""Prometheus metrics of the scheduler, under kube-scheduler's names so dashboards built
for upstream read them unchanged (registered once per process)."""

from __future__ import annotations

import prometheus_client

__all__ = [
    "ATTEMPTS",
    "ATTEMPT_SECONDS",
    "BINDINGS",
    "LEADER",
    "PENDING",
    "PREEMPTION_ATTEMPTS",
    "PREEMPTION_VICTIMS",
    "SLI_SECONDS",
]

ATTEMPTS = prometheus_client.Counter(
    "scheduler_schedule_attempts_total",
    "Number of attempts to schedule pods, by the result.",
    ["result", "profile"],
)
ATTEMPT_SECONDS = prometheus_client.Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding).",
    ["result", "profile"],
    buckets=(0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5),
)
SLI_SECONDS = prometheus_client.Histogram(
    "scheduler_pod_scheduling_sli_duration_seconds",
    "E2e latency for a pod being scheduled, from the time the pod enters the queue.",
    ["attempts"],
    buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
PENDING = prometheus_client.Gauge(
    "scheduler_pending_pods", "Number of pending pods, by the queue type.", ["queue"]
)
BINDINGS = prometheus_client.Counter(
    "scheduler_binding_total", "Binding calls by result.", ["result"]
)
PREEMPTION_ATTEMPTS = prometheus_client.Counter(
    "scheduler_preemption_attempts_total", "Total preemption attempts in the cluster till now"
)
PREEMPTION_VICTIMS = prometheus_client.Histogram(
    "scheduler_preemption_victims",
    "Number of selected preemption victims",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
LEADER = prometheus_client.Gauge("pyk8s_scheduler_leader", "1 while this scheduler leads.")
