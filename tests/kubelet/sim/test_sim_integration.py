"""The simulated node agent against a real apiserver: nodes register and heartbeat, pods
bound to them run, complete, crash and are deleted as a kubelet would make them.

Every test runs its own agent with its own node names (the apiserver is shared by the
session) and a small time scale; waits are on conditions, with deadlines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from cluster import Cluster
from pyk8s.client import config as client_config
from pyk8s.client import errors, rest
from pyk8s.kubelet.sim import config, runtime
from pyk8s.kubelet.sim.nodes import LEASES, NODES
from pyk8s.kubelet.sim.pods import PODS

Obj = dict[str, Any]
T = TypeVar("T")
_agents = itertools.count(1)
TIME_SCALE = 0.05


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        try:
            last = await probe()
        except errors.NotFound as exc:
            last = exc
        else:
            if last:
                return last
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")
        await asyncio.sleep(0.05)


class Agent:
    def __init__(self, client: rest.RESTClient, sim: config.SimConfig) -> None:
        self.client = client
        self.sim = sim
        self.runtime = runtime.SimRuntime(client, sim)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def names(self) -> list[str]:
        return [self.sim.nodes.name(i) for i in self.sim.nodes.indexes]

    async def start(self) -> None:
        self.task = asyncio.create_task(self.runtime.run(self.stop))
        waiter = asyncio.create_task(self.runtime.nodes.registered.wait())
        done, _ = await asyncio.wait(
            {self.task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if self.task in done:
            self.task.result()
        assert waiter in done, "nodes not registered in 30s"

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 15)


def sim_config(n: int = 3, *, index: int = 0, **pods: Any) -> config.SimConfig:
    return config.SimConfig(
        nodes=config.NodeTemplate(count=n, prefix=f"sim{index}-", start_index=10 * index),
        pods=config.PodTimings(time_scale=TIME_SCALE, **pods),
        heartbeat=config.Heartbeat(
            lease_duration_seconds=4,
            lease_renew_seconds=0.5,
            status_update_seconds=0.5,
            pod_cidr_wait_seconds=0,
        ),
    )


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(
        client_config.from_kubeconfig(cluster.kubeconfig), qps=0, burst=0
    ) as c:
        yield c
    # closed TLS connections finish their shutdown on the loop: give them the moment
    # aiohttp's docs ask for ("graceful shutdown") before the test's loop goes away
    await asyncio.sleep(0.25)


@pytest.fixture
async def agent(client: rest.RESTClient) -> AsyncIterator[Agent]:
    a = Agent(client, sim_config(index=next(_agents)))
    await a.start()
    try:
        yield a
    finally:
        await a.close()


def bound_pod(name: str, node: str, **extra: Any) -> Obj:
    meta: Obj = {"name": name, **extra.pop("meta", {})}
    spec: Obj = {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}], **extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


async def get_pod(client: rest.RESTClient, ns: str, name: str) -> Obj:
    return await client.get(PODS, name, namespace=ns)


def condition(obj: Obj, kind: str) -> Obj:
    found: Obj = next(
        (c for c in (obj.get("status") or {}).get("conditions") or () if c["type"] == kind), {}
    )
    return found


async def test_nodes_register_ready_with_leases_renewing(
    client: rest.RESTClient, agent: Agent
) -> None:
    zones = set()
    for i, name in zip(agent.sim.nodes.indexes, agent.names, strict=True):
        node = await client.get(NODES, name)
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == name
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] == "amd64"
        assert labels["node.kubernetes.io/instance-type"] == "pyk8s-sim"
        zones.add(labels["topology.kubernetes.io/zone"])
        status = node["status"]
        ready = condition(node, "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        )
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            assert condition(node, kind)["status"] == "False"
        assert status["capacity"]["cpu"] == "32" and status["capacity"]["pods"] == "110"
        assert status["allocatable"] == status["capacity"]
        addresses = {a["type"]: a["address"] for a in status["addresses"]}
        assert addresses["Hostname"] == name
        assert ipaddress.ip_address(addresses["InternalIP"]) in ipaddress.ip_network(
            "10.255.0.0/16"
        )
        assert status["nodeInfo"]["kubeletVersion"] == "v1.33.0-sim"
        assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
        assert node["spec"]["podCIDR"] == f"10.244.{i}.0/24"
        lease = await client.get(LEASES, name, namespace="kube-node-lease")
        assert lease["spec"]["holderIdentity"] == name
        assert lease["spec"]["leaseDurationSeconds"] == 4
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    assert zones == {"zone-a", "zone-b", "zone-c"}

    first = {n: (await client.get(LEASES, n, namespace="kube-node-lease")) for n in agent.names}

    async def all_renewed() -> bool:
        for n in agent.names:
            lease = await client.get(LEASES, n, namespace="kube-node-lease")
            if lease["spec"]["renewTime"] <= first[n]["spec"]["renewTime"]:
                return False
        return True

    await eventually(all_renewed, what="every lease renewed")


async def test_pod_runs_and_is_ready_with_an_ip_in_the_node_cidr(
    client: rest.RESTClient, agent: Agent, namespace: str
) -> None:
    node = agent.names[1]
    await client.create(PODS, bound_pod("web", node), namespace=namespace)

    async def running() -> Obj | None:
        p = await get_pod(client, namespace, "web")
        return p if condition(p, "Ready").get("status") == "True" else None

    pod = await eventually(running, what="pod Ready")
    status = pod["status"]
    assert status["phase"] == "Running"
    cidr = (await client.get(NODES, node))["spec"]["podCIDR"]
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(cidr)
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["hostIP"] == agent.runtime.nodes.nodes[node].ip
    for kind in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "PodScheduled"):
        assert condition(pod, kind)["status"] == "True", kind
    cs = status["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["containerID"].startswith("sim://") and "running" in cs["state"]
    # one write took it there, and its echo did not cause another
    assert agent.runtime.metrics.pod_status_updates._value.get() == 1

    # a second pod on the same node gets another address
    await client.create(PODS, bound_pod("web2", node), namespace=namespace)

    async def second_ip() -> str | None:
        return (await get_pod(client, namespace, "web2"))["status"].get("podIP")

    assert await eventually(second_ip, what="second pod IP") != status["podIP"]


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(
            {
                "restartPolicy": "Never",
                "meta": {
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "name": "j",
                            "uid": "00000000-0000-0000-0000-000000000001",
                        }
                    ]
                },
            },
            id="job-owned",
        ),
        pytest.param(
            {"restartPolicy": "OnFailure", "meta": {"annotations": {config.RUN_SECONDS: "5"}}},
            id="annotated",
        ),
    ],
)
async def test_run_to_completion_pods_succeed(
    client: rest.RESTClient, agent: Agent, namespace: str, how: Obj
) -> None:
    await client.create(PODS, bound_pod("job", agent.names[0], **how), namespace=namespace)

    async def succeeded() -> Obj | None:
        p = await get_pod(client, namespace, "job")
        return p if p["status"].get("phase") == "Succeeded" else None

    pod = await eventually(succeeded, what="pod Succeeded")
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert condition(pod, "Ready")["reason"] == "PodCompleted"


async def test_graceful_deletion_stops_containers_then_removes_the_pod(
    client: rest.RESTClient, agent: Agent, namespace: str
) -> None:
    await client.create(PODS, bound_pod("victim", agent.names[2]), namespace=namespace)

    async def ready() -> bool:
        return condition(await get_pod(client, namespace, "victim"), "Ready").get("status") == (
            "True"
        )

    await eventually(ready, what="pod Ready")
    deleting = await client.delete(PODS, "victim", namespace=namespace)
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 30  # graceful: it lingers
    events: list[tuple[str, Obj]] = []

    async def watch_to_the_end() -> None:
        async with client.watch(
            PODS,
            namespace=namespace,
            name="victim",
            resource_version=deleting["metadata"]["resourceVersion"],
        ) as w:
            async for ev in w:
                events.append((ev.type, ev.object))
                if ev.type == "DELETED":
                    return

    await asyncio.wait_for(watch_to_the_end(), 20)  # 30 s grace x 0.05 = 1.5 s
    final = [obj for etype, obj in events if etype == "MODIFIED"][-1]
    assert final["status"]["phase"] == "Failed"  # killed at the end of the grace period
    term = final["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 137
    assert events[-1][0] == "DELETED"


async def test_crash_injected_pod_loops_in_back_off(
    client: rest.RESTClient, agent: Agent, namespace: str
) -> None:
    crash = bound_pod("crash", agent.names[0], meta={"annotations": {config.CRASH: "true"}})
    await client.create(PODS, crash, namespace=namespace)

    async def backing_off() -> Obj | None:
        p = await get_pod(client, namespace, "crash")
        for cs in p["status"].get("containerStatuses") or ():
            waiting = cs["state"].get("waiting") or {}
            if waiting.get("reason") == "CrashLoopBackOff" and cs["restartCount"] >= 1:
                return cs
        return None

    cs = await eventually(backing_off, what="CrashLoopBackOff")
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert "back-off" in cs["state"]["waiting"]["message"]


async def renew_times(client: rest.RESTClient, names: list[str]) -> dict[str, str]:
    out = {}
    for n in names:
        lease = await client.get(LEASES, n, namespace="kube-node-lease")
        out[n] = lease["spec"]["renewTime"]
    return out


async def renewed(client: rest.RESTClient, name: str) -> None:
    """Wait for ``name``'s lease to be renewed after now."""
    mark = await renew_times(client, [name])
    await eventually(lambda: _later(client, [name], mark), what=f"{name} renewed")


