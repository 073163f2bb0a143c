"""Responder + wire: query packets in, response packets out — the cached fast path,
the letter case of the question, EDNS, truncation, malformed queries, cache invalidation."""

from __future__ import annotations

import struct

import dnslib
import pytest
from dnstesting import answers, build_zone, ep, eslice, query_packet, rcode, svc

from pyk8s.dns import wire, zone
from pyk8s.dns.records import QType
from pyk8s.dns.responder import Pending, Responder

WEB = "web.ns.svc.cluster.local."


def make(n_headless: int = 3) -> Responder:
    services = [
        svc("ns", "web", ip="10.96.0.20"),
        svc("ns", "many", ports=[("http", 80, "TCP")]),
        svc("ns", "ext", external="www.example.com"),
    ]
    slices = [
        eslice("ns", "many", [ep(f"10.244.{i // 200}.{i % 200 + 1}") for i in range(n_headless)])
    ]
    return Responder(build_zone(services, slices, namespaces=["ns"]))


def respond(r: Responder, packet: bytes, *, tcp: bool = False) -> bytes:
    out = r.respond(packet, tcp=tcp)
    assert isinstance(out, bytes), out
    return out


def test_answer_and_header() -> None:
    r = make()
    reply = dnslib.DNSRecord.parse(respond(r, query_packet(WEB, qid=777)))
    h = reply.header
    assert (h.id, h.qr, h.aa, h.rd, h.ra, h.tc, h.rcode) == (777, 1, 1, 1, 1, 0, 0)
    assert [(str(a.rname), a.ttl, str(a.rdata)) for a in reply.rr] == [(WEB, 30, "10.96.0.20")]


def test_fast_path_is_byte_identical_to_slow_path() -> None:
    r = make()
    first = respond(r, query_packet(WEB, qid=1))
    assert r.cache_misses == 1 and r.cache_hits == 0
    second = respond(r, query_packet(WEB, qid=1))
    assert r.cache_hits == 1
    assert first == second


@pytest.mark.parametrize("rd", [True, False], ids=["rd", "no-rd"])
def test_id_and_rd_come_from_each_query(rd: bool) -> None:
    r = make()
    respond(r, query_packet(WEB, qid=5))
    reply = dnslib.DNSRecord.parse(respond(r, query_packet(WEB, qid=65000, rd=rd)))
    assert (reply.header.id, reply.header.rd) == (65000, int(rd))


def test_letter_case_of_the_question_is_preserved() -> None:
    r = make()
    respond(r, query_packet(WEB))
    mixed = "wEb.Ns.SVC.cluster.LOCAL."
    out = respond(r, query_packet(mixed))
    reply = dnslib.DNSRecord.parse(out)
    assert str(reply.q.qname) == mixed
    assert str(reply.rr[0].rname) == mixed, "owner names point at the question"
    assert r.cache_hits == 1, "one cache entry serves every spelling"


def test_edns_query_gets_opt_record() -> None:
    r = make()
    for _ in range(2):  # slow path, then fast path
        reply = dnslib.DNSRecord.parse(respond(r, query_packet(WEB, edns=4096)))
        opts = [a for a in reply.ar if a.rtype == QType.OPT]
        assert len(opts) == 1 and opts[0].rclass == wire.EDNS_PAYLOAD
    assert r.cache_hits == 1


def test_negative_answers() -> None:
    r = make()
    out = respond(r, query_packet("nope.ns.svc.cluster.local."))
    reply = dnslib.DNSRecord.parse(out)
    assert rcode(out) == "NXDOMAIN" and reply.header.aa == 1
    assert [dnslib.QTYPE[a.rtype] for a in reply.auth] == ["SOA"]
    out = respond(r, query_packet(WEB, "AAAA"))
    assert rcode(out) == "NOERROR" and answers(out) == []


def test_large_udp_answer_is_truncated_and_tcp_is_not() -> None:
    r = make(n_headless=100)
    name = "many.ns.svc.cluster.local."
    for _ in range(2):
        udp = dnslib.DNSRecord.parse(respond(r, query_packet(name)))
        assert udp.header.tc == 1
        assert 0 < len(udp.rr) < 100
        assert len(respond(r, query_packet(name))) <= 512
    edns = dnslib.DNSRecord.parse(respond(r, query_packet(name, edns=4096)))
    assert edns.header.tc == 0 and len(edns.rr) == 100
    small_edns = respond(r, query_packet(name, edns=1232))
    assert len(small_edns) <= 1232 and dnslib.DNSRecord.parse(small_edns).header.tc == 1
    tcp = dnslib.DNSRecord.parse(respond(r, query_packet(name), tcp=True))
    assert tcp.header.tc == 0 and len(tcp.rr) == 100


def test_additional_section_is_dropped_before_truncating() -> None:
    r = make(n_headless=6)  # 6 SRV records fit in 512 bytes, with their 6 A records they do not
    name = "_http._tcp.many.ns.svc.cluster.local."
    full = dnslib.DNSRecord.parse(respond(r, query_packet(name, "SRV"), tcp=True))
    assert len(full.rr) == 6 and len(full.ar) == 6
    udp = dnslib.DNSRecord.parse(respond(r, query_packet(name, "SRV")))
    assert (udp.header.tc, len(udp.rr), len(udp.ar)) == (0, 6, 0)


