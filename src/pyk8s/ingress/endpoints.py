"""From an Ingress service backend to the addresses nginx proxies to (pure).

ingress-nginx sends traffic straight to the pods behind a Service, never to its
ClusterIP, and so does this: ``backend_endpoints(service, slices, port)`` resolves the
Ingress backend port (``number`` matches ``spec.ports[].port``, ``name`` matches
``spec.ports[].name``) to the Service port, then collects from the Service's
EndpointSlices every ready endpoint address with the slice's port of the same name
(each slice carries its own port numbers, so one Service port may map to different
target ports in different slices).

Rules, as ingress-nginx and kube-proxy read EndpointSlices:
- only ``IPv4``/``IPv6`` slices; ports of protocol TCP (the default);
- an endpoint counts unless ``conditions.ready`` is ``false`` (unset means ready);
- ExternalName Services have no endpoints here (served as 503, like a Service with none);
- the result is sorted and free of duplicates, so equal inputs render equal configs;
  anything but a literal IP address is skipped (it would be written into nginx.conf).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "SERVICE_NAME_LABEL",
    "Endpoint",
    "backend_endpoints",
    "format_endpoint",
    "service_port",
]

Obj = Mapping[str, Any]
Endpoint = tuple[str, int]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def service_port(service: Obj, port: Obj) -> Obj | None:
    """The Service port an Ingress ``backend.service.port`` refers to, if any."""
    number = port.get("number")
    name = port.get("name")
    for sp in (service.get("spec") or {}).get("ports") or ():
        if number is not None and sp.get("port") == number:
            return dict(sp)
        if name and sp.get("name") == name:
            return dict(sp)
    return None


def backend_endpoints(service: Obj | None, slices: Iterable[Obj], port: Obj) -> list[Endpoint]:
    if service is None:
        return []
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return []
    sp = service_port(service, port)
    if sp is None:
        return []
    if (sp.get("protocol") or "TCP") != "TCP":
        return []
    want_name = sp.get("name") or ""
    found: set[Endpoint] = set()
    for sl in slices:
        if sl.get("addressType") not in ("IPv4", "IPv6"):
            continue
        target: int | None = None
        for p in sl.get("ports") or ():
            if (p.get("name") or "") == want_name and (p.get("protocol") or "TCP") == "TCP":
                target = p.get("port")
                break
        if not isinstance(target, int) or not 0 < target < 65536:
            continue
        for ep in sl.get("endpoints") or ():
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for addr in ep.get("addresses") or ():
                if _is_ip(addr):
                    found.add((addr, target))
    return sorted(found)


def _is_ip(addr: object) -> bool:
    # addresses go into nginx's configuration verbatim: only literal IPs pass
    if not isinstance(addr, str):
        return False
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return True


def format_endpoint(endpoint: Endpoint) -> str:
    """``host:port`` for nginx; IPv6 addresses in brackets."""
    addr, port = endpoint
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
