"""From a query packet to a response packet, without I/O: the answer cache in front of
``records.resolve``.

``Responder.respond(packet, tcp=...)`` returns the response bytes, ``None`` (drop the
packet), or a ``Pending`` when the answer needs the network: a name outside the zone
(forward the query to the upstreams) or an ExternalName whose target is outside the zone
(chase the CNAME upstream). The server (``dns/server.py``) does that part and calls
``finish_forward``/``finish_chase``.

The fast path — a cached answer — parses only the header and the question's label
lengths, looks the lower-cased question up in a dict and splices the cached template
(``wire.Template``): no objects are built per query beyond the response bytes. Misses go
through ``wire.parse_query`` and ``records.resolve``.

Cache contract: an entry is stored only once the zone has synced, is keyed by the
lower-cased question (name, type, class), and carries the ``zone.Tag``s of the data it was
computed from; ``invalidate(tags)`` drops exactly the entries tagged with one of them, and
whoever writes ``ZoneData`` calls it with the tags the write returned. The SOA serial of a
cached negative answer may lag behind the data by design (it only informs caches). At most
``max_entries`` entries are kept; the oldest go first.

Counters for metrics (``stats``): requests by (tcp, qtype, rcode), read by ``dns/metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyk8s.dns import records, wire
from pyk8s.dns.records import Answer, Rcode
from pyk8s.dns.zone import Tag, ZoneData

__all__ = ["Pending", "Responder"]


class _Forward:
    """Cache marker: this question is not ours (forward it)."""

    __slots__ = ("tags",)

    def __init__(self, tags: tuple[Tag, ...]) -> None:
        self.tags = tags


@dataclass(frozen=True, slots=True)
class Pending:
    """Work the server must do on the network before it can answer."""

    query: wire.Query
    packet: bytes
    tcp: bool
    answer: Answer | None  # None: forward ``packet``; else chase ``answer.chase``


class Responder:
    def __init__(self, zone: ZoneData, *, max_entries: int = 50_000) -> None:
        self.zone = zone
        self.max_entries = max_entries
        self._entries: dict[bytes, wire.Template | _Forward] = {}
        self._by_tag: dict[Tag, set[bytes]] = {}
        # (tcp, qtype, rcode) → responses sent
        self.stats: dict[tuple[bool, int, int], int] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------ cache

    def clear(self) -> None:
        self._entries.clear()
        self._by_tag.clear()

    def invalidate(self, tags: set[Tag]) -> None:
        for tag in tags:
            for key in self._by_tag.pop(tag, ()):
                self._drop(key)

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def _store(self, key: bytes, entry: wire.Template | _Forward) -> None:
        if not self.zone.synced:
            return
        if len(self._entries) >= self.max_entries:
            self._drop(next(iter(self._entries)))
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)

    # ------------------------------------------------------------------ answering

    def respond(self, packet: bytes, *, tcp: bool = False) -> bytes | Pending | None:
        # the fast path: a standard query with one question and at most an OPT record
        if (
            len(packet) > 12
            and not packet[2] & 0xF8
            and packet[4:10] == b"\x00\x01\x00\x00\x00\x00"
        ):
            try:
                i = 12
                length = packet[12]
                while length:
                    if length > 63:
                        break
                    i += length + 1
                    length = packet[i]
                else:
                    end = i + 5
                    entry = self._entries.get(packet[12:i].lower() + packet[i:end])
                    if entry is not None and type(entry) is wire.Template:
                        arcount = packet[10:12]
                        if arcount == b"\x00\x00" and len(packet) == end:
                            self.cache_hits += 1
                            stat = (tcp, entry.qtype, entry.rcode)
                            self.stats[stat] = self.stats.get(stat, 0) + 1
                            return entry.render(
                                packet[:2], packet[2] & 1, packet[12:end], 0, None if tcp else 512
                            )
                        if (
                            arcount == b"\x00\x01"
                            and packet[end : end + 3] == b"\x00\x00\x29"
                            and packet[end + 6] == 0
                        ):
                            self.cache_hits += 1
                            stat = (tcp, entry.qtype, entry.rcode)
                            self.stats[stat] = self.stats.get(stat, 0) + 1
                            size = (packet[end + 3] << 8) | packet[end + 4]
                            limit = None if tcp else max(512, min(size, wire.MAX_UDP))
                            return entry.render(packet[:2], packet[2] & 1, packet[12:end], 1, limit)
            except IndexError:
                pass
        return self._slow(packet, tcp)

    def _slow(self, packet: bytes, tcp: bool) -> bytes | Pending | None:
        try:
            query = wire.parse_query(packet)
        except wire.Drop:
            return None
        except wire.QueryError as exc:
            self._count(tcp, 0, exc.rcode)
            return wire.error_response(packet, exc.rcode)
        entry = self._entries.get(query.key)
        if entry is None:
            self.cache_misses += 1
            answer = records.resolve(self.zone, query.names, query.qtype, query.qclass)
            if answer.forward:
                entry = _Forward(answer.tags)
            elif answer.chase:
                return Pending(query, packet, tcp, answer)
            else:
                entry = wire.encode(answer, query.labels, query.qtype, query.qclass)
            self._store(query.key, entry)
        else:
            self.cache_hits += 1
        if isinstance(entry, _Forward):
            return Pending(query, packet, tcp, None)
        self._count(tcp, query.qtype, entry.rcode)
        return self._render(entry, query, tcp)

    @staticmethod
    def _render(entry: wire.Template, query: wire.Query, tcp: bool) -> bytes:
        return entry.render(
            query.id.to_bytes(2, "big"),
            int(query.rd),
            query.question,
            int(query.edns),
            None if tcp else query.udp_size,
        )

    def _count(self, tcp: bool, qtype: int, rcode: int) -> None:
        stat = (tcp, qtype, rcode)
        self.stats[stat] = self.stats.get(stat, 0) + 1

    # ------------------------------------------------------------------ after the network

    def finish_forward(self, pending: Pending, upstream: bytes | None) -> bytes:
        """The upstream's response with the client's ID, or SERVFAIL when none came."""
        if upstream is None or len(upstream) < 12:
            return self._servfail(pending)
        self._count(pending.tcp, pending.query.qtype, upstream[3] & 0xF)
        return pending.packet[:2] + upstream[2:]

    def finish_chase(self, pending: Pending, rcode: int | None, rrs: Sequence[object]) -> bytes:
        """The CNAME answer followed by the upstream's records for its target
        (``rcode`` None: the upstreams did not answer → SERVFAIL after the CNAME)."""
        answer = pending.answer
        assert answer is not None
        answer = Answer(
            rcode=Rcode.SERVFAIL if rcode is None else rcode,
            answer=answer.answer,
            authority=answer.authority,
            additional=answer.additional,
            authoritative=answer.authoritative,
            tags=answer.tags,
        )
        q = pending.query
        self._count(pending.tcp, q.qtype, answer.rcode)
        template = wire.encode(answer, q.labels, q.qtype, q.qclass, extra_answers=rrs)
        return self._render(template, q, pending.tcp)

    def _servfail(self, pending: Pending) -> bytes:
        answer = Answer(rcode=Rcode.SERVFAIL, authoritative=False)
        q = pending.query
        self._count(pending.tcp, q.qtype, Rcode.SERVFAIL)
        return self._render(wire.encode(answer, q.labels, q.qtype, q.qclass), q, pending.tcp)
