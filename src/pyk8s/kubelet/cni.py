"""The node's CNI network configuration (DESIGN §7, §8).

``render_conflist`` (pure) gives the network list containerd's CRI plugin runs for every
pod sandbox: network ``pyk8s``, CNI spec 1.0.0 (containernetworking-plugins ≥ 1.0, Debian
ships 1.1.1), two plugins:

- ``bridge``: a Linux bridge (``cni0`` unless told otherwise) that is the pods' gateway
  (``isGateway``), masquerades pod traffic leaving the pod CIDR (``ipMasq``) and lets a pod
  reach itself through a Service (``hairpinMode``); addresses come from ``host-local`` IPAM
  over the node's ``spec.podCIDR`` with a default route through the bridge.
- ``portmap`` (capability ``portMappings``, ``snat``): hostPorts.

The loopback interface is not listed: containerd sets it up itself. ``write_conflist``
replaces ``<conf_dir>/10-pyk8s.conflist`` atomically; containerd notices the change on its
own (it watches the directory and uses the first config file, ``max_conf_num = 1``).

``cleanup_network`` undoes what the plugins leave behind once no pod uses the network:
the bridge link; portmap's ``CNI-HOSTPORT-*`` nat chains in iptables and ip6tables when no
pod's hostPort hangs off them (chains in use belong to live pods and are left alone); and
a ``nat`` table (ip, ip6) with no rules at all, which iptables-nft leaves behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CONFLIST_NAME",
    "NETWORK_NAME",
    "cleanup_network",
    "hostport_chain_cleanup",
    "nat_table_is_empty",
    "render_conflist",
    "write_conflist",
]

NETWORK_NAME = "pyk8s"
CONFLIST_NAME = "10-pyk8s.conflist"
CNI_VERSION = "1.0.0"
_HOSTPORT_CHAINS = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ")


def render_conflist(
    pod_cidr: str,
    *,
    bridge: str = "cni0",
    ipam_data_dir: Path | None = None,
    routes: Sequence[str] = ("0.0.0.0/0",),
    mtu: int | None = None,
) -> dict[str, Any]:
    """The CNI network list for a node whose ``spec.podCIDR`` is ``pod_cidr``."""
    subnet = ipaddress.ip_network(pod_cidr, strict=True)
    if subnet.version != 4:
        raise ValueError(f"pod CIDR {pod_cidr} is not IPv4")
    if not 1 <= len(bridge) <= 15:
        raise ValueError(f"bridge name {bridge!r} must be 1-15 characters")
    ipam: dict[str, Any] = {
        "type": "host-local",
        "ranges": [[{"subnet": str(subnet)}]],
        "routes": [{"dst": str(ipaddress.ip_network(r))} for r in routes],
    }
    if ipam_data_dir is not None:
        ipam["dataDir"] = str(ipam_data_dir)
    bridge_conf: dict[str, Any] = {
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,
        "ipMasq": True,
        "hairpinMode": True,
        "ipam": ipam,
    }
    if mtu is not None:
        bridge_conf["mtu"] = mtu
    return {
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "plugins": [
            bridge_conf,
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def write_conflist(conf_dir: Path, conflist: dict[str, Any]) -> Path:
    """Write ``conflist`` as ``<conf_dir>/10-pyk8s.conflist`` (atomically); returns the path."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / CONFLIST_NAME
    tmp = conf_dir / f".{CONFLIST_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(conflist, indent=2) + "\n")
    tmp.replace(path)
    return path


def hostport_chain_cleanup(rules: str) -> list[list[str]]:
    """The iptables arguments (for ``-t nat``) that remove portmap's CNI-HOSTPORT chains
    once no pod uses them; ``rules`` is ``iptables -t nat -S`` output. Portmap keeps one
    fixed rule in each of ``-MASQ`` and ``-SETMARK``; a pod's hostPorts hang off
    ``CNI-HOSTPORT-DNAT`` (through its own ``CNI-DN-*`` chain), so the chains are idle when
    ``CNI-HOSTPORT-DNAT`` is empty and no ``CNI-DN-*`` chain exists. Empty when in use or
    absent."""
    lines = rules.splitlines()
    present = [c for c in _HOSTPORT_CHAINS if f"-N {c}" in lines]
    if not present:
        return []
    for line in lines:
        parts = line.split()
        if parts[:2] == ["-A", "CNI-HOSTPORT-DNAT"] or (
            parts[:1] == ["-N"] and len(parts) > 1 and parts[1].startswith("CNI-DN-")
        ):
            return []
    commands = []
    for line in lines:
        parts = shlex.split(line)  # comments are quoted and contain spaces
        if (
            parts[:1] == ["-A"]
            and parts[1] not in present
            and "-j" in parts[:-1]
            and parts[parts.index("-j") + 1] in present
        ):
            commands.append(["-D", *parts[1:]])
    commands += [["-F", c] for c in present]
    commands += [["-X", c] for c in present]
    return commands


def nat_table_is_empty(rules: str) -> bool:
    """``iptables -t nat -S`` shows only the built-in chains' policies: nothing uses it."""
    return all(line.startswith("-P ") for line in rules.splitlines() if line.strip())


async def _run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def cleanup_network(bridge: str = "cni0") -> None:
    """Remove the bridge and idle CNI hostport chains (call when no pod uses the network)."""
    code, _ = await _run("ip", "link", "show", "dev", bridge)
    if code == 0:
        await _run("ip", "link", "delete", "dev", bridge)
    for tool in ("iptables", "ip6tables"):
        with contextlib.suppress(FileNotFoundError):
            code, rules = await _run(tool, "-w", "-t", "nat", "-S")
            if code != 0:
                continue
            for args in hostport_chain_cleanup(rules):
                await _run(tool, "-w", "-t", "nat", *args)
            code, rules = await _run(tool, "-w", "-t", "nat", "-S")
            if code == 0 and nat_table_is_empty(rules):
                # iptables-nft leaves an empty nat table behind; it recreates it on demand.
                family = "ip" if tool == "iptables" else "ip6"
                await _run("nft", "delete", "table", family, "nat")
