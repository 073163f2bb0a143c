"""Pure parts of the Endpoints controller: subsets, ready/not-ready addresses, port
grouping, labels."""

from __future__ import annotations

from typing import Any

import pytest
from test_endpointslice import pod, svc

from pyk8s.controllers import endpoints as ep

Obj = dict[str, Any]


def ips(subset: Obj, key: str = "addresses") -> list[str]:
    return [a["ip"] for a in subset.get(key) or ()]


def test_ready_and_not_ready_addresses() -> None:
    pods = [
        pod("b", "10.0.0.10"),
        pod("a", "10.0.0.9"),
        pod("c", "10.0.0.2", ready=False),
        pod("d", "10.0.0.3", deleting=True),
        pod("e", "", ready=True),
        pod("f", "10.0.0.4", phase="Succeeded"),
        pod("g", "10.0.0.5", labels={"app": "other"}),
    ]
    (subset,) = ep.desired_subsets(svc(), pods)
    assert ips(subset) == ["10.0.0.9", "10.0.0.10"]
    assert ips(subset, "notReadyAddresses") == ["10.0.0.2"]
    assert subset["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    first = subset["addresses"][0]
    assert first["nodeName"] == "n1"
    assert first["targetRef"] == {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}


@pytest.mark.parametrize(
    ("p", "in_ready"),
    [(pod("a", ready=False), True), (pod("a", deleting=True, ready=False), True)],
)
def test_publish_not_ready_addresses(p: Obj, in_ready: bool) -> None:
    (subset,) = ep.desired_subsets(svc(publish=True), [p])
    assert bool(subset.get("addresses")) is in_ready
    assert "notReadyAddresses" not in subset


def test_no_pods_no_subsets() -> None:
    assert ep.desired_subsets(svc(), []) == []


def test_unresolvable_ports_leave_the_pod_out() -> None:
    service = svc(ports=[{"name": "h", "port": 80, "targetPort": "web"}])
    pods = [
        pod("a", "10.0.0.1", container_ports=[{"name": "web", "containerPort": 8080}]),
        pod("b", "10.0.0.2", container_ports=[{"name": "web", "containerPort": 9090}]),
        pod("c", "10.0.0.3"),
    ]
    subsets = ep.desired_subsets(service, pods)
    assert [(s["ports"][0]["port"], ips(s)) for s in subsets] == [
        (8080, ["10.0.0.1"]),
        (9090, ["10.0.0.2"]),
    ]


def test_headless_without_ports_keeps_addresses() -> None:
    (subset,) = ep.desired_subsets(svc(ports=[], clusterIP="None"), [pod("a")])
    assert ips(subset) == ["10.0.0.1"]
    assert "ports" not in subset


def test_hostname_for_matching_subdomain() -> None:
    p = pod("a")
    p["spec"].update(hostname="host-a", subdomain="web")
    (subset,) = ep.desired_subsets(svc(), [p])
    assert subset["addresses"][0]["hostname"] == "host-a"
    p["spec"]["subdomain"] = "other"
    (subset,) = ep.desired_subsets(svc(), [p])
    assert "hostname" not in subset["addresses"][0]


def test_labels_copied_and_headless_label() -> None:
    service = svc(clusterIP="None")
    service["metadata"]["labels"] = {"team": "a"}
    body = ep.desired_endpoints(service, [])
    assert body["metadata"] == {
        "name": "web",
        "namespace": "ns",
        "labels": {"team": "a", ep.HEADLESS_LABEL: ""},
    }
    service["spec"]["clusterIP"] = "10.96.0.10"
    service["metadata"]["labels"][ep.HEADLESS_LABEL] = ""
    assert ep.desired_endpoints(service, [])["metadata"]["labels"] == {"team": "a"}


def test_needs_update() -> None:
    desired = ep.desired_endpoints(svc(), [pod("a")])
    assert not ep.needs_update(desired, desired)
    assert ep.needs_update({"metadata": {"labels": {}}}, desired)
    empty = ep.desired_endpoints(svc(), [])
    assert not ep.needs_update({"metadata": {}}, empty)
