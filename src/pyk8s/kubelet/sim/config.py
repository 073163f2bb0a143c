"""What a simulated node agent plays: how many nodes and what they look like
(``NodeTemplate``), how pods on them move through their lifecycle (``PodTimings``), how
often they heartbeat (``Heartbeat``), and how hard the agent may push the apiserver
(``SimConfig``). Plain frozen values, parsed from the command line by
``pyk8s.cli.agent_cmd``; nothing here does I/O.

Units: every duration is in seconds. ``PodTimings`` durations, probe delays from pod specs,
run times from annotations and crash back-offs are *simulated* time: they are multiplied
by ``time_scale`` (0.1 plays a 10 s readiness delay in 1 s). Heartbeats are never scaled:
the node lifecycle controller judges them in real time.

Failure injection and per-pod knobs are read from a pod's annotations, or else its labels
(values in ``POD_KNOBS``); a node stops heartbeating while it carries the
``STOP_HEARTBEAT`` label (or annotation) with value ``"true"``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CRASH",
    "INIT_SECONDS",
    "NEVER_READY",
    "POD_KNOBS",
    "RUN_SECONDS",
    "SIM_NODE_ANNOTATION",
    "START_SECONDS",
    "STOP_HEARTBEAT",
    "Heartbeat",
    "NodeTemplate",
    "PodTimings",
    "SimConfig",
    "parse_labels",
    "parse_taints",
]

Obj = dict[str, Any]

# pod knobs (annotation, else label)
CRASH = "pyk8s.io/sim-crash"  # "true" (every regular container) or "c1,c2": exit 1 repeatedly
NEVER_READY = "pyk8s.io/sim-never-ready"  # "true" or "c1,c2": readiness never succeeds
RUN_SECONDS = "pyk8s.io/sim-run-seconds"  # containers exit 0 after this long
START_SECONDS = "pyk8s.io/sim-start-seconds"  # overrides PodTimings.container_start_seconds
INIT_SECONDS = "pyk8s.io/sim-init-seconds"  # overrides PodTimings.init_container_seconds
POD_KNOBS = (CRASH, NEVER_READY, RUN_SECONDS, START_SECONDS, INIT_SECONDS)

# node knobs
STOP_HEARTBEAT = "pyk8s.io/sim-stop-heartbeat"
SIM_NODE_ANNOTATION = "pyk8s.io/sim-node"


@dataclass(frozen=True, slots=True)
class PodTimings:
    """How long each step of a pod's life takes, before ``time_scale``."""

    time_scale: float = 1.0
    # pod seen → sandbox and network ready (PodReadyToStartContainers)
    sandbox_seconds: float = 0.0
    # before each container's first start (image pull, create)
    container_start_seconds: float = 0.0
    # how long each (non-sidecar) init container runs
    init_container_seconds: float = 0.0
    # how long the containers of a Job's pod run (unless the pod says otherwise)
    job_seconds: float = 5.0
    # how long a crash-injected container runs before it exits 1
    crash_seconds: float = 1.0
    # how long containers take to stop after deletion; None: the whole grace period
    # (as a process that ignores SIGTERM), else min(this, grace) and a clean exit 0
    stop_seconds: float | None = None
    # CrashLoopBackOff: upstream's 10 s doubling to 5 min
    backoff_initial_seconds: float = 10.0
    backoff_max_seconds: float = 300.0

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale


@dataclass(frozen=True, slots=True)
class NodeTemplate:
    """The nodes one agent registers: ``<prefix><start_index>`` … ``<prefix><start_index+count-1>``."""

    count: int = 1
    prefix: str = "sim-node-"
    start_index: int = 0
    cpu: str = "32"
    memory: str = "256Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    extra_capacity: Mapping[str, str] = field(default_factory=dict)
    zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c")
    region: str | None = None
    instance_type: str = "pyk8s-sim"
    arch: str = "amd64"
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()
    cluster_cidr: str = "10.244.0.0/16"
    node_cidr_mask_size: int = 24
    # InternalIPs are made up: nothing ever connects to them
    node_ip_range: str = "10.255.0.0/16"
    kubelet_version: str = "v1.33.0-sim"
    kubelet_port: int = 10250

    def __post_init__(self) -> None:
        if self.count < 0 or self.start_index < 0:
            raise ValueError("node count and start index must not be negative")
        cluster = ipaddress.ip_network(self.cluster_cidr)
        mask = self.node_cidr_mask_size
        if not cluster.prefixlen <= mask <= cluster.max_prefixlen:
            raise ValueError(f"node CIDR mask /{mask} does not fit in {self.cluster_cidr}")
        end = self.start_index + self.count
        room = 1 << (mask - cluster.prefixlen)
        if end > room:
            raise ValueError(
                f"cluster CIDR {self.cluster_cidr} holds {room} /{mask} node CIDRs; "
                f"nodes up to index {end - 1} need a larger one (e.g. 10.64.0.0/11)"
            )
        ips = ipaddress.ip_network(self.node_ip_range)
        if end > ips.num_addresses - 2:
            raise ValueError(f"node IP range {self.node_ip_range} is too small for {end} nodes")
        if ips.version == cluster.version and ips.overlaps(cluster):
            raise ValueError(f"node IP range {self.node_ip_range} overlaps {self.cluster_cidr}")

    def name(self, index: int) -> str:
        return f"{self.prefix}{index}"

    @property
    def indexes(self) -> range:
        return range(self.start_index, self.start_index + self.count)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Upstream kubelet defaults: a 40 s Lease renewed every 10 s; node status computed
    every 10 s and posted when it changed or every 5 min."""

    lease_duration_seconds: int = 40
    lease_renew_seconds: float = 10.0
    status_update_seconds: float = 10.0
    status_report_seconds: float = 300.0
    # how long a new node waits for the node IPAM controller before taking the podCIDR
    # its index gives it in the cluster CIDR
    pod_cidr_wait_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class SimConfig:
    nodes: NodeTemplate = field(default_factory=NodeTemplate)
    pods: PodTimings = field(default_factory=PodTimings)
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    pod_workers: int = 64  # pod syncs (and so pod writes) in flight at once
    node_workers: int = 32  # node writes (leases, status) in flight at once


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (kubelet's ``--node-labels``)."""
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"invalid label {item!r}: want key=value")
        out[key] = value
    return out


_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_taints(text: str) -> tuple[Obj, ...]:
    """``key=value:Effect,key:Effect`` (kubelet's ``--register-with-taints``)."""
    out: list[Obj] = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        kv, sep, effect = item.rpartition(":")
        if not sep or effect not in _EFFECTS:
            raise ValueError(f"invalid taint {item!r}: want key[=value]:{'|'.join(_EFFECTS)}")
        key, _, value = kv.partition("=")
        if not key:
            raise ValueError(f"invalid taint {item!r}: empty key")
        taint: Obj = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        out.append(taint)
    return tuple(out)
