"""The containerd supervisor, image import and CRI v1 end to end against real containerd,
runc and CNI plugins: sandbox with pod networking, containers, exec, logs, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from pyk8s.client.testing import wait_until
from pyk8s.kubelet import containerd as containerd_mod
from pyk8s.kubelet.containerd import Containerd, ContainerdError
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError

from .conftest import CRIEnv

MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sandbox_config(
    env: CRIEnv, name: str, *, ports: list[api_pb2.PortMapping] | None = None
) -> api_pb2.PodSandboxConfig:
    uid = str(uuid.uuid4())
    env.log_dir(uid).mkdir(parents=True)
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=0),
        hostname=name,
        log_directory=str(env.log_dir(uid)),
        dns_config=api_pb2.DNSConfig(
            servers=["10.96.0.10"], searches=["default.svc.cluster.local"], options=["ndots:5"]
        ),
        port_mappings=ports or [],
        labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.uid": uid},
        linux=api_pb2.LinuxPodSandboxConfig(
            cgroup_parent=env.cgroup_parent(uid),
            security_context=api_pb2.LinuxSandboxSecurityContext(
                namespace_options=api_pb2.NamespaceOption(
                    network=api_pb2.POD, pid=api_pb2.CONTAINER, ipc=api_pb2.POD
                )
            ),
        ),
    )


async def run_sandbox(env: CRIEnv, config: api_pb2.PodSandboxConfig) -> str:
    resp = await env.cri.call(
        env.cri.runtime.RunPodSandbox, api_pb2.RunPodSandboxRequest(config=config)
    )
    return resp.pod_sandbox_id


async def start_container(
    env: CRIEnv, sandbox_id: str, sandbox: api_pb2.PodSandboxConfig, config: api_pb2.ContainerConfig
) -> str:
    (Path(sandbox.log_directory) / config.metadata.name).mkdir(exist_ok=True)
    created = await env.cri.call(
        env.cri.runtime.CreateContainer,
        api_pb2.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox
        ),
    )
    await env.cri.call(
        env.cri.runtime.StartContainer,
        api_pb2.StartContainerRequest(container_id=created.container_id),
    )
    return created.container_id


def web_container(env: CRIEnv) -> api_pb2.ContainerConfig:
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="web", attempt=0),
        image=api_pb2.ImageSpec(image=env.testbox),
        command=["httpd"],
        args=["-f", "-p", "80", "-h", "/var/www"],
        envs=[api_pb2.KeyValue(key="GREETING", value="hello")],
        log_path="web/0.log",
        linux=api_pb2.LinuxContainerConfig(
            resources=api_pb2.LinuxContainerResources(
                memory_limit_in_bytes=64 * MiB, cpu_shares=102
            )
        ),
    )


async def container_status(env: CRIEnv, container_id: str) -> api_pb2.ContainerStatus:
    resp = await env.cri.call(
        env.cri.runtime.ContainerStatus, api_pb2.ContainerStatusRequest(container_id=container_id)
    )
    return resp.status


async def wait_exited(env: CRIEnv, container_id: str) -> api_pb2.ContainerStatus:
    deadline = time.monotonic() + 30
    while True:
        status = await container_status(env, container_id)
        if status.state == api_pb2.CONTAINER_EXITED:
            return status
        assert time.monotonic() < deadline, f"container {container_id} still {status.state}"
        await asyncio.sleep(0.05)


async def http_get(host: str, port: int, *, timeout: float = 30.0) -> str:
    """GET / until the server answers (it may not listen yet); the response text."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (ConnectionRefusedError, TimeoutError, OSError):
            assert time.monotonic() < deadline, f"{host}:{port} never answered"
            await asyncio.sleep(0.05)
            continue
        try:
            writer.write(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.read(), 10)).decode(errors="replace")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def parse_cri_log(text: str) -> list[tuple[str, str, str]]:
    """(stream, tag, message) of each CRI log line; the timestamp must be RFC 3339."""
    out = []
    for line in text.splitlines():
        stamp, stream, tag, message = line.split(" ", 3)
        datetime.datetime.fromisoformat(stamp[:26] + "+00:00")  # nanoseconds cut to micro
        out.append((stream, tag, message))
    return out


# ---------------------------------------------------------------------------- runtime


