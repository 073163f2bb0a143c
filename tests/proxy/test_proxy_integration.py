"""The proxy end to end: a real apiserver, the proxy (``run_proxy``, in this event loop) with
its own nftables table, and network-namespace "pods" serving ``GET /id`` (see netlab).

Services and EndpointSlices are written through the API (the test cluster runs no
controllers, so the slices are ours); each test waits until the applied ruleset shows the
change, then sends real traffic from the host and from pods.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from netlab import HTTP_PORT, Lab, http_get, open_lab, pod_get, sh
from proxy_objects import endpoint, endpoint_slice

from cluster import Cluster, free_port
from pyk8s.client import config as config_mod
from pyk8s.client import errors, rest
from pyk8s.client.testing import wait_until
from pyk8s.proxy import proxier as proxier_mod
from pyk8s.proxy.config import ProxyConfig

Obj = dict[str, Any]
SLICES = proxier_mod.ENDPOINTSLICES
SERVICES = proxier_mod.SERVICES
NODES = proxier_mod.NODES
EVENTS_PATH = "/api/v1/namespaces/{ns}/events"
# this proxy handles only Services with this label, so it leaves the rest of the machine
# (other test clusters' Services, the default `kubernetes` Service) alone
PROXY_NAME = f"pyk8s-test-{os.getpid()}"
LABELS = {"service.kubernetes.io/service-proxy-name": PROXY_NAME}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = open_lab()
    try:
        for name in ("a", "b", "c"):
            lab.add_pod(name)
        lab.add_external()
        yield lab
    finally:
        lab.close()


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(config_mod.load(kubeconfig_path=cluster.kubeconfig)) as c:
        yield c


@dataclass
class Harness:
    client: rest.RESTClient
    namespace: str
    lab: Lab
    proxier: proxier_mod.Proxier
    node_name: str

    async def service(self, name: str, **spec: Any) -> Obj:
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": self.namespace, "labels": LABELS},
            "spec": {
                "ports": [{"name": "http", "port": 80, "targetPort": HTTP_PORT}],
                **spec,
            },
        }
        return await self.client.create(SERVICES, body, namespace=self.namespace)

    async def endpoints(self, service: str, pods: dict[str, bool]) -> Obj:
        """Create or replace the slice of ``service``: pod name → ready."""
        eps = [
            endpoint(self.lab.pods[p].ip, node=self.node_name, ready=ready)
            for p, ready in pods.items()
        ]
        body = endpoint_slice(
            service, eps, namespace=self.namespace, name=f"{service}-slice", labels=LABELS
        )
        try:
            current = await self.client.get(SLICES, f"{service}-slice", namespace=self.namespace)
        except errors.NotFound:
            return await self.client.create(SLICES, body, namespace=self.namespace)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return await self.client.update(SLICES, body, namespace=self.namespace)

    def applied(self) -> str:
        rs = self.proxier.ruleset
        return rs.text() if rs is not None else ""

    async def programmed(self, *needles: str, absent: tuple[str, ...] = ()) -> None:
        def ok() -> bool:
            text = self.applied()
            return all(n in text for n in needles) and not any(a in text for a in absent)

        await wait_until(ok, timeout=20, message=f"rules never showed {needles} / {absent}")

    def dnat(self, pod: str) -> str:
        return f"dnat to {self.lab.pods[pod].ip}:{HTTP_PORT}"


async def start_proxy(
    client: rest.RESTClient, node_name: str, cfg: ProxyConfig, metrics_bind: str | None = None
) -> tuple[proxier_mod.Proxier, asyncio.Event, asyncio.Task[None]]:
    ready: asyncio.Future[proxier_mod.Proxier] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(
        proxier_mod.run_proxy(
            client=client,
            node_name=node_name,
            config=cfg,
            stop=stop,
            metrics_bind=metrics_bind,
            on_ready=lambda p: ready.done() or ready.set_result(p),
        )
    )
    done, _ = await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        stop.set()
        await task  # raises what went wrong
        raise AssertionError("proxy did not sync")
    return ready.result(), stop, task


def proxy_config(lab: Lab) -> ProxyConfig:
    return ProxyConfig(
        table=f"pyk8s-proxy-test-{os.getpid()}",
        service_proxy_name=PROXY_NAME,
        drop_unallocated_cluster_ips=False,  # other test clusters' ClusterIPs are not ours
        manage_sysctls=False,  # the lab sets route_localnet on its own bridge only
        lease_duration=6.0,
        renew_deadline=4.0,
        retry_period=0.5,
    )


@pytest.fixture
async def h(
    client: rest.RESTClient, namespace: str, lab: Lab, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    node_name = f"kpx-node-{os.getpid()}-{lab.subnet}"
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name},
        "status": {"addresses": [{"type": "InternalIP", "address": lab.node_ip}]},
    }
    await client.create(NODES, node)
    cfg = proxy_config(lab)
    try:
        proxier, stop, task = await start_proxy(client, node_name, cfg, metrics_bind="127.0.0.1:0")
        try:
            await lab.wait_serving()
            yield Harness(client, namespace, lab, proxier, node_name)
        finally:
            stop.set()
            await task
            # the rules outlive the proxy (as upstream); cleanup removes them
            assert sh("nft", "list", "table", "ip", cfg.table, check=False).returncode == 0
            await proxier_mod.cleanup(cfg)
            assert sh("nft", "list", "table", "ip", cfg.table, check=False).returncode != 0
            await client.delete_collection(SERVICES, namespace=namespace)
    finally:
        await client.delete(NODES, node_name)


async def test_host_and_pod_reach_cluster_ip(h: Harness) -> None:
    svc = await h.service("web")
    await h.endpoints("web", {"a": True, "b": True})
    cip = svc["spec"]["clusterIP"]
    await h.programmed(f"{cip} . tcp . 80 : goto service-", h.dnat("a"), h.dnat("b"))
    seen: set[str] = set()
    for _ in range(60):  # random choice: both endpoints show up
        seen.add(await http_get(cip, 80))
        if seen == {"a", "b"}:
            break
    assert seen == {"a", "b"}
    assert await pod_get(h.lab.pods["c"], cip, 80) in ("a", "b")
    assert "default/kubernetes" not in h.applied()  # not labelled for this proxy


async def test_nodeport_on_localhost_and_node_ip(h: Harness) -> None:
    svc = await h.service("np", type="NodePort")
    await h.endpoints("np", {"b": True})
    node_port = svc["spec"]["ports"][0]["nodePort"]
    await h.programmed(f"tcp . {node_port} : goto external-", h.dnat("b"))
    assert await http_get("127.0.0.1", node_port) == "b"
    assert await http_get(h.lab.node_ip, node_port) == "b"
    assert await pod_get(h.lab.pods["c"], h.lab.node_ip, node_port) == "b"


async def test_no_endpoints_is_refused_at_once(h: Harness) -> None:
    svc = await h.service("empty", type="NodePort")
    cip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    await h.programmed(f'{cip} . tcp . 80 comment "{h.namespace}/empty:http" : goto reject-chain')
    # refused (ICMP port unreachable), not dropped: the error is ECONNREFUSED, not a timeout
    with pytest.raises(ConnectionRefusedError):
        await http_get(cip, 80, timeout=10)
    with pytest.raises(ConnectionRefusedError):
        await http_get("127.0.0.1", node_port, timeout=10)
    answer = await pod_get(h.lab.pods["a"], cip, 80, timeout=10)
    assert "refused" in answer.lower(), answer
    with pytest.raises(ConnectionRefusedError):  # a port the Service does not define
        await http_get(cip, 81, timeout=10)


async def test_endpoint_that_turns_not_ready_is_removed(h: Harness) -> None:
    svc = await h.service("flaky")
    await h.endpoints("flaky", {"a": True, "b": True})
    cip = svc["spec"]["clusterIP"]
    await h.programmed(h.dnat("a"), h.dnat("b"))
    await h.endpoints("flaky", {"a": True, "b": False})
    await h.programmed(h.dnat("a"), absent=(h.dnat("b"),))
    answers = {await http_get(cip, 80) for _ in range(20)}
    assert answers == {"a"}
    await h.endpoints("flaky", {"a": False, "b": False})
    await h.programmed(f"{cip} . tcp . 80 comment", absent=(h.dnat("a"),))
    with pytest.raises(ConnectionRefusedError):
        await http_get(cip, 80, timeout=10)


async def test_load_balancer_gets_the_node_address_and_carries_traffic(h: Harness) -> None:
    await h.service("lb", type="LoadBalancer")
    await h.endpoints("lb", {"c": True})

    async def status_ip(name: str) -> str:
        svc = await h.client.get(SERVICES, name, namespace=h.namespace)
        ingress = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
        return str(ingress[0].get("ip") or "")

    async with asyncio.timeout(20):
        while await status_ip("lb") != h.lab.node_ip:
            await asyncio.sleep(0.05)
    svc = await h.client.get(SERVICES, "lb", namespace=h.namespace)
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": h.lab.node_ip, "ipMode": "VIP"}]
    await h.programmed(f"{h.lab.node_ip} . tcp . 80 : goto external-", h.dnat("c"))
    assert await http_get(h.lab.node_ip, 80) == "c"
    assert await pod_get(h.lab.pods["a"], h.lab.node_ip, 80) == "c"

    # a second LoadBalancer on the same port finds no free address: pending, with an event
    await h.service("lb2", type="LoadBalancer")

    async def allocation_failed() -> bool:
        path = EVENTS_PATH.format(ns=h.namespace)
        listed = await h.client.request("GET", path)
        return any(
            e.get("reason") == "AllocationFailed"
            and (e.get("involvedObject") or {}).get("name") == "lb2"
            for e in listed.get("items") or []
        )

    async with asyncio.timeout(20):
        while not await allocation_failed():
            await asyncio.sleep(0.1)
    assert await status_ip("lb2") == ""

    # the first goes away: its address (and port) go to the second
    await h.client.delete(SERVICES, "lb", namespace=h.namespace)
    async with asyncio.timeout(20):
        while await status_ip("lb2") != h.lab.node_ip:
            await asyncio.sleep(0.05)


async def test_session_affinity_sticks(h: Harness) -> None:
    svc = await h.service(
        "sticky",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 300}},
    )
    await h.endpoints("sticky", {"a": True, "b": True})
    cip = svc["spec"]["clusterIP"]
    await h.programmed(h.dnat("a"), h.dnat("b"), "update @affinity-")
    from_pod = {await pod_get(h.lab.pods["c"], cip, 80) for _ in range(12)}
    assert len(from_pod) == 1 and from_pod <= {"a", "b"}
    from_host = {await http_get(cip, 80) for _ in range(12)}
    assert len(from_host) == 1
    # another sync (an unrelated Service) keeps the affinity entries
    await h.service("unrelated")
    await h.programmed(f"{h.namespace}/unrelated:http")
    assert {await pod_get(h.lab.pods["c"], cip, 80) for _ in range(6)} == from_pod


async def test_hairpin(h: Harness) -> None:
    svc = await h.service("self")
    await h.endpoints("self", {"a": True})
    cip = svc["spec"]["clusterIP"]
    await h.programmed(h.dnat("a"))
    assert await pod_get(h.lab.pods["a"], cip, 80) == "a"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [pytest.param("Local", {"a"}, id="local"), pytest.param("Cluster", {"a", "b"}, id="cluster")],
)
async def test_external_traffic_policy(h: Harness, policy: str, expected: set[str]) -> None:
    svc = await h.service("etp", type="NodePort", externalTrafficPolicy=policy)
    node_port = svc["spec"]["ports"][0]["nodePort"]
    body = endpoint_slice(
        "etp",
        [
            endpoint(h.lab.pods["a"].ip, node=h.node_name),
            endpoint(h.lab.pods["b"].ip, node="some-other-node"),
        ],
        namespace=h.namespace,
        labels=LABELS,
    )
    await h.client.create(SLICES, body, namespace=h.namespace)
    await h.programmed(h.dnat("a"), h.dnat("b"), f"tcp . {node_port} : goto external-")
    ext = h.lab.pods["ext"]
    seen: set[str] = set()
    for _ in range(24):  # a client off the cluster: Local keeps it on this node's endpoint
        seen.add(await pod_get(ext, h.lab.node_ip, node_port))
        if seen == {"a", "b"}:
            break
    assert seen == expected
    # pods and host processes are short-circuited to every endpoint (upstream's rules)
    assert await pod_get(h.lab.pods["c"], h.lab.node_ip, node_port) in ("a", "b")
    assert await http_get(h.lab.node_ip, node_port) in ("a", "b")


async def test_off_cluster_client_reaches_cluster_ip(h: Harness) -> None:
    svc = await h.service("outside")
    await h.endpoints("outside", {"b": True})
    cip = svc["spec"]["clusterIP"]
    await h.programmed(h.dnat("b"))
    # masqueraded (source not in the cluster CIDR), so the reply comes back through the node
    assert await pod_get(h.lab.pods["ext"], cip, 80) == "b"


async def test_metrics_and_healthz(h: Harness) -> None:
    await h.service("m")
    await h.programmed(f"{h.namespace}/m:http")
    async with aiohttp.ClientSession() as s:
        async with s.get(h.proxier.metrics_url + "/metrics") as r:
            text = await r.text()
        async with s.get(h.proxier.metrics_url + "/healthz") as r:
            status, health = r.status, await r.json()
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in text
    assert "kubeproxy_sync_proxy_rules_last_timestamp_seconds" in text
    assert status == 200 and health["nodeEligible"] is True


async def test_cli_runs_and_cleans_up(cluster: Cluster, lab: Lab, namespace: str) -> None:
    table = f"pyk8s-proxy-cli-{os.getpid()}"
    port = free_port()
    cmd = [
        sys.executable, "-m", "pyk8s.cli.main", "proxy",
        "--kubeconfig", str(cluster.kubeconfig),
        "--hostname-override", f"kpx-cli-{os.getpid()}",
        "--table", table,
        "--service-proxy-name", PROXY_NAME,
        "--drop-unallocated-cluster-ips", "false",
        "--localhost-nodeports", "false",
        "--disable-servicelb",
        "--metrics-bind", f"127.0.0.1:{port}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with rest.RESTClient(config_mod.load(kubeconfig_path=cluster.kubeconfig)) as c:
            svc = await c.create(
                SERVICES,
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "cli", "namespace": namespace, "labels": LABELS},
                    "spec": {"ports": [{"name": "http", "port": 80}]},
                },
                namespace=namespace,
            )
            await c.create(
                SLICES,
                endpoint_slice(
                    "cli", [endpoint(lab.pods["b"].ip)], namespace=namespace, labels=LABELS
                ),
                namespace=namespace,
            )
            cip = svc["spec"]["clusterIP"]

            def programmed() -> bool:
                cp = sh("nft", "list", "table", "ip", table, check=False)
                return f"dnat to {lab.pods['b'].ip}:{HTTP_PORT}" in cp.stdout and cip in cp.stdout

            await wait_until(programmed, timeout=30, message="the CLI proxy never programmed")
            await lab.wait_serving()
            assert await http_get(cip, 80) == "b"
            async with (
                aiohttp.ClientSession() as s,
                s.get(f"http://127.0.0.1:{port}/healthz") as r,
            ):
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode()[-2000:]
    cleaned = subprocess.run(
        [sys.executable, "-m", "pyk8s.cli.main", "proxy", "--cleanup", "--table", table],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert sh("nft", "list", "table", "ip", table, check=False).returncode != 0


class FlakyApplier:
    """Records scripts; fails the next ``fail`` applies (as nft refusing a transaction)."""

    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.fail = 0

    async def apply(self, script: str) -> None:
        if self.fail:
            self.fail -= 1
            raise proxier_mod.nftables.NftError("Error: Could not process rule: No such file")
        self.scripts.append(script)


async def test_first_sync_replaces_then_diffs_and_a_failure_replaces_again(
    client: rest.RESTClient, namespace: str
) -> None:
    applier = FlakyApplier()
    cfg = ProxyConfig(
        table="unused", service_proxy_name=PROXY_NAME, manage_sysctls=False, servicelb=False
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        proxier_mod.run_proxy(
            client=client, node_name="kpx-fake", config=cfg, stop=stop, applier=applier
        )
    )
    try:
        await wait_until(lambda: len(applier.scripts) == 1, timeout=20)
        assert applier.scripts[0].startswith("add table ip unused\ndelete table ip unused\n")

        async def add(name: str) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "labels": LABELS},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            }
            await client.create(SERVICES, body, namespace=namespace)

        await add("one")
        await wait_until(lambda: any(f"{namespace}/one:http" in s for s in applier.scripts[1:]))
        diff = applier.scripts[-1]
        assert "delete table" not in diff and "flush chain ip unused services" not in diff
        applier.fail = 1
        await add("two")
        await wait_until(lambda: any(f"{namespace}/two:http" in s for s in applier.scripts[2:]))
        assert applier.scripts[-1].startswith("add table ip unused\ndelete table ip unused\n")
    finally:
        stop.set()
        await task
        await client.delete_collection(SERVICES, namespace=namespace)
