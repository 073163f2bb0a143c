"""The objects the system creates so pods can reach the cluster DNS (like kubeadm's CoreDNS
addon): the ``kube-system/kube-dns`` Service and, because pyk8s runs its DNS server on the
node rather than in a pod, an EndpointSlice that points the Service at the node address(es)
the server listens on.

Pure functions returning manifests; the caller creates them. Upstream facts kept here:
- the Service is named ``kube-dns`` (even for CoreDNS), in ``kube-system``, labelled
  ``k8s-app: kube-dns``, ``kubernetes.io/cluster-service: "true"``, ``kubernetes.io/name:
  CoreDNS``, with ports ``dns`` 53/UDP, ``dns-tcp`` 53/TCP and ``metrics`` 9153/TCP;
- its ClusterIP is the tenth address of the service CIDR (kubeadm: 10.96.0.10 for
  10.96.0.0/12), the address kubelets write into pods' resolv.conf (``clusterDNS``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DNS_SERVICE_NAME",
    "DNS_SERVICE_NAMESPACE",
    "dns_service_ip",
    "kube_dns_endpoint_slice",
    "kube_dns_service",
]

Obj = dict[str, Any]

DNS_SERVICE_NAMESPACE = "kube-system"
DNS_SERVICE_NAME = "kube-dns"
_LABELS = {
    "k8s-app": "kube-dns",
    "kubernetes.io/cluster-service": "true",
    "kubernetes.io/name": "CoreDNS",
}


def dns_service_ip(service_cidr: str = "10.96.0.0/12") -> str:
    """kubeadm's choice: the tenth address of the service CIDR."""
    net = ipaddress.ip_network(service_cidr, strict=False)
    return str(net.network_address + 10)


def _ports(*, with_metrics: bool) -> list[Obj]:
    ports: list[Obj] = [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
    ]
    if with_metrics:
        ports.append({"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153})
    return ports


def kube_dns_service(*, cluster_ip: str = "10.96.0.10", selector: bool = False) -> Obj:
    """The ``kube-system/kube-dns`` Service. Without ``selector`` (the default, for a DNS
    server running on the node) its endpoints come from ``kube_dns_endpoint_slice``; with
    it, from pods labelled ``k8s-app: kube-dns`` as upstream."""
    spec: Obj = {
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "ports": _ports(with_metrics=True),
        "type": "ClusterIP",
        "sessionAffinity": "None",
    }
    if selector:
        spec["selector"] = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": DNS_SERVICE_NAME,
            "namespace": DNS_SERVICE_NAMESPACE,
            "labels": dict(_LABELS),
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": spec,
    }


def kube_dns_endpoint_slice(
    *, addresses: Sequence[str], node_name: str = "", metrics_port: int | None = 9153
) -> Obj:
    """An EndpointSlice for the selector-less kube-dns Service: the node addresses where
    the DNS server listens on port 53 (and serves metrics on ``metrics_port``)."""
    ipv6 = any(":" in a for a in addresses)
    endpoints: list[Obj] = []
    for a in addresses:
        ep: Obj = {
            "addresses": [a],
            "conditions": {"ready": True, "serving": True, "terminating": False},
        }
        if node_name:
            ep["nodeName"] = node_name
        endpoints.append(ep)
    ports = [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
    ]
    if metrics_port is not None:
        ports.append({"name": "metrics", "port": metrics_port, "protocol": "TCP"})
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{DNS_SERVICE_NAME}-node",
            "namespace": DNS_SERVICE_NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": DNS_SERVICE_NAME,
                "endpointslice.kubernetes.io/managed-by": "pyk8s-dns",
                **_LABELS,
            },
        },
        "addressType": "IPv6" if ipv6 else "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }
