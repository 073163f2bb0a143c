"""Endpoints controller: the legacy core/v1 Endpoints (upstream's
pkg/controller/endpoint).

Contract:
- Every Service with a non-empty ``spec.selector`` (not ExternalName) has one Endpoints
  object of the same name and namespace. Its labels are the Service's labels, plus
  ``service.kubernetes.io/headless: ""`` for a headless Service (``clusterIP: None``);
  upstream sets no managed-by label and no ownerReference.
- A selected pod is included when it has an IPv4 ``podIP``, is not terminal and is not
  being deleted (with ``publishNotReadyAddresses``, terminating pods are kept). It goes
  to ``addresses`` when Ready (or the service publishes not-ready addresses), otherwise to
  ``notReadyAddresses``; each address has ``ip``, ``nodeName``, ``targetRef`` and, for a
  pod whose ``hostname`` is set and whose ``subdomain`` is the service, ``hostname``.
- Ports are resolved per pod as for EndpointSlices (``endpointslice.resolve_ports``); a
  pod none of whose ports resolve is left out, unless the service has no ports at all
  (headless). Pods with the same resolved ports share a subset (upstream's
  RepackSubsets); subsets and addresses are sorted.
- Endpoints of Services without a selector are never touched; the Endpoints of a deleted
  Service are deleted. ``desired_subsets`` / ``desired_endpoints`` are the pure part;
  ``sync(key)`` writes only when the labels or subsets differ.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.endpointslice import (
    SERVICES,
    has_selector,
    pod_included,
    pod_ipv4,
    resolve_ports,
    selects,
    services_for_pod,
)
from pyk8s.controllers.workload_pods import PODS, is_pod_ready, labels, meta

__all__ = [
    "ENDPOINTS",
    "HEADLESS_LABEL",
    "EndpointsController",
    "desired_endpoints",
    "desired_subsets",
    "needs_update",
    "new",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ENDPOINTS = paths.resource_for("", "v1", "endpoints", kind="Endpoints")
HEADLESS_LABEL = "service.kubernetes.io/headless"


def new(ctx: ControllerContext) -> Controller:
    return EndpointsController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, Mapping) else {}


def _address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    address: Obj = {
        "ip": pod_ipv4(pod),
        "targetRef": {
            "kind": "Pod",
            "namespace": str(meta(pod).get("namespace") or ""),
            "name": str(meta(pod).get("name") or ""),
            "uid": str(meta(pod).get("uid") or ""),
        },
    }
    node = str(_spec(pod).get("nodeName") or "")
    if node:
        address["nodeName"] = node
    hostname = _spec(pod).get("hostname")
    if hostname and _spec(pod).get("subdomain") == meta(service).get("name"):
        address["hostname"] = str(hostname)
    return address


def desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The Endpoints subsets for ``service`` over ``pods`` (see the module contract)."""
    publish = bool(_spec(service).get("publishNotReadyAddresses"))
    has_ports = bool(_spec(service).get("ports"))
    groups: dict[tuple[tuple[str, str, int], ...], tuple[list[Obj], list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not selects(service, pod) or not pod_included(pod, include_terminating=publish):
            continue
        ports = resolve_ports(service, pod)
        if has_ports and not ports:
            continue
        key = tuple((str(p["name"]), str(p["protocol"]), int(p["port"])) for p in ports)
        _, ready, not_ready = groups.setdefault(key, (ports, [], []))
        (ready if publish or is_pod_ready(pod) else not_ready).append(_address(service, pod))

    def by_ip(a: Mapping[str, Any]) -> tuple[ipaddress.IPv4Address, str]:
        return ipaddress.IPv4Address(a["ip"]), str(a["targetRef"]["uid"])

    subsets: list[Obj] = []
    for key in sorted(groups):
        ports, ready, not_ready = groups[key]
        subset: Obj = {}
        if ready:
            subset["addresses"] = sorted(ready, key=by_ip)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=by_ip)
        if ports:
            subset["ports"] = ports
        subsets.append(subset)
    return subsets


def desired_labels(service: Mapping[str, Any]) -> dict[str, str]:
    result = dict(labels(service))
    if _spec(service).get("clusterIP") == "None":
        result[HEADLESS_LABEL] = ""
    else:
        result.pop(HEADLESS_LABEL, None)
    return result


def desired_endpoints(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": str(meta(service).get("name") or ""),
            "namespace": str(meta(service).get("namespace") or ""),
            "labels": desired_labels(service),
        },
        "subsets": desired_subsets(service, pods),
    }


def needs_update(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return dict(labels(current)) != dict(labels(desired)) or list(
        current.get("subsets") or []
    ) != list(desired.get("subsets") or [])


class EndpointsController:
    name = "endpoints-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        workers: int = 5,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.workers = workers
        self.services = informers.informer(SERVICES)
        self.pods = informers.informer(PODS)
        self.endpoints = informers.informer(ENDPOINTS)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        self.services.on_change(lambda s: self.queue.add(ObjectKey.of(s)))
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )
        self.endpoints.add_handler(on_delete=lambda e: self.queue.add(ObjectKey.of(e)))

    def _pod_changed(self, pod: Obj) -> None:
        ns = str(meta(pod).get("namespace") or "")
        for svc in services_for_pod(self.services.list(ns), pod):
            self.queue.add(ObjectKey.of(svc))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_changed(old)
        self._pod_changed(new)

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        for inf in (self.services, self.pods, self.endpoints):
            await inf.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    async def sync(self, key: ObjectKey) -> None:
        svc = self.services.get(key)
        if svc is None:
            if self.endpoints.get(key) is not None:
                try:
                    await self.client.delete(ENDPOINTS, key.name, namespace=key.namespace)
                except errors.NotFound:
                    pass
            return
        if not has_selector(svc) or meta(svc).get("deletionTimestamp"):
            return
        desired = desired_endpoints(svc, self.pods.list(key.namespace))
        current = self.endpoints.get(key)
        if current is None:
            try:
                await self.client.create(ENDPOINTS, desired)
                return
            except errors.AlreadyExists:
                current = await self.client.get(ENDPOINTS, key.name, namespace=key.namespace)
        if not needs_update(current, desired):
            return
        body = {
            **current,
            "metadata": {**meta(current), "labels": desired["metadata"]["labels"]},
            "subsets": desired["subsets"],
        }
        await self.client.update(ENDPOINTS, body)  # Conflict: retried from the cache
