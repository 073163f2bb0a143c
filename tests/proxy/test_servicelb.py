"""servicelb: which LoadBalancer Service gets which pool address (pure), and the status
patch that publishes it."""

from __future__ import annotations

from typing import Any

import pytest
from proxy_objects import service

from pyk8s.proxy import servicelb


def lb(
    name: str,
    *ports: int,
    created: str = "2024-01-01T00:00:00Z",
    ip: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    svc = service(
        name,
        "10.96.0.1",
        type="LoadBalancer",
        ports=[{"name": f"p{p}", "port": p, "protocol": "TCP"} for p in ports or (80,)],
        **spec,
    )
    svc["metadata"]["creationTimestamp"] = created
    if ip:
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}
    return svc


def plan(services: list[dict[str, Any]], pool: list[str], **kw: Any) -> dict[str, str | None]:
    return {str(k): v for k, v in servicelb.allocate(services, pool, **kw).items()}


@pytest.mark.parametrize(
    ("services", "pool", "expected"),
    [
        pytest.param(
            [lb("a", 80), lb("b", 443)],
            ["192.0.2.10"],
            {"ns/a": "192.0.2.10", "ns/b": "192.0.2.10"},
            id="different-ports-share-the-node-address",
        ),
        pytest.param(
            [lb("a", 80), lb("b", 80, created="2024-01-02T00:00:00Z")],
            ["192.0.2.10"],
            {"ns/a": "192.0.2.10", "ns/b": None},
            id="port-clash-leaves-the-younger-pending",
        ),
        pytest.param(
            [lb("a", 80), lb("b", 80, created="2024-01-02T00:00:00Z")],
            ["192.0.2.10", "192.0.2.11"],
            {"ns/a": "192.0.2.10", "ns/b": "192.0.2.11"},
            id="port-clash-moves-to-the-next-address",
        ),
        pytest.param(
            [lb("old", 80), lb("young", 80, created="2024-01-02T00:00:00Z", ip="192.0.2.10")],
            ["192.0.2.10", "192.0.2.11"],
            {"ns/young": "192.0.2.10", "ns/old": "192.0.2.11"},
            id="a-held-address-is-kept",
        ),
        pytest.param(
            [lb("a", 80, ip="203.0.113.5")],
            ["192.0.2.10"],
            {"ns/a": "192.0.2.10"},
            id="an-address-outside-the-pool-is-replaced",
        ),
        pytest.param(
            [lb("a", 80, loadBalancerIP="192.0.2.12"), lb("b", 80, loadBalancerIP="192.0.2.99")],
            ["192.0.2.8/29"],
            {"ns/a": "192.0.2.12", "ns/b": None},
            id="requested-address",
        ),
        pytest.param(
            [lb("a", 80), lb("b", 80), lb("c", 80)],
            ["192.0.2.0/30"],
            {"ns/a": "192.0.2.1", "ns/b": "192.0.2.2", "ns/c": None},
            id="cidr-pool-hosts",
        ),
        pytest.param(
            [
                lb("mine", 80, loadBalancerClass="pyk8s.io/servicelb"),
                lb("theirs", 81, loadBalancerClass="example.com/other"),
                service("plain", "10.96.0.9"),
            ],
            ["192.0.2.10"],
            {"ns/mine": "192.0.2.10"},
            id="only-our-class",
        ),
        pytest.param([lb("a", 80)], [], {"ns/a": None}, id="empty-pool"),
    ],
)
def test_allocate(
    services: list[dict[str, Any]], pool: list[str], expected: dict[str, str | None]
) -> None:
    assert plan(services, pool) == expected


def test_unusable_addresses_are_skipped_and_asked_once() -> None:
    asked: list[str] = []

    def usable(ip: str) -> bool:
        asked.append(ip)
        return ip != "192.0.2.10"

    services = [lb("a", 80), lb("b", 81)]
    assert plan(services, ["192.0.2.10", "192.0.2.11"], usable=usable) == {
        "ns/a": "192.0.2.11",
        "ns/b": "192.0.2.11",
    }
    assert asked == ["192.0.2.10", "192.0.2.11"]


def test_deleting_services_get_nothing() -> None:
    svc = lb("a", 80)
    svc["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert servicelb.allocate([svc], ["192.0.2.10"]) == {}


def test_status_patch() -> None:
    svc = lb("a", 80)
    assert servicelb.status_patch(svc, "192.0.2.10") == {
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10", "ipMode": "VIP"}]}}
    }
    assert servicelb.status_patch(lb("a", 80, ip="192.0.2.10"), "192.0.2.10") is None
    assert servicelb.status_patch(lb("a", 80, ip="192.0.2.10"), None) == {
        "status": {"loadBalancer": {"ingress": None}}
    }
    assert servicelb.status_patch(svc, None) is None


def test_expand_pool() -> None:
    assert servicelb.expand_pool(["192.0.2.1", "192.0.2.0/30", "192.0.2.9/32"]) == [
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.9",
    ]
    assert len(servicelb.expand_pool(["10.0.0.0/8"], limit=5)) == 5


def test_is_local_address() -> None:
    assert servicelb.is_local_address("127.0.0.1")
    assert not servicelb.is_local_address("203.0.113.77")
