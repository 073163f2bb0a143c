"""records.resolve: every rule of the Kubernetes DNS schema and of CoreDNS's kubernetes
plugin (kubeadm Corefile), as a table over one zone."""

from __future__ import annotations

import ipaddress

import pytest
from dnstesting import build_zone, ep, eslice, svc

from pyk8s.dns import records, zone
from pyk8s.dns.records import Answer, QType, Rcode, Record, Soa, Srv
from pyk8s.dns.zone import ZoneConfig, ZoneData

Z = "cluster.local."
SERIAL = 1700000000

SERVICES = [
    svc("default", "kubernetes", ip="10.96.0.1", ports=[("https", 443, "TCP")]),
    svc(
        "kube-system",
        "kube-dns",
        ip="10.96.0.10",
        ports=[("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")],
    ),
    svc("ns", "web", ip="10.96.0.20", ports=[("http", 80, "TCP"), ("https", 443, "TCP")]),
    svc("ns", "dual", ips=["10.96.0.21", "fd00::21"], ports=[("http", 80, "TCP")]),
    svc("ns", "db", ports=[("mysql", 3306, "TCP")]),
    svc("ns", "empty", ports=[("http", 80, "TCP")]),
    svc("ns", "lazy", publish_not_ready=True),
    svc("ns", "v6"),
    svc("ns", "ext", external="www.Example.com."),
    svc("ns", "alias", external="web.ns.svc.cluster.local"),
    svc("ns", "loop", external="loop.ns.svc.cluster.local"),
    svc("ns", "noports", ports=[]),
]
SLICES = [
    eslice("ns", "web", [ep("10.244.3.3")]),
    eslice(
        "ns",
        "db",
        [
            ep("10.244.1.10", hostname="db-0"),
            ep("10.244.1.11", hostname="db-1"),
            ep("10.244.1.12", ready=False),
            ep("10.244.1.13", ready=None),
        ],
        ports=[("mysql", 3306, "TCP")],
    ),
    eslice("ns", "empty", [ep("10.244.1.20", ready=False)]),
    eslice("ns", "lazy", [ep("10.244.2.5", ready=False)]),
    eslice("ns", "v6", [ep("fd00::5")], address_type="IPv6"),
    eslice("ns", "noports", [ep("10.244.4.4")], ports=None),
]


@pytest.fixture(scope="module")
def zd() -> ZoneData:
    return build_zone(
        SERVICES, SLICES, namespaces=["default", "kube-system", "ns", "other"], serial=SERIAL
    )


def ask(z: ZoneData, name: str, qtype: int = QType.A, qclass: int = 1) -> Answer:
    return records.resolve(z, tuple(name.lower().rstrip(".").split(".")), qtype, qclass)


def rr(name: str, rtype: int, data: object, ttl: int = 30) -> Record:
    return Record(name, rtype, ttl, data)  # type: ignore[arg-type]


