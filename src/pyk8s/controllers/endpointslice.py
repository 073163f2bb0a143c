"""EndpointSlice controller (upstream's pkg/controller/endpointslice).

Contract:
- For every Service with a non-empty ``spec.selector`` (and not of type ExternalName) the
  controller keeps ``discovery.k8s.io/v1`` EndpointSlices, addressType IPv4, created with
  ``generateName: <service>-``, labelled ``kubernetes.io/service-name: <service>`` and
  ``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io``, with a
  controller ownerReference to the Service. Headless services are handled the same way.
- Endpoints come from the pods in the Service's namespace whose labels match the selector,
  that have an IPv4 ``podIP`` and are not terminal (Succeeded/Failed). Each endpoint has
  ``addresses``, ``conditions`` (serving = pod Ready, terminating = being deleted, ready =
  serving and not terminating; ``publishNotReadyAddresses`` makes every endpoint ready and
  serving), ``hostname`` (when the pod's ``subdomain`` is the Service),
  ``nodeName``, ``targetRef`` and ``zone`` (the node's
  ``topology.kubernetes.io/zone`` label, when the node is cached).
- Ports are resolved per pod from each service port's ``targetPort``: a number is used
  as is (absent: the service port), a name is looked up among the pod's container ports
  with the same protocol; a port that does not resolve is left out for that pod. Pods are
  grouped by their resolved port list; each group is cut into slices of at most
  ``MAX_ENDPOINTS`` (100) endpoints, sorted by address.
- Managed slices are updated in place, created or deleted to match; a Service whose
  selector was removed loses its managed slices; slices of a deleted Service go with the
  garbage collector (ownerReference). Slices managed by someone else are never touched.
- ``desired_slices`` is the pure part; ``sync(key)`` applies it. Writes not yet seen in
  the cache are remembered, and a Service is not re-synced from a stale cache until they
  show up (upstream's endpoint-slice tracker).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.refs import controller_ref
from pyk8s.controllers.workload_pods import NODES, PODS, is_pod_ready, labels, meta, phase

__all__ = [
    "ENDPOINTSLICES",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "MAX_ENDPOINTS",
    "SERVICES",
    "SERVICE_NAME_LABEL",
    "EndpointSliceController",
    "desired_slices",
    "endpoint_for_pod",
    "has_selector",
    "is_ipv4",
    "managed_by_us",
    "new",
    "pod_included",
    "pod_ipv4",
    "resolve_ports",
    "selects",
    "services_for_pod",
    "slice_body",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SERVICES = paths.resource_for("", "v1", "services", kind="Service")
ENDPOINTSLICES = paths.resource_for(
    "discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice"
)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS = 100
EXPECTATION_TIMEOUT = 10.0  # seconds to wait for our own writes to reach the cache


def new(ctx: ControllerContext) -> Controller:
    return EndpointSliceController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


# ---------------------------------------------------------------------- pure part


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, Mapping) else {}


def has_selector(service: Mapping[str, Any]) -> bool:
    """The service selects pods: a non-empty selector and not ExternalName."""
    return bool(_spec(service).get("selector")) and _spec(service).get("type") != "ExternalName"


def selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The service's (map) selector matches the pod's labels, in the same namespace."""
    sel = _spec(service).get("selector") or {}
    if not sel or meta(service).get("namespace") != meta(pod).get("namespace"):
        return False
    pod_labels = labels(pod)
    return all(pod_labels.get(k) == v for k, v in sel.items())


def services_for_pod(services: Iterable[Obj], pod: Mapping[str, Any]) -> list[Obj]:
    return [s for s in services if has_selector(s) and selects(s, pod)]


def is_ipv4(ip: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(ip), ipaddress.IPv4Address)
    except ValueError:
        return False


