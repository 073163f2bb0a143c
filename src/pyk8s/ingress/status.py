"""What ``status.loadBalancer`` of our Ingresses says (pure).

As ingress-nginx publishes it: one entry per published address, ``ip`` for IP
addresses, ``hostname`` otherwise, sorted; written through the ``ingresses/status``
subresource as a JSON merge patch (a list in a merge patch replaces the whole list).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

__all__ = ["clear_patch", "current", "desired", "status_patch"]


def desired(publish: str) -> list[dict[str, str]]:
    """``status.loadBalancer.ingress`` for a comma-separated list of addresses/names."""
    out: list[dict[str, str]] = []
    for raw in sorted({a.strip() for a in publish.split(",") if a.strip()}):
        try:
            ipaddress.ip_address(raw)
        except ValueError:
            out.append({"hostname": raw})
        else:
            out.append({"ip": raw})
    return out


def current(ingress: Mapping[str, Any]) -> list[Any]:
    lb = (ingress.get("status") or {}).get("loadBalancer") or {}
    return list(lb.get("ingress") or [])


def status_patch(entries: list[dict[str, str]]) -> dict[str, Any]:
    return {"status": {"loadBalancer": {"ingress": entries}}}


def clear_patch() -> dict[str, Any]:
    return {"status": {"loadBalancer": {"ingress": None}}}
