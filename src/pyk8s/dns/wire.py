"""DNS wire format for the server: parsing queries, and answers encoded once as
*templates* that become a response by splicing in the query's ID, RD bit and question.

Why templates: a cluster DNS answers the same few names all day. ``encode`` turns an
``records.Answer`` into bytes once (with dnslib, name compression included); every later
query for that name and type is answered by concatenating the query's own 2-byte ID, the
header for its RD/EDNS variant, its question copied verbatim (so the client's letter case,
e.g. DNS 0x20 randomisation, comes back as sent) and the cached records. Owner names in
the records are compression pointers to the question at offset 12, which is why the
question must be spliced byte for byte: the template was encoded with the lower-cased
question, and the client's question has the same length and label boundaries.

Contract:
- ``parse_query`` accepts standard queries only: QR=0, one question, no compression in
  the question name; it raises ``Drop`` for what deserves no answer (too short, a
  response) and ``QueryError`` (with the rcode: FORMERR, NOTIMP, BADVERS) for the rest.
- ``Template.render(query_id, rd, question, edns, limit)``: ``limit`` is the UDP payload
  size the client accepts (512 without EDNS, its EDNS size otherwise; None over TCP).
  When the response is larger, the additional section goes first (no TC, RFC 2181
  §9); if the answer still does not fit, as many whole answer records as fit are kept and
  TC is set, so the client retries over TCP.
- Responses to EDNS queries carry an OPT record advertising ``EDNS_PAYLOAD`` bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import dnslib  # type: ignore[import-untyped]

from pyk8s.dns.records import Answer, QType, Rcode, Record, Soa, Srv

__all__ = [
    "EDNS_PAYLOAD",
    "Drop",
    "Query",
    "QueryError",
    "Template",
    "encode",
    "error_response",
    "parse_query",
]

EDNS_PAYLOAD = 1232  # the DNS flag day 2020 default
MAX_UDP = 4096
RCODE_BADVERS = 16
_OPT = b"\x00\x00\x29" + EDNS_PAYLOAD.to_bytes(2, "big") + b"\x00\x00\x00\x00\x00\x00"
_HDR = struct.Struct("!HHHHHH")


class Drop(Exception):
    """Not a query worth answering."""


class QueryError(Exception):
    def __init__(self, rcode: int, message: str) -> None:
        super().__init__(message)
        self.rcode = rcode


@dataclass(frozen=True, slots=True)
class Query:
    id: int
    rd: bool
    labels: tuple[bytes, ...]  # lower-cased
    qtype: int
    qclass: int
    question: bytes  # the question section exactly as sent
    key: bytes  # lower-cased question: the cache key
    edns: bool
    udp_size: int  # what the client accepts over UDP

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.decode("latin-1") for label in self.labels)


def _skip_name(packet: bytes, i: int) -> int:
    while True:
        length = packet[i]
        if length >= 0xC0:
            return i + 2
        if length > 63:
            raise QueryError(Rcode.FORMERR, "bad label")
        i += length + 1
        if length == 0:
            return i


def parse_query(packet: bytes) -> Query:
    if len(packet) < 12:
        raise Drop("short packet")
    qid, flags, qd, an, ns, ar = _HDR.unpack_from(packet)
    if flags & 0x8000:
        raise Drop("a response")
    if (flags >> 11) & 0xF != 0:
        raise QueryError(Rcode.NOTIMP, "opcode not implemented")
    if qd != 1:
        raise QueryError(Rcode.FORMERR, "expected one question")
    try:
        i = 12
        labels: list[bytes] = []
        while True:
            length = packet[i]
            if length == 0:
                i += 1
                break
            if length > 63:
                raise QueryError(Rcode.FORMERR, "compressed or bad question name")
            labels.append(packet[i + 1 : i + 1 + length].lower())
            i += length + 1
        if i - 12 > 255 or i + 4 > len(packet):
            raise QueryError(Rcode.FORMERR, "bad question")
        qtype, qclass = struct.unpack_from("!HH", packet, i)
        end = i + 4
        question = packet[12:end]
        edns, size = False, 512
        j = end
        for n in range(an + ns + ar):
            j = _skip_name(packet, j)
            rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", packet, j)
            j += 10 + rdlen
            if n >= an + ns and rtype == QType.OPT:
                edns, size = True, max(512, min(rclass, MAX_UDP))
                if (ttl >> 16) & 0xFF != 0:
                    raise QueryError(RCODE_BADVERS, "unsupported EDNS version")
    except (IndexError, struct.error):
        raise QueryError(Rcode.FORMERR, "truncated query") from None
    return Query(
        id=qid,
        rd=bool(flags & 0x0100),
        labels=tuple(labels),
        qtype=qtype,
        qclass=qclass,
        question=question,
        key=packet[12 : i - 1].lower() + packet[i - 1 : end],
        edns=edns,
        udp_size=size,
    )


def error_response(packet: bytes, rcode: int) -> bytes:
    """A bare response echoing the header's ID (and the question when it parses)."""
    qid, flags = struct.unpack_from("!HH", packet)
    out_flags = 0x8000 | (flags & 0x7900) | (rcode & 0xF)
    opt = b""
    if rcode > 15:
        opt = (
            b"\x00\x00\x29" + EDNS_PAYLOAD.to_bytes(2, "big") + bytes([rcode >> 4]) + b"\0\0\0\0\0"
        )
    try:
        i = _skip_name(packet, 12)
        question = packet[12 : i + 4] if i + 4 <= len(packet) and packet[i - 1] == 0 else b""
    except (IndexError, QueryError):
        question = b""
    counts = (1 if question else 0, 0, 0, 1 if opt else 0)
    return _HDR.pack(qid, out_flags, *counts) + question + opt


