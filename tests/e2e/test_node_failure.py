"""A node dies, a node is drained — through the real kubectl against ``pyk8s server``
(apiserver, controller-manager, scheduler) with three simulated nodes from
``pyk8s agent --runtime sim``.

- A node stops heartbeating: it turns Unknown, gets the unreachable taints, its pods are
  evicted after their tolerationSeconds and the Deployment's pods come back Running on
  the other nodes.
- ``kubectl drain`` honours a PodDisruptionBudget: refused (429, retried until the
  timeout) while the budget allows no disruption, done once it allows one; the node is
  cordoned and its pods end up on the remaining node; ``kubectl uncordon`` reverts it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster import Cluster, free_port

pytestmark = pytest.mark.e2e

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
"""

PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 3
  selector:
    matchLabels: {app: web}
"""


@pytest.fixture
def sim_cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path / "cluster", free_port())
    cluster.start(
        "--kube-controller-manager-arg=node-monitor-grace-period=4s",
        "--kube-controller-manager-arg=node-monitor-period=0.5s",
        control_plane=True,
    )
    log = open(tmp_path / "agent.log", "wb")  # noqa: SIM115 - closed below
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyk8s.cli.main",
            "agent",
            "--runtime",
            "sim",
            "--nodes",
            "3",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--node-name-prefix",
            "node-",
            "--node-lease-duration-seconds",
            "4",
            "--node-status-update-frequency",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield cluster
    finally:
        agent.terminate()
        agent.wait(15)
        log.close()
        cluster.stop()


def until(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")


def get(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def ready(node: Any) -> str:
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


def live_pods(cluster: Cluster) -> list[Any]:
    pods = get(cluster, "pods", "-l", "app=web")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def running_on(cluster: Cluster, nodes: set[str]) -> bool:
    pods = live_pods(cluster)
    return len(pods) == 3 and all(
        p["spec"].get("nodeName") in nodes
        and p["status"].get("phase") == "Running"
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        for p in pods
    )


def test_dead_node_and_drain_with_budget(sim_cluster: Cluster) -> None:
    c = sim_cluster
    until("3 nodes", lambda: len(get(c, "nodes")["items"]) == 3)
    c.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
    c.kubectl("apply", "-f", "-", input=DEPLOYMENT)
    c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")

    nodes = {"node-0", "node-1", "node-2"}
    victim = live_pods(c)[0]["spec"]["nodeName"]
    c.kubectl("annotate", "node", victim, "pyk8s.io/sim-stop-heartbeat=true")
    until(f"{victim} Unknown", lambda: ready(get(c, "node", victim)) == "Unknown")
    taints = get(c, "node", victim)["spec"]["taints"]
    assert {(t["key"], t["effect"]) for t in taints} >= {
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    }
    alive = nodes - {victim}
    until("pods back on the live nodes", lambda: running_on(c, alive))

    c.kubectl("apply", "-f", "-", input=PDB)
    until(
        "budget observed",
        lambda: get(c, "pdb", "web").get("status", {}).get("currentHealthy") == 3,
    )
    drained = sorted(alive)[0]
    refused = c.kubectl("drain", drained, "--ignore-daemonsets", "--timeout=4s", check=False)
    assert refused.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in refused.stderr
    assert get(c, "node", drained)["spec"].get("unschedulable") is True
    assert running_on(c, alive)

    c.kubectl("patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"minAvailable":2}}')
    done = c.kubectl("drain", drained, "--ignore-daemonsets", "--timeout=90s", timeout=120)
    assert f"node/{drained} drained" in done.stdout
    remaining = alive - {drained}
    until("pods on the remaining node", lambda: running_on(c, remaining))

    c.kubectl("uncordon", drained)
    assert not get(c, "node", drained)["spec"].get("unschedulable")