def pod_ipv4(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    candidates = [str(status.get("podIP") or "")]
    candidates += [str(p.get("ip") or "") for p in status.get("podIPs") or ()]
    return next((ip for ip in candidates if is_ipv4(ip)), "")


def pod_included(pod: Mapping[str, Any], *, include_terminating: bool) -> bool:
    """upstream's ShouldPodBeInEndpoints: has an IP, not terminal, and (unless
    ``include_terminating``) not being deleted."""
    if not pod_ipv4(pod):
        return False
    if not include_terminating and meta(pod).get("deletionTimestamp"):
        return False
    return phase(pod) not in ("Succeeded", "Failed")


def resolve_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """The service's ports as the pod serves them (EndpointPort form), sorted by name."""
    containers = list(_spec(pod).get("containers") or ())
    result: list[Obj] = []
    for sp in _spec(service).get("ports") or ():
        protocol = str(sp.get("protocol") or "TCP")
        target = sp.get("targetPort")
        number: int | None
        if target is None or target == "" or target == 0:
            number = int(sp.get("port") or 0)
        elif isinstance(target, int):
            number = target
        elif isinstance(target, str) and target.isdigit():
            number = int(target)
        else:
            number = next(
                (
                    int(cp["containerPort"])
                    for c in containers
                    for cp in c.get("ports") or ()
                    if cp.get("name") == target
                    and str(cp.get("protocol") or "TCP") == protocol
                    and cp.get("containerPort")
                ),
                None,
            )
        if not number:
            continue
        port: Obj = {"name": str(sp.get("name") or ""), "port": number, "protocol": protocol}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        result.append(port)
    return sorted(result, key=lambda p: (p["name"], p["protocol"], p["port"]))


def endpoint_for_pod(
    service: Mapping[str, Any], pod: Mapping[str, Any], zones: Mapping[str, str]
) -> Obj:
    """One EndpointSlice endpoint for ``pod`` (see the module contract)."""
    terminating = bool(meta(pod).get("deletionTimestamp"))
    publish = bool(_spec(service).get("publishNotReadyAddresses"))
    serving = publish or is_pod_ready(pod)
    ready = publish or (serving and not terminating)
    endpoint: Obj = {
        "addresses": [pod_ipv4(pod)],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "namespace": str(meta(pod).get("namespace") or ""),
            "name": str(meta(pod).get("name") or ""),
            "uid": str(meta(pod).get("uid") or ""),
        },
    }
    hostname = _spec(pod).get("hostname")
    if (
        hostname
        and _spec(pod).get("subdomain") == meta(service).get("name")
        and meta(pod).get("namespace") == meta(service).get("namespace")
    ):
        endpoint["hostname"] = str(hostname)  # StatefulSet pods under their governing Service
    node = str(_spec(pod).get("nodeName") or "")
    if node:
        endpoint["nodeName"] = node
        if zones.get(node):
            endpoint["zone"] = zones[node]
    return endpoint


def _ports_key(ports: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str, int], ...]:
    return tuple((str(p["name"]), str(p["protocol"]), int(p["port"])) for p in ports)


def desired_slices(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    zones: Mapping[str, str],
    *,
    max_endpoints: int = MAX_ENDPOINTS,
) -> list[Obj]:
    """The slices the service should have, as ``{"ports": [...], "endpoints": [...]}``,
    ordered by port list then first address. A service with a selector but no matching
    pods gets one empty slice with its ports (as upstream does, placeholder slice)."""
    groups: dict[tuple[tuple[str, str, int], ...], tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not selects(service, pod) or not pod_included(pod, include_terminating=True):
            continue
        ports = resolve_ports(service, pod)
        _, eps = groups.setdefault(_ports_key(ports), (ports, []))
        eps.append(endpoint_for_pod(service, pod, zones))
    if not groups:
        return [{"ports": [], "endpoints": []}]
    result: list[Obj] = []
    for key in sorted(groups):
        ports, eps = groups[key]
        eps.sort(key=lambda e: ipaddress.IPv4Address(e["addresses"][0]))
        for i in range(0, len(eps), max_endpoints):
            result.append({"ports": ports, "endpoints": eps[i : i + max_endpoints]})
    return result


def slice_body(service: Mapping[str, Any], desired: Mapping[str, Any]) -> Obj:
    """A full EndpointSlice for ``desired`` (no name: generateName)."""
    name = str(meta(service).get("name") or "")
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{name}-",
            "namespace": str(meta(service).get("namespace") or ""),
            "labels": {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [controller_ref(service, api_version="v1", kind="Service")],
        },
        "addressType": "IPv4",
        "endpoints": list(desired["endpoints"]),
        "ports": list(desired["ports"]),
    }


def _norm(slice_: Mapping[str, Any]) -> tuple[Any, ...]:
    """What must match between a cached slice and a desired body."""
    lbls = labels(slice_)
    refs = [(r.get("uid"), r.get("controller")) for r in meta(slice_).get("ownerReferences") or ()]
    return (
        lbls.get(SERVICE_NAME_LABEL),
        lbls.get(MANAGED_BY_LABEL),
        refs,
        slice_.get("addressType"),
        list(slice_.get("endpoints") or []),
        list(slice_.get("ports") or []),
    )


def _older(cached_rv: str, written_rv: str) -> bool:
    """The cached copy predates our write (resourceVersions compared as numbers when they
    are; otherwise only equality is known)."""
    if cached_rv.isdigit() and written_rv.isdigit():
        return int(cached_rv) < int(written_rv)
    return cached_rv != written_rv


