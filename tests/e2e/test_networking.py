"""e2e: cluster networking on a real node, through the real kubectl and real pods (issue 8).

One ``RealCluster`` for the module (containerd pods on a CNI bridge, the nftables service
proxy, NetworkPolicy, cluster DNS, the nginx ingress controller). In one namespace: a
Deployment ``web`` of two busybox httpd pods that serve their hostname (readiness probe on
``/index.html``), a second backend ``other``, a client pod, Services of every type, a
StatefulSet with its governing headless Service, an Ingress with TLS from a Secret and
NetworkPolicies. Checks, in order: ClusterIP and DNS names from the client pod; headless
A records; SRV and pod names of the StatefulSet; ExternalName as a CNAME; NodePort and
LoadBalancer from the host; ``kubectl port-forward``; Ingress routing over HTTP and HTTPS
with SNI; readiness taking a pod out of its Service; NetworkPolicy deny then allow.

Traffic stays on this machine: pods, ClusterIPs, the node's own address and loopback.
Every wait is a condition with a deadline.
"""

from __future__ import annotations

import datetime
import http.client
import json
import select
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cluster import free_port, kubectl_binary
from realnode import TESTBOX, RealCluster

pytestmark = pytest.mark.e2e

NS = "nw"
HOST_A, HOST_B = "a.nw.test", "b.nw.test"
T = TypeVar("T")

SERVE = "mkdir -p /www/web /www/api && hostname | tee /www/index.html > /www/web/index.html"
OTHER = "mkdir -p /www/api && echo other > /www/index.html && echo other-api > /www/api/index.html"


def until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
        except (OSError, AssertionError, subprocess.SubprocessError, ValueError) as exc:
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(0.2)


def httpd(name: str, script: str, labels: dict[str, str], probe: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "httpd",
        "image": TESTBOX,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", f"{script} && exec httpd -f -p 8080 -h /www"],
        "ports": [{"name": "http", "containerPort": 8080}],
    }
    if probe:
        container["readinessProbe"] = {
            "httpGet": {"path": "/index.html", "port": 8080},
            "periodSeconds": 1,
            "failureThreshold": 1,
        }
    return {
        "metadata": {"labels": labels},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]},
    }


def service(name: str, selector: dict[str, str], port: int = 80, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
            **spec,
        },
    }


def manifests(lb_port: int, cert_pem: str, key_pem: str) -> list[dict[str, Any]]:
    web, other, db = {"app": "web"}, {"app": "other"}, {"app": "db"}

    def deployment(name: str, labels: dict[str, str], replicas: int, script: str) -> Any:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": httpd(name, script, labels, probe=True),
            },
        }

    def path(p: str, kind: str, svc: str) -> dict[str, Any]:
        port = {"number": 80} if svc == "web" else {"name": "http"}
        return {"path": p, "pathType": kind, "backend": {"service": {"name": svc, "port": port}}}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        deployment("web", web, 2, SERVE),
        deployment("other", other, 1, OTHER),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": NS, "labels": {"role": "client"}},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "c",
                        "image": TESTBOX,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sleep", "3600"],
                    }
                ],
            },
        },
        service("web", web),
        service("other", other),
        service("web-headless", web, clusterIP="None"),
        service("web-np", web, type="NodePort"),
        service("web-lb", web, port=lb_port, type="LoadBalancer"),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ext", "namespace": NS},
            "spec": {"type": "ExternalName", "externalName": f"web.{NS}.svc.cluster.local"},
        },
        service("db", db, port=8080, clusterIP="None"),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": NS},
            "spec": {
                "serviceName": "db",
                "replicas": 1,
                "selector": {"matchLabels": db},
                "template": httpd("db", SERVE, db, probe=False),
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "a-tls", "namespace": NS},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": cert_pem, "tls.key": key_pem},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "routes",
                "namespace": NS,
                # plain HTTP to the TLS host too, so all four routes are checked over HTTP
                "annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false"},
            },
            "spec": {
                "tls": [{"hosts": [HOST_A], "secretName": "a-tls"}],
                "rules": [
                    {
                        "host": HOST_A,
                        "http": {
                            "paths": [path("/", "Prefix", "web"), path("/api", "Prefix", "other")]
                        },
                    },
                    {
                        "host": HOST_B,
                        "http": {
                            "paths": [path("/", "Prefix", "other"), path("/web", "Prefix", "web")]
                        },
                    },
                ],
            },
        },
    ]


