"""NetworkPolicy enforcement end to end: network namespaces play pods on a test bridge, Pod
objects in a real apiserver carry their IPs, ``run_netpol`` programs nftables, and real TCP
connections between the namespaces are allowed or dropped as the policies say.

Pods are netns ``<prefix>-a`` (web: HTTP servers on 8080 and 8081), ``-b`` (a client in the
web pod's namespace) and ``-c`` (a client in another namespace), on a bridge with a
10.244.N.0/24 of the cluster CIDR that no other route uses. A dropped connection times out
(1 s); a port nobody listens on is refused — so "timeout" proves a drop by the ruleset.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from cluster import Cluster
from pyk8s.client import config, rest, testing
from pyk8s.proxy import netpol, netpol_rules

Obj = dict[str, Any]

NODE = f"netpol-node-{os.getpid()}"
TABLE = f"pyk8s-netpol-t{os.getpid()}"
POLICIES = netpol.NETWORKPOLICIES
_names = itertools.count()


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=30)


def free_subnet() -> int:
    """A 10.244.N.0/24 that no route on this machine mentions."""
    used = sh("ip", "-4", "route", "show", "table", "all").stdout
    for n in range(230, 255):
        if f"10.244.{n}." not in used:
            return n
    raise RuntimeError("no free 10.244.N.0/24 for the test bridge")


@dataclass
class Net:
    prefix: str
    bridge: str
    subnet: int
    servers: list[subprocess.Popen[bytes]]

    def ip(self, pod: str) -> str:
        host = {"a": 10, "b": 11, "c": 12}[pod]
        return f"10.244.{self.subnet}.{host}"

    def netns(self, pod: str) -> str:
        return f"{self.prefix}-{pod}"

    @property
    def host_ip(self) -> str:
        return f"10.244.{self.subnet}.1"


PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
    print("connected")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"""


async def probe(net: Net, src: str | None, dst: str, port: int = 8080) -> str:
    """Connect from pod ``src`` (None: the host) to pod ``dst`` (or an address):
    connected/refused/timeout."""
    cmd = [sys.executable, "-c", PROBE, dst if "." in dst else net.ip(dst), str(port)]
    if src is not None:
        cmd = ["ip", "netns", "exec", net.netns(src), *cmd]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return out.decode().strip()


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    # ENVIRONMENT.md: keep cluster and service addresses on this machine. These routes
    # are the agents' baseline and are left in place.
    sh("ip", "route", "replace", "blackhole", "10.244.0.0/16")
    sh("ip", "route", "replace", "local", "10.96.0.0/12", "dev", "lo", "table", "local")
    subnet = free_subnet()
    prefix = f"npt{os.getpid() % 100000}"
    n = Net(prefix=prefix, bridge=f"{prefix}br", subnet=subnet, servers=[])
    try:
        sh("ip", "link", "add", n.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{n.host_ip}/24", "dev", n.bridge)
        sh("ip", "link", "set", n.bridge, "up")
        for pod in "abc":
            ns, veth = n.netns(pod), f"{prefix}{pod}"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", veth, "master", n.bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{n.ip(pod)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for port in ("8080", "8081"):
            n.servers.append(
                subprocess.Popen(
                    [
                        *("ip", "netns", "exec", n.netns("a"), sys.executable, "-m", "http.server"),
                        *(port, "--bind", n.ip("a")),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield n
    finally:
        for proc in n.servers:
            proc.terminate()
            proc.wait(10)
        for pod in "abc":
            sh("ip", "netns", "del", n.netns(pod), check=False)
        sh("ip", "link", "del", n.bridge, check=False)


async def servers_up(net: Net) -> None:
    async def up() -> bool:
        return all([await probe(net, "b", "a", p) == "connected" for p in (8080, 8081)])

    deadline = asyncio.get_running_loop().time() + 20
    while not await up():
        assert asyncio.get_running_loop().time() < deadline, "test HTTP servers did not start"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig)) as c:
        yield c


@dataclass
class World:
    net: Net
    client: rest.RESTClient
    ns: str  # web and client "b"
    other_ns: str  # client "c"
    team: str  # other_ns's team label

    async def policy(self, name: str, spec: Obj) -> None:
        await self.client.create(
            POLICIES, {"metadata": {"name": name, "namespace": self.ns}, "spec": spec}
        )

    async def rules_contain(self, *lines: str) -> None:
        """Wait until the programmed table has these rule lines (as nft lists them)."""

        def present() -> bool:
            out = sh("nft", "list", "table", "inet", TABLE, check=False).stdout
            return all(line in out for line in lines)

        deadline = asyncio.get_running_loop().time() + 20
        while not present():
            assert asyncio.get_running_loop().time() < deadline, f"rules never had {lines}"
            await asyncio.sleep(0.05)


def pod(name: str, namespace: str, labels: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "nodeName": NODE,
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "ports": [
                        {"name": "http", "containerPort": 8080},
                        {"name": "alt", "containerPort": 8081},
                    ],
                }
            ],
        },
    }


