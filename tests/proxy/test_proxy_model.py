"""model: Services and EndpointSlices distilled as kube-proxy does (service ports,
endpoint grouping, CategorizeEndpoints)."""

from __future__ import annotations

import pytest
from proxy_objects import endpoint, endpoint_slice, node, service

from pyk8s.proxy import model
from pyk8s.proxy.model import Endpoint, ServicePort, ServicePortName

SPN = ServicePortName("ns", "web", "http", "TCP")
NODE = model.NodeInfo("node-a", zone="zone-a")


def test_service_ports() -> None:
    svc = service(
        "web",
        "10.96.0.10",
        type="LoadBalancer",
        externalIPs=["192.0.2.50", "2001:db8::1"],
        externalTrafficPolicy="Local",
        internalTrafficPolicy="Cluster",
        healthCheckNodePort=31000,
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}},
        status={"loadBalancer": {"ingress": [{"ip": "192.0.2.60"}, {"hostname": "lb.example"}]}},
    )
    svc["spec"]["ports"][0]["nodePort"] = 30080
    (sp,) = model.service_ports(svc)
    assert sp == ServicePort(
        name=SPN,
        cluster_ip="10.96.0.10",
        port=80,
        node_port=30080,
        external_ips=("192.0.2.50",),
        lb_ips=("192.0.2.60",),
        affinity_timeout=30,
        external_policy_local=True,
        internal_policy_local=False,
        health_check_node_port=31000,
    )
    assert sp.uses_cluster_endpoints and sp.uses_local_endpoints and sp.externally_accessible
    assert str(sp.name) == "ns/web:http"


@pytest.mark.parametrize(
    ("spec", "proxied"),
    [
        pytest.param({"type": "ClusterIP"}, True, id="cluster-ip"),
        pytest.param({"clusterIP": "None", "clusterIPs": ["None"]}, False, id="headless"),
        pytest.param({"type": "ExternalName"}, False, id="external-name"),
        pytest.param({"clusterIP": "", "clusterIPs": []}, False, id="no-ip"),
    ],
)
def test_which_services_are_proxied(spec: dict[str, object], proxied: bool) -> None:
    svc = service("web", "10.96.0.10")
    svc["spec"].update(spec)
    assert bool(model.service_ports(svc)) is proxied


def test_external_policy_local_only_when_externally_accessible() -> None:
    (sp,) = model.service_ports(service("web", "10.96.0.10", externalTrafficPolicy="Local"))
    assert not sp.external_policy_local
    assert not sp.uses_local_endpoints


def test_endpoints_by_port_merges_dedupes_and_sorts() -> None:
    slices = [
        endpoint_slice("web", [endpoint("10.244.1.10", node="node-b")], name="web-1"),
        endpoint_slice(
            "web", [endpoint("10.244.1.10"), endpoint("10.244.1.9", node="node-b")], name="web-2"
        ),
        endpoint_slice("web", [endpoint("fd00::1")], name="web-3", address_type="IPv6"),
        endpoint_slice("web", [endpoint("10.244.1.8")], name="web-4", ports=[]),
    ]
    found = model.endpoints_by_port(slices, node_name="node-a")
    assert list(found) == [SPN]
    assert [(str(e), e.is_local) for e in found[SPN]] == [
        ("10.244.1.10:8080", True),
        ("10.244.1.9:8080", False),
    ]


def test_node_info() -> None:
    n = node("node-a", ip="192.0.2.10", zone="zone-a")
    n["status"]["addresses"] = [
        {"type": "Hostname", "address": "node-a"},
        {"type": "ExternalIP", "address": "198.51.100.1"},
        {"type": "InternalIP", "address": "192.0.2.10"},
    ]
    assert model.node_info("node-a", n) == model.NodeInfo(
        "node-a", zone="zone-a", addresses=("192.0.2.10", "198.51.100.1")
    )
    assert model.node_info("node-a", None) == model.NodeInfo("node-a")


def ep(ip: str, *, local: bool = True, **kw: object) -> Endpoint:
    return Endpoint(ip=ip, port=80, node_name="node-a" if local else "node-b", is_local=local, **kw)  # type: ignore[arg-type]


def port(**kw: object) -> ServicePort:
    return ServicePort(name=SPN, cluster_ip="10.96.0.10", port=80, **kw)  # type: ignore[arg-type]


R1, R2 = ep("10.0.0.1"), ep("10.0.0.2", local=False)
T1 = ep("10.0.0.3", ready=False, serving=True, terminating=True)
T2 = ep("10.0.0.4", local=False, ready=False, serving=True, terminating=True)
NS = ep("10.0.0.5", ready=False, serving=False, terminating=True)


@pytest.mark.parametrize(
    ("sp", "eps", "cluster", "local", "reachable", "has_any"),
    [
        pytest.param(port(), [], [], [], [], False, id="none"),
        pytest.param(port(), [R1, R2], [R1, R2], [], [R1, R2], True, id="cluster-ready"),
        pytest.param(port(), [T1, NS], [T1], [], [T1], True, id="terminating-fallback"),
        pytest.param(port(), [NS], [], [], [], False, id="not-serving-is-nothing"),
        pytest.param(
            port(internal_policy_local=True), [R1, R2], [], [R1], [R1], True, id="itp-local"
        ),
        pytest.param(
            port(internal_policy_local=True), [R2], [], [], [], True, id="itp-local-remote-only"
        ),
        pytest.param(
            port(node_port=30080, external_policy_local=True),
            [R1, R2],
            [R1, R2],
            [R1],
            [R1, R2],
            True,
            id="etp-local",
        ),
        pytest.param(
            port(node_port=30080, external_policy_local=True),
            [T1, R2],
            [R2],
            [T1],
            [R2, T1],
            True,
            id="etp-local-terminating-merged",
        ),
        pytest.param(
            port(node_port=30080, external_policy_local=True),
            [T2],
            [T2],
            [],
            [T2],
            True,
            id="etp-local-remote-terminating",
        ),
    ],
)
def test_categorize(
    sp: ServicePort,
    eps: list[Endpoint],
    cluster: list[Endpoint],
    local: list[Endpoint],
    reachable: list[Endpoint],
    has_any: bool,
) -> None:
    got = model.categorize(eps, sp, NODE)
    assert got == model.Categorized(tuple(cluster), tuple(local), tuple(reachable), has_any)


def test_zone_hints_need_every_ready_endpoint_hinted() -> None:
    a = ep("10.0.0.1", zone_hints=frozenset({"zone-a"}))
    b = ep("10.0.0.2", local=False, zone_hints=frozenset({"zone-b"}))
    c = ep("10.0.0.3", local=False)
    assert model.categorize([a, b], port(), NODE).cluster == (a,)
    assert model.categorize([a, b, c], port(), NODE).cluster == (a, b, c)
    assert model.categorize([b], port(), NODE).cluster == (b,)  # no hint for our zone
