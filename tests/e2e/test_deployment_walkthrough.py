"""The Deployment walk-through of shared/seeds/000_34c007144d4b888e.txt (and the upstream
Deployment concept page it follows) through the real kubectl: create, rollout status,
scale, set image, rollout history (with change-cause), a stuck rollout, rollout undo
--to-revision, pause/resume, restart — against ``pyk8s controller-manager`` running as
its own process, with the fake kubelet standing in for nodes."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "controllers"))

from fakekubelet import FakeKubelet
from harness import connections_closed

from cluster import Cluster
from pyk8s.client import config, rest

pytestmark = pytest.mark.e2e

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
"""


def typo_image(pod: Mapping[str, Any]) -> bool:
    """nginx:1.161 does not exist (the docs' typo): its pods never start."""
    containers = (pod.get("spec") or {}).get("containers") or ()
    return any(c.get("image") == "nginx:1.161" for c in containers)


@pytest_asyncio.fixture
async def nodes_and_controllers(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> AsyncIterator[str]:
    log = tmp_path / "controller-manager.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyk8s.cli.controller_manager_cmd",
                "--kubeconfig",
                str(cluster.kubeconfig),
                "--controllers=deployment,replicaset,garbagecollector,namespace",
                "--leader-elect=false",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
    client = rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig), qps=500, burst=1000)
    stop = asyncio.Event()
    kubelet = FakeKubelet(client, namespace=namespace, hold=typo_image)
    task = asyncio.ensure_future(kubelet.run(stop))
    try:
        await asyncio.wait_for(kubelet.started.wait(), 20)
        yield namespace
    finally:
        stop.set()
        await task
        await client.close()
        await connections_closed(cluster.port)
        proc.terminate()
        proc.wait(20)
        if proc.returncode not in (0, -15):
            print(log.read_text()[-5000:])


class Kubectl:
    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    async def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        cp = await asyncio.to_thread(
            self.cluster.kubectl, "-n", self.namespace, *args, input=input, check=check
        )
        return cp.stdout + (cp.stderr if not check else "")

    async def rolled_out(self) -> str:
        out = await self("rollout", "status", "deployment/nginx-deployment", "--timeout=60s")
        assert out.rstrip().endswith('deployment "nginx-deployment" successfully rolled out'), out
        return out


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


