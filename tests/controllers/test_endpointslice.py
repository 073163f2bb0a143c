"""Pure parts of the EndpointSlice controller: selection, port resolution, endpoint
conditions, grouping and the 100-endpoint cut."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import endpointslice as es

Obj = dict[str, Any]


def svc(
    *,
    selector: dict[str, str] | None = None,
    ports: list[Obj] | None = None,
    publish: bool = False,
    **spec: Any,
) -> Obj:
    s: Obj = {
        "selector": {"app": "web"} if selector is None else selector,
        "ports": ports if ports is not None else [{"name": "http", "port": 80}],
        **spec,
    }
    if publish:
        s["publishNotReadyAddresses"] = True
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid"}, "spec": s}


def pod(
    name: str,
    ip: str = "10.0.0.1",
    *,
    ready: bool = True,
    deleting: bool = False,
    phase: str = "Running",
    node: str = "n1",
    labels: dict[str, str] | None = None,
    container_ports: list[Obj] | None = None,
    namespace: str = "ns",
) -> Obj:
    m: Obj = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "labels": {"app": "web"} if labels is None else labels,
    }
    if deleting:
        m["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    status: Obj = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if ip:
        status["podIP"] = ip
    return {
        "metadata": m,
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "ports": container_ports or []}],
        },
        "status": status,
    }


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (svc(), True),
        (svc(selector={}), False),
        (svc(type="ExternalName"), False),
        (svc(clusterIP="None"), True),
    ],
)
def test_has_selector(service: Obj, expected: bool) -> None:
    assert es.has_selector(service) is expected


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (pod("a"), True),
        (pod("a", labels={"app": "other"}), False),
        (pod("a", labels={"app": "web", "x": "y"}), True),
        (pod("a", namespace="other"), False),
    ],
)
def test_selects(p: Obj, expected: bool) -> None:
    assert es.selects(svc(), p) is expected


@pytest.mark.parametrize(
    ("p", "terminating", "expected"),
    [
        (pod("a"), False, True),
        (pod("a", ip=""), True, False),
        (pod("a", ip="fd00::1"), True, False),
        (pod("a", deleting=True), False, False),
        (pod("a", deleting=True), True, True),
        (pod("a", phase="Succeeded"), True, False),
        (pod("a", phase="Failed"), True, False),
        (pod("a", ready=False), False, True),
    ],
)
def test_pod_included(p: Obj, terminating: bool, expected: bool) -> None:
    assert es.pod_included(p, include_terminating=terminating) is expected


@pytest.mark.parametrize(
    ("ports", "container_ports", "expected"),
    [
        ([{"name": "http", "port": 80}], [], [("http", 80, "TCP")]),
        ([{"name": "http", "port": 80, "targetPort": 8080}], [], [("http", 8080, "TCP")]),
        ([{"name": "http", "port": 80, "targetPort": "8081"}], [], [("http", 8081, "TCP")]),
        (
            [{"name": "http", "port": 80, "targetPort": "web"}],
            [{"name": "web", "containerPort": 9000}],
            [("http", 9000, "TCP")],
        ),
        ([{"name": "http", "port": 80, "targetPort": "web"}], [], []),
        (
            [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}],
            [{"name": "dns", "containerPort": 5353, "protocol": "TCP"}],
            [],
        ),
        (
            [
                {"name": "b", "port": 2, "protocol": "UDP"},
                {"name": "a", "port": 1},
            ],
            [],
            [("a", 1, "TCP"), ("b", 2, "UDP")],
        ),
    ],
)
def test_resolve_ports(
    ports: list[Obj], container_ports: list[Obj], expected: list[tuple[str, int, str]]
) -> None:
    got = es.resolve_ports(svc(ports=ports), pod("a", container_ports=container_ports))
    assert [(p["name"], p["port"], p["protocol"]) for p in got] == expected


def test_app_protocol_is_copied() -> None:
    got = es.resolve_ports(svc(ports=[{"name": "h", "port": 80, "appProtocol": "http"}]), pod("a"))
    assert got == [{"name": "h", "port": 80, "protocol": "TCP", "appProtocol": "http"}]


@pytest.mark.parametrize(
    ("p", "publish", "conditions"),
    [
        (pod("a"), False, (True, True, False)),
        (pod("a", ready=False), False, (False, False, False)),
        (pod("a", deleting=True), False, (False, True, True)),
        (pod("a", ready=False), True, (True, True, False)),
        (pod("a", deleting=True, ready=False), True, (True, True, True)),
    ],
)
def test_endpoint_conditions(p: Obj, publish: bool, conditions: tuple[bool, ...]) -> None:
    ep = es.endpoint_for_pod(svc(publish=publish), p, {})
    c = ep["conditions"]
    assert (c["ready"], c["serving"], c["terminating"]) == conditions


def test_endpoint_fields_and_zone() -> None:
    ep = es.endpoint_for_pod(svc(), pod("a", ip="10.1.2.3"), {"n1": "zone-a"})
    assert ep["addresses"] == ["10.1.2.3"]
    assert ep["nodeName"] == "n1"
    assert ep["zone"] == "zone-a"
    assert ep["targetRef"] == {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}
    assert "zone" not in es.endpoint_for_pod(svc(), pod("a"), {})


def test_desired_empty_service_gets_one_empty_slice() -> None:
    assert es.desired_slices(svc(), [], {}) == [{"ports": [], "endpoints": []}]


def test_desired_sorts_by_address_and_cuts_at_max() -> None:
    pods = [pod(f"p{i}", ip=f"10.0.{i // 250}.{i % 250 + 1}") for i in range(250)][::-1]
    slices = es.desired_slices(svc(), pods, {})
    assert [len(s["endpoints"]) for s in slices] == [100, 100, 50]
    addrs = [e["addresses"][0] for s in slices for e in s["endpoints"]]
    assert addrs[:3] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert len(set(addrs)) == 250


def test_desired_groups_by_resolved_ports() -> None:
    service = svc(ports=[{"name": "h", "port": 80, "targetPort": "web"}])
    pods = [
        pod("a", ip="10.0.0.1", container_ports=[{"name": "web", "containerPort": 8080}]),
        pod("b", ip="10.0.0.2", container_ports=[{"name": "web", "containerPort": 9090}]),
        pod("c", ip="10.0.0.3", container_ports=[{"name": "web", "containerPort": 8080}]),
        pod("d", ip="10.0.0.4", labels={"app": "no"}),
    ]
    slices = es.desired_slices(service, pods, {})
    got = {s["ports"][0]["port"]: [e["targetRef"]["name"] for e in s["endpoints"]] for s in slices}
    assert got == {8080: ["a", "c"], 9090: ["b"]}


def test_slice_body() -> None:
    body = es.slice_body(svc(), {"ports": [], "endpoints": []})
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"] == {
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    ref = body["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "Service",
        "web",
        "svc-uid",
        True,
    )
    assert body["addressType"] == "IPv4"


def test_hostname_only_under_the_governing_service() -> None:
    p = pod("web-0")
    p["spec"].update(hostname="web-0", subdomain=svc()["metadata"]["name"])
    assert es.endpoint_for_pod(svc(), p, {})["hostname"] == "web-0"
    p["spec"]["subdomain"] = "other"
    assert "hostname" not in es.endpoint_for_pod(svc(), p, {})
