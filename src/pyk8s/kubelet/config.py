"""The kubelet's settings (``KubeletConfig``): a plain frozen value the CLI fills from its
flags (``pyk8s.cli.kubelet_cmd``), and the directories derived from the data dir:
``<data>/agent/kubelet/pods`` (pod volumes, hosts files, termination messages),
``<data>/agent/pods-logs`` (container logs, one directory per pod as /var/log/pods) and
``<data>/agent/kubelet/pki`` (the serving certificate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KubeletConfig"]


@dataclass(frozen=True)
class KubeletConfig:
    node_name: str
    data_dir: Path
    node_ip: str = "127.0.0.1"
    port: int = 10250
    address: str | None = None  # the server's bind address (default: node_ip)
    cluster_dns: Sequence[str] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: str = ""  # path of the resolv.conf "Default" pods copy ("": none)
    cgroup_root: str = "/kubepods"
    pod_manifest_path: Path | None = None
    max_pods: int = 110
    node_labels: Mapping[str, str] = field(default_factory=dict)
    register_with_taints: Sequence[Mapping[str, Any]] = ()
    allowed_registries: Sequence[str] = ()
    client_ca: Path | None = None  # who may call the server (default: no client is let in)
    pleg_period: float = 1.0
    sync_frequency: float = 10.0
    volume_refresh: float = 10.0
    node_status_update: float = 10.0
    lease_duration: int = 40
    housekeeping: float = 2.0

    @property
    def agent_dir(self) -> Path:
        return self.data_dir / "agent"

    @property
    def pods_dir(self) -> Path:
        return self.agent_dir / "kubelet" / "pods"

    @property
    def logs_dir(self) -> Path:
        return self.agent_dir / "pods-logs"

    @property
    def pki_dir(self) -> Path:
        return self.agent_dir / "kubelet" / "pki"
