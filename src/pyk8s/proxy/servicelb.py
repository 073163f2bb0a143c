"""The built-in LoadBalancer (like k3s' ServiceLB or ``minikube tunnel``): gives every
``type: LoadBalancer`` Service an address from a pool and publishes it in
``status.loadBalancer.ingress[]`` (``{ip, ipMode: VIP}``, through the services/status
subresource). The proxies then treat that address like an externalIP: traffic to
``<lb-ip>:<port>`` on any node running the proxy reaches the endpoints.

Which Services: ``spec.type: LoadBalancer`` with no ``spec.loadBalancerClass`` or ours
(``pyk8s.io/servicelb``), not being deleted. A Service that stops being a LoadBalancer
while holding one of our addresses gets its ``status.loadBalancer`` cleared.

Addresses (``allocate``, pure): the pool is a list of addresses and CIDRs; by default the
node's InternalIP, so — as with ServiceLB — every LoadBalancer shares the node's address
and only their ports must differ. A Service keeps the address it has while that address is
still in the pool and no older Service uses the same (protocol, port) on it; otherwise it
gets the first pool address where its ports are free (``spec.loadBalancerIP``, if set,
is the only address it may get). Older Services (creationTimestamp, then namespace/name)
are placed first. A Service that fits nowhere stays pending (no ingress) and gets a
Warning event ``AllocationFailed``.

Safety: with ``lb_require_local`` (default) pool addresses this machine does not own are
left out — an address that is not local would send the traffic of anyone who uses it
off the machine whenever no rule catches it.

Who runs it: one proxy at a time — ``proxier.run_proxy`` runs it behind the
``kube-system/pyk8s-servicelb`` Lease when ``leader_elect`` is on (several proxies), or
directly in a single-node setup. Level-triggered: any Service or Node change re-plans every
LoadBalancer Service; writes are merge patches of status, so a repeated run is harmless.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pyk8s.client import errors, events, informer, paths, rest
from pyk8s.client.store import ObjectKey
from pyk8s.proxy.config import LB_CLASS

__all__ = [
    "SERVICES",
    "ServiceLB",
    "allocate",
    "expand_pool",
    "ingress_ips",
    "is_candidate",
    "is_local_address",
    "status_patch",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SERVICES = paths.resource_for("", "v1", "services", kind="Service")
POOL_LIMIT = 65536  # addresses taken from CIDRs in the pool


def is_candidate(svc: Mapping[str, Any], lb_class: str = LB_CLASS) -> bool:
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return False
    if (svc.get("metadata") or {}).get("deletionTimestamp"):
        return False
    cls = spec.get("loadBalancerClass")
    return cls is None or cls == lb_class


def _no_longer_lb(svc: Mapping[str, Any]) -> bool:
    return (svc.get("spec") or {}).get("type") != "LoadBalancer"


def ingress_ips(svc: Mapping[str, Any]) -> list[str]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(i["ip"]) for i in ingress if i.get("ip")]


def expand_pool(pool: Sequence[str], limit: int = POOL_LIMIT) -> list[str]:
    """Addresses of the pool in order (CIDRs expanded to their usable hosts)."""
    out: dict[str, None] = {}
    for item in pool:
        item = item.strip()
        if not item:
            continue
        if "/" not in item:
            out[str(ipaddress.ip_address(item))] = None
            continue
        net = ipaddress.ip_network(item, strict=False)
        hosts = net.hosts() if net.num_addresses > 2 else iter(net)
        for addr in hosts:
            if len(out) >= limit:
                break
            out[str(addr)] = None
    return list(out)


def _ports(svc: Mapping[str, Any]) -> set[tuple[str, int]]:
    return {
        (str(p.get("protocol") or "TCP"), int(p.get("port") or 0))
        for p in (svc.get("spec") or {}).get("ports") or []
    }


def _age_key(svc: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = svc.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def allocate(
    services: Iterable[Mapping[str, Any]],
    pool: Sequence[str],
    *,
    usable: Callable[[str], bool] | None = None,
    lb_class: str = LB_CLASS,
) -> dict[ObjectKey, str | None]:
    """The address of every candidate Service (None: pending). See the module docstring.

    ``usable(ip)`` (asked at most once per address) can veto pool addresses.
    """
    verdicts: dict[str, bool] = {}

    def ok(ip: str) -> bool:
        if usable is None:
            return True
        if ip not in verdicts:
            verdicts[ip] = usable(ip)
        return verdicts[ip]

    addresses = expand_pool(pool)
    in_pool = set(addresses)
    ordered = sorted((s for s in services if is_candidate(s, lb_class)), key=_age_key)
    taken: dict[str, set[tuple[str, int]]] = {}
    result: dict[ObjectKey, str | None] = {}

    def fits(ip: str, ports: set[tuple[str, int]]) -> bool:
        return not (taken.get(ip, set()) & ports)

    def wanted(svc: Mapping[str, Any]) -> list[str]:
        requested = (svc.get("spec") or {}).get("loadBalancerIP") or ""
        if requested:
            return [requested] if requested in in_pool else []
        return addresses

    for svc in ordered:  # first: keep what is held
        ports = _ports(svc)
        requested = (svc.get("spec") or {}).get("loadBalancerIP") or ""
        current = [
            ip for ip in ingress_ips(svc) if ip in in_pool and (not requested or ip == requested)
        ]
        for ip in current[:1]:
            if ok(ip) and fits(ip, ports):
                taken.setdefault(ip, set()).update(ports)
                result[ObjectKey.of(svc)] = ip
    for svc in ordered:  # then: place the others
        key = ObjectKey.of(svc)
        if key in result:
            continue
        ports = _ports(svc)
        result[key] = None
        for ip in wanted(svc):
            if fits(ip, ports) and ok(ip):
                taken.setdefault(ip, set()).update(ports)
                result[key] = ip
                break
    return result


def status_patch(svc: Mapping[str, Any], ip: str | None) -> Obj | None:
    """The merge patch that makes ``status.loadBalancer`` show ``ip`` (None: nothing to do)."""
    want: list[Obj] = [{"ip": ip, "ipMode": "VIP"}] if ip else []
    have = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if have == want:
        return None
    return {"status": {"loadBalancer": {"ingress": want or None}}}


def is_local_address(ip: str) -> bool:
    """Whether this machine owns ``ip`` (binding to it works only for local addresses)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((ip, 0))
    except OSError:
        return False
    return True


