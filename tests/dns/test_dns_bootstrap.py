"""bootstrap: the kube-dns Service and its node EndpointSlice, and what DNS makes of them;
the ``pyk8s dns`` command against a real apiserver."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from dnstesting import answers, build_zone, query_packet

from cluster import Cluster, free_port
from pyk8s.dns import bootstrap, records, zone
from pyk8s.dns.records import QType


@pytest.mark.parametrize(
    ("cidr", "ip"),
    [
        pytest.param("10.96.0.0/12", "10.96.0.10", id="kubeadm-default"),
        pytest.param("10.43.0.0/16", "10.43.0.10", id="k3s-like"),
        pytest.param("fd00:10:96::/112", "fd00:10:96::a", id="ipv6"),
    ],
)
def test_dns_service_ip(cidr: str, ip: str) -> None:
    assert bootstrap.dns_service_ip(cidr) == ip


def test_kube_dns_service_manifest() -> None:
    svc = bootstrap.kube_dns_service()
    assert (svc["metadata"]["namespace"], svc["metadata"]["name"]) == ("kube-system", "kube-dns")
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert svc["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
        ("metrics", 9153, "TCP"),
    ]
    assert "selector" not in svc["spec"]
    assert bootstrap.kube_dns_service(selector=True)["spec"]["selector"] == {"k8s-app": "kube-dns"}


def test_kube_dns_is_served_as_the_zone_nameserver() -> None:
    sl = bootstrap.kube_dns_endpoint_slice(addresses=["192.168.5.1"], node_name="n1")
    assert sl["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    z = build_zone([bootstrap.kube_dns_service()], [sl], namespaces=["kube-system"])
    name = ("kube-dns", "kube-system", "svc", "cluster", "local")
    assert [r.data for r in records.resolve(z, name, QType.A).answer] == ["10.96.0.10"]
    srv = records.resolve(z, ("_dns", "_udp", *name), QType.SRV).answer
    assert [(r.data.port, r.data.target) for r in srv if isinstance(r.data, records.Srv)] == [
        (53, "kube-dns.kube-system.svc.cluster.local.")
    ]
    ns = records.resolve(z, ("cluster", "local"), QType.NS)
    assert [r.data for r in ns.additional] == ["10.96.0.10"]
    entry = z.services[("kube-system", "kube-dns")]
    assert [e.ip for e in entry.endpoints] == ["192.168.5.1"]
    assert zone.ZONE_TAG in z.remove(entry.key), "the apex NS answers depend on it"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        with e:
            return int(e.code)
    except OSError:
        return 0


def _udp(port: int, packet: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(packet, ("127.0.0.1", port))
        return s.recv(65535)


def _free_dns_port() -> int:
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def test_cli_serves_until_sigterm(cluster: Cluster) -> None:
    status, body, _ = cluster.request("GET", "/api/v1/namespaces/default/services/kubernetes")
    assert status == 200, body
    port, metrics = _free_dns_port(), free_port()
    cmd = [
        sys.executable, "-m", "pyk8s.cli.main", "dns",
        "--kubeconfig", str(cluster.kubeconfig),
        "--bind", f"127.0.0.1:{port}",
        "--upstream", f"127.0.0.1:{free_port()}",  # loopback, nobody there
        "--metrics-bind", f"127.0.0.1:{metrics}",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 30
        while _get(f"http://127.0.0.1:{metrics}/ready") != 200:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "pyk8s dns not ready"
            time.sleep(0.05)
        reply = _udp(port, query_packet("kubernetes.default.svc.cluster.local."))
        assert answers(reply) == [
            ("kubernetes.default.svc.cluster.local.", "A", body["spec"]["clusterIP"])
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--upstream", "not-an-ip"], id="bad-upstream"),
        pytest.param(["--bind", "127.0.0.1:x"], id="bad-bind"),
    ],
)
def test_cli_rejects_bad_flags(cluster: Cluster, args: list[str]) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pyk8s.cli.main",
        "dns",
        "--kubeconfig",
        str(cluster.kubeconfig),
        *args,
    ]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 2, cp.stderr
    assert "pyk8s dns: error" in cp.stderr
