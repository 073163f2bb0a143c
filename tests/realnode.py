"""A whole pyk8s cluster with a real node, for end-to-end tests through kubectl:
``pyk8s server`` with its controller-manager, scheduler, ingress controller and local
agent (kubelet on a supervised containerd, proxy, NetworkPolicy, DNS), started as users
start it.

Each ``RealCluster`` takes names and ranges of its own — node name, CNI bridge, cgroup
root, pod CIDR (``10.244.<100+k>.0/24``), service CIDR (``10.100.<k>.0/24``, inside the
service range the safety route keeps local), nftables tables, kubelet/DNS/ingress ports —
so it can live beside other test nodes on this machine. ``stop()`` stops the server (and
with it every child) and then resets the node (``pyk8s.cli.node_reset``): no container,
cgroup, bridge, mount or table of it remains. The safety routes stay (DESIGN §8).

The test images (``pyk8s.local/testbox:1.0`` and the pause image) are built from
busybox-static and loaded into the node's containerd at start.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster import Cluster, free_port
from pyk8s.cli import node_reset
from pyk8s.kubelet import imagebuild

_index = itertools.count(os.getpid() % 50)
TESTBOX = imagebuild.TESTBOX_IMAGE


@dataclass
class RealCluster:
    base: Path
    k: int = field(default_factory=lambda: next(_index))
    cluster: Cluster = field(init=False)

    def __post_init__(self) -> None:
        self.cluster = Cluster(self.base / "server", free_port())
        self.node_name = f"e2e-node-{self.k}"
        self.bridge = f"pke{self.k}"
        self.cgroup_root = f"/pyk8s-e2e-{self.k}"
        self.cluster_cidr = f"10.244.{100 + self.k}.0/24"
        self.service_cidr = f"10.100.{self.k}.0/24"
        self.proxy_table = f"pyk8s-proxy-e2e{self.k}"
        self.netpol_table = f"pyk8s-netpol-e2e{self.k}"
        self.kubelet_port = free_port()
        self.dns_port = free_port()
        self.http_port = free_port()
        self.https_port = free_port()

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig

    def kubectl(self, *args: str, **kw: Any) -> Any:
        return self.cluster.kubectl(*args, **kw)

    def start(self, timeout: float = 120.0) -> None:
        images = self.base / "images"
        built = imagebuild.build_all(images)
        kubelet_args = [
            f"node-name={self.node_name}",
            f"cni-bridge={self.bridge}",
            f"cgroup-root={self.cgroup_root}",
            f"kubelet-port={self.kubelet_port}",
            f"dns-port={self.dns_port}",
            f"proxy-table={self.proxy_table}",
            f"netpol-table={self.netpol_table}",
            f"pause-image-archive={built[imagebuild.PAUSE_IMAGE].path}",
            f"load-image={built[TESTBOX].path}",
        ]
        self.cluster.start(
            "--cluster-cidr",
            self.cluster_cidr,
            "--service-cluster-ip-range",
            self.service_cidr,
            "--ingress-http-port",
            str(self.http_port),
            "--ingress-https-port",
            str(self.https_port),
            *(f"--kubelet-arg={a}" for a in kubelet_args),
            control_plane=True,
            agent=True,
            timeout=60,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.node_ready():
                return
            if self.cluster.proc is not None and self.cluster.proc.poll() is not None:
                break
            time.sleep(0.2)
        log = self.cluster.log_path.read_text(errors="replace")[-6000:]
        raise RuntimeError(f"node {self.node_name} not Ready within {timeout}s:\n{log}")

    def node_ready(self) -> bool:
        cp = self.kubectl("get", "node", self.node_name, "-o", "json", check=False)
        if cp.returncode != 0:
            return False
        node = json.loads(cp.stdout)
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in node.get("status", {}).get("conditions", [])
        )

    def stop(self) -> list[str]:
        self.cluster.stop()
        return asyncio.run(
            node_reset.reset_node(
                self.cluster.data_dir,
                cgroup_root=self.cgroup_root,
                bridge=self.bridge,
                proxy_table=self.proxy_table,
                netpol_table=self.netpol_table,
            )
        )
