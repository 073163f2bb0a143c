"""e2e: `kubectl exec` and `kubectl logs` through pyk8s reach the pod's kubelet — the apiserver tunnels the
upgraded connection to the node's kubelet endpoint. The kubelet here is a stand-in
WebSocket server speaking the v5/v4 channel protocol (the real kubelet is issue 7)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from cluster import Cluster
from pyk8s.apiserver import certs

pytestmark = pytest.mark.e2e


class FakeKubelet:
    """Answers /exec/<ns>/<pod>/<container>: prints the command, exits with the code the
    command's first argument names (``exit 3`` → 3)."""

    def __init__(self, tls_dir: Path) -> None:
        tls = certs.ensure_tls(tls_dir)
        self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ssl.load_cert_chain(tls.server_cert, tls.server_key)
        self.port = 0
        self.paths: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _exec(self, request: web.Request) -> web.WebSocketResponse:
        self.paths.append(request.path_qs)
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        await ws.prepare(request)
        command = request.query.getall("command", [])
        await ws.send_bytes(b"\x01" + f"ran {' '.join(command)}\n".encode())
        if command[:1] == ["exit"]:
            code = command[1]
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: {code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code}]},
            }
        else:
            status = {"metadata": {}, "status": "Success"}
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())
        await ws.close()
        return ws

    async def _logs(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        lines = ["line 1", "line 2", "line 3"]
        tail = request.query.get("tailLines")
        if tail is not None:
            lines = lines[-int(tail) :]
        return web.Response(text="".join(f"{ln}\n" for ln in lines))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/exec/{ns}/{pod}/{container}", self._exec)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.ssl)
        self._loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._runner = runner
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[FakeKubelet]:
    k = FakeKubelet(tmp_path / "kubelet-tls")
    k.start()
    try:
        yield k
    finally:
        k.stop()


def test_kubectl_exec_is_tunnelled_to_the_kubelet(
    cluster: Cluster, namespace: str, kubelet: FakeKubelet
) -> None:
    node = f"exec-node-{namespace}"
    status, body, _ = cluster.request(
        "POST",
        "/api/v1/nodes",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
            },
        },
    )
    assert status == 201, body
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }
    assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)[0] == 201
    status, _, _ = cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/p/status",
        {"status": {"phase": "Running"}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    out = cluster.kubectl("-n", namespace, "exec", "p", "--", "echo", "hi")
    assert out.stdout == "ran echo hi\n"
    assert kubelet.paths[-1].startswith(f"/exec/{namespace}/p/c?")
    failed = cluster.kubectl("-n", namespace, "exec", "p", "--", "exit", "3", check=False)
    assert failed.returncode == 3
    assert "command terminated with exit code 3" in failed.stderr
    logs = cluster.kubectl("-n", namespace, "logs", "p", "--tail=2")
    assert logs.stdout == "line 2\nline 3\n"
    cluster.request("DELETE", f"/api/v1/nodes/{node}")


@pytest.mark.parametrize(
    ("annotations", "address", "code", "phrase"),
    [
        pytest.param(
            {"pyk8s.io/sim-node": "true"},
            "127.0.0.1",
            400,
            "is a simulated node",
            id="simulated-node",
        ),
        pytest.param({}, "192.0.2.55", 503, "is not on this machine", id="off-machine-address"),
    ],
)
def test_kubelet_is_never_dialled_off_machine(
    cluster: Cluster,
    namespace: str,
    annotations: dict[str, str],
    address: str,
    code: int,
    phrase: str,
) -> None:
    node = f"guard-{namespace}"
    cluster.request(
        "POST",
        "/api/v1/nodes",
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node, "annotations": annotations},
            "status": {
                "addresses": [{"type": "InternalIP", "address": address}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            },
        },
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "g"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }
    assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)[0] == 201
    for sub in ("log", "exec?command=ls&stdout=true"):
        status, body, _ = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods/g/{sub}")
        assert status == code, body
        assert phrase in body["message"]
    cluster.request("DELETE", f"/api/v1/nodes/{node}")