SOA = rr(Z, QType.SOA, Soa("ns.dns." + Z, "hostmaster." + Z, SERIAL, 7200, 1800, 86400, 30))
WEB = "web.ns.svc." + Z
DB = "db.ns.svc." + Z


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "answer", "additional"),
    [
        # ClusterIP services
        pytest.param(WEB, QType.A, 0, [rr(WEB, QType.A, "10.96.0.20")], [], id="clusterip-a"),
        pytest.param(
            "Web.NS.svc.Cluster.Local.",
            QType.A,
            0,
            [rr(WEB, QType.A, "10.96.0.20")],
            [],
            id="case-insensitive",
        ),
        pytest.param(WEB, QType.AAAA, 0, [], [], id="clusterip-aaaa-nodata"),
        pytest.param(WEB, QType.TXT, 0, [], [], id="clusterip-txt-nodata"),
        pytest.param(WEB, QType.MX, 0, [], [], id="clusterip-mx-nodata"),
        pytest.param(WEB, QType.CNAME, 0, [], [], id="clusterip-cname-nodata"),
        pytest.param(
            "dual.ns.svc." + Z,
            QType.A,
            0,
            [rr("dual.ns.svc." + Z, QType.A, "10.96.0.21")],
            [],
            id="dualstack-a",
        ),
        pytest.param(
            "dual.ns.svc." + Z,
            QType.AAAA,
            0,
            [rr("dual.ns.svc." + Z, QType.AAAA, "fd00::21")],
            [],
            id="dualstack-aaaa",
        ),
        pytest.param(
            "kubernetes.default.svc." + Z,
            QType.A,
            0,
            [rr("kubernetes.default.svc." + Z, QType.A, "10.96.0.1")],
            [],
            id="kubernetes-service",
        ),
        pytest.param("nope.ns.svc." + Z, QType.A, 3, [], [], id="unknown-service-nxdomain"),
        pytest.param("web.nope.svc." + Z, QType.A, 3, [], [], id="unknown-namespace-nxdomain"),
        # SRV for ClusterIP services
        pytest.param(
            "_http._tcp." + WEB,
            QType.SRV,
            0,
            [rr("_http._tcp." + WEB, QType.SRV, Srv(0, 100, 80, WEB))],
            [rr(WEB, QType.A, "10.96.0.20")],
            id="srv-clusterip",
        ),
        pytest.param(
            "_HTTPS._TCP.web.ns.svc." + Z,
            QType.SRV,
            0,
            [rr("_https._tcp." + WEB, QType.SRV, Srv(0, 100, 443, WEB))],
            [rr(WEB, QType.A, "10.96.0.20")],
            id="srv-case-insensitive",
        ),
        pytest.param("_http._udp." + WEB, QType.SRV, 3, [], [], id="srv-wrong-protocol-nxdomain"),
        pytest.param("_ftp._tcp." + WEB, QType.SRV, 3, [], [], id="srv-unknown-port-nxdomain"),
        pytest.param(
            "http.tcp." + WEB, QType.SRV, 3, [], [], id="srv-without-underscores-nxdomain"
        ),
        pytest.param("_http._tcp." + WEB, QType.A, 0, [], [], id="srv-name-a-nodata"),
        pytest.param(
            WEB,
            QType.SRV,
            0,
            [rr(WEB, QType.SRV, Srv(0, 50, 80, WEB)), rr(WEB, QType.SRV, Srv(0, 50, 443, WEB))],
            [rr(WEB, QType.A, "10.96.0.20")],
            id="srv-on-service-name-lists-all-ports",
        ),
        pytest.param(
            "_dns._udp.kube-dns.kube-system.svc." + Z,
            QType.SRV,
            0,
            [
                rr(
                    "_dns._udp.kube-dns.kube-system.svc." + Z,
                    QType.SRV,
                    Srv(0, 100, 53, "kube-dns.kube-system.svc." + Z),
                )
            ],
            [rr("kube-dns.kube-system.svc." + Z, QType.A, "10.96.0.10")],
            id="srv-kube-dns-udp",
        ),
        pytest.param(
            "_http._tcp.dual.ns.svc." + Z,
            QType.SRV,
            0,
            [rr("_http._tcp.dual.ns.svc." + Z, QType.SRV, Srv(0, 50, 80, "dual.ns.svc." + Z))],
            [
                rr("dual.ns.svc." + Z, QType.A, "10.96.0.21"),
                rr("dual.ns.svc." + Z, QType.AAAA, "fd00::21"),
            ],
            id="srv-dualstack-one-record-two-addresses",
        ),
        # headless services
        pytest.param(
            DB,
            QType.A,
            0,
            [
                rr(DB, QType.A, "10.244.1.10"),
                rr(DB, QType.A, "10.244.1.11"),
                rr(DB, QType.A, "10.244.1.13"),
            ],
            [],
            id="headless-ready-endpoints-only",
        ),
        pytest.param(DB, QType.AAAA, 0, [], [], id="headless-aaaa-nodata"),
        pytest.param(
            "empty.ns.svc." + Z, QType.A, 3, [], [], id="headless-no-ready-endpoints-nxdomain"
        ),
        pytest.param(
            "lazy.ns.svc." + Z,
            QType.A,
            0,
            [rr("lazy.ns.svc." + Z, QType.A, "10.244.2.5")],
            [],
            id="publish-not-ready-addresses",
        ),
        pytest.param(
            "v6.ns.svc." + Z,
            QType.AAAA,
            0,
            [rr("v6.ns.svc." + Z, QType.AAAA, "fd00::5")],
            [],
            id="headless-ipv6",
        ),
        pytest.param("v6.ns.svc." + Z, QType.A, 0, [], [], id="headless-ipv6-a-nodata"),
        pytest.param(
            "db-0." + DB,
            QType.A,
            0,
            [rr("db-0." + DB, QType.A, "10.244.1.10")],
            [],
            id="endpoint-hostname",
        ),
        pytest.param(
            "10-244-1-13." + DB,
            QType.A,
            0,
            [rr("10-244-1-13." + DB, QType.A, "10.244.1.13")],
            [],
            id="endpoint-dashed-ip",
        ),
        pytest.param("10-244-1-12." + DB, QType.A, 3, [], [], id="endpoint-not-ready-nxdomain"),
        pytest.param(
            "10-244-1-10." + DB, QType.A, 3, [], [], id="endpoint-with-hostname-not-by-ip"
        ),
        pytest.param(
            "fd00--5.v6.ns.svc." + Z,
            QType.AAAA,
            0,
            [rr("fd00--5.v6.ns.svc." + Z, QType.AAAA, "fd00::5")],
            [],
            id="endpoint-dashed-ipv6",
        ),
        pytest.param(
            "10-244-3-3." + WEB,
            QType.A,
            0,
            [rr("10-244-3-3." + WEB, QType.A, "10.244.3.3")],
            [],
            id="endpoint-of-clusterip-service",
        ),
        pytest.param(
            "noports.ns.svc." + Z,
            QType.A,
            0,
            [rr("noports.ns.svc." + Z, QType.A, "10.244.4.4")],
            [],
            id="headless-slice-without-ports",
        ),
        pytest.param(
            "noports.ns.svc." + Z, QType.SRV, 0, [], [], id="headless-without-ports-srv-nodata"
        ),
        pytest.param(
            "_mysql._tcp." + DB,
            QType.SRV,
            0,
            [
                rr("_mysql._tcp." + DB, QType.SRV, Srv(0, 33, 3306, "db-0." + DB)),
                rr("_mysql._tcp." + DB, QType.SRV, Srv(0, 33, 3306, "db-1." + DB)),
                rr("_mysql._tcp." + DB, QType.SRV, Srv(0, 33, 3306, "10-244-1-13." + DB)),
            ],
            [
                rr("db-0." + DB, QType.A, "10.244.1.10"),
                rr("db-1." + DB, QType.A, "10.244.1.11"),
                rr("10-244-1-13." + DB, QType.A, "10.244.1.13"),
            ],
            id="srv-headless-one-per-endpoint",
        ),
        pytest.param("_mysql._udp." + DB, QType.SRV, 3, [], [], id="srv-headless-wrong-protocol"),
        pytest.param("_mysql._tcp." + DB, QType.A, 0, [], [], id="srv-headless-a-nodata"),
        pytest.param(
            "db-1." + DB,
            QType.SRV,
            0,
            [rr("db-1." + DB, QType.SRV, Srv(0, 100, 3306, "db-1." + DB))],
            [rr("db-1." + DB, QType.A, "10.244.1.11")],
            id="srv-on-endpoint-name",
        ),
        # ExternalName
        pytest.param(
            "ext.ns.svc." + Z,
            QType.CNAME,
            0,
            [rr("ext.ns.svc." + Z, QType.CNAME, "www.example.com.")],
            [],
            id="externalname-cname",
        ),
        pytest.param(
            "alias.ns.svc." + Z,
            QType.A,
            0,
            [rr("alias.ns.svc." + Z, QType.CNAME, WEB), rr(WEB, QType.A, "10.96.0.20")],
            [],
            id="externalname-in-zone-chased",
        ),
        pytest.param("x.ext.ns.svc." + Z, QType.A, 3, [], [], id="externalname-no-endpoints"),
        pytest.param(
            "_http._tcp.ext.ns.svc." + Z, QType.SRV, 3, [], [], id="externalname-no-srv-names"
        ),
        # pods (CoreDNS "pods insecure")
        pytest.param(
            "10-244-1-5.ns.pod." + Z,
            QType.A,
            0,
            [rr("10-244-1-5.ns.pod." + Z, QType.A, "10.244.1.5")],
            [],
            id="pod-a",
        ),
        pytest.param(
            "10-244-1-5.other.pod." + Z,
            QType.A,
            0,
            [rr("10-244-1-5.other.pod." + Z, QType.A, "10.244.1.5")],
            [],
            id="pod-in-namespace-without-services",
        ),
        pytest.param("10-244-1-5.ns.pod." + Z, QType.AAAA, 0, [], [], id="pod-v4-aaaa-nodata"),
        pytest.param(
            "fd00--7.ns.pod." + Z,
            QType.AAAA,
            0,
            [rr("fd00--7.ns.pod." + Z, QType.AAAA, "fd00::7")],
            [],
            id="pod-ipv6",
        ),
        pytest.param("10-244-1-5.gone.pod." + Z, QType.A, 3, [], [], id="pod-unknown-namespace"),
        pytest.param("10-244-1-300.ns.pod." + Z, QType.A, 3, [], [], id="pod-bad-address"),
        pytest.param("x.10-244-1-5.ns.pod." + Z, QType.A, 3, [], [], id="pod-too-long"),
        # zone structure
        pytest.param(
            "dns-version." + Z,
            QType.TXT,
            0,
            [rr("dns-version." + Z, QType.TXT, "1.1.0", ttl=28800)],
            [],
            id="dns-version-txt",
        ),
        pytest.param("dns-version." + Z, QType.A, 0, [], [], id="dns-version-a-nodata"),
        pytest.param(Z, QType.SOA, 0, [SOA], [], id="apex-soa"),
        pytest.param(
            Z,
            QType.NS,
            0,
            [rr(Z, QType.NS, "ns.dns." + Z)],
            [rr("ns.dns." + Z, QType.A, "10.96.0.10")],
            id="apex-ns",
        ),
        pytest.param(Z, QType.A, 0, [], [], id="apex-a-nodata"),
        pytest.param(
            "ns.dns." + Z,
            QType.A,
            0,
            [rr("ns.dns." + Z, QType.A, "10.96.0.10")],
            [],
            id="ns-dns-address",
        ),
        pytest.param("svc." + Z, QType.A, 0, [], [], id="svc-nodata"),
        pytest.param("pod." + Z, QType.A, 0, [], [], id="pod-nodata"),
        pytest.param("ns.svc." + Z, QType.A, 0, [], [], id="namespace-nodata"),
        pytest.param("other.svc." + Z, QType.A, 0, [], [], id="namespace-without-services-nodata"),
        pytest.param("gone.svc." + Z, QType.A, 3, [], [], id="unknown-namespace-level-nxdomain"),
        pytest.param("ns.pod." + Z, QType.A, 0, [], [], id="pod-namespace-nodata"),
        pytest.param("foo." + Z, QType.A, 3, [], [], id="not-svc-or-pod-nxdomain"),
        pytest.param("a.b.c." + WEB, QType.A, 3, [], [], id="too-long-nxdomain"),
        # resolv.conf search path (ndots:5, search ns.svc.cluster.local svc.cluster.local cluster.local)
        pytest.param(
            WEB + "ns.svc.cluster.local.", QType.A, 3, [], [], id="search-fqdn-plus-ns-suffix"
        ),
        pytest.param(
            WEB + "svc.cluster.local.", QType.A, 3, [], [], id="search-fqdn-plus-svc-suffix"
        ),
        pytest.param(WEB + "cluster.local.", QType.A, 3, [], [], id="search-fqdn-plus-zone-suffix"),
        pytest.param("web.ns.ns.svc." + Z, QType.A, 3, [], [], id="search-web.ns-with-ns-suffix"),
        pytest.param(
            "web.ns.svc." + Z,
            QType.A,
            0,
            [rr(WEB, QType.A, "10.96.0.20")],
            [],
            id="search-web.ns-with-svc-suffix",
        ),
        pytest.param(
            "www.example.com.ns.svc." + Z, QType.A, 3, [], [], id="search-external-name-in-ns"
        ),
        pytest.param(
            "www.example.com.svc." + Z, QType.A, 3, [], [], id="search-external-name-in-svc"
        ),
        pytest.param("www.example.com." + Z, QType.A, 3, [], [], id="search-external-name-in-zone"),
    ],
)
def test_resolve(
    zd: ZoneData, name: str, qtype: int, rcode: int, answer: list[Record], additional: list[Record]
) -> None:
    got = ask(zd, name, qtype)
    assert (got.rcode, list(got.answer), list(got.additional)) == (rcode, answer, additional)
    assert not got.forward
    assert got.authoritative
    if got.answer:
        assert got.authority == ()
    else:
        assert got.authority == (SOA,), "negative answers carry the SOA"


