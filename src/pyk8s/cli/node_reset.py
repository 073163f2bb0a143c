"""Reset a real node after its agent stopped (like k3s' ``k3s-killall.sh``): pods keep
running when the agent stops, as upstream's do, so ``pyk8s down`` (and tests) call this
to leave the machine as it was.

``reset_node(data_dir)``, in order: start the node's containerd again (pods are still
registered there), stop and remove every pod sandbox and container through CRI, stop
containerd; remove the pod cgroup tree under ``cgroup_root`` in every hierarchy; unmount
whatever the kubelet mounted under the data dir (tmpfs volumes); delete the CNI bridge and
the portmap chains; delete the proxy's and the NetworkPolicy tables. Every step is
best-effort and idempotent; what failed is returned as lines for the caller to print. The
safety routes stay (DESIGN §8: they only keep traffic on this machine).
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

__all__ = ["reset_node"]


async def reset_node(
    data_dir: Path,
    *,
    cgroup_root: str = "/kubepods",
    bridge: str = "cni0",
    proxy_table: str = "pyk8s-proxy",
    netpol_table: str = "pyk8s-netpol",
) -> list[str]:
    from pyk8s.kubelet import cni, containerd, hostcleanup
    from pyk8s.kubelet.cri import api_pb2
    from pyk8s.kubelet.cri.client import CRIClient, CRIError
    from pyk8s.proxy import netpol, proxier
    from pyk8s.proxy.config import ProxyConfig

    problems: list[str] = []
    layout = containerd.layout(data_dir)
    if layout.root.exists():
        supervised = containerd.Containerd(data_dir)
        try:
            await supervised.start()
            async with CRIClient(supervised.socket, timeout=60) as cri:
                for s in (
                    await cri.call(cri.runtime.ListPodSandbox, api_pb2.ListPodSandboxRequest())
                ).items:
                    try:
                        await cri.call(
                            cri.runtime.StopPodSandbox,
                            api_pb2.StopPodSandboxRequest(pod_sandbox_id=s.id),
                        )
                        await cri.call(
                            cri.runtime.RemovePodSandbox,
                            api_pb2.RemovePodSandboxRequest(pod_sandbox_id=s.id),
                        )
                    except CRIError as exc:
                        problems.append(f"pod sandbox {s.id[:12]}: {exc}")
        except (containerd.ContainerdError, CRIError, OSError) as exc:
            problems.append(f"containerd: {exc}")
        finally:
            await supervised.stop()
    hostcleanup.remove_cgroup_tree(cgroup_root)
    hostcleanup.unmount_below(data_dir / "agent")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        await cni.cleanup_network(bridge)
    for remove in (
        proxier.cleanup(ProxyConfig(table=proxy_table)),
        netpol.remove_ruleset(netpol_table),
    ):
        try:
            await remove
        except (OSError, RuntimeError) as exc:
            problems.append(f"nftables: {exc}")
    return problems
