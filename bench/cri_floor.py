"""The container runtime's own floor for starting a batch of pods: ``n`` pods started at
once straight through CRI (RunPodSandbox with CNI networking, CreateContainer,
StartContainer) on a containerd of its own — no apiserver, scheduler or kubelet. What a
kubelet's batch start can at best approach on this machine.

    .venv/bin/python bench/cri_floor.py --pods 30

Prints one JSON line (seconds from the common start to each pod's container started:
p50/p99/max). Everything it makes (containerd, sandboxes, bridge ``pkfloor``, cgroups
under ``/pyk8s-floor``) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from pyk8s.kubelet import cni, hostcleanup, imagebuild, images, netsafety
from pyk8s.kubelet.containerd import Containerd
from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient

BRIDGE = "pkfloor"
POD_CIDR = "10.244.249.0/24"
CGROUP = "pyk8s-floor"


def _sandbox(base: Path, name: str) -> api_pb2.PodSandboxConfig:
    uid = str(uuid.uuid4())
    logs = base / "logs" / uid
    (logs / "c").mkdir(parents=True)
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=name, uid=uid, namespace="floor", attempt=0),
        hostname=name,
        log_directory=str(logs),
        labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.uid": uid},
        linux=api_pb2.LinuxPodSandboxConfig(
            cgroup_parent=f"/{CGROUP}/{uid}",
            security_context=api_pb2.LinuxSandboxSecurityContext(
                namespace_options=api_pb2.NamespaceOption(
                    network=api_pb2.POD, pid=api_pb2.CONTAINER, ipc=api_pb2.POD
                )
            ),
        ),
    )


def _container() -> api_pb2.ContainerConfig:
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="c", attempt=0),
        image=api_pb2.ImageSpec(image=imagebuild.TESTBOX_IMAGE),
        command=["sleep", "3600"],
        log_path="c/0.log",
    )


async def _one(cri: CRIClient, base: Path, i: int, t0: float) -> float:
    sandbox = _sandbox(base, f"floor-{i}")
    sid = (
        await cri.call(cri.runtime.RunPodSandbox, api_pb2.RunPodSandboxRequest(config=sandbox))
    ).pod_sandbox_id
    cid = (
        await cri.call(
            cri.runtime.CreateContainer,
            api_pb2.CreateContainerRequest(
                pod_sandbox_id=sid, config=_container(), sandbox_config=sandbox
            ),
        )
    ).container_id
    await cri.call(cri.runtime.StartContainer, api_pb2.StartContainerRequest(container_id=cid))
    return time.monotonic() - t0


async def measure(pods: int) -> dict[str, float]:
    await netsafety.ensure_routes()
    base = Path(tempfile.mkdtemp(prefix="pyk8s-crifloor-"))
    built = imagebuild.build_all(base / "images")
    runtime = Containerd(base)
    cni.write_conflist(
        runtime.cni_conf_dir,
        cni.render_conflist(POD_CIDR, bridge=BRIDGE, ipam_data_dir=base / "cni"),
    )
    await runtime.start()
    try:
        async with CRIClient(runtime.socket, timeout=120) as cri:
            for image in built.values():
                await images.ensure_image(cri, runtime.socket, image.ref, image.path)
            await _one(cri, base, 999, time.monotonic())  # warm-up: bridge, first unpack
            t0 = time.monotonic()
            done = sorted(await asyncio.gather(*(_one(cri, base, i, t0) for i in range(pods))))
            sandboxes = await cri.call(cri.runtime.ListPodSandbox, api_pb2.ListPodSandboxRequest())
            for s in sandboxes.items:
                await cri.call(
                    cri.runtime.StopPodSandbox, api_pb2.StopPodSandboxRequest(pod_sandbox_id=s.id)
                )
                await cri.call(
                    cri.runtime.RemovePodSandbox,
                    api_pb2.RemovePodSandboxRequest(pod_sandbox_id=s.id),
                )
    finally:
        await runtime.stop()
        await cni.cleanup_network(BRIDGE)
        hostcleanup.remove_cgroup_tree(CGROUP)
        shutil.rmtree(base, ignore_errors=True)
    return {
        "pods": pods,
        "p50_s": round(done[len(done) // 2], 3),
        "p99_s": round(done[min(len(done) - 1, int(0.99 * len(done)))], 3),
        "max_s": round(done[-1], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=30)
    args = ap.parse_args()
    print(json.dumps({"bench": "cri-batch-floor", **asyncio.run(measure(args.pods))}))


if __name__ == "__main__":
    main()
