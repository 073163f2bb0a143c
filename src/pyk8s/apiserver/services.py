"""Service address bookkeeping around Service writes: ClusterIPs from the service CIDR and
NodePorts from 30000-32767, allocated on create/update and released on delete (upstream's
service REST storage). Pure logic over the allocators; the registry calls these hooks."""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.apiserver.allocator import Exhausted, IPAllocator, PortAllocator

__all__ = ["ServiceAllocations"]

Obj = dict[str, Any]

_NODEPORT_TYPES = ("NodePort", "LoadBalancer")


def _invalid(name: str, field: str, value: str, message: str) -> errors.StatusError:
    msg = f"{field}: Invalid value: {value}: {message}"
    return errors.invalid(
        "", "Service", name, [{"reason": "FieldValueInvalid", "message": msg, "field": field}]
    )


class ServiceAllocations:
    def __init__(self, *, service_cidr: str, node_port_range: tuple[int, int] = (30000, 32767)):
        self.ips = IPAllocator(service_cidr)
        self.ports = PortAllocator(*node_port_range)

    @property
    def kubernetes_ip(self) -> str:
        return self.ips.first

    def load(self, services: list[Obj]) -> None:
        """Mark what stored Services already hold."""
        for svc in services:
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None" and self.ips.contains(ip):
                    try:
                        self.ips.allocate(ip)
                    except ValueError:
                        pass  # shared by two stored Services: keep it taken
            for p in spec.get("ports") or []:
                np = p.get("nodePort")
                if isinstance(np, int) and self.ports.contains(np):
                    try:
                        self.ports.allocate(np)
                    except ValueError:
                        pass

    def on_create(self, svc: Obj) -> list[tuple[str, Any]]:
        """Allocate for a new Service in place; returns what to release if the write fails."""
        taken: list[tuple[str, Any]] = []
        name = (svc.get("metadata") or {}).get("name", "")
        spec = svc.setdefault("spec", {})
        try:
            if spec.get("type") != "ExternalName":
                ip = spec.get("clusterIP") or ""
                if ip != "None":
                    if ip:
                        if not self.ips.contains(ip):
                            raise _invalid(
                                name,
                                "spec.clusterIPs",
                                f'[]string{{"{ip}"}}',
                                f"failed to allocate IP {ip}: the provided IP ({ip}) is not in "
                                f"the valid range. The range of valid IPs is {self.ips.network}",
                            )
                        try:
                            self.ips.allocate(ip)
                        except ValueError:
                            raise _invalid(
                                name,
                                "spec.clusterIPs",
                                f'[]string{{"{ip}"}}',
                                f"failed to allocate IP {ip}: provided IP is already allocated",
                            )
                    else:
                        ip = self.ips.allocate()
                    taken.append(("ip", ip))
                    spec["clusterIP"] = ip
                    spec["clusterIPs"] = [ip]
                else:
                    spec["clusterIPs"] = ["None"]
            taken += self._node_ports(svc, None)
        except (errors.StatusError, Exhausted):
            self.release(taken)
            raise
        return taken

    def _node_ports(self, svc: Obj, old: Obj | None) -> list[tuple[str, Any]]:
        spec = svc.get("spec") or {}
        name = (svc.get("metadata") or {}).get("name", "")
        taken: list[tuple[str, Any]] = []
        wants = spec.get("type") in _NODEPORT_TYPES and not (
            spec.get("type") == "LoadBalancer"
            and spec.get("allocateLoadBalancerNodePorts") is False
        )
        old_ports: dict[tuple[Any, Any], int] = {}
        if old is not None:
            for p in (old.get("spec") or {}).get("ports") or []:
                if p.get("nodePort"):
                    old_ports[(p.get("port"), p.get("protocol", "TCP"))] = p["nodePort"]
        for i, p in enumerate(spec.get("ports") or []):
            if not wants:
                p.pop("nodePort", None)
                continue
            np = p.get("nodePort")
            previous = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
            if np and np == previous:
                continue
            if not np and previous:
                p["nodePort"] = previous
                continue
            if np:
                if not self.ports.contains(np):
                    raise _invalid(
                        name,
                        f"spec.ports[{i}].nodePort",
                        str(np),
                        f"provided port is not in the valid range. The range of valid ports "
                        f"is {self.ports.low}-{self.ports.high}",
                    )
                try:
                    self.ports.allocate(np)
                except ValueError:
                    raise _invalid(
                        name,
                        f"spec.ports[{i}].nodePort",
                        str(np),
                        "provided port is already allocated",
                    )
            else:
                np = self.ports.allocate()
                p["nodePort"] = np
            taken.append(("port", np))
        return taken

    def on_update(self, new: Obj, old: Obj) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        """(taken, to_release_after_commit). ClusterIPs are immutable; NodePorts follow type."""
        new_spec = new.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        if not new_spec.get("clusterIP") and old_spec.get("clusterIP"):
            new_spec["clusterIP"] = old_spec["clusterIP"]
            new_spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        taken = self._node_ports(new, old)
        kept = {p.get("nodePort") for p in new_spec.get("ports") or [] if p.get("nodePort")}
        release = [
            ("port", p["nodePort"])
            for p in old_spec.get("ports") or []
            if p.get("nodePort") and p["nodePort"] not in kept
        ]
        return taken, release

    def on_delete(self, svc: Obj) -> None:
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
            if ip and ip != "None":
                self.ips.release(ip)
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                self.ports.release(p["nodePort"])

    def release(self, taken: list[tuple[str, Any]]) -> None:
        for kind, value in taken:
            if kind == "ip":
                self.ips.release(value)
            else:
                self.ports.release(value)