async def test_version_status_and_network_ready(cri_env: CRIEnv) -> None:
    version = await cri_env.cri.call(
        cri_env.cri.runtime.Version, api_pb2.VersionRequest(version="v1")
    )
    assert (version.runtime_name, version.runtime_api_version) == ("containerd", "v1")

    async def conditions() -> dict[str, bool]:
        resp = await cri_env.cri.call(cri_env.cri.runtime.Status, api_pb2.StatusRequest())
        return {c.type: c.status for c in resp.status.conditions}

    deadline = time.monotonic() + 30
    while (conds := await conditions()) != {"RuntimeReady": True, "NetworkReady": True}:
        assert time.monotonic() < deadline, conds
        await asyncio.sleep(0.05)


async def test_built_images_are_present_with_stable_ids(cri_env: CRIEnv) -> None:
    listed = await cri_env.cri.call(cri_env.cri.images.ListImages, api_pb2.ListImagesRequest())
    by_tag = {tag: image.id for image in listed.images for tag in image.repo_tags}
    for ref, built in cri_env.node.images.items():
        assert by_tag[ref] == built.image_id


async def test_missing_image_status_is_empty_and_unknown_container_is_not_found(
    cri_env: CRIEnv,
) -> None:
    status = await cri_env.cri.call(
        cri_env.cri.images.ImageStatus,
        api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image="pyk8s.local/missing:1")),
    )
    assert status.image.id == ""
    with pytest.raises(CRIError) as err:
        await container_status(cri_env, "0" * 64)
    assert err.value.not_found
    assert err.value.method == "ContainerStatus"


async def test_pod_lifecycle_with_network_exec_logs_and_hostport(cri_env: CRIEnv) -> None:
    env = cri_env
    host_port = free_port()
    config = sandbox_config(
        env,
        "web",
        ports=[
            api_pb2.PortMapping(
                protocol=api_pb2.TCP, container_port=80, host_port=host_port, host_ip="127.0.0.1"
            )
        ],
    )
    sandbox_id = await run_sandbox(env, config)
    status = await env.cri.call(
        env.cri.runtime.PodSandboxStatus, api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id)
    )
    assert status.status.state == api_pb2.SANDBOX_READY
    pod_ip = status.status.network.ip
    assert pod_ip.startswith("10.244.251.")

    hosts = env.data_dir / "hosts-web"
    hosts.write_text("127.0.0.1\tlocalhost\n10.244.251.99\tweb.test\n")
    web = web_container(env)
    web.mounts.append(
        api_pb2.Mount(container_path="/etc/hosts", host_path=str(hosts), readonly=True)
    )
    web_id = await start_container(env, sandbox_id, config, web)
    running = await container_status(env, web_id)
    assert running.state == api_pb2.CONTAINER_RUNNING
    assert running.started_at > 0

    # Pod IP from the host, and the hostPort through portmap on loopback.
    assert "pyk8s testbox" in await http_get(pod_ip, 80)
    assert "pyk8s testbox" in await http_get("127.0.0.1", host_port)

    exec_hi = await env.cri.call(
        env.cri.runtime.ExecSync,
        api_pb2.ExecSyncRequest(container_id=web_id, cmd=["echo", "hi"], timeout=10),
    )
    assert (exec_hi.exit_code, exec_hi.stdout, exec_hi.stderr) == (0, b"hi\n", b"")
    probe = await env.cri.call(
        env.cri.runtime.ExecSync,
        api_pb2.ExecSyncRequest(
            container_id=web_id,
            cmd=["sh", "-c", "echo $GREETING; cat /etc/hosts /etc/resolv.conf; exit 3"],
            timeout=10,
        ),
    )
    assert probe.exit_code == 3
    out = probe.stdout.decode()
    assert "hello" in out and "web.test" in out
    assert "nameserver 10.96.0.10" in out and "ndots:5" in out
    readonly = await env.cri.call(
        env.cri.runtime.ExecSync,
        api_pb2.ExecSyncRequest(container_id=web_id, cmd=["touch", "/etc/hosts"], timeout=10),
    )
    assert readonly.exit_code != 0

    # Resources land in the container's cgroup under the pod's cgroup parent.
    shares = Path("/sys/fs/cgroup/cpu") / config.linux.cgroup_parent.lstrip("/") / web_id
    assert (shares / "cpu.shares").read_text().strip() == "102"
    await env.cri.call(
        env.cri.runtime.UpdateContainerResources,
        api_pb2.UpdateContainerResourcesRequest(
            container_id=web_id,
            linux=api_pb2.LinuxContainerResources(memory_limit_in_bytes=64 * MiB, cpu_shares=256),
        ),
    )
    assert (shares / "cpu.shares").read_text().strip() == "256"

    # A second container that prints and exits: its log file is in CRI format.
    talk = api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="talk", attempt=0),
        image=api_pb2.ImageSpec(image=env.testbox),
        command=["sh", "-c", "echo hello; echo oops >&2"],
        log_path="talk/0.log",
    )
    talk_id = await start_container(env, sandbox_id, config, talk)
    done = await wait_exited(env, talk_id)
    assert (done.exit_code, done.reason) == (0, "Completed")
    assert done.log_path == str(Path(config.log_directory) / "talk/0.log")
    lines = parse_cri_log(Path(done.log_path).read_text())
    assert sorted(lines) == [("stderr", "F", "oops"), ("stdout", "F", "hello")]

    listed = await env.cri.call(
        env.cri.runtime.ListContainers,
        api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(pod_sandbox_id=sandbox_id)),
    )
    assert {c.metadata.name for c in listed.containers} == {"web", "talk"}

    await env.cri.call(
        env.cri.runtime.StopContainer, api_pb2.StopContainerRequest(container_id=web_id, timeout=5)
    )
    stopped = await container_status(env, web_id)
    assert stopped.state == api_pb2.CONTAINER_EXITED
    assert (stopped.exit_code, stopped.reason) == (143, "Error")  # SIGTERM
    assert stopped.finished_at >= stopped.started_at
    for cid in (web_id, talk_id):
        await env.cri.call(
            env.cri.runtime.RemoveContainer, api_pb2.RemoveContainerRequest(container_id=cid)
        )
    await env.cri.call(
        env.cri.runtime.StopPodSandbox, api_pb2.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)
    )
    await env.cri.call(
        env.cri.runtime.RemovePodSandbox,
        api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
    )
    left = await env.cri.call(env.cri.runtime.ListPodSandbox, api_pb2.ListPodSandboxRequest())
    assert [s.id for s in left.items] == []
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", host_port)


