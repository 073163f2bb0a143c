"""Fixtures for tests of the kubelet's HTTPS server: cluster TLS files, a fake
``StreamingBackend`` in front of ``FakeStreamingServer``, a running ``KubeletServer``,
and TLS client contexts (with and without a client certificate)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubelet.fake_streaming import FakeStreamingServer, token_for
from pyk8s.api import errors
from pyk8s.apiserver import certs
from pyk8s.kubelet.remotecommand import ExecOptions
from pyk8s.kubelet.server import KubeletServer
from pyk8s.kubelet.streaming import ContainerRef


@dataclass
class FakeRuntime:
    server: FakeStreamingServer
    running: dict[str, bool] = field(default_factory=dict)
    attach_steps: list[str] = field(default_factory=lambda: ["echo attached"])
    port_forwards: list[tuple[str, list[int]]] = field(default_factory=list)

    @staticmethod
    def _opts(opts: ExecOptions) -> dict[str, bool]:
        return {"stdin": opts.stdin, "stdout": opts.stdout, "stderr": opts.stderr, "tty": opts.tty}

    async def exec_url(self, container_id: str, opts: ExecOptions) -> str:
        return self.server.url("exec", token_for(list(opts.command), self._opts(opts)))

    async def attach_url(self, container_id: str, opts: ExecOptions) -> str:
        return self.server.url("attach", token_for(self.attach_steps, self._opts(opts)))

    async def port_forward_url(self, sandbox_id: str, ports: Sequence[int]) -> str:
        self.port_forwards.append((sandbox_id, list(ports)))
        return self.server.url("portforward", sandbox_id)

    async def container_running(self, container_id: str) -> bool:
        return self.running.get(container_id, False)


@dataclass
class FakeBackend:
    runtime: FakeRuntime
    containers: dict[tuple[str, str, str], ContainerRef] = field(default_factory=dict)
    sandboxes: dict[tuple[str, str], str] = field(default_factory=dict)
    waiting: dict[tuple[str, str, str], str] = field(default_factory=dict)

    async def find_container(self, namespace: str, pod: str, container: str) -> ContainerRef:
        key = (namespace, pod, container)
        if key in self.waiting:
            raise errors.bad_request(
                f'container "{container}" in pod "{pod}" is waiting to start: {self.waiting[key]}'
            )
        if key not in self.containers:
            raise errors.StatusError(404, "NotFound", f'pod "{pod}" not found')
        return self.containers[key]

    async def find_sandbox(self, namespace: str, pod: str) -> str:
        if (namespace, pod) not in self.sandboxes:
            raise errors.StatusError(404, "NotFound", f'pod "{pod}" not found')
        return self.sandboxes[(namespace, pod)]

    def pods(self) -> list[dict[str, Any]]:
        return [
            {"metadata": {"namespace": ns, "name": name}, "spec": {}}
            for ns, name in sorted(self.sandboxes)
        ]


@dataclass
class KubeletEnv:
    server: KubeletServer
    backend: FakeBackend
    runtime: FakeRuntime
    streaming: FakeStreamingServer
    tls: certs.ClusterTLS

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def client_ssl(self, *, with_cert: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        if with_cert:
            ctx.load_cert_chain(str(self.tls.admin_cert), str(self.tls.admin_key))
        return ctx


@pytest.fixture(scope="session")
def cluster_tls(tmp_path_factory: pytest.TempPathFactory) -> certs.ClusterTLS:
    return certs.ensure_tls(Path(tmp_path_factory.mktemp("kubelet-tls")))


@pytest.fixture
async def kubelet_env(cluster_tls: certs.ClusterTLS) -> AsyncIterator[KubeletEnv]:
    fake = FakeStreamingServer()
    await fake.start()
    runtime = FakeRuntime(fake, running={"cid": True})
    backend = FakeBackend(
        runtime,
        containers={("default", "web", "app"): ContainerRef("cid", "/nonexistent", None, True)},
        sandboxes={("default", "web"): "sandbox-1"},
    )
    server = KubeletServer(
        backend,
        host="127.0.0.1",
        port=0,
        tls_cert=cluster_tls.server_cert,
        tls_key=cluster_tls.server_key,
        client_ca=cluster_tls.ca_cert,
        log_poll_interval=0.01,
        shutdown_timeout=1,
    )
    await server.start()
    try:
        yield KubeletEnv(server, backend, runtime, fake, cluster_tls)
    finally:
        await server.stop()
        await fake.close()