async def test_deployment_walkthrough(cluster: Cluster, nodes_and_controllers: str) -> None:
    k = Kubectl(cluster, nodes_and_controllers)

    # create, and watch it roll out
    assert (await k("apply", "-f", "-", input=MANIFEST)).strip() == (
        "deployment.apps/nginx-deployment created"
    )
    out = await k.rolled_out()
    for line in out.strip().splitlines()[:-1]:
        assert line == "Waiting for deployment spec update to be observed..." or re.fullmatch(
            r'Waiting for deployment "nginx-deployment" rollout to finish: '
            r"(\d+ out of 3 new replicas have been updated|\d+ of 3 updated replicas are available)\.\.\.",
            line,
        ), line
    table = rows(await k("get", "deployments"))
    assert table[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1][:4] == ["nginx-deployment", "3/3", "3", "3"]
    rs_table = rows(await k("get", "rs"))
    assert rs_table[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    (first_rs,) = rs_table[1:]
    assert re.fullmatch(r"nginx-deployment-[bcdfghjklmnpqrstvwxz2456789]+", first_rs[0])
    assert first_rs[1:4] == ["3", "3", "3"]
    pods = rows(await k("get", "pods", "--show-labels"))[1:]
    assert len(pods) == 3
    pod_hash = first_rs[0].removeprefix("nginx-deployment-")
    assert all(p[0].startswith(first_rs[0] + "-") and p[2] == "Running" for p in pods)
    assert all(f"pod-template-hash={pod_hash}" in p[-1] for p in pods)

    described = await k("describe", "deployment", "nginx-deployment")
    for expected in (
        r"Annotations:\s+deployment\.kubernetes\.io/revision: 1",
        r"Replicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable",
        r"StrategyType:\s+RollingUpdate",
        r"RollingUpdateStrategy:\s+25% max unavailable, 25% max surge",
        r"Available\s+True\s+MinimumReplicasAvailable",
        r"Progressing\s+True\s+NewReplicaSetAvailable",
        rf"NewReplicaSet:\s+{first_rs[0]} \(3/3 replicas created\)",
        rf"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set {first_rs[0]} from 0 to 3",
    ):
        assert re.search(expected, described), f"{expected!r} not in:\n{described}"
    described_rs = await k("describe", "rs", first_rs[0])
    assert re.search(r"Controlled By:\s+Deployment/nginx-deployment", described_rs)
    assert re.search(r"Annotations:\s+deployment\.kubernetes\.io/desired-replicas: 3", described_rs)
    assert re.search(
        r"Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: ", described_rs
    )

    # scale
    assert (await k("scale", "deployment/nginx-deployment", "--replicas=5")).strip() == (
        "deployment.apps/nginx-deployment scaled"
    )
    await k.rolled_out()
    assert rows(await k("get", "deployment", "nginx-deployment"))[1][:4] == [
        "nginx-deployment",
        "5/5",
        "5",
        "5",
    ]

    # update the image, record why
    assert (
        await k("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.16.1")
    ).strip() == ("deployment.apps/nginx-deployment image updated")
    await k.rolled_out()
    await k(
        "annotate",
        "deployment/nginx-deployment",
        "kubernetes.io/change-cause=image updated to 1.16.1",
    )
    rs_table = rows(await k("get", "rs"))[1:]
    assert sorted(r[1:4] for r in rs_table) == [["0", "0", "0"], ["5", "5", "5"]]

    async def history() -> list[list[str]]:
        text = await k("rollout", "history", "deployment/nginx-deployment")
        lines = text.strip().splitlines()
        assert lines[0].strip() == "deployment.apps/nginx-deployment"
        assert lines[1].split() == ["REVISION", "CHANGE-CAUSE"]
        return [line.split(None, 1) for line in lines[2:]]

    async def wait_history(want: list[list[str]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        got: list[list[str]] = []
        while loop.time() < deadline:
            got = await history()
            if got == want:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"history {got} != {want}")

    await wait_history([["1", "<none>"], ["2", "image updated to 1.16.1"]])
    rev2 = await k("rollout", "history", "deployment/nginx-deployment", "--revision=2")
    assert rev2.startswith("deployment.apps/nginx-deployment with revision #2\nPod Template:")
    assert re.search(r"Image:\s+nginx:1\.16\.1", rev2)
    assert re.search(r"pod-template-hash=", rev2)

    # a bad image: the rollout stalls; undo it to revision 2
    await k("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.161")
    await k(
        "annotate",
        "--overwrite",
        "deployment/nginx-deployment",
        "kubernetes.io/change-cause=typo 1.161",
    )
    stuck = await k("rollout", "status", "deployment/nginx-deployment", "--timeout=3s", check=False)
    assert "error: timed out waiting for the condition" in stuck
    assert re.search(
        r'Waiting for deployment "nginx-deployment" rollout to finish: \d+ out of 5 new replicas have been updated\.\.\.',
        stuck,
    )
    ready = rows(await k("get", "deployment", "nginx-deployment"))[1]
    assert ready[1] == "4/5" or ready[1] == "5/5"  # at most 25% (1) unavailable
    assert (
        await k("rollout", "undo", "deployment/nginx-deployment", "--to-revision=2")
    ).strip() == ("deployment.apps/nginx-deployment rolled back")
    await k.rolled_out()
    image = await k(
        "get",
        "deployment",
        "nginx-deployment",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )
    assert image == "nginx:1.16.1"
    # revision 2 came back as 4; undo copied its change-cause back onto the deployment
    await wait_history([["1", "<none>"], ["3", "typo 1.161"], ["4", "image updated to 1.16.1"]])

    # pause, change twice, resume: one rollout
    assert (await k("rollout", "pause", "deployment/nginx-deployment")).strip() == (
        "deployment.apps/nginx-deployment paused"
    )
    await k("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.17")
    await k(
        "set",
        "resources",
        "deployment/nginx-deployment",
        "-c=nginx",
        "--limits=cpu=200m,memory=512Mi",
    )
    paused = await k("get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.paused}")
    assert paused == "true"
    described = await k("describe", "deployment", "nginx-deployment")
    assert len(rows(await k("get", "rs"))) - 1 == 3  # nothing new while paused
    assert (await k("rollout", "resume", "deployment/nginx-deployment")).strip() == (
        "deployment.apps/nginx-deployment resumed"
    )
    await k.rolled_out()
    rs_table = rows(await k("get", "rs"))[1:]
    assert len(rs_table) == 4
    await wait_history(
        [
            ["1", "<none>"],
            ["3", "typo 1.161"],
            ["4", "image updated to 1.16.1"],
            ["5", "image updated to 1.16.1"],
        ]
    )

    # restart: a new revision with the same spec
    assert (await k("rollout", "restart", "deployment/nginx-deployment")).strip() == (
        "deployment.apps/nginx-deployment restarted"
    )
    await k.rolled_out()
    revisions = [r[0] for r in await history()]
    assert revisions[-1] == "6"
    described = await k("describe", "deployment", "nginx-deployment")
    assert re.search(r"Annotations:\s+deployment\.kubernetes\.io/revision: 6", described)
    assert re.search(r"Scaled down replica set nginx-deployment-\w+ from \d+ to \d+", described)
