"""Pure part of node IPAM: the CIDR set (carving, occupying, releasing, running out)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import nodeipam

Obj = dict[str, Any]


def test_allocates_lowest_free_in_order() -> None:
    s = nodeipam.CIDRSet("10.244.0.0/16", 24)
    assert [s.allocate() for _ in range(3)] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    s.release("10.244.1.0/24")
    assert s.allocate() == "10.244.1.0/24"
    assert s.allocate() == "10.244.3.0/24"


def test_occupied_subnets_are_skipped() -> None:
    s = nodeipam.CIDRSet("10.244.0.0/16", 24)
    assert s.occupy("10.244.0.0/24")
    assert s.occupy("10.244.2.0/24")
    assert s.allocate() == "10.244.1.0/24"
    assert s.allocate() == "10.244.3.0/24"
    assert s.is_used("10.244.2.0/24")
    assert len(s) == 4


@pytest.mark.parametrize(
    "cidr",
    ["10.245.0.0/24", "10.244.0.0/25", "fd00::/64", "garbage", "10.244.0.0/16"],
)
def test_foreign_cidrs_are_not_occupied(cidr: str) -> None:
    s = nodeipam.CIDRSet("10.244.0.0/16", 24)
    assert not s.occupy(cidr)
    assert len(s) == 0
    s.release(cidr)  # no error


def test_full() -> None:
    s = nodeipam.CIDRSet("10.0.0.0/30", 31)
    assert [s.allocate(), s.allocate()] == ["10.0.0.0/31", "10.0.0.2/31"]
    with pytest.raises(nodeipam.CIDRSetFull):
        s.allocate()


def test_ipv6() -> None:
    s = nodeipam.CIDRSet("fd00:10::/56", 64)
    assert s.allocate() == "fd00:10::/64"
    assert s.allocate() == "fd00:10:0:1::/64"
    assert s.size == 256


@pytest.mark.parametrize(("cidr", "mask"), [("10.0.0.0/16", 8), ("10.0.0.0/16", 33)])
def test_bad_mask(cidr: str, mask: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        nodeipam.CIDRSet(cidr, mask)


def test_host_bits_in_cluster_cidr_are_ignored() -> None:
    assert nodeipam.CIDRSet("10.244.7.1/16", 24).allocate() == "10.244.0.0/24"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, []),
        ({"podCIDR": "10.0.0.0/24"}, ["10.0.0.0/24"]),
        (
            {"podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24", "fd00::/64"]},
            ["10.0.0.0/24", "fd00::/64"],
        ),
    ],
)
def test_pod_cidrs(spec: Obj, expected: list[str]) -> None:
    assert nodeipam.pod_cidrs({"spec": spec}) == expected