@pytest.mark.parametrize(
    ("name", "answer"),
    [
        pytest.param("20.0.96.10.in-addr.arpa.", [WEB], id="ptr-clusterip"),
        pytest.param("10.1.244.10.in-addr.arpa.", ["db-0." + DB], id="ptr-endpoint-hostname"),
        pytest.param("13.1.244.10.in-addr.arpa.", ["10-244-1-13." + DB], id="ptr-endpoint-dashed"),
        pytest.param(
            "10.0.96.10.IN-ADDR.ARPA.", ["kube-dns.kube-system.svc." + Z], id="ptr-case-insensitive"
        ),
        pytest.param(
            "1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
            ["dual.ns.svc." + Z],
            id="ptr-ipv6-clusterip",
        ),
    ],
)
def test_ptr(zd: ZoneData, name: str, answer: list[str]) -> None:
    got = ask(zd, name, QType.PTR)
    owner = name.lower()
    assert got.rcode == 0
    assert list(got.answer) == [rr(owner, QType.PTR, a) for a in answer]


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        pytest.param("www.example.com.", QType.A, id="outside-zone"),
        pytest.param("example.", QType.SOA, id="outside-zone-soa"),
        pytest.param("local.", QType.A, id="zone-parent"),
        pytest.param("12.1.244.10.in-addr.arpa.", QType.PTR, id="ptr-not-ready-endpoint"),
        pytest.param("1.1.168.192.in-addr.arpa.", QType.PTR, id="ptr-unknown-ip"),
        pytest.param("0.96.10.in-addr.arpa.", QType.PTR, id="ptr-partial-name"),
        pytest.param("20.0.96.10.in-addr.arpa.", QType.A, id="reverse-name-other-type"),
    ],
)
def test_forwarded(zd: ZoneData, name: str, qtype: int) -> None:
    got = ask(zd, name, qtype)
    assert got.forward and not got.answer and not got.authoritative


def test_externalname_outside_zone_is_chased(zd: ZoneData) -> None:
    got = ask(zd, "ext.ns.svc." + Z, QType.A)
    assert got.answer == (rr("ext.ns.svc." + Z, QType.CNAME, "www.example.com."),)
    assert got.chase == "www.example.com."
    assert ask(zd, "ext.ns.svc." + Z, QType.CNAME).chase == ""


def test_externalname_loop_stops(zd: ZoneData) -> None:
    got = ask(zd, "loop.ns.svc." + Z, QType.A)
    assert got.rcode == Rcode.SERVFAIL
    assert len(got.answer) == records.MAX_CNAME_CHAIN + 1


@pytest.mark.parametrize(
    ("qtype", "qclass", "rcode"),
    [
        pytest.param(QType.AXFR, 1, Rcode.REFUSED, id="axfr-refused"),
        pytest.param(QType.IXFR, 1, Rcode.REFUSED, id="ixfr-refused"),
        pytest.param(QType.A, 3, Rcode.REFUSED, id="chaos-class-refused"),
    ],
)
def test_refused(zd: ZoneData, qtype: int, qclass: int, rcode: int) -> None:
    assert ask(zd, WEB, qtype, qclass).rcode == rcode


def test_not_synced_nxdomain_is_servfail() -> None:
    z = build_zone(SERVICES, SLICES, namespaces=["ns"], synced=False)
    assert ask(z, "nope.ns.svc." + Z).rcode == Rcode.SERVFAIL
    assert ask(z, WEB).answer, "what is known is answered"
    assert ask(z, WEB, QType.AAAA).rcode == Rcode.NOERROR, "NODATA stays NODATA"


