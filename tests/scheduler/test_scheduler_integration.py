"""The scheduler process against a real apiserver: nodes registered through the API, the
scheduler running in-process, pods bound through pods/binding, events and conditions
written back. A profile of its own (``schedulerName``) keeps it away from other tests'
pods; a nodeSelector keeps its pods on this test's nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cluster import Cluster
from pyk8s.api import resources
from pyk8s.client import config, rest
from pyk8s.scheduler import config as sched_config
from pyk8s.scheduler.scheduler import Scheduler

pytestmark = pytest.mark.timeout(120)

NODES = resources.find("", "v1", "nodes")
PODS = resources.find("", "v1", "pods")
EVENTS = resources.find("", "v1", "events")
LEASES = resources.find("coordination.k8s.io", "v1", "leases")
assert NODES and PODS and EVENTS and LEASES


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (the value) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig)) as c:
        yield c


async def register_node(client: rest.RESTClient, name: str, pool: str, cpu: str) -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "pool": pool}},
    }
    await client.create(NODES, node)
    alloc = {"cpu": cpu, "memory": "4Gi", "pods": "110"}
    status = {
        "status": {
            "capacity": alloc,
            "allocatable": alloc,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        }
    }
    await client.patch(NODES, name, status, subresource="status")


def pod(name: str, ns: str, profile: str, pool: str, cpu: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "schedulerName": profile,
            "nodeSelector": {"pool": pool},
            "containers": [
                {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}
            ],
        },
    }


async def events_for(
    client: rest.RESTClient, ns: str, name: str, reason: str
) -> list[dict[str, Any]]:
    items, _ = await client.list_all(EVENTS, namespace=ns)
    return [
        e
        for e in items
        if e.get("reason") == reason and (e.get("involvedObject") or {}).get("name") == name
    ]


async def test_schedules_binds_and_reports(client: rest.RESTClient, namespace: str) -> None:
    profile, pool = f"it-{namespace}", namespace
    names = [f"{namespace}-n{i}" for i in range(3)]
    for n in names:
        await register_node(client, n, pool, cpu="2")
    cfg = sched_config.load_config(
        f"""
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  resourceNamespace: {namespace}
  leaseDuration: 4s
  renewDeadline: 3s
  retryPeriod: 1s
