"""A throw-away pod network for proxy tests and benchmarks: network namespaces ("pods") on a
test bridge, each with a busybox httpd answering ``GET /id`` with the pod's name.

Safety (ENVIRONMENT.md): the cluster CIDR's blackhole route and the service CIDR's local
route are ensured first (``pyk8s.kubelet.netsafety``; they are never removed — they only
keep traffic in). The lab takes a 10.244.N.0/24 no route on the machine mentions, gives the
bridge 10.244.N.1 and a node address 198.51.100.N/32 (TEST-NET-2, local to this machine),
and gives pods routes to the service CIDR, the cluster CIDR and the node address only —
no default route, so nothing a pod sends can leave the machine. Forwarding and
route_localnet are switched on for the test bridge only (per-device sysctls, gone with
the device). Hairpin mode is on for every bridge port, as the CNI bridge plugin's
``hairpinMode`` does. ``close()`` stops the servers (by PID), deletes the namespaces and
the bridge.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pyk8s.kubelet import netsafety

SERVICE_CIDR = "10.96.0.0/12"
CLUSTER_CIDR = "10.244.0.0/16"
HTTP_PORT = 8080


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cp = subprocess.run(cmd, capture_output=True, text=True)
    if check and cp.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {cp.stderr.strip()}")
    return cp


def free_subnet() -> int:
    """N of a 10.244.N.0/24 (and 198.51.100.N) that nothing on this machine uses."""
    used = sh("ip", "-4", "route", "show", "table", "all").stdout + sh("ip", "-4", "addr").stdout
    start = 100 + secrets.randbelow(100)
    for i in range(150):
        n = 100 + (start - 100 + i) % 150
        if f"10.244.{n}." not in used and f"198.51.100.{n}/" not in used:
            return n
    raise RuntimeError("no free 10.244.N.0/24 for a test bridge")


@dataclass
class Pod:
    name: str
    netns: str
    ip: str
    veth: str
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Lab:
    prefix: str
    subnet: int
    bridge: str
    root: Path
    pods: dict[str, Pod] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"10.244.{self.subnet}.1"

    @property
    def node_ip(self) -> str:
        return f"198.51.100.{self.subnet}"

    @property
    def external_ip(self) -> str:
        """The address of the "off-cluster client" namespace (``add_external``)."""
        return f"203.0.113.{self.subnet}"

    @property
    def pod_cidr(self) -> str:
        return f"10.244.{self.subnet}.0/24"

    def add_pod(self, name: str) -> Pod:
        index = len(self.pods) + 10
        pod = Pod(
            name=name,
            netns=f"{self.prefix}-{name}",
            ip=f"10.244.{self.subnet}.{index}",
            veth=f"{self.prefix}{index}",
        )
        self.pods[name] = pod
        sh("ip", "netns", "add", pod.netns)
        sh(
            "ip",
            "link",
            "add",
            pod.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            pod.netns,
        )
        sh("ip", "link", "set", pod.veth, "master", self.bridge, "up")
        sh("bridge", "link", "set", "dev", pod.veth, "hairpin", "on")
        ns = ("ip", "-n", pod.netns)
        sh(*ns, "link", "set", "lo", "up")
        sh(*ns, "addr", "add", f"{pod.ip}/24", "dev", "eth0")
        sh(*ns, "link", "set", "eth0", "up")
        for dst in (SERVICE_CIDR, CLUSTER_CIDR, f"{self.node_ip}/32", f"{self.external_ip}/32"):
            sh(*ns, "route", "add", dst, "via", self.gateway)
        docroot = self.root / name
        docroot.mkdir()
        (docroot / "id").write_text(name)
        pod.proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                pod.netns,
                "busybox",
                "httpd",
                "-f",
                "-p",
                f"0.0.0.0:{HTTP_PORT}",
                "-h",
                str(docroot),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return pod

    def add_external(self, name: str = "ext") -> Pod:
        """A client outside the cluster CIDR (203.0.113.N) on the bridge: it reaches only the
        node address and the service CIDR through it, and the host routes replies back."""
        pod = Pod(
            name=name, netns=f"{self.prefix}-{name}", ip=self.external_ip, veth=f"{self.prefix}x"
        )
        self.pods[name] = pod
        sh("ip", "netns", "add", pod.netns)
        sh(
            "ip",
            "link",
            "add",
            pod.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            pod.netns,
        )
        sh("ip", "link", "set", pod.veth, "master", self.bridge, "up")
        ns = ("ip", "-n", pod.netns)
        sh(*ns, "link", "set", "lo", "up")
        sh(*ns, "addr", "add", f"{pod.ip}/32", "dev", "eth0")
        sh(*ns, "link", "set", "eth0", "up")
        sh(*ns, "route", "add", f"{self.node_ip}/32", "dev", "eth0")
        sh(*ns, "route", "add", SERVICE_CIDR, "via", self.node_ip, "dev", "eth0", "onlink")
        sh("ip", "route", "add", f"{pod.ip}/32", "dev", self.bridge)  # goes with the bridge
        return pod

    async def wait_serving(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            for pod in self.pods.values():
                if pod.proc is None:
                    continue
                while True:
                    try:
                        if await http_get(pod.ip, HTTP_PORT, timeout=1.0) == pod.name:
                            break
                    except OSError:
                        pass
                    await asyncio.sleep(0.02)

    def close(self) -> None:
        for pod in self.pods.values():
            if pod.proc is not None and pod.proc.poll() is None:
                pod.proc.terminate()
                try:
                    pod.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pod.proc.kill()
                    pod.proc.wait(5)
            sh("ip", "netns", "del", pod.netns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def open_lab() -> Lab:
    netsafety.ensure_routes_blocking(service_cidr=SERVICE_CIDR, cluster_cidr=CLUSTER_CIDR)
    prefix = f"kpx{secrets.token_hex(3)}"
    subnet = free_subnet()
    lab = Lab(
        prefix=prefix,
        subnet=subnet,
        bridge=f"{prefix}br",
        root=Path(tempfile.mkdtemp(prefix="kpxlab-")),
    )
    try:
        sh("ip", "link", "add", lab.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{lab.gateway}/24", "dev", lab.bridge)
        sh("ip", "addr", "add", f"{lab.node_ip}/32", "dev", lab.bridge)
        sh("ip", "link", "set", lab.bridge, "up")
        for key in ("forwarding", "route_localnet"):
            Path(f"/proc/sys/net/ipv4/conf/{lab.bridge}/{key}").write_text("1")
    except BaseException:
        lab.close()
        raise
    return lab


async def http_get(host: str, port: int, path: str = "/id", *, timeout: float = 5.0) -> str:
    """The body of ``GET path`` from the host (raises OSError/TimeoutError on failure)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0] + b" ":
        raise OSError(f"bad answer: {head[:60]!r}")
    return body.decode().strip()


async def pod_get(pod: Pod, host: str, port: int, *, timeout: int = 3) -> str:
    """``GET /id`` from inside ``pod``: the body, or ``error: <nc's complaint>``.

    (busybox nc, not wget: this busybox's wget crashes.)"""
    proc = await asyncio.create_subprocess_exec(
        *("ip", "netns", "exec", pod.netns, "busybox", "nc", "-w", str(timeout), host, str(port)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(f"GET /id HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    head, _, body = out.partition(b"\r\n\r\n")
    if proc.returncode != 0 or not head.startswith(b"HTTP/1.") or b" 200 " not in head:
        return "error: " + (err.decode(errors="replace").strip() or repr(head[:60]))
    return body.decode().strip()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