def test_pods_disabled() -> None:
    z = build_zone(SERVICES, SLICES, namespaces=["ns"], config=ZoneConfig(pods_insecure=False))
    assert ask(z, "10-244-1-5.ns.pod." + Z).rcode == Rcode.NXDOMAIN


def test_custom_zone_and_ttl() -> None:
    cfg = ZoneConfig(zone="Corp.Example", ttl=5)
    z = build_zone(SERVICES, SLICES, namespaces=["ns"], config=cfg)
    got = ask(z, "web.ns.svc.corp.example.")
    assert got.answer == (rr("web.ns.svc.corp.example.", QType.A, "10.96.0.20", ttl=5),)
    assert ask(z, WEB).forward, "cluster.local is not ours any more"
    neg = ask(z, "nope.ns.svc.corp.example.")
    soa = neg.authority[0]
    assert (soa.name, soa.ttl) == ("corp.example.", 5)
    assert isinstance(soa.data, Soa) and soa.data.minimum == 5


def test_soa_ttl_capped_at_300() -> None:
    z = build_zone(SERVICES, namespaces=["ns"], config=ZoneConfig(ttl=3600))
    soa = ask(z, Z, QType.SOA).answer[0]
    assert soa.ttl == 300
    assert isinstance(soa.data, Soa) and soa.data.minimum == 3600