def self_signed(host: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


class Net:
    """The module's cluster and what the tests share about it."""

    def __init__(self, rc: RealCluster, cert_pem: str, lb_port: int) -> None:
        self.rc, self.cert_pem, self.lb_port = rc, cert_pem, lb_port

    def k(self, *args: str, check: bool = True, timeout: float = 30) -> str:
        return str(self.rc.kubectl("-n", NS, *args, check=check, timeout=timeout).stdout)

    def get(self, *args: str) -> Any:
        return json.loads(self.k("get", *args, "-o", "json"))

    def sh(self, script: str, pod: str = "client") -> subprocess.CompletedProcess[str]:
        cp: subprocess.CompletedProcess[str] = self.rc.kubectl(
            "-n", NS, "exec", pod, "--", "sh", "-c", script, check=False, timeout=30
        )
        return cp

    def fetch(self, url: str, seconds: int = 5) -> str | None:
        """GET from the client pod; the body, or None when it failed."""
        cp = self.sh(f"timeout {seconds} wget -qO- {url}")
        return cp.stdout.strip() if cp.returncode == 0 else None

    def web_pods(self) -> dict[str, str]:
        pods = self.get("pods", "-l", "app=web")["items"]
        return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in pods}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    rc = RealCluster(tmp_path_factory.mktemp("netnode"))
    try:
        rc.start()
        cert_pem, key_pem = self_signed(HOST_A)
        lb_port = free_port()
        n = Net(rc, cert_pem, lb_port)
        docs = "\n".join(json.dumps(d) for d in manifests(lb_port, cert_pem, key_pem))
        rc.kubectl("apply", "-f", "-", input=docs)
        n.k("rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
        n.k("rollout", "status", "deployment/other", "--timeout=90s", timeout=100)
        n.k("wait", "--for=condition=Ready", "pod/client", "pod/db-0", "--timeout=90s", timeout=100)
        yield n
    finally:
        problems = rc.stop()
        assert problems == [], problems


def host_get(
    host: str, port: int, path: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    conn = http.client.HTTPConnection(host, port, timeout=3)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode().strip()
    finally:
        conn.close()


# ---------------------------------------------------------------------- from a pod


def both_answer(net: Net, ip: str, pods: set[str]) -> bool:
    """Every pod of ``pods`` answers within a few requests through ``ip``."""
    seen = {net.fetch(f"http://{ip}/") for _ in range(3 * len(pods))}
    return seen >= pods


def test_cluster_ip_and_service_names_from_a_pod(net: Net) -> None:
    pods = net.web_pods()
    cluster_ip = net.get("service", "web")["spec"]["clusterIP"]
    for target in (cluster_ip, "web", f"web.{NS}", f"web.{NS}.svc.cluster.local"):
        body = until(lambda t=target: net.fetch(f"http://{t}/"), 30, f"GET http://{target}/")
        assert body in pods, (target, body)
    # both endpoints answer through the ClusterIP
    until(lambda: both_answer(net, cluster_ip, set(pods)), 30, "both web pods via the ClusterIP")


def test_headless_service_returns_every_ready_pod(net: Net) -> None:
    ips = set(net.web_pods().values())
    assert len(ips) == 2 and all(ips)
    name = f"web-headless.{NS}.svc.cluster.local"

    def answered() -> bool:
        out = net.sh(f"nslookup {name}").stdout
        return all(f"Address: {ip}" in out for ip in ips)

    until(answered, 30, f"{name} answering {sorted(ips)}")


def test_statefulset_srv_and_pod_names(net: Net) -> None:
    db0_ip = net.get("pod", "db-0")["status"]["podIP"]
    srv = f"_http._tcp.db.{NS}.svc.cluster.local"
    out = until(
        lambda: (o := net.sh(f"nslookup -type=SRV {srv}").stdout) and "service =" in o and o,
        30,
        f"SRV {srv}",
    )
    assert f"8080 db-0.db.{NS}.svc.cluster.local" in out, out
    pod_name = f"db-0.db.{NS}.svc.cluster.local"
    until(
        lambda: f"Address: {db0_ip}" in net.sh(f"nslookup {pod_name}").stdout,
        30,
        f"{pod_name} → {db0_ip}",
    )
    assert net.fetch(f"http://{pod_name}:8080/") == "db-0"


def test_external_name_is_a_cname(net: Net) -> None:
    name = f"ext.{NS}.svc.cluster.local"
    out = until(
        lambda: (o := net.sh(f"nslookup {name}").stdout) and "canonical name" in o and o,
        30,
        f"CNAME for {name}",
    )
    assert f"{name}\tcanonical name = web.{NS}.svc.cluster.local" in out, out
    assert f"Address: {net.get('service', 'web')['spec']['clusterIP']}" in out, out


# ---------------------------------------------------------------------- from the host


def node_ip(net: Net) -> str:
    node = json.loads(net.rc.kubectl("get", "node", net.rc.node_name, "-o", "json").stdout)
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


def test_node_port_and_load_balancer_from_the_host(net: Net) -> None:
    pods = net.web_pods()
    node_port = net.get("service", "web-np")["spec"]["ports"][0]["nodePort"]
    for host in ("127.0.0.1", node_ip(net)):
        status, body = until(lambda h=host: host_get(h, node_port), 30, f"{host}:{node_port}")
        assert status == 200 and body in pods, (host, status, body)

    def lb_ip() -> str | None:
        ingress = net.get("service", "web-lb").get("status", {}).get("loadBalancer", {})
        return (ingress.get("ingress") or [{}])[0].get("ip")

    ip = until(lb_ip, 30, "status.loadBalancer.ingress[0].ip of web-lb")
    status, body = until(lambda: host_get(ip, net.lb_port), 30, f"{ip}:{net.lb_port}")
    assert status == 200 and body in pods, (status, body)


def test_port_forward_to_the_service(net: Net) -> None:
    local = free_port()
    rc = net.rc
    cmd = [kubectl_binary(), "--kubeconfig", str(rc.kubeconfig), "-n", NS, "port-forward"]
    proc = subprocess.Popen(
        [*cmd, "svc/web", f"{local}:80"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        seen = ""
        while "Forwarding from" not in seen:
            left = deadline - time.monotonic()
            assert left > 0 and proc.poll() is None, f"port-forward did not start: {seen}"
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                seen += proc.stdout.readline()
        status, body = host_get("127.0.0.1", local)
        assert status == 200 and body in net.web_pods(), (status, body)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_ingress_routes_hosts_and_paths_and_serves_tls(net: Net, tmp_path: Path) -> None:
    pods = net.web_pods()
    port = net.rc.http_port
    routes = [
        (HOST_A, "/", pods),
        (HOST_A, "/api/", {"other-api"}),
        (HOST_B, "/", {"other"}),
        (HOST_B, "/web/", pods),
    ]
    for host, path, expected in routes:
        status, body = until(
            lambda h=host, p=path: (
                (r := host_get("127.0.0.1", port, p, {"Host": h}))[0] == 200 and r
            ),
            30,
            f"http://{host}{path} through the ingress",
        )
        assert body in expected, (host, path, body)
    status, _ = host_get("127.0.0.1", port, "/", {"Host": "nobody.nw.test"})
    assert status == 404

    ca = tmp_path / "a.crt"
    ca.write_text(net.cert_pem)
    ctx = ssl.create_default_context(cafile=str(ca))
    mine = ssl.PEM_cert_to_DER_cert(net.cert_pem)

    def https(path: str) -> tuple[bytes | None, int, str]:
        raw = socket.create_connection(("127.0.0.1", net.rc.https_port), timeout=3)
        with raw, ctx.wrap_socket(raw, server_hostname=HOST_A) as tls:
            served = tls.getpeercert(binary_form=True)
            tls.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {HOST_A}\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
        head, _, body = data.decode().partition("\r\n\r\n")
        return served, int(head.split()[1]), body.strip()

    served, status, body = until(
        lambda: (r := https("/"))[1] == 200 and r, 30, f"https://{HOST_A}/ with SNI"
    )
    assert served == mine
    assert body in pods, body
    assert https("/api/")[1:] == (200, "other-api")


# ---------------------------------------------------------------------- readiness and policy


def test_readiness_takes_a_pod_out_of_the_service(net: Net) -> None:
    pods = net.web_pods()
    unready, other = sorted(pods)
    cluster_ip = net.get("service", "web")["spec"]["clusterIP"]

    def endpoint_ready(pod: str) -> bool | None:
        for s in net.get("endpointslices", "-l", "kubernetes.io/service-name=web")["items"]:
            for e in s.get("endpoints") or []:
                if (e.get("targetRef") or {}).get("name") == pod:
                    return bool(e.get("conditions", {}).get("ready"))
        return None

    assert net.sh("rm /www/index.html", pod=unready).returncode == 0
    try:
        until(lambda: endpoint_ready(unready) is False, 30, f"{unready} not ready in the slice")
        assert endpoint_ready(other) is True
        until(
            lambda: [net.fetch(f"http://{cluster_ip}/") for _ in range(6)] == [other] * 6,
            30,
            f"only {other} answering through the ClusterIP",
        )
    finally:
        net.sh("hostname > /www/index.html", pod=unready)
    until(lambda: endpoint_ready(unready), 30, f"{unready} ready again")
    until(lambda: both_answer(net, cluster_ip, set(pods)), 30, "both pods answering again")


DENY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny", "namespace": NS},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}
ALLOW = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "allow-client", "namespace": NS},
    "spec": {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                "ports": [{"port": 8080}],
            }
        ],
    },
}


def test_network_policy_deny_then_allow(net: Net) -> None:
    web_ip = net.get("service", "web")["spec"]["clusterIP"]
    other_ip = net.get("service", "other")["spec"]["clusterIP"]
    assert net.fetch(f"http://{web_ip}/") is not None
    net.rc.kubectl("apply", "-f", "-", input=json.dumps(DENY))
    try:
        until(lambda: net.fetch(f"http://{web_ip}/", 2) is None, 30, "client → web blocked")
        net.rc.kubectl("apply", "-f", "-", input=json.dumps(ALLOW))
        body = until(lambda: net.fetch(f"http://{web_ip}/", 2), 30, "client → web allowed")
        assert body in net.web_pods()
        # the allow rule selects web only: other stays denied
        assert net.fetch(f"http://{other_ip}/", 2) is None
    finally:
        net.k("delete", "networkpolicy", "default-deny", "allow-client", "--ignore-not-found")
    until(lambda: net.fetch(f"http://{other_ip}/", 2), 30, "client → other after the policies")