async def assert_lease_frozen(client: rest.RESTClient, quiet: str, live: str) -> None:
    """``quiet``'s lease stays put while ``live``'s is renewed twice (after one renewal
    more, so a write in flight when the node stopped has landed)."""
    await renewed(client, live)
    frozen = await renew_times(client, [quiet])
    await renewed(client, live)
    await renewed(client, live)
    assert await renew_times(client, [quiet]) == frozen, f"{quiet} kept renewing"


async def test_stop_heartbeat_label_stops_lease_renewals(
    client: rest.RESTClient, agent: Agent
) -> None:
    quiet, live = agent.names[0], agent.names[1]
    await client.patch(NODES, quiet, {"metadata": {"labels": {config.STOP_HEARTBEAT: "true"}}})
    node = agent.runtime.nodes.nodes[quiet]
    await eventually(lambda: _true(not node.alive), what="the agent saw the label")
    await assert_lease_frozen(client, quiet, live)
    before = await renew_times(client, [quiet])
    await client.patch(NODES, quiet, {"metadata": {"labels": {config.STOP_HEARTBEAT: None}}})
    await eventually(lambda: _later(client, [quiet], before), what="lease renewed again")


async def test_stop_heartbeat_call_stops_the_node_and_its_pods(
    client: rest.RESTClient, agent: Agent, namespace: str
) -> None:
    quiet, live = agent.names[1], agent.names[0]
    agent.runtime.stop_heartbeat(quiet)
    await client.create(PODS, bound_pod("frozen", quiet), namespace=namespace)
    await assert_lease_frozen(client, quiet, live)
    assert (await get_pod(client, namespace, "frozen"))["status"]["phase"] == "Pending"
    agent.runtime.resume_heartbeat(quiet)

    async def running() -> bool:
        return (await get_pod(client, namespace, "frozen"))["status"].get("phase") == "Running"

    await eventually(running, what="pod runs once the node is back")