@pytest_asyncio.fixture
async def world(net: Net, client: rest.RESTClient, namespace: str) -> AsyncIterator[World]:
    await servers_up(net)
    team = f"team{next(_names)}-{os.getpid()}"
    other = await client.create(
        netpol.NAMESPACES, {"metadata": {"name": f"{namespace}-o", "labels": {"team": team}}}
    )
    w = World(net, client, namespace, other["metadata"]["name"], team)
    created: list[tuple[str, str]] = []
    for name, ns, labels, which in (
        ("web", w.ns, {"app": "web"}, "a"),
        ("client", w.ns, {"app": "client"}, "b"),
        ("outsider", w.other_ns, {"app": "client"}, "c"),
    ):
        await client.create(netpol.PODS, pod(name, ns, labels))
        created.append((ns, name))
        ip = net.ip(which)
        await client.patch(
            netpol.PODS,
            name,
            {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}},
            namespace=ns,
            subresource="status",
        )
    stop = asyncio.Event()
    task = asyncio.ensure_future(
        netpol.run_netpol(
            client=client,
            node_name=NODE,
            config=netpol.NetpolConfig(table=TABLE, min_sync_interval=0.05),
            stop=stop,
        )
    )
    try:
        await w.rules_contain("chain forward")
        yield w
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await netpol.remove_ruleset(TABLE)
        for ns, name in created:  # the same IPs come back in the next test's pods
            await client.delete(netpol.PODS, name, namespace=ns, grace_period_seconds=0)
        await client.delete(netpol.NAMESPACES, w.other_ns)


async def test_without_policies_every_pod_is_reachable(world: World) -> None:
    assert await probe(world.net, "b", "a") == "connected"
    assert await probe(world.net, "c", "a") == "connected"
    assert await probe(world.net, "b", "a", 9) == "refused"


async def test_default_deny_then_allow_by_pod_selector_and_named_port(world: World) -> None:
    net = world.net
    await world.policy("deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    await world.rules_contain(f"{net.ip('a')} : jump ingress-{net.ip('a')}")
    assert await probe(net, "b", "a") == "timeout"
    assert await probe(net, "c", "a") == "timeout"
    assert await probe(net, None, "a") == "connected"  # the node always reaches its pods
    assert await probe(net, "a", "c", 9) == "refused"  # egress and its replies pass

    await world.policy(
        "web-from-clients",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                    "ports": [{"port": "http"}],
                }
            ],
        },
    )
    await world.rules_contain(f"ip saddr {net.ip('b')} tcp dport 8080 return")
    assert await probe(net, "b", "a") == "connected"
    assert await probe(net, "b", "a", 8081) == "timeout"  # only the named port
    assert await probe(net, "c", "a") == "timeout"  # same labels, other namespace


async def test_namespace_selector(world: World) -> None:
    net = world.net
    await world.policy(
        "web-from-team",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": world.team}}}]}],
        },
    )
    await world.rules_contain(f"ip saddr {net.ip('c')} return")
    assert await probe(net, "c", "a") == "connected"
    assert await probe(net, "c", "a", 8081) == "connected"
    assert await probe(net, "b", "a") == "timeout"


async def test_ip_block_with_except(world: World) -> None:
    net = world.net
    subnet = f"10.244.{net.subnet}.0/24"
    await world.policy(
        "web-from-block",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": subnet, "except": [f"{net.ip('c')}/32"]}}],
                    "ports": [{"port": 8080, "endPort": 8081}],
                }
            ],
        },
    )
    await world.rules_contain(f"ip saddr {subnet} ip saddr != {net.ip('c')}")
    assert await probe(net, "b", "a") == "connected"
    assert await probe(net, "b", "a", 8081) == "connected"
    assert await probe(net, "c", "a") == "timeout"


async def test_egress_isolation_with_a_port_exception(world: World) -> None:
    net = world.net
    await world.policy(
        "client-out",
        {
            "podSelector": {"matchLabels": {"app": "client"}},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"port": 8081}]}],
        },
    )
    await world.rules_contain(f"{net.ip('b')} : jump egress-{net.ip('b')}")
    assert await probe(net, "b", "a", 8081) == "connected"
    assert await probe(net, "b", "a") == "timeout"
    assert await probe(net, "c", "a") == "connected"  # its egress is judged by nobody here
    assert await probe(net, "a", "b", 9) == "refused"  # ingress to b stays open
    # pods always reach their node (through input, never forward)
    server = await asyncio.start_server(lambda _r, w: w.close(), net.host_ip, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        assert await probe(net, "b", net.host_ip, port) == "connected"


async def test_the_table_is_replaced_atomically_and_removed(world: World) -> None:
    await world.policy("deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    await world.rules_contain(f"jump ingress-{world.net.ip('a')}")
    await world.client.delete(POLICIES, "deny", namespace=world.ns)
    await testing.wait_until(
        lambda: "jump ingress-" not in sh("nft", "list", "table", "inet", TABLE).stdout,
        timeout=20,
    )
    assert await probe(world.net, "b", "a") == "connected"


# -- the renderer's output is valid nft (checked by nft itself, nothing applied) -------------


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, id="deny-all"),
        pytest.param(
            {
                "podSelector": {},
                "ingress": [
                    {
                        "from": [
                            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                            {"podSelector": {}},
                        ],
                        "ports": [
                            {"port": 80},
                            {"port": 8000, "endPort": 8100},
                            {"port": "http"},
                            {"protocol": "UDP"},
                            {"protocol": "SCTP", "port": 9},
                        ],
                    },
                    {},
                ],
                "egress": [
                    {"ports": [{"port": 53, "protocol": "UDP"}, {"port": "http"}]},
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}}]},
                ],
            },
            id="everything",
        ),
    ],
)
def test_rendered_rulesets_pass_nft_check(spec: Obj) -> None:
    pods = [
        {
            "metadata": {"name": f"p{i}", "namespace": "ns", "labels": {"app": "x"}},
            "spec": {
                "nodeName": "n",
                "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 80}]}],
            },
            "status": {"podIP": f"10.244.7.{i}"},
        }
        for i in range(2, 6)
    ]
    rs = netpol_rules.compute(
        policies=[{"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}],
        pods=pods,
        namespaces=[],
        node_name="n",
    )
    assert len(rs.pods) == 4
    text = netpol_rules.render(rs, table="pyk8s-netpol-check")
    cp = subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr + text