# ---------------------------------------------------------------------------- supervisor


async def test_killed_containerd_is_restarted_and_pods_keep_running(cri_env: CRIEnv) -> None:
    env = cri_env
    config = sandbox_config(env, "survivor")
    sandbox_id = await run_sandbox(env, config)
    web_id = await start_container(env, sandbox_id, config, web_container(env))
    status = await env.cri.call(
        env.cri.runtime.PodSandboxStatus, api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id)
    )
    pod_ip = status.status.network.ip

    supervisor = env.node.containerd
    old_pid, restarts = supervisor.pid, supervisor.restarts
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    await wait_until(
        lambda: supervisor.restarts == restarts + 1 and supervisor.pid not in (None, old_pid),
        timeout=60,
        message="containerd was not restarted",
    )
    assert "pyk8s testbox" in await http_get(pod_ip, 80)
    await env.cri.wait_ready(30)  # the same channel reconnects by itself
    listed = await env.cri.call(
        env.cri.runtime.ListContainers,
        api_pb2.ListContainersRequest(filter=api_pb2.ContainerFilter(id=web_id)),
    )
    assert [(c.id, c.state) for c in listed.containers] == [(web_id, api_pb2.CONTAINER_RUNNING)]


async def test_start_fails_when_containerd_exits(tmp_path: Path) -> None:
    c = Containerd(tmp_path / "d", binary="false", start_timeout=30)
    with pytest.raises(ContainerdError, match="exited with 1"):
        await c.start()
    assert c.pid is None
    await c.stop()


async def test_start_replaces_a_containerd_left_over_from_an_earlier_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("left") / "d"
    paths = containerd_mod.layout(data_dir)
    for d in (paths.base, paths.root, paths.state):
        d.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(containerd_mod.render_config(paths))
    with open(paths.log, "ab") as log:
        old = subprocess.Popen(
            ["containerd", "--config", str(paths.config)], stdout=log, stderr=log
        )
    paths.pid_file.write_text(f"{old.pid}\n")
    c = Containerd(data_dir)
    try:
        async with CRIClient(paths.socket) as cri:
            await cri.wait_ready(30)  # the leftover is up and holds containerd's locks
        await c.start()
        assert old.poll() is not None  # the leftover was stopped (and reaped here)
        assert c.pid not in (None, old.pid)
        async with CRIClient(c.socket) as cri:
            await cri.wait_ready(10)
    finally:
        await c.stop()
        if old.poll() is None:
            old.kill()
        old.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert not paths.pid_file.exists()