async def test_pod_cidr_from_node_ipam_wins_else_the_index_one_is_taken(
    client: rest.RESTClient, namespace: str
) -> None:
    base = sim_config(2, index=next(_agents))
    sim = dataclasses.replace(
        base, heartbeat=dataclasses.replace(base.heartbeat, pod_cidr_wait_seconds=1.0)
    )
    agent = Agent(client, sim)
    await agent.start()
    try:
        ipam_node, lonely = agent.names
        # what the node IPAM controller would do, within the agent's wait
        cidr = {"podCIDR": "10.99.7.0/24", "podCIDRs": ["10.99.7.0/24"]}
        await client.patch(NODES, ipam_node, {"spec": cidr})
        for name in agent.names:
            await client.create(PODS, bound_pod(f"on-{name}", name), namespace=namespace)

        async def pod_ip(name: str) -> str | None:
            return (await get_pod(client, namespace, f"on-{name}"))["status"].get("podIP")

        ip = await eventually(lambda: pod_ip(ipam_node), what="pod IP from IPAM's CIDR")
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.99.7.0/24")
        own = await eventually(lambda: pod_ip(lonely), what="pod IP from the index CIDR")
        index = sim.nodes.start_index + 1
        assert (await client.get(NODES, lonely))["spec"]["podCIDR"] == f"10.244.{index}.0/24"
        assert ipaddress.ip_address(own) in ipaddress.ip_network(f"10.244.{index}.0/24")
        assert (await client.get(NODES, ipam_node))["spec"]["podCIDR"] == "10.99.7.0/24"
    finally:
        await agent.close()


