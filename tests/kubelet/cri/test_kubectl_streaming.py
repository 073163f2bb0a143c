"""e2e: the real kubectl 1.33 → pyk8s apiserver (tunnel) → the kubelet's HTTPS server →
containerd's streaming server: exec (WebSocket v5 and the SPDY fallback), stdin EOF and
exit codes, cp, logs and port-forward (SPDY over WebSocket, and plain SPDY)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cluster import Cluster, kubectl_binary
from pyk8s.api import errors
from pyk8s.apiserver import certs
from pyk8s.client.testing import wait_until
from pyk8s.kubelet import portforward, remotecommand
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri_streaming import CRIStreamingRuntime
from pyk8s.kubelet.server import KubeletServer
from pyk8s.kubelet.streaming import ContainerRef

from .conftest import CRIEnv

pytestmark = pytest.mark.e2e


def count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[None]:
    """Record every call of ``module.name`` (an async function)."""
    calls: list[None] = []
    original = getattr(module, name)

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@dataclass
class OnePodBackend:
    runtime: CRIStreamingRuntime
    namespace: str
    pod: str
    sandbox_id: str
    container_id: str
    log_path: Path

    async def find_container(self, namespace: str, pod: str, container: str) -> ContainerRef:
        if (namespace, pod, container) != (self.namespace, self.pod, "web"):
            raise errors.StatusError(404, "NotFound", f'pod "{pod}" not found')
        running = await self.runtime.container_running(self.container_id)
        return ContainerRef(self.container_id, str(self.log_path), None, running)

    async def find_sandbox(self, namespace: str, pod: str) -> str:
        if (namespace, pod) != (self.namespace, self.pod):
            raise errors.StatusError(404, "NotFound", f'pod "{pod}" not found')
        return self.sandbox_id

    def pods(self) -> list[dict[str, Any]]:
        return []


@dataclass
class Setup:
    cluster: Cluster
    namespace: str
    backend: OnePodBackend

    async def kubectl(self, *args: str, **kw: Any) -> Any:
        return await asyncio.to_thread(self.cluster.kubectl, "-n", self.namespace, *args, **kw)


async def _run_pod(env: CRIEnv, namespace: str) -> tuple[str, str, Path]:
    uid = str(uuid.uuid4())
    log_dir = env.log_dir(uid)
    (log_dir / "web").mkdir(parents=True)
    sandbox = api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name="p", uid=uid, namespace=namespace, attempt=0),
        hostname="p",
        log_directory=str(log_dir),
        linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent=env.cgroup_parent(uid)),
    )
    cri = env.cri
    sandbox_id = (
        await cri.call(cri.runtime.RunPodSandbox, api_pb2.RunPodSandboxRequest(config=sandbox))
    ).pod_sandbox_id
    config = api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="web", attempt=0),
        image=api_pb2.ImageSpec(image=env.testbox),
        command=["sh", "-c", "echo started; exec httpd -f -p 80 -h /var/www"],
        log_path="web/0.log",
    )
    created = await cri.call(
        cri.runtime.CreateContainer,
        api_pb2.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox
        ),
    )
    await cri.call(
        cri.runtime.StartContainer, api_pb2.StartContainerRequest(container_id=created.container_id)
    )
    return sandbox_id, created.container_id, log_dir / "web" / "0.log"


@pytest.fixture
async def setup(cri_env: CRIEnv, cluster: Cluster, namespace: str) -> AsyncIterator[Setup]:
    sandbox_id, container_id, log_path = await _run_pod(cri_env, namespace)
    backend = OnePodBackend(
        CRIStreamingRuntime(cri_env.cri), namespace, "p", sandbox_id, container_id, log_path
    )
    tls = certs.ClusterTLS(cluster.data_dir / "tls")
    server = KubeletServer(
        backend,
        host="127.0.0.1",
        port=0,
        tls_cert=tls.server_cert,
        tls_key=tls.server_key,
        client_ca=tls.ca_cert,
        shutdown_timeout=1,
    )
    await server.start()
    node = f"kubelet-{namespace}"[:63]
    try:
        status, body, _ = cluster.request(
            "POST",
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": server.port}},
                },
            },
        )
        assert status == 201, body
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "web", "image": cri_env.testbox}],
            },
        }
        assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)[0] == 201
        status, body, _ = cluster.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/p/status",
            {"status": {"phase": "Running"}},
            content_type="application/merge-patch+json",
        )
        assert status == 200, body
        await wait_until(lambda: b"started" in log_path.read_bytes(), timeout=30)
        yield Setup(cluster, namespace, backend)
    finally:
        cluster.request("DELETE", f"/api/v1/nodes/{node}")
        await server.stop()


@pytest.mark.parametrize(
    "websockets", [pytest.param("true", id="websocket-v5"), pytest.param("false", id="spdy")]
)
async def test_kubectl_exec(setup: Setup, websockets: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bridged = count_calls(monkeypatch, remotecommand, "bridge")
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": websockets}
    out = await setup.kubectl("exec", "p", "--", "echo", "hello", env=env)
    assert out.stdout == "hello\n"
    piped = await setup.kubectl(
        "exec",
        "-i",
        "p",
        "--",
        "sh",
        "-c",
        "cat; exit 3",
        input="line 1\nline 2\n",
        env=env,
        check=False,
    )
    assert piped.stdout == "line 1\nline 2\n"
    assert piped.returncode == 3
    assert "command terminated with exit code 3" in piped.stderr
    # the WebSocket sessions were translated here, the SPDY ones relayed
    assert len(bridged) == (2 if websockets == "true" else 0)


async def test_kubectl_cp_and_logs(setup: Setup, tmp_path: Path) -> None:
    source = tmp_path / "data.txt"
    source.write_text("copied through the kubelet\n" * 1000)
    await setup.kubectl("cp", str(source), f"{setup.namespace}/p:/tmp/data.txt")
    out = await setup.kubectl("exec", "p", "--", "cat", "/tmp/data.txt")
    assert out.stdout == source.read_text()
    back = tmp_path / "back.txt"
    await setup.kubectl("cp", f"{setup.namespace}/p:/tmp/data.txt", str(back))
    assert back.read_text() == source.read_text()
    logs = await setup.kubectl("logs", "p")
    assert logs.stdout == "started\n"
    logs = await setup.kubectl("logs", "p", "--timestamps", "--tail=1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\S+ started\n", logs.stdout)


async def _http_get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.0\r\nHost: p\r\n\r\n")
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "websockets", [pytest.param("true", id="spdy-over-websocket"), pytest.param("false", id="spdy")]
)
async def test_kubectl_port_forward(
    setup: Setup, websockets: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tunnelled = count_calls(monkeypatch, portforward, "tunnel")
    c = setup.cluster
    proc = await asyncio.create_subprocess_exec(
        kubectl_binary("1.33"),
        "--kubeconfig",
        str(c.kubeconfig),
        "--cache-dir",
        str(c.data_dir / "kubecache-1.33"),
        "-n",
        setup.namespace,
        "port-forward",
        "pod/p",
        ":80",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 80", line)
        assert match, line
        port = int(match.group(1))
        for _ in range(3):  # several connections over one session
            body = await _http_get(port)
            assert body.startswith(b"HTTP/1.") and b"pyk8s testbox" in body
        assert len(tunnelled) == (1 if websockets == "true" else 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