def test_invalidation_drops_only_tagged_entries() -> None:
    r = make()
    respond(r, query_packet(WEB))
    respond(r, query_packet("nope.ns.svc.cluster.local."))
    assert len(r) == 2
    entry = zone.service_entry(svc("ns", "web", ip="10.96.0.99"))
    r.invalidate(r.zone.put(entry))
    assert len(r) == 1
    assert answers(respond(r, query_packet(WEB))) == [(WEB, "A", "10.96.0.99")]
    r.invalidate(r.zone.put(zone.service_entry(svc("ns", "nope", ip="10.96.0.7"))))
    assert answers(respond(r, query_packet("nope.ns.svc.cluster.local."))) == [
        ("nope.ns.svc.cluster.local.", "A", "10.96.0.7")
    ]


def test_nothing_is_cached_before_sync() -> None:
    r = make()
    r.zone.synced = False
    out = respond(r, query_packet("nope.ns.svc.cluster.local."))
    assert rcode(out) == "SERVFAIL"
    assert len(r) == 0


def test_cache_is_bounded() -> None:
    r = make()
    r.max_entries = 10
    for i in range(25):
        respond(r, query_packet(f"n{i}.ns.svc.cluster.local."))
    assert len(r) == 10
    assert sum(len(keys) for keys in r._by_tag.values()) == 10


def test_outside_zone_is_pending_forward_and_cached_as_such() -> None:
    r = make()
    packet = query_packet("www.example.com.", qid=9)
    for _ in range(2):
        out = r.respond(packet)
        assert isinstance(out, Pending) and out.answer is None and out.packet == packet
    upstream = dnslib.DNSRecord.question("www.example.com.").reply()
    upstream.header.id = 31337
    upstream.add_answer(*dnslib.RR.fromZone("www.example.com. 60 IN A 192.0.2.1"))
    final = r.finish_forward(out, bytes(upstream.pack()))
    assert dnslib.DNSRecord.parse(final).header.id == 9
    assert answers(final) == [("www.example.com.", "A", "192.0.2.1")]
    assert rcode(r.finish_forward(out, None)) == "SERVFAIL"


def test_externalname_chase() -> None:
    r = make()
    out = r.respond(query_packet("ext.ns.svc.cluster.local.", qid=3))
    assert isinstance(out, Pending) and out.answer is not None
    assert out.answer.chase == "www.example.com."
    rrs = dnslib.RR.fromZone("www.example.com. 60 IN A 192.0.2.1")
    final = r.finish_chase(out, 0, rrs)
    assert answers(final) == [
        ("ext.ns.svc.cluster.local.", "CNAME", "www.example.com."),
        ("www.example.com.", "A", "192.0.2.1"),
    ]
    failed = r.finish_chase(out, None, ())
    assert rcode(failed) == "SERVFAIL" and len(answers(failed)) == 1


def _header(qid: int, flags: int, qd: int, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!6H", qid, flags, qd, an, ns, ar)


QNAME = b"\x03web\x02ns\x03svc\x07cluster\x05local\x00"


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        pytest.param(b"\x00\x01", None, id="short-dropped"),
        pytest.param(
            _header(1, 0x8000, 1) + QNAME + b"\x00\x01\x00\x01", None, id="response-dropped"
        ),
        pytest.param(
            _header(1, 0x0100, 2) + QNAME + b"\x00\x01\x00\x01" * 2, "FORMERR", id="two-questions"
        ),
        pytest.param(_header(1, 0x0100, 0), "FORMERR", id="no-question"),
        pytest.param(
            _header(1, 0x2800, 1) + QNAME + b"\x00\x01\x00\x01", "NOTIMP", id="update-opcode"
        ),
        pytest.param(_header(1, 0x0100, 1) + QNAME[:9], "FORMERR", id="truncated-question"),
        pytest.param(
            _header(1, 0x0100, 1) + b"\xc0\x0c\x00\x01\x00\x01", "FORMERR", id="compressed-question"
        ),
    ],
)
def test_malformed(packet: bytes, expected: str | None) -> None:
    out = make().respond(packet)
    if expected is None:
        assert out is None
    else:
        assert isinstance(out, bytes)
        reply = dnslib.DNSRecord.parse(out)
        assert (reply.header.id, str(dnslib.RCODE[reply.header.rcode])) == (1, expected)


def test_unsupported_edns_version_is_badvers() -> None:
    q = dnslib.DNSRecord.question(WEB)
    q.header.id = 8
    q.add_ar(dnslib.EDNS0(version=1, udp_len=1232))
    out = make().respond(bytes(q.pack()))
    assert isinstance(out, bytes)
    reply = dnslib.DNSRecord.parse(out)
    opt = next(a for a in reply.ar if a.rtype == QType.OPT)
    assert (reply.header.rcode | (opt.edns_rcode << 4)) == wire.RCODE_BADVERS


def test_stats_count_every_answer() -> None:
    r = make()
    for _ in range(3):
        respond(r, query_packet(WEB))
    respond(r, query_packet("nope.ns.svc.cluster.local."), tcp=True)
    assert r.stats == {(False, QType.A, 0): 3, (True, QType.A, 3): 1}