profiles:
- schedulerName: {profile}
"""
    )
    sched = Scheduler(client, cfg, identity="it-scheduler")
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        await asyncio.wait_for(sched.leading.wait(), 20)
        lease = await client.get(LEASES, "kube-scheduler", namespace=namespace)
        assert lease["spec"]["holderIdentity"] == "it-scheduler"

        for i in range(6):
            await client.create(PODS, pod(f"p{i}", namespace, profile, pool, "500m"))

        async def all_bound() -> list[str] | None:
            got = [
                (await client.get(PODS, f"p{i}", namespace=namespace))["spec"].get("nodeName")
                for i in range(6)
            ]
            return got if all(got) else None

        placed = await eventually(all_bound)
        assert set(placed) <= set(names)
        # LeastAllocated spreads 6 x 500m over three 2-CPU nodes: two each
        assert sorted(placed.count(n) for n in names) == [2, 2, 2]

        scheduled = await eventually(lambda: events_for(client, namespace, "p0", "Scheduled"))
        node0 = placed[0]
        assert scheduled[0]["message"] == f"Successfully assigned {namespace}/p0 to {node0}"
        assert scheduled[0]["source"]["component"] == "default-scheduler"

        await client.create(PODS, pod("huge", namespace, profile, pool, "3"))

        async def unschedulable() -> dict[str, Any] | None:
            p = await client.get(PODS, "huge", namespace=namespace)
            conds = [c for c in p["status"].get("conditions") or () if c["type"] == "PodScheduled"]
            return conds[0] if conds and conds[0]["status"] == "False" else None

        cond = await eventually(unschedulable)
        assert cond["reason"] == "Unschedulable"
        assert "3 Insufficient cpu" in cond["message"]
        assert cond["message"].startswith("0/")
        failed = await eventually(lambda: events_for(client, namespace, "huge", "FailedScheduling"))
        assert failed[0]["type"] == "Warning"
        assert failed[0]["message"] == cond["message"]

        # room appears: a fourth, bigger node -> the pending pod is moved back and placed
        await register_node(client, f"{namespace}-big", pool, cpu="8")

        async def huge_bound() -> str | None:
            p = await client.get(PODS, "huge", namespace=namespace)
            return p["spec"].get("nodeName")

        assert await eventually(huge_bound) == f"{namespace}-big"
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        for n in [*names, f"{namespace}-big"]:
            try:
                await client.delete(NODES, n)
            except Exception:
                pass


PRIORITY_CLASSES = resources.find("scheduling.k8s.io", "v1", "priorityclasses")
assert PRIORITY_CLASSES


async def test_preemption_nominates_and_evicts(client: rest.RESTClient, namespace: str) -> None:
    profile, pool, node = f"it-{namespace}", namespace, f"{namespace}-only"
    pc_name = f"{namespace}-high"
    await register_node(client, node, pool, cpu="1")
    await client.create(
        PRIORITY_CLASSES,
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": pc_name},
            "value": 1000,
        },
    )
    cfg = sched_config.load_config(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        f"leaderElection: {{leaderElect: false}}\nprofiles: [{{schedulerName: {profile}}}]\n"
    )
    sched = Scheduler(client, cfg)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        await asyncio.wait_for(sched.leading.wait(), 20)
        await client.create(PODS, pod("low", namespace, profile, pool, "800m"))

        async def node_of(name: str) -> str | None:
            return (await client.get(PODS, name, namespace=namespace))["spec"].get("nodeName")

        assert await eventually(lambda: node_of("low")) == node
        high = pod("high", namespace, profile, pool, "800m")
        high["spec"]["priorityClassName"] = pc_name
        await client.create(PODS, high)

        async def nominated() -> str | None:
            p = await client.get(PODS, "high", namespace=namespace)
            return p["status"].get("nominatedNodeName")

        assert await eventually(nominated) == node

        async def low_going() -> bool:
            try:
                p = await client.get(PODS, "low", namespace=namespace)
            except Exception:
                return True  # already gone
            return bool(p["metadata"].get("deletionTimestamp"))

        assert await eventually(low_going)
        preempted = await eventually(lambda: events_for(client, namespace, "low", "Preempted"))
        assert preempted[0]["message"].startswith("Preempted by pod ")
        # no kubelet here to finish the graceful deletion: finish it ourselves
        try:
            await client.delete(PODS, "low", namespace=namespace, grace_period_seconds=0)
        except Exception:
            pass
        assert await eventually(lambda: node_of("high")) == node
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        for delete in (
            lambda: client.delete(NODES, node),
            lambda: client.delete(PRIORITY_CLASSES, pc_name),
        ):
            try:
                await delete()
            except Exception:
                pass


async def test_cli_process_schedules_and_serves_metrics(
    client: rest.RESTClient, namespace: str, cluster: Cluster, tmp_path: Any
) -> None:
    import subprocess
    import sys
    import urllib.request

    from cluster import free_port

    profile, pool, node = f"it-{namespace}", namespace, f"{namespace}-cli"
    await register_node(client, node, pool, cpu="2")
    cfg = tmp_path / "scheduler.yaml"
    cfg.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        f"profiles: [{{schedulerName: {profile}}}]\n"
    )
    port = free_port()
    log = open(tmp_path / "scheduler.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyk8s.cli.scheduler_cmd",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--config",
            str(cfg),
            "--leader-elect=false",
            "--metrics-port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await client.create(PODS, pod("p", namespace, profile, pool, "100m"))

        async def bound() -> str | None:
            return (await client.get(PODS, "p", namespace=namespace))["spec"].get("nodeName")

        assert await eventually(bound, timeout=30) == node

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return str(r.read().decode())

        text = await asyncio.to_thread(scrape)
        assert (
            f'scheduler_schedule_attempts_total{{profile="{profile}",result="scheduled"}} 1.0'
            in text
        )
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            try:
                await client.delete(NODES, node)
            except Exception:
                pass
