"""Builders for the Service, EndpointSlice and Node objects the proxy tests feed in."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def service(
    name: str,
    cluster_ip: str,
    *,
    namespace: str = "ns",
    ports: list[Obj] | None = None,
    status: Obj | None = None,
    **spec: Any,
) -> Obj:
    svc: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": copy.deepcopy(ports)
            if ports is not None
            else [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            **spec,
        },
    }
    if status is not None:
        svc["status"] = status
    return svc


def endpoint(
    ip: str,
    *,
    node: str = "node-a",
    ready: bool | None = True,
    serving: bool | None = None,
    terminating: bool | None = None,
    zones: list[str] | None = None,
) -> Obj:
    cond: Obj = {}
    if ready is not None:
        cond["ready"] = ready
    if serving is not None:
        cond["serving"] = serving
    if terminating is not None:
        cond["terminating"] = terminating
    ep: Obj = {"addresses": [ip], "conditions": cond, "nodeName": node}
    if zones is not None:
        ep["hints"] = {"forZones": [{"name": z} for z in zones]}
    return ep


def endpoint_slice(
    service_name: str,
    endpoints: list[Obj],
    *,
    namespace: str = "ns",
    name: str | None = None,
    ports: list[Obj] | None = None,
    address_type: str = "IPv4",
    labels: dict[str, str] | None = None,
) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": namespace,
            "name": name or f"{service_name}-abcde",
            "labels": {"kubernetes.io/service-name": service_name, **(labels or {})},
        },
        "addressType": address_type,
        "ports": copy.deepcopy(ports)
        if ports is not None
        else [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


def node(name: str = "node-a", *, ip: str = "192.0.2.10", zone: str | None = None) -> Obj:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
    }