def managed_by_us(slice_: Mapping[str, Any], service_name: str) -> bool:
    lbls = labels(slice_)
    return lbls.get(SERVICE_NAME_LABEL) == service_name and lbls.get(MANAGED_BY_LABEL) == MANAGED_BY


# ---------------------------------------------------------------------- controller


class EndpointSliceController:
    name = "endpointslice-controller"

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
        self.clock = clock
        self.workers = workers
        self.services = informers.informer(SERVICES)
        self.pods = informers.informer(PODS)
        self.nodes = informers.informer(NODES)
        self.slices = informers.informer(ENDPOINTSLICES)
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(
            name=self.name, clock=clock
        )
        # service key -> (names created/updated at rv, names deleted, since)
        self._pending: dict[ObjectKey, tuple[dict[str, str], set[str], float]] = {}
        self.services.on_change(lambda s: self.queue.add(ObjectKey.of(s)))
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )
        self.slices.on_change(self._slice_changed)

    def _pod_changed(self, pod: Obj) -> None:
        ns = str(meta(pod).get("namespace") or "")
        for svc in services_for_pod(self.services.list(ns), pod):
            self.queue.add(ObjectKey.of(svc))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_changed(old)
        self._pod_changed(new)

    def _slice_changed(self, slice_: Obj) -> None:
        svc = labels(slice_).get(SERVICE_NAME_LABEL)
        if svc and labels(slice_).get(MANAGED_BY_LABEL) == MANAGED_BY:
            self.queue.add(ObjectKey(str(meta(slice_).get("namespace") or ""), svc))

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        for inf in (self.services, self.pods, self.nodes, self.slices):
            await inf.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    def _zones(self) -> dict[str, str]:
        return {
            str(meta(n).get("name") or ""): str(labels(n).get(ZONE_LABEL) or "")
            for n in self.nodes.list()
        }

    def _cache_caught_up(self, key: ObjectKey) -> bool:
        pending = self._pending.get(key)
        if pending is None:
            return True
        written, deleted, since = pending
        for name, rv in written.items():
            cached = self.slices.get(ObjectKey(key.namespace, name))
            if cached is None or _older(str(meta(cached).get("resourceVersion") or ""), rv):
                break
        else:
            if all(self.slices.get(ObjectKey(key.namespace, n)) is None for n in deleted):
                del self._pending[key]
                return True
        if self.clock.now() - since > EXPECTATION_TIMEOUT:
            del self._pending[key]
            return True
        return False

    async def sync(self, key: ObjectKey) -> None:
        if not self._cache_caught_up(key):
            self.queue.add_after(key, 0.2)
            return
        svc = self.services.get(key)
        existing = sorted(
            (s for s in self.slices.list(key.namespace) if managed_by_us(s, key.name)),
            key=lambda s: str(meta(s).get("name") or ""),
        )
        if svc is None or meta(svc).get("deletionTimestamp"):
            return  # the garbage collector removes owned slices
        if not has_selector(svc):
            await self._apply(key, existing, [])
            return
        pods = self.pods.list(key.namespace)
        desired = [slice_body(svc, d) for d in desired_slices(svc, pods, self._zones())]
        await self._apply(key, existing, desired)

    async def _apply(self, key: ObjectKey, existing: list[Obj], desired: list[Obj]) -> None:
        written: dict[str, str] = {}
        deleted: set[str] = set()
        try:
            # keep slices that already match, then reuse the rest in order
            unmatched_existing = list(existing)
            todo: list[Obj] = []
            for body in desired:
                same = next((s for s in unmatched_existing if _norm(s) == _norm(body)), None)
                if same is not None:
                    unmatched_existing.remove(same)
                else:
                    todo.append(body)
            for body in todo:
                if unmatched_existing:
                    old = unmatched_existing.pop(0)
                    update = {**body, "metadata": {**meta(old), **body["metadata"]}}
                    update["metadata"].pop("generateName", None)
                    result = await self.client.update(ENDPOINTSLICES, update)
                else:
                    result = await self.client.create(ENDPOINTSLICES, body)
                written[str(meta(result)["name"])] = str(meta(result).get("resourceVersion"))
            for old in unmatched_existing:
                name = str(meta(old).get("name") or "")
                try:
                    await self.client.delete(ENDPOINTSLICES, name, namespace=key.namespace)
                except errors.NotFound:
                    pass
                deleted.add(name)
        finally:
            if written or deleted:
                self._pending[key] = (written, deleted, self.clock.now())
