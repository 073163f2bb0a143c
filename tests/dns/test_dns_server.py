"""The DNS server against a real apiserver: Services and EndpointSlices created through
the API are answered over UDP and TCP on 127.0.0.1, changes are followed, other names go
to a fake upstream on loopback, and /metrics, /health, /ready answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable

import dnslib
import pytest_asyncio
from dnstesting import (
    FakeUpstream,
    answers,
    ep,
    eslice,
    query_packet,
    rcode,
    static_upstream,
    svc,
    tcp_query,
    udp_query,
)

from cluster import Cluster
from pyk8s.client import config, rest
from pyk8s.dns import bootstrap, server
from pyk8s.dns.watch import ENDPOINTSLICES, SERVICES

UPSTREAM = {
    ("www.example.com.", "A"): ["192.0.2.1"],
    ("outside.example.", "A"): ["192.0.2.7"],
}


@pytest_asyncio.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(
        config.from_kubeconfig(cluster.kubeconfig), qps=500, burst=1000
    ) as c:
        yield c


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    up = FakeUpstream(static_upstream(UPSTREAM))
    await up.start()
    yield up
    await up.stop()


@contextlib.asynccontextmanager
async def running(
    client: rest.RESTClient, upstream: FakeUpstream, *, idle: float = 10.0
) -> AsyncIterator[server.DnsServer]:
    dns = server.DnsServer(
        client=client,
        config=server.DnsConfig(
            bind="127.0.0.1:0",
            upstreams=[upstream.address],
            metrics_bind="127.0.0.1:0",
            tcp_idle_timeout=idle,
        ),
    )
    stop = asyncio.Event()
    await dns.start()
    task = asyncio.ensure_future(dns.run(stop))
    try:
        await eventually(lambda: _true(dns.ready), message="dns ready")
        yield dns
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _true(value: bool) -> bool:
    return value


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, message: str = ""
) -> None:
    """Poll an async condition until true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(message or f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


async def test_serves_the_cluster_and_follows_changes(
    client: rest.RESTClient, upstream: FakeUpstream, namespace: str
) -> None:
    ns = namespace
    web = await client.create(
        SERVICES, svc(ns, "web", ip="", ports=[("http", 80, "TCP")]), namespace=ns
    )
    web_ip = web["spec"]["clusterIP"]
    await client.create(SERVICES, svc(ns, "db", ports=[("mysql", 3306, "TCP")]), namespace=ns)
    await client.create(SERVICES, svc(ns, "ext", external="www.example.com"), namespace=ns)
    await client.create(
        ENDPOINTSLICES,
        eslice(
            ns,
            "db",
            [ep("10.244.7.10", hostname="db-0")],
            name="db-1",
            ports=[("mysql", 3306, "TCP")],
        ),
        namespace=ns,
    )
    addr: tuple[str, int]
    async with running(client, upstream) as dns:
        addr = dns.udp_address
        fqdn = f"web.{ns}.svc.cluster.local."
        reply = await udp_query(addr, query_packet(fqdn))
        assert answers(reply) == [(fqdn, "A", web_ip)]

        # TCP, several queries on one connection
        db = f"db.{ns}.svc.cluster.local."
        replies = await tcp_query(
            addr,
            [
                query_packet(fqdn.upper(), qid=1),
                query_packet(f"_http._tcp.{fqdn}", "SRV", qid=2),
                query_packet(db, qid=3),
                query_packet(f"db-0.{db}", qid=4),
            ],
        )
        assert [dnslib.DNSRecord.parse(r).header.id for r in replies] == [1, 2, 3, 4]
        assert answers(replies[0]) == [(fqdn, "A", web_ip)]
        assert answers(replies[1]) == [(f"_http._tcp.{fqdn}", "SRV", f"0 100 80 {fqdn}")]
        assert answers(replies[2]) == [(db, "A", "10.244.7.10")]
        assert answers(replies[3]) == [(f"db-0.{db}", "A", "10.244.7.10")]

        # reverse lookup of the ClusterIP
        rev = ".".join(reversed(web_ip.split("."))) + ".in-addr.arpa."
        assert answers(await udp_query(addr, query_packet(rev, "PTR"))) == [(rev, "PTR", fqdn)]

        # a new endpoint shows up
        sl = await client.get(ENDPOINTSLICES, "db-1", namespace=ns)
        sl["endpoints"].append(ep("10.244.7.11", hostname="db-1"))
        await client.update(ENDPOINTSLICES, sl, namespace=ns)

        async def two_endpoints() -> bool:
            got = answers(await udp_query(addr, query_packet(db)))
            return sorted(x[2] for x in got) == ["10.244.7.10", "10.244.7.11"]

        await eventually(two_endpoints, message="second endpoint")

        # a not-ready endpoint goes away
        sl = await client.get(ENDPOINTSLICES, "db-1", namespace=ns)
        sl["endpoints"][0]["conditions"] = {"ready": False}
        await client.update(ENDPOINTSLICES, sl, namespace=ns)

        async def only_second() -> bool:
            return answers(await udp_query(addr, query_packet(db))) == [(db, "A", "10.244.7.11")]

        await eventually(only_second, message="not-ready endpoint dropped")

        # a deleted service is NXDOMAIN, a new one answers
        await client.delete(SERVICES, "web", namespace=ns)

        async def web_gone() -> bool:
            return rcode(await udp_query(addr, query_packet(fqdn))) == "NXDOMAIN"

        await eventually(web_gone, message="service deleted")
        await client.create(SERVICES, svc(ns, "late", ip=""), namespace=ns)

        async def late_known() -> bool:
            return bool(
                answers(await udp_query(addr, query_packet(f"late.{ns}.svc.cluster.local.")))
            )

        await eventually(late_known, message="service created")

        # names outside the zone go to the (fake, loopback) upstream, over UDP and TCP
        out = await udp_query(addr, query_packet("www.example.com.", qid=99))
        assert dnslib.DNSRecord.parse(out).header.id == 99
        assert answers(out) == [("www.example.com.", "A", "192.0.2.1")]
        (out_tcp,) = await tcp_query(addr, [query_packet("outside.example.")])
        assert answers(out_tcp) == [("outside.example.", "A", "192.0.2.7")]
        assert ("tcp", "outside.example.", "A") in upstream.queries
        assert rcode(await udp_query(addr, query_packet("missing.example."))) == "NXDOMAIN"
        # an unknown reverse name is forwarded too
        await udp_query(addr, query_packet("9.9.9.10.in-addr.arpa.", "PTR"))
        assert ("udp", "9.9.9.10.in-addr.arpa.", "PTR") in upstream.queries

        # ExternalName: CNAME, chased upstream
        ext = f"ext.{ns}.svc.cluster.local."
        assert answers(await udp_query(addr, query_packet(ext))) == [
            (ext, "CNAME", "www.example.com."),
            ("www.example.com.", "A", "192.0.2.1"),
        ]
        assert (
            rcode(await udp_query(addr, query_packet("dns-version.cluster.local.", "TXT")))
            == "NOERROR"
        )

        status, text = await asyncio.to_thread(_get, dns.metrics_url + "/metrics")
        assert status == 200
        assert 'coredns_dns_requests_total{proto="udp",server=' in text
        assert "coredns_dns_request_duration_seconds_bucket" in text
        assert "pyk8s_dns_cache_hits_total" in text
        assert await asyncio.to_thread(_get, dns.metrics_url + "/health") == (200, "OK")
        assert await asyncio.to_thread(_get, dns.metrics_url + "/ready") == (200, "OK")

    # stopped: the port is free again
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(addr)


async def test_bootstrap_manifests_are_valid_objects(client: rest.RESTClient) -> None:
    """The apiserver accepts the kube-dns Service (with its fixed ClusterIP) and the node
    EndpointSlice as they are (dry run: the shared cluster keeps no kube-dns)."""
    got = await client.create(SERVICES, bootstrap.kube_dns_service(), dry_run=True)
    assert got["spec"]["clusterIP"] == "10.96.0.10"
    assert [p["name"] for p in got["spec"]["ports"]] == ["dns", "dns-tcp", "metrics"]
    sl = await client.create(
        ENDPOINTSLICES,
        bootstrap.kube_dns_endpoint_slice(addresses=["127.0.0.1"], node_name="n"),
        dry_run=True,
    )
    assert sl["endpoints"][0]["addresses"] == ["127.0.0.1"]


async def test_tcp_connections_idle_out_and_do_not_block_stop(
    client: rest.RESTClient, upstream: FakeUpstream
) -> None:
    async with running(client, upstream, idle=0.3) as dns:
        reader, writer = await asyncio.open_connection(*dns.udp_address)
        async with asyncio.timeout(10):
            assert await reader.read() == b"", "closed by the server after the idle timeout"
        writer.close()
        await writer.wait_closed()
        _, held = await asyncio.open_connection(*dns.udp_address)
    # the block ended: the server stopped with a connection still open
    held.close()
    with contextlib.suppress(ConnectionError):
        await held.wait_closed()