def test_ptr_prefers_clusterip_then_lists_all_endpoints() -> None:
    services = [
        svc("a", "one", ports=[]),
        svc("b", "two", ports=[]),
        svc("c", "vip", ip="10.244.9.9"),
    ]
    slices = [
        eslice("a", "one", [ep("10.244.9.9", hostname="h")]),
        eslice("b", "two", [ep("10.244.9.9")]),
    ]
    z = build_zone(services, slices)
    got = ask(z, "9.9.244.10.in-addr.arpa.", QType.PTR)
    assert [r.data for r in got.answer] == ["vip.c.svc." + Z]
    z.remove(("c", "vip"))
    got = ask(z, "9.9.244.10.in-addr.arpa.", QType.PTR)
    assert [r.data for r in got.answer] == ["h.one.a.svc." + Z, "10-244-9-9.two.b.svc." + Z]


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        pytest.param(WEB, zone.service_tag("ns", "web"), id="service"),
        pytest.param("_http._tcp." + WEB, zone.service_tag("ns", "web"), id="srv"),
        pytest.param("nope.ns.svc." + Z, zone.service_tag("ns", "nope"), id="missing-service"),
        pytest.param("ns.svc." + Z, zone.namespace_tag("ns"), id="namespace"),
        pytest.param("10-1-1-1.ns.pod." + Z, zone.namespace_tag("ns"), id="pod"),
        pytest.param("20.0.96.10.in-addr.arpa.", zone.ip_tag("10.96.0.20"), id="reverse"),
        pytest.param(Z, zone.ZONE_TAG, id="apex"),
    ],
)
def test_answers_are_tagged(zd: ZoneData, name: str, tag: zone.Tag) -> None:
    qtype = QType.PTR if "arpa" in name else QType.A
    assert tag in ask(zd, name, qtype).tags