async def test_restarted_agent_adopts_nodes_and_pods(
    client: rest.RESTClient, namespace: str
) -> None:
    sim = sim_config(2, index=next(_agents))
    first = Agent(client, sim)
    await first.start()
    try:
        await client.create(PODS, bound_pod("kept", first.names[0]), namespace=namespace)

        async def running() -> Obj | None:
            p = await get_pod(client, namespace, "kept")
            return p if p["status"].get("phase") == "Running" else None

        before = await eventually(running, what="pod Running")
    finally:
        await first.close()
    second = Agent(client, sim)
    await second.start()
    try:
        await eventually(lambda: _true(second.runtime.pod_informer.has_synced), what="pods listed")
        await client.create(PODS, bound_pod("marker", first.names[0]), namespace=namespace)

        async def marker_running() -> bool:
            p = await get_pod(client, namespace, "marker")
            return p["status"].get("phase") == "Running"

        await eventually(marker_running, what="a new pod runs")
        after = await get_pod(client, namespace, "kept")
        assert after["status"] == before["status"]  # adopted as it was, not rewritten
        assert second.runtime.metrics.pod_status_updates._value.get() == 1  # the marker's
    finally:
        await second.close()


async def test_agent_command(cluster: Cluster, client: rest.RESTClient) -> None:
    prefix = f"cli{next(_agents)}-"
    cmd = [
        sys.executable, "-m", "pyk8s.cli.agent_cmd", "--runtime", "sim", "--nodes", "2",
        "--kubeconfig", str(cluster.kubeconfig), "--node-name-prefix", prefix,
        "--node-index-start", "200", "--pod-cidr-wait", "0", "--cpu", "8",
        "--register-with-taints", "example.com/sim=yes:NoSchedule",
        "--node-labels", "pool=sim",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        async def registered() -> Obj | None:
            node = await client.get(NODES, f"{prefix}201")
            return node if condition(node, "Ready").get("status") == "True" else None

        node = await eventually(registered, what="CLI nodes registered")
        assert node["status"]["capacity"]["cpu"] == "8"
        assert node["metadata"]["labels"]["pool"] == "sim"
        assert node["spec"]["taints"] == [
            {"key": "example.com/sim", "value": "yes", "effect": "NoSchedule"}
        ]
        assert node["spec"]["podCIDR"] == "10.244.201.0/24"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out.decode()


async def _true(value: bool) -> bool:
    return value


async def _later(client: rest.RESTClient, names: list[str], than: dict[str, str]) -> bool:
    now = await renew_times(client, names)
    return all(now[n] > than[n] for n in names)
