"""Node podCIDRs, node addresses and pod IPs."""

from __future__ import annotations

import pytest

from pyk8s.kubelet.sim import ipam


@pytest.mark.parametrize(
    ("cidr", "mask", "index", "expected"),
    [
        ("10.244.0.0/16", 24, 0, "10.244.0.0/24"),
        ("10.244.0.0/16", 24, 255, "10.244.255.0/24"),
        ("10.0.0.0/8", 24, 4999, "10.19.135.0/24"),
        ("10.244.0.0/16", 26, 5, "10.244.1.64/26"),
    ],
)
def test_node_pod_cidr(cidr: str, mask: int, index: int, expected: str) -> None:
    assert ipam.node_pod_cidr(cidr, mask, index) == expected


def test_node_pod_cidr_out_of_range() -> None:
    with pytest.raises(ValueError):
        ipam.node_pod_cidr("10.244.0.0/16", 24, 256)


def test_node_internal_ip() -> None:
    assert ipam.node_internal_ip("10.255.0.0/16", 0) == "10.255.0.1"
    assert ipam.node_internal_ip("10.255.0.0/16", 4999) == "10.255.19.136"


def test_pod_ips_skip_gateway_and_go_round_robin() -> None:
    ips = ipam.PodIPs("10.244.3.0/29")  # .2 … .6 usable
    assert ips.capacity == 5
    got = [ips.allocate(i) for i in range(5)]
    assert got == ["10.244.3.2", "10.244.3.3", "10.244.3.4", "10.244.3.5", "10.244.3.6"]
    assert ips.allocate("full") is None
    assert ips.allocate(2) == "10.244.3.4"  # an owner keeps its address
    ips.release(1)
    assert ips.allocate("new") == "10.244.3.3"
    ips.release(0)
    ips.release(4)
    assert ips.allocate("a") == "10.244.3.6"  # round robin goes on after .3, not back to .2


def test_reserve_adopts_free_addresses_only() -> None:
    ips = ipam.PodIPs("10.244.0.0/24")
    assert ips.reserve("a", "10.244.0.9")
    assert not ips.reserve("b", "10.244.0.9")
    assert ips.reserve("a", "10.244.0.9")
    assert not ips.reserve("c", "10.244.1.9")  # another node's range
    assert not ips.reserve("c", "10.244.0.1")  # the gateway
    assert not ips.reserve("c", "garbage")
    assert ips.get("a") == "10.244.0.9" and len(ips) == 1
