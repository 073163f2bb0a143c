"""Forwarding to upstream resolvers — only ever fake upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dnslib
import pytest
from dnstesting import FakeUpstream, answers, fake_upstream, query_packet, rcode, static_upstream

from pyk8s.client.testing import wait_until
from pyk8s.dns import forward

TABLE = {("www.example.com.", "A"): ["192.0.2.1"], ("www.example.com.", "AAAA"): ["2001:db8::1"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.2.3.4", ("1.2.3.4", 53), id="ipv4"),
        pytest.param("127.0.0.1:5353", ("127.0.0.1", 5353), id="ipv4-port"),
        pytest.param("::1", ("::1", 53), id="ipv6"),
        pytest.param("[::1]:5300", ("::1", 5300), id="ipv6-port"),
        pytest.param("[FD00:0::1]", ("fd00::1", 53), id="ipv6-brackets-canonical"),
    ],
)
def test_parse_upstream(text: str, expected: forward.Upstream) -> None:
    assert forward.parse_upstream(text) == expected


@pytest.mark.parametrize("text", ["example.com", "1.2.3.4:0", "1.2.3.4:x", ""])
def test_parse_upstream_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        forward.parse_upstream(text)


def test_parse_resolv_conf() -> None:
    text = """# generated
search ns.svc.cluster.local svc.cluster.local cluster.local
nameserver 127.0.0.53
nameserver fe80::1%eth0
nameserver not-an-ip
options ndots:5
nameserver 127.0.0.2 # trailing comment
"""
    assert forward.parse_resolv_conf(text) == [
        ("127.0.0.53", 53),
        ("fe80::1", 53),
        ("127.0.0.2", 53),
    ]


def test_default_upstreams_excludes_our_own_address(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\nnameserver 127.0.0.2\n")
    assert forward.default_upstreams(conf, bind=("127.0.0.1", 53)) == [("127.0.0.2", 53)]
    assert forward.default_upstreams(conf, bind=("0.0.0.0", 53)) == []
    assert forward.default_upstreams(conf, bind=("0.0.0.0", 5353)) == [
        ("127.0.0.1", 53),
        ("127.0.0.2", 53),
    ]
    assert forward.default_upstreams(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("upstream", "bind", "expected"),
    [
        pytest.param(("127.0.0.53", 53), ("0.0.0.0", 53), True, id="wildcard-holds-loopback"),
        pytest.param(("::1", 53), ("::", 53), True, id="wildcard-v6"),
        pytest.param(("10.0.0.2", 53), ("0.0.0.0", 53), False, id="wildcard-not-remote"),
        pytest.param(("127.0.0.1", 53), ("127.0.0.1", 5353), False, id="other-port"),
        pytest.param(("127.0.0.1", 53), ("127.0.0.1", 53), True, id="same-address"),
    ],
)
def test_is_self(upstream: forward.Upstream, bind: tuple[str, int], expected: bool) -> None:
    assert forward.is_self(upstream, bind) is expected


async def test_forward_udp_and_tcp() -> None:
    async with fake_upstream(static_upstream(TABLE)) as up:
        fw = forward.Forwarder([forward.parse_upstream(up.address)])
        await fw.start()
        try:
            for tcp in (False, True):
                reply = await fw.forward(query_packet("www.example.com.", qid=11), tcp=tcp)
                assert reply is not None
                assert answers(reply) == [("www.example.com.", "A", "192.0.2.1")]
            assert [t for t, _, _ in up.queries] == ["udp", "tcp"]
            missing = await fw.forward(query_packet("nope.example.", qid=12), tcp=False)
            assert missing is not None and rcode(missing) == "NXDOMAIN"
        finally:
            await fw.close()


async def test_dead_upstream_is_skipped() -> None:
    async with (
        fake_upstream(lambda q: None) as dead,
        fake_upstream(static_upstream(TABLE)) as alive,
    ):
        fw = forward.Forwarder(
            [forward.parse_upstream(dead.address), forward.parse_upstream(alive.address)],
            timeout=0.2,
        )
        await fw.start()
        try:
            reply = await fw.forward(query_packet("www.example.com."), tcp=False)
            assert reply is not None and answers(reply)
            assert len(dead.queries) == 1 and len(alive.queries) == 1
            assert fw.failures == 1
        finally:
            await fw.close()


async def test_all_upstreams_dead_gives_none() -> None:
    async with fake_upstream(lambda q: None) as dead:
        fw = forward.Forwarder([forward.parse_upstream(dead.address)], timeout=0.1)
        await fw.start()
        try:
            assert await fw.forward(query_packet("www.example.com."), tcp=False) is None
            assert await fw.forward(query_packet("www.example.com."), tcp=True) is None
        finally:
            await fw.close()


async def test_responses_from_elsewhere_are_ignored() -> None:
    """A spoofed answer (wrong source, right ID) does not complete the query."""

    async with fake_upstream(static_upstream(TABLE)) as up, fake_upstream(lambda q: None) as silent:
        fw = forward.Forwarder([forward.parse_upstream(silent.address)], timeout=0.3)
        await fw.start()
        try:
            task = asyncio.ensure_future(fw.forward(query_packet("www.example.com."), tcp=False))
            await wait_until(lambda: bool(silent.queries), timeout=5)
            (qid,) = list(fw._inflight)
            spoof = dnslib.DNSRecord.question("www.example.com.").reply()
            spoof.header.id = qid
            spoof.add_answer(*dnslib.RR.fromZone("www.example.com. 60 IN A 203.0.113.66"))
            fw._received(bytes(spoof.pack()), ("127.0.0.1", up.port))
            assert await task is None
        finally:
            await fw.close()


async def test_lookup_retries_truncated_over_tcp() -> None:
    def big(q: dnslib.DNSRecord) -> dnslib.DNSRecord:
        reply = q.reply()
        for i in range(100):
            reply.add_answer(*dnslib.RR.fromZone(f"{q.q.qname} 60 IN A 192.0.2.{i + 1}"))
        return reply

    def truncating(q: dnslib.DNSRecord) -> dnslib.DNSRecord:
        reply = big(q)
        if up.queries[-1][0] == "udp":
            reply = q.reply()
            reply.header.tc = 1
        return reply

    up = FakeUpstream(truncating)
    await up.start()
    fw = forward.Forwarder([forward.parse_upstream(up.address)])
    await fw.start()
    try:
        found = await fw.lookup("big.example.", 1)
        assert found is not None
        code, rrs = found
        assert code == 0 and len(rrs) == 100
        assert [t for t, _, _ in up.queries] == ["udp", "tcp"]
    finally:
        await fw.close()
        await up.stop()


async def test_concurrency_limit() -> None:
    fw = forward.Forwarder([("127.0.0.1", 9)], max_concurrent=0)
    assert await fw.forward(query_packet("www.example.com."), tcp=False) is None