# ---------------------------------------------------------------------- encoding


def _label(name: str) -> dnslib.DNSLabel:
    return dnslib.DNSLabel([p.encode("latin-1") for p in name.rstrip(".").split(".") if p])


def _rdata(rec: Record) -> object:
    data = rec.data
    if isinstance(data, Srv):
        return dnslib.SRV(data.priority, data.weight, data.port, _label(data.target))
    if isinstance(data, Soa):
        times = (data.serial & 0xFFFFFFFF, data.refresh, data.retry, data.expire, data.minimum)
        return dnslib.SOA(_label(data.mname), _label(data.rname), times)
    if rec.rtype == QType.A:
        return dnslib.A(data)
    if rec.rtype == QType.AAAA:
        return dnslib.AAAA(data)
    if rec.rtype == QType.TXT:
        return dnslib.TXT(data)
    if rec.rtype == QType.CNAME:
        return dnslib.CNAME(_label(data))
    if rec.rtype == QType.PTR:
        return dnslib.PTR(_label(data))
    if rec.rtype == QType.NS:
        return dnslib.NS(_label(data))
    raise ValueError(f"cannot encode record type {rec.rtype}")


class Template:
    """An encoded answer, ready to be spliced with a query's ID and question."""

    __slots__ = (
        "authoritative",
        "body",
        "chunks",
        "counts",
        "headers",
        "qtype",
        "rcode",
        "tags",
    )

    def __init__(
        self,
        *,
        rcode: int,
        authoritative: bool,
        chunks: tuple[tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...]],
        qtype: int,
        tags: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.rcode = rcode
        self.authoritative = authoritative
        self.chunks = chunks
        self.counts = tuple(len(c) for c in chunks)
        self.body = b"".join(b"".join(c) for c in chunks)
        self.qtype = qtype
        self.tags = tags
        # [rd][edns] → the 10 header bytes after the ID
        self.headers = [
            [self._header(rd, edns, self.counts, False) for edns in (0, 1)] for rd in (0, 1)
        ]

    def _header(self, rd: int, edns: int, counts: Sequence[int], tc: bool) -> bytes:
        flags = 0x8080 | (0x0400 if self.authoritative else 0) | (0x0200 if tc else 0)
        flags |= (0x0100 if rd else 0) | (self.rcode & 0xF)
        an, ns, ar = counts
        return struct.pack("!HHHHH", flags, 1, an, ns, ar + edns)

    def render(self, qid: bytes, rd: int, question: bytes, edns: int, limit: int | None) -> bytes:
        size = 12 + len(question) + len(self.body) + (11 if edns else 0)
        if limit is None or size <= limit:
            parts = [qid, self.headers[rd][edns], question, self.body]
            if edns:
                parts.append(_OPT)
            return b"".join(parts)
        return self._truncated(qid, rd, question, edns, limit)

    def _truncated(self, qid: bytes, rd: int, question: bytes, edns: int, limit: int) -> bytes:
        answer, authority, _ = self.chunks
        room = limit - 12 - len(question) - (11 if edns else 0)
        body = b"".join(answer) + b"".join(authority)
        if len(body) <= room:
            header = self._header(rd, edns, (len(answer), len(authority), 0), False)
        else:
            kept: list[bytes] = []
            for chunk in answer:
                if len(chunk) > room:
                    break
                kept.append(chunk)
                room -= len(chunk)
            body = b"".join(kept)
            header = self._header(rd, edns, (len(kept), 0, 0), True)
        return b"".join((qid, header, question, body, _OPT if edns else b""))


def encode(
    answer: Answer,
    labels: Sequence[bytes],
    qtype: int,
    qclass: int,
    *,
    extra_answers: Sequence[object] = (),
) -> Template:
    """Encode ``answer`` for the question (``labels``, ``qtype``, ``qclass``);
    ``extra_answers`` are dnslib RRs appended to the answer section (a chased CNAME)."""
    qname = ".".join(x.decode("latin-1") for x in labels) + "."
    qlabel = dnslib.DNSLabel(list(labels))
    buf = dnslib.DNSBuffer()
    buf.append(b"\x00" * 12)
    dnslib.DNSQuestion(qlabel, qtype, qclass).pack(buf)
    sections: list[tuple[bytes, ...]] = []
    for records, extra in (
        (answer.answer, extra_answers),
        (answer.authority, ()),
        (answer.additional, ()),
    ):
        out: list[bytes] = []
        rrs = [
            dnslib.RR(
                qlabel if rec.name == qname else _label(rec.name),
                rec.rtype,
                1,
                rec.ttl,
                _rdata(rec),
            )
            for rec in records
        ]
        for rr in (*rrs, *extra):
            start = buf.offset
            rr.pack(buf)
            out.append(bytes(buf.data[start : buf.offset]))
        sections.append(tuple(out))
    return Template(
        rcode=answer.rcode,
        authoritative=answer.authoritative,
        chunks=(sections[0], sections[1], sections[2]),
        qtype=qtype,
        tags=answer.tags,
    )