class ServiceLB:
    def __init__(
        self,
        client: rest.RESTClient,
        *,
        services: informer.SharedInformer[Obj],
        pool: Callable[[], Sequence[str]],
        require_local: bool = True,
        is_local: Callable[[str], bool] = is_local_address,
        recorder: events.EventRecorder | None = None,
        lb_class: str = LB_CLASS,
    ) -> None:
        self.client = client
        self.services = services
        self.pool = pool
        self.require_local = require_local
        self.is_local = is_local
        self.recorder = recorder
        self.lb_class = lb_class
        self._dirty = asyncio.Event()
        self._reported: dict[ObjectKey, str | None] = {}
        self._registration: informer.Registration[Obj] | None = None

    def trigger(self) -> None:
        self._dirty.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._registration = self.services.on_change(lambda _svc: self.trigger())
        try:
            await self.services.wait_synced()
            self.trigger()
            while not stop.is_set():
                waiter = asyncio.ensure_future(self._dirty.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
                if stop.is_set():
                    break
                self._dirty.clear()
                try:
                    await self.reconcile()
                except (errors.ApiError, errors.TransportError) as exc:
                    log.warning("servicelb: %s; retrying", exc)
                    await asyncio.sleep(1.0)
                    self.trigger()
        finally:
            if self._registration is not None:
                self._registration.remove()

    async def reconcile(self) -> None:
        services = self.services.list()
        pool = list(self.pool())
        usable = self._usable if self.require_local else None
        plan = allocate(services, pool, usable=usable, lb_class=self.lb_class)
        pool_set = set(expand_pool(pool))
        failed = False
        for svc in services:
            key = ObjectKey.of(svc)
            if key in plan:
                patch = status_patch(svc, plan[key])
                self._report(svc, key, plan[key])
            elif _no_longer_lb(svc) and ingress_ips(svc) and set(ingress_ips(svc)) <= pool_set:
                patch = {"status": {"loadBalancer": {"ingress": None}}}
            else:
                continue
            if patch is None:
                continue
            try:
                await self.client.patch(
                    SERVICES, key.name, patch, namespace=key.namespace, subresource="status"
                )
            except errors.NotFound:
                continue
            except (errors.ApiError, errors.TransportError) as exc:
                log.warning("servicelb: updating %s failed: %s", key, exc)
                failed = True
        for gone in set(self._reported) - set(plan):
            del self._reported[gone]
        if failed:
            raise errors.TransportError("some status writes failed")

    def _usable(self, ip: str) -> bool:
        if self.is_local(ip):
            return True
        log.warning("servicelb: pool address %s is not on this machine; not used", ip)
        return False

    def _report(self, svc: Mapping[str, Any], key: ObjectKey, ip: str | None) -> None:
        if key in self._reported and self._reported[key] == ip:
            return
        self._reported[key] = ip
        if ip:
            log.info("servicelb: %s gets %s", key, ip)
        else:
            log.warning("servicelb: no free address for %s", key)
        if self.recorder is None:
            return
        if ip:
            self.recorder.record(svc, reason="IPAllocated", message=f'Assigned IP ["{ip}"]')
        else:
            self.recorder.record(
                svc,
                reason="AllocationFailed",
                message=f'Failed to allocate IP for "{key}": no available IPs',
                event_type=events.EventType.WARNING,
            )
