"""zone.service_entry (what DNS keeps of a Service and its slices) and ZoneData's indexes
and change tags."""

from __future__ import annotations

from typing import Any

import pytest
from dnstesting import ep, eslice, svc

from pyk8s.dns import zone
from pyk8s.dns.zone import Endpoint, Kind, Port, ServiceEntry, ZoneData

HTTP = (Port("http", "tcp", 80),)


@pytest.mark.parametrize(
    ("service", "slices", "expected"),
    [
        pytest.param(
            svc("NS", "Web", ip="10.96.0.20"),
            [],
            ServiceEntry("ns", "web", Kind.CLUSTER_IP, cluster_ips=("10.96.0.20",), ports=HTTP),
            id="clusterip-lower-cased",
        ),
        pytest.param(
            svc("ns", "d", ips=["10.96.0.21", "FD00:0::21"]),
            [],
            ServiceEntry(
                "ns", "d", Kind.CLUSTER_IP, cluster_ips=("10.96.0.21", "fd00::21"), ports=HTTP
            ),
            id="dualstack-canonical-ipv6",
        ),
        pytest.param(
            svc("ns", "e", external="Www.Example.COM."),
            [eslice("ns", "e", [ep("10.0.0.1")])],
            ServiceEntry("ns", "e", Kind.EXTERNAL_NAME, external_name="www.example.com."),
            id="externalname-ignores-slices",
        ),
        pytest.param(
            svc("ns", "h"),
            [
                eslice(
                    "ns",
                    "h",
                    [ep("10.244.0.2", hostname="H-1"), ep("10.244.0.3", ready=False)],
                    name="h-b",
                ),
                eslice("ns", "h", [ep("10.244.0.1", ready=None)], name="h-a"),
            ],
            ServiceEntry(
                "ns",
                "h",
                Kind.HEADLESS,
                ports=HTTP,
                endpoints=(
                    Endpoint("10.244.0.1", "10-244-0-1", HTTP),
                    Endpoint("10.244.0.2", "h-1", HTTP),
                ),
            ),
            id="headless-ready-only-slices-in-name-order",
        ),
        pytest.param(
            svc("ns", "p", publish_not_ready=True),
            [eslice("ns", "p", [ep("10.244.0.3", ready=False)])],
            ServiceEntry(
                "ns",
                "p",
                Kind.HEADLESS,
                ports=HTTP,
                endpoints=(Endpoint("10.244.0.3", "10-244-0-3", HTTP),),
            ),
            id="publish-not-ready-addresses",
        ),
        pytest.param(
            svc("ns", "t", annotations={zone.TOLERATE_UNREADY: "true"}),
            [eslice("ns", "t", [ep("10.244.0.3", ready=False)])],
            ServiceEntry(
                "ns",
                "t",
                Kind.HEADLESS,
                ports=HTTP,
                endpoints=(Endpoint("10.244.0.3", "10-244-0-3", HTTP),),
            ),
            id="tolerate-unready-annotation",
        ),
        pytest.param(
            svc("ns", "f"),
            [eslice("ns", "f", [ep("db.example.com")], address_type="FQDN")],
            ServiceEntry("ns", "f", Kind.HEADLESS, ports=HTTP),
            id="fqdn-slices-ignored",
        ),
        pytest.param(
            svc("ns", "dup"),
            [
                eslice("ns", "dup", [ep("10.244.0.1")], name="a"),
                eslice("ns", "dup", [ep("10.244.0.1")], name="b"),
            ],
            ServiceEntry(
                "ns",
                "dup",
                Kind.HEADLESS,
                ports=HTTP,
                endpoints=(Endpoint("10.244.0.1", "10-244-0-1", HTTP),),
            ),
            id="duplicate-endpoints-across-slices-once",
        ),
        pytest.param(
            svc("ns", "v6"),
            [eslice("ns", "v6", [ep("fd00::")], ports=None, address_type="IPv6")],
            ServiceEntry(
                "ns",
                "v6",
                Kind.HEADLESS,
                ports=HTTP,
                endpoints=(Endpoint("fd00::", "fd00--0", (Port("", "", -1),)),),
            ),
            id="ipv6-dashed-trailing-zero-and-portless-slice",
        ),
        pytest.param(
            svc("ns", "u", ip="10.96.0.5", ports=[("", 8080, "UDP")]),
            [],
            ServiceEntry(
                "ns",
                "u",
                Kind.CLUSTER_IP,
                cluster_ips=("10.96.0.5",),
                ports=(Port("", "udp", 8080),),
            ),
            id="unnamed-udp-port",
        ),
    ],
)
def test_service_entry(
    service: dict[str, Any], slices: list[dict[str, Any]], expected: ServiceEntry
) -> None:
    assert zone.service_entry(service, slices) == expected


def test_put_and_remove_keep_reverse_indexes_and_tags() -> None:
    z = ZoneData()
    a = zone.service_entry(svc("ns", "a", ip="10.96.0.1"), [eslice("ns", "a", [ep("10.244.0.1")])])
    tags = z.put(a, now=5)
    assert tags == {
        zone.service_tag("ns", "a"),
        zone.namespace_tag("ns"),
        zone.ip_tag("10.96.0.1"),
        zone.ip_tag("10.244.0.1"),
    }
    assert z.cluster_ips == {"10.96.0.1": {("ns", "a"): None}}
    assert z.endpoint_ips == {"10.244.0.1": {("ns", "a"): None}}
    assert z.namespace_exists("ns") and z.serial == 5
    assert z.put(a, now=9) == set(), "an unchanged entry changes nothing"
    assert z.serial == 5

    moved = zone.service_entry(
        svc("ns", "a", ip="10.96.0.2"), [eslice("ns", "a", [ep("10.244.0.1")])]
    )
    tags = z.put(moved, now=7)
    assert zone.ip_tag("10.96.0.1") in tags and zone.ip_tag("10.96.0.2") in tags
    assert z.cluster_ips == {"10.96.0.2": {("ns", "a"): None}}

    tags = z.remove(("ns", "a"), now=8)
    assert zone.service_tag("ns", "a") in tags
    assert z.cluster_ips == {} and z.endpoint_ips == {} and z.services == {}
    assert not z.namespace_exists("ns")
    assert z.remove(("ns", "a")) == set()


def test_dns_service_change_tags_the_zone() -> None:
    z = ZoneData()
    tags = z.put(zone.service_entry(svc("kube-system", "kube-dns", ip="10.96.0.10")))
    assert zone.ZONE_TAG in tags
    assert z.dns_service() is not None


def test_namespaces() -> None:
    z = ZoneData()
    assert z.set_namespace("a", True, now=3) == {zone.namespace_tag("a")}
    assert z.set_namespace("a", True) == set()
    assert z.namespace_exists("a")
    assert z.set_namespace("a", False) == {zone.namespace_tag("a")}
    assert not z.namespace_exists("a")


@pytest.mark.parametrize(
    ("ip", "dashed"),
    [
        pytest.param("10.1.2.3", "10-1-2-3", id="v4"),
        pytest.param("fd00::5", "fd00--5", id="v6"),
        pytest.param("fd00::", "fd00--0", id="v6-trailing"),
    ],
)
def test_dashed_ip(ip: str, dashed: str) -> None:
    assert zone.dashed_ip(ip) == dashed
