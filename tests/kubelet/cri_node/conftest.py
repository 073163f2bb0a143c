"""Fixtures for the kubelet's integration tests on a real node: ``node`` (session) is a
cluster plus a containerd plus a ``pyk8s kubelet`` process (see ``nodeharness``).

To read the kubelet's log after a run, set ``PYK8S_KEEP_KUBELET_LOG=<file>``: it is
copied there before the test directory is removed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from cluster import Cluster, free_port
from kubelet.cri_node.nodeharness import (
    CGROUP_ROOT,
    LoopThread,
    Node,
    start_cluster,
    start_runtime,
    stop_runtime,
)
from pyk8s.kubelet.hostcleanup import remove_cgroup_tree, unmount_below


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    base = tmp_path_factory.mktemp("kt")
    cluster = Cluster(base / "c", free_port())
    loop = LoopThread()
    n_log = base / "c" / "kubelet.log"
    try:
        start_cluster(cluster)
        rt, built = loop.run(start_runtime(base / "c", base / "images"))
        n = Node(
            cluster=cluster, data_dir=cluster.data_dir, images=built, runtime=rt, port=free_port()
        )
        try:
            n.start()
            yield n
        finally:
            n.stop()
            loop.run(stop_runtime(rt))
    finally:
        cluster.stop()
        loop.close()
        remove_cgroup_tree(CGROUP_ROOT)
        unmount_below(base)
        if os.environ.get("PYK8S_KEEP_KUBELET_LOG"):
            shutil.copy(n_log, os.environ["PYK8S_KEEP_KUBELET_LOG"])
        shutil.rmtree(base, ignore_errors=True)
