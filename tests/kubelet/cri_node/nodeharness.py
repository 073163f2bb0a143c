"""The pieces of a real node for the kubelet's integration tests (``conftest.node``):
one session-wide cluster (apiserver,
controller-manager, scheduler — ``pyk8s server --disable-agent``), one containerd (started
here, on a loop thread, so it outlives kubelet restarts), and the kubelet itself as a
``pyk8s kubelet`` subprocess joined to the cluster with ``--containerd-socket``.

Isolation from anything else on the machine: the cluster hands out pod CIDRs from
``10.244.200.0/21`` (inside the cluster CIDR the safety routes cover), the node's bridge
is ``BRIDGE``, its cgroups live under ``/<CGROUP_ROOT>/kubepods``, its node name is unique.

Teardown removes every sandbox and container of the containerd, stops it and the
kubelet and the cluster by PID, and removes the bridge (and idle CNI hostport chains),
the cgroup tree, leftover mounts and the data dir. The safety routes stay: they are never
removed (``pyk8s.kubelet.netsafety``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cluster import Cluster
from pyk8s.kubelet import cni, containerd, imagebuild, images, netsafety
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError

CLUSTER_POD_CIDRS = "10.244.200.0/21"
BRIDGE = f"pkk{os.getpid() % 100000}"
CGROUP_ROOT = f"pyk8s-kt-{os.getpid()}"
NODE = f"kt-node-{os.getpid()}"

_T = TypeVar("_T")


class LoopThread:
    """An event loop in a daemon thread, for the session-long containerd."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kt-containerd")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 120.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Node:
    cluster: Cluster
    data_dir: Path
    images: dict[str, imagebuild.BuiltImage]
    runtime: containerd.Containerd
    port: int
    name: str = NODE
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    starts: int = 0

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "kubelet.log"

    @property
    def socket(self) -> Path:
        return self.runtime.socket

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pyk8s.cli.main",
            "kubelet",
            "--kubeconfig",
            str(self.cluster.kubeconfig),
            "--data-dir",
            str(self.data_dir),
            "--node-name",
            self.name,
            "--kubelet-port",
            str(self.port),
            "--node-ip",
            "127.0.0.1",
            "--containerd-socket",
            str(self.socket),
            "--cni-conf-dir",
            str(self.runtime.cni_conf_dir),
            "--cni-bridge",
            BRIDGE,
            "--cgroup-root",
            f"/{CGROUP_ROOT}/kubepods",
            "--pause-image-archive",
            str(self.images[imagebuild.PAUSE_IMAGE].path),
            "--pod-manifest-path",
            str(self.data_dir / "manifests"),
            "--node-status-update-frequency",
            "2",
            "-v",
        ]

    def start(self, timeout: float = 60.0) -> None:
        (self.data_dir / "manifests").mkdir(exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubelet exited {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy() and self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"node not Ready in {timeout}s:\n{self.log_tail()}")

    def healthy(self) -> bool:
        """The kubelet's server answers (it starts before the node registers)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{self.port}/healthz", context=ctx, timeout=2
            ) as r:
                return r.status == 200
        except OSError:
            return False

    def ready(self) -> bool:
        status, body, _ = self.cluster.request("GET", f"/api/v1/nodes/{self.name}")
        if status != 200:
            return False
        if not (body.get("spec") or {}).get("podCIDR"):
            return False
        conditions = (body.get("status") or {}).get("conditions") or []
        lease = (body.get("status") or {}).get("daemonEndpoints", {}).get("kubeletEndpoint", {})
        return lease.get("Port") == self.port and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    async def cri(self) -> CRIClient:
        client = CRIClient(self.socket, timeout=30)
        await client.wait_ready(30)
        return client


def start_cluster(c: Cluster, timeout: float = 60.0) -> None:
    """``pyk8s server`` with controller-manager and scheduler, without the local agent."""
    cmd = [
        sys.executable,
        "-m",
        "pyk8s.cli.main",
        "server",
        "--data-dir",
        str(c.data_dir),
        "--port",
        str(c.port),
        "--disable-agent",
        "--cluster-cidr",
        CLUSTER_POD_CIDRS,
    ]
    c.data_dir.mkdir(parents=True, exist_ok=True)
    with open(c.log_path, "ab") as log:
        c.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{c.log_path.read_text()[-3000:]}")
        if c.kubeconfig.exists() and c.ca.exists():
            with contextlib.suppress(OSError):
                status, _, _ = c.request("GET", "/readyz")
                if status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"server not ready:\n{c.log_path.read_text()[-3000:]}")


async def remove_all(socket: Path) -> None:
    async with CRIClient(socket, timeout=60) as cri:
        await cri.wait_ready(30)
        listed = await cri.call(cri.runtime.ListContainers, api_pb2.ListContainersRequest())
        for c in listed.containers:
            with contextlib.suppress(CRIError):
                await cri.call(
                    cri.runtime.StopContainer, api_pb2.StopContainerRequest(container_id=c.id)
                )
            with contextlib.suppress(CRIError):
                await cri.call(
                    cri.runtime.RemoveContainer, api_pb2.RemoveContainerRequest(container_id=c.id)
                )
        sandboxes = await cri.call(cri.runtime.ListPodSandbox, api_pb2.ListPodSandboxRequest())
        for s in sandboxes.items:
            with contextlib.suppress(CRIError):
                await cri.call(
                    cri.runtime.StopPodSandbox, api_pb2.StopPodSandboxRequest(pod_sandbox_id=s.id)
                )
            with contextlib.suppress(CRIError):
                await cri.call(
                    cri.runtime.RemovePodSandbox,
                    api_pb2.RemovePodSandboxRequest(pod_sandbox_id=s.id),
                )


async def start_runtime(data_dir: Path, image_dir: Path) -> tuple[containerd.Containerd, Any]:
    await netsafety.ensure_routes()
    built = imagebuild.build_all(image_dir)
    rt = containerd.Containerd(data_dir / "rt")
    await rt.start()
    try:
        async with CRIClient(rt.socket, timeout=60) as cri:
            for image in built.values():
                await images.ensure_image(cri, rt.socket, image.ref, image.path)
    except BaseException:
        await rt.stop()
        raise
    return rt, built


async def stop_runtime(rt: containerd.Containerd) -> None:
    try:
        await remove_all(rt.socket)
    finally:
        await rt.stop()
        await cni.cleanup_network(BRIDGE)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, node: Node | None = None
) -> None:
    """Await ``check()`` until it is true; fail after ``timeout`` (a deadline, not a sleep),
    with the tail of the kubelet's log when ``node`` is given."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            tail = f"\nkubelet log:\n{node.log_tail(6000)}" if node is not None else ""
            raise TimeoutError(f"condition not met within {timeout}s{tail}")
        await asyncio.sleep(0.1)
