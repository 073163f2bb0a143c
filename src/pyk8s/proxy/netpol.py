"""NetworkPolicy enforcement on one node: keeps the nftables table ``inet pyk8s-netpol``
equal to what the cluster's NetworkPolicies say about this node's pods.

The pipeline: three informers (NetworkPolicies, Pods and Namespaces, cluster-wide — peers
are selected among all pods) → handlers that only mark the state dirty → one sync loop that
recomputes the whole ruleset (``netpol_rules.compute``, pure), renders it and, when the
text changed, applies it with one ``nft -f -`` transaction that deletes and recreates the
table (``netpol_rules.render``): the kernel swaps old for new atomically, so no packet
ever sees a half-written ruleset, and leftovers of earlier runs cannot survive a sync.

Contract:
- Level-triggered and coalesced: any number of changes while a sync runs, or within
  ``min_sync_interval`` after it, lead to one more sync. Pod updates that change nothing
  the rules depend on (labels, IPs, node, container ports, hostNetwork, termination) and
  policy or namespace events are told apart in the handlers; the others are ignored.
- Nothing is written before all three informers have listed, so a restart never opens a
  window with an empty ruleset; the table is left in place when the controller stops
  (enforcement survives restarts, as kube-proxy's rules do). ``remove_ruleset`` deletes it.
- A failed ``nft`` run is logged and retried with back-off; every ``resync_period`` the
  ruleset is re-applied even if unchanged, repairing tables changed behind our back.

Where packets are judged (checked on the machines this runs on, kernel 6.x): pod-to-pod
traffic between two pods on one CNI bridge is *bridged*, not routed, and only reaches the
``inet``/``ip`` ``forward`` hook when br_netfilter passes bridged IPv4 to the IP hooks
(``net.bridge.bridge-nf-call-iptables = 1``, per network namespace). With it set, an
``inet`` ``forward`` chain sees same-bridge traffic (with conntrack), traffic routed between
bridges and pod egress leaving the node — one hook for all of them; with it at 0, same-bridge
traffic bypasses the table entirely. So ``ensure_bridge_netfilter`` runs first: it loads
br_netfilter if its sysctls are missing (modprobe) and sets the sysctl to 1 if it is 0, as
k3s' agent does. Traffic from the node to its pods (kubelet probes, host processes,
``hostNetwork`` pods) leaves through ``output``, and pod traffic to the node's own addresses
is delivered through ``input``: neither crosses ``forward``, which is exactly upstream's
"traffic to and from the node is always allowed", with no ``output``/``input`` chains.
Services: the service proxy DNATs in ``prerouting``, before ``forward``, so policies see
the chosen endpoint pod, as upstream requires.

Embedding: ``await run_netpol(client=..., node_name=..., config=NetpolConfig())`` runs until
cancelled or until ``stop`` is set; pass ``factory=`` to share informers with a caller that
runs the factory itself.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pyk8s.client import clock as clock_mod
from pyk8s.client import informer, paths, ratelimit, rest
from pyk8s.proxy import netpol_rules

__all__ = [
    "NAMESPACES",
    "NETWORKPOLICIES",
    "PODS",
    "NetpolConfig",
    "NetpolController",
    "Nft",
    "NftCommand",
    "NftError",
    "ensure_bridge_netfilter",
    "remove_ruleset",
    "run_netpol",
]

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]

NETWORKPOLICIES = paths.resource_for("networking.k8s.io", "v1", "networkpolicies")
PODS = paths.resource_for("", "v1", "pods")
NAMESPACES = paths.resource_for("", "v1", "namespaces", namespaced=False)
BRIDGE_SYSCTLS = Path("/proc/sys/net/bridge")


@dataclass(frozen=True, slots=True)
class NetpolConfig:
    table: str = netpol_rules.DEFAULT_TABLE  # one table per node agent on a shared host
    min_sync_interval: float = 0.1  # seconds between syncs: bursts of events coalesce
    resync_period: float = 300.0  # re-apply even when nothing changed (0: never)
    nft_binary: str = "nft"
    ensure_bridge_netfilter: bool = True


class NftError(RuntimeError):
    """``nft`` rejected a transaction (its stderr in the message)."""


class Nft(Protocol):
    async def apply(self, script: str) -> None: ...


class NftCommand:
    """Runs a transaction through ``nft -f -``."""

    def __init__(self, binary: str = "nft") -> None:
        self.binary = binary

    async def apply(self, script: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-f",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate(script.encode())
        if proc.returncode != 0:
            raise NftError(f"nft -f - exited {proc.returncode}: {err.decode(errors='replace')}")


async def remove_ruleset(
    table: str = netpol_rules.DEFAULT_TABLE, *, nft: Nft | None = None
) -> None:
    """Delete the table (no error if it does not exist)."""
    await (nft or NftCommand()).apply(netpol_rules.render_delete(table))


async def ensure_bridge_netfilter(sysctls: Path = BRIDGE_SYSCTLS) -> bool:
    """Make bridged IPv4 traffic visible to the ``inet`` hooks (see the module docstring).
    True when ``bridge-nf-call-iptables`` ends up 1; logs why not otherwise."""
    knob = sysctls / "bridge-nf-call-iptables"
    if not knob.exists() and shutil.which("modprobe"):
        proc = await asyncio.create_subprocess_exec(
            "modprobe",
            "br_netfilter",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.wait()
    if not knob.exists():
        log.error(
            "br_netfilter is not available (%s is missing): traffic between pods on the "
            "same bridge is not subject to NetworkPolicy",
            knob,
        )
        return False
    if knob.read_text().strip() != "1":
        log.info("setting net.bridge.bridge-nf-call-iptables=1 for NetworkPolicy")
        knob.write_text("1\n")
    return knob.read_text().strip() == "1"


class NetpolController:
    def __init__(
        self,
        *,
        policies: informer.SharedInformer[Any],
        pods: informer.SharedInformer[Any],
        namespaces: informer.SharedInformer[Any],
        node_name: str,
        nft: Nft,
        config: NetpolConfig | None = None,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        backoff: ratelimit.Backoff | None = None,
    ) -> None:
        self.policies = policies
        self.pods = pods
        self.namespaces = namespaces
        self.node_name = node_name
        self.config = config or NetpolConfig()
        self._nft = nft
        self._clock = clock
        self._backoff = backoff or ratelimit.Backoff(initial=0.5, cap=30.0)
        self._wake = asyncio.Event()
        self._force = False
        self._applied: str | None = None
        self._warned: set[str] = set()
        self.syncs = 0  # successful nft transactions
        self.last_ruleset: netpol_rules.Ruleset | None = None
        policies.add_handler(
            on_add=lambda _p: self.mark_dirty(),
            on_update=self._on_policy_update,
            on_delete=lambda _p: self.mark_dirty(),
        )
        pods.add_handler(on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod)
        namespaces.add_handler(
            on_add=lambda _n: self.mark_dirty(),
            on_update=self._on_namespace_update,
            on_delete=lambda _n: self.mark_dirty(),
        )

    # ------------------------------------------------------------------ handlers

    def mark_dirty(self) -> None:
        self._wake.set()

    @property
    def dirty(self) -> bool:
        """A change is waiting for the next sync."""
        return self._wake.is_set()

    def _on_policy_update(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec"):
            self.mark_dirty()

    def _on_pod(self, pod: Obj) -> None:
        if netpol_rules.endpoints_of(pod):
            self.mark_dirty()

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if netpol_rules.endpoints_of(old) != netpol_rules.endpoints_of(new):
            self.mark_dirty()

    def _on_namespace_update(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self.mark_dirty()

    # ------------------------------------------------------------------ sync

    def compute(self) -> netpol_rules.Ruleset:
        return netpol_rules.compute(
            policies=self.policies.list(),
            pods=self.pods.list(),
            namespaces=self.namespaces.list(),
            node_name=self.node_name,
        )

    async def sync(self, *, force: bool = False) -> bool:
        """Recompute and apply; True if a transaction ran (False: nothing changed)."""
        ruleset = self.compute()
        self.last_ruleset = ruleset
        for warning in ruleset.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                log.warning("NetworkPolicy ignored: %s", warning)
        script = netpol_rules.render(ruleset, table=self.config.table)
        if script == self._applied and not force:
            return False
        await self._nft.apply(script)
        self._applied = script
        self.syncs += 1
        log.debug(
            "netpol: %d isolated pods on %s (%d syncs)",
            len(ruleset.pods),
            self.node_name,
            self.syncs,
        )
        return True

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)

    async def _run(self) -> None:
        for inf in (self.policies, self.pods, self.namespaces):
            await inf.wait_synced()
        self._wake.set()
        async with asyncio.TaskGroup() as tg:
            if self.config.resync_period > 0:
                tg.create_task(self._resync(self.config.resync_period))
            tg.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            force, self._force = self._force, False
            try:
                await self.sync(force=force)
            except Exception as e:
                delay = self._backoff.next_delay()
                log.error("netpol sync failed (retry in %.1fs): %s", delay, e)
                self._force = self._force or force
                self._wake.set()
                await self._clock.sleep(delay)
                continue
            self._backoff.reset()
            await self._clock.sleep(self.config.min_sync_interval)

    async def _resync(self, period: float) -> None:
        while True:
            await self._clock.sleep(period)
            self._force = True
            self._wake.set()


async def run_netpol(
    *,
    client: rest.RESTClient,
    node_name: str,
    config: NetpolConfig | None = None,
    factory: informer.SharedInformerFactory | None = None,
    stop: asyncio.Event | None = None,
    nft: Nft | None = None,
) -> None:
    """Enforce NetworkPolicies for the pods of ``node_name`` until cancelled or ``stop``.

    With ``factory`` the informers come from (and are run by) the caller's factory;
    without, this function runs its own.
    """
    config = config or NetpolConfig()
    stop = stop or asyncio.Event()
    own = factory is None
    factory = factory or informer.SharedInformerFactory(client)
    if config.ensure_bridge_netfilter:
        await ensure_bridge_netfilter()
    controller = NetpolController(
        policies=factory.informer(NETWORKPOLICIES),
        pods=factory.informer(PODS),
        namespaces=factory.informer(NAMESPACES),
        node_name=node_name,
        nft=nft or NftCommand(config.nft_binary),
        config=config,
    )
    async with asyncio.TaskGroup() as tg:
        if own:
            tg.create_task(factory.run(stop), name="netpol informers")
        tg.create_task(controller.run(stop), name="netpol controller")