def test_chained_externalname_carries_both_tags(zd: ZoneData) -> None:
    tags = ask(zd, "alias.ns.svc." + Z).tags
    assert zone.service_tag("ns", "alias") in tags and zone.service_tag("ns", "web") in tags


def test_reverse_ip() -> None:
    assert records.reverse_ip(("4", "3", "2", "1", "in-addr", "arpa")) == "1.2.3.4"
    assert records.reverse_ip(("4", "3", "2", "x", "in-addr", "arpa")) == ""
    assert records.reverse_ip(("4", "3", "2", "256", "in-addr", "arpa")) == ""
    nibbles = tuple(reversed(ipaddress.ip_address("fd00::1").exploded.replace(":", "")))
    assert records.reverse_ip((*nibbles, "ip6", "arpa")) == "fd00::1"
    assert records.reverse_ip((*nibbles[1:], "ip6", "arpa")) == ""


SEARCH = ("ns.svc.cluster.local", "svc.cluster.local", "cluster.local")


def glibc_search(z: ZoneData, name: str, *, ndots: int = 5) -> list[tuple[str, str]]:
    """The candidates a pod's resolver (ndots:5, kubelet search list) asks, with what it
    gets, until one answers: (candidate, NXDOMAIN|NODATA|ANSWER|FORWARD)."""
    tried: list[tuple[str, str]] = []
    as_is = name.endswith(".")
    candidates = [name] if as_is else [f"{name}.{s}." for s in SEARCH]
    if not as_is:
        candidates.insert(len(candidates) if name.count(".") < ndots else 0, name + ".")
    for cand in candidates:
        got = ask(z, cand)
        outcome = (
            "FORWARD"
            if got.forward
            else "ANSWER"
            if got.answer
            else Rcode(got.rcode).name.replace("NOERROR", "NODATA")
        )
        tried.append((cand, outcome))
        if outcome in ("ANSWER", "FORWARD"):
            break
    return tried


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("web", [("web.ns.svc.cluster.local.", "ANSWER")], id="short-name"),
        pytest.param(
            "web.ns",
            [("web.ns.ns.svc.cluster.local.", "NXDOMAIN"), ("web.ns.svc.cluster.local.", "ANSWER")],
            id="service-dot-namespace",
        ),
        pytest.param(
            "web.ns.svc.cluster.local",
            [
                ("web.ns.svc.cluster.local.ns.svc.cluster.local.", "NXDOMAIN"),
                ("web.ns.svc.cluster.local.svc.cluster.local.", "NXDOMAIN"),
                ("web.ns.svc.cluster.local.cluster.local.", "NXDOMAIN"),
                ("web.ns.svc.cluster.local.", "ANSWER"),
            ],
            id="fqdn-without-dot-walks-the-list",
        ),
        pytest.param(
            "www.example.com",
            [
                ("www.example.com.ns.svc.cluster.local.", "NXDOMAIN"),
                ("www.example.com.svc.cluster.local.", "NXDOMAIN"),
                ("www.example.com.cluster.local.", "NXDOMAIN"),
                ("www.example.com.", "FORWARD"),
            ],
            id="external-name-forwarded-last",
        ),
        pytest.param(
            "web.ns.svc.cluster.local.",
            [("web.ns.svc.cluster.local.", "ANSWER")],
            id="trailing-dot",
        ),
        pytest.param(
            "kubernetes.default",
            [
                ("kubernetes.default.ns.svc.cluster.local.", "NXDOMAIN"),
                ("kubernetes.default.svc.cluster.local.", "ANSWER"),
            ],
            id="kubernetes.default",
        ),
        pytest.param(
            "ns",
            [
                ("ns.ns.svc.cluster.local.", "NXDOMAIN"),
                ("ns.svc.cluster.local.", "NODATA"),
                ("ns.cluster.local.", "NXDOMAIN"),
                ("ns.", "FORWARD"),
            ],
            id="namespace-name-is-nodata-then-forwarded",
        ),
    ],
)
def test_search_path(zd: ZoneData, name: str, expected: list[tuple[str, str]]) -> None:
    assert glibc_search(zd, name) == expected
