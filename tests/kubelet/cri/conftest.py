"""Shared fixtures for tests against a real containerd (CRI v1 over gRPC).

- ``containerd_node`` (session): one supervised containerd for the whole session, in a temp
  data dir, started on a private event loop in a background thread (so any test's loop can
  talk to it). Before yielding it installs the safety routes (ENVIRONMENT.md), builds and
  imports the testbox and pause images, and writes a CNI config for ``POD_CIDR`` on the
  bridge ``BRIDGE``. At the end: every sandbox removed, containerd stopped by PID, the
  bridge, idle CNI hostport chains, the test cgroup tree, leftover mounts and the data
  dir removed.
- ``cri_env`` (function): a ``CRIEnv`` with a ``CRIClient`` connected from the test's own
  loop (``env.cri``), the socket, data dir, image refs and helpers. On teardown it removes
  every sandbox and container in the node (tests own the node while they run) and the
  test cgroup tree.

Pods created by tests should use ``env.cgroup_parent(uid)`` and ``env.log_dir(uid)`` so
teardown finds what they leave behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pyk8s.kubelet import cni, imagebuild, images, netsafety
from pyk8s.kubelet.containerd import Containerd
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.hostcleanup import remove_cgroup_tree, unmount_below

POD_CIDR = "10.244.251.0/24"  # inside the cluster CIDR, so the blackhole route covers it
BRIDGE = "pkcri0"
CGROUP_ROOT = f"pyk8s-crit-{os.getpid()}"

_T = TypeVar("_T")


class LoopThread:
    """An event loop in a daemon thread, for session-long async objects."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="containerd-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 120.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class ContainerdNode:
    data_dir: Path
    containerd: Containerd
    images: dict[str, imagebuild.BuiltImage]
    loop: LoopThread
    pod_cidr: str = POD_CIDR
    bridge: str = BRIDGE
    cgroup_root: str = CGROUP_ROOT

    @property
    def socket(self) -> Path:
        return self.containerd.socket


@dataclass
class CRIEnv:
    node: ContainerdNode
    cri: CRIClient
    sandboxes: list[str] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.node.socket

    @property
    def data_dir(self) -> Path:
        return self.node.data_dir

    @property
    def testbox(self) -> str:
        return imagebuild.TESTBOX_IMAGE

    def cgroup_parent(self, uid: str) -> str:
        return f"/{self.node.cgroup_root}/pod{uid}"

    def log_dir(self, uid: str) -> Path:
        return self.node.data_dir / "pods" / uid

    async def remove_all_pods(self) -> None:
        await remove_all_pods(self.cri)


async def remove_all_pods(cri: CRIClient) -> None:
    """Stop and remove every container and sandbox in the runtime."""
    containers = await cri.call(cri.runtime.ListContainers, api_pb2.ListContainersRequest())
    for c in containers.containers:
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
        await cri.call(
            cri.runtime.StopPodSandbox, api_pb2.StopPodSandboxRequest(pod_sandbox_id=s.id)
        )
        await cri.call(
            cri.runtime.RemovePodSandbox, api_pb2.RemovePodSandboxRequest(pod_sandbox_id=s.id)
        )


async def _start_node(data_dir: Path, image_dir: Path) -> tuple[Containerd, dict[str, Any]]:
    await netsafety.ensure_routes()
    built = imagebuild.build_all(image_dir)
    conf = cni.render_conflist(
        POD_CIDR, bridge=BRIDGE, ipam_data_dir=data_dir / "agent" / "cni" / "networks"
    )
    c = Containerd(data_dir)
    cni.write_conflist(c.cni_conf_dir, conf)
    await c.start()
    try:
        async with CRIClient(c.socket, timeout=30) as cri:
            for image in built.values():
                await images.ensure_image(cri, c.socket, image.ref, image.path)
    except BaseException:
        await c.stop()
        raise
    return c, built


async def _stop_node(node: ContainerdNode) -> None:
    try:
        async with CRIClient(node.socket, timeout=30) as cri:
            await cri.wait_ready(10)
            await remove_all_pods(cri)
    finally:
        await node.containerd.stop()
        await cni.cleanup_network(node.bridge)


@pytest.fixture(scope="session")
def containerd_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdNode]:
    # Short path: containerd's socket path must fit in sun_path (108 bytes).
    base = tmp_path_factory.mktemp("cri")
    data_dir = base / "d"
    loop = LoopThread()
    try:
        c, built = loop.run(_start_node(data_dir, base / "images"))
        node = ContainerdNode(data_dir=data_dir, containerd=c, images=built, loop=loop)
        try:
            yield node
        finally:
            loop.run(_stop_node(node))
    finally:
        loop.close()
        remove_cgroup_tree(CGROUP_ROOT)
        unmount_below(base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def cri_env(containerd_node: ContainerdNode) -> AsyncIterator[CRIEnv]:
    cri = CRIClient(containerd_node.socket, timeout=30)
    try:
        await cri.wait_ready(30)
        env = CRIEnv(node=containerd_node, cri=cri)
        try:
            yield env
        finally:
            await remove_all_pods(cri)
    finally:
        await cri.close()
        remove_cgroup_tree(containerd_node.cgroup_root)
