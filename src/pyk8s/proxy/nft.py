"""An nftables table as data (``Ruleset``) and the two ``nft -f`` scripts that install it
(pure: text in, text out; ``nftables.py`` runs them).

Both scripts are one nft transaction — the kernel applies all of it or none of it, so
packets never see a half-written table:

- ``replace_script()``: ``add table`` + ``delete table`` + the whole table. Simple and
  complete, but it also empties the dynamic session-affinity sets, so it is used for the
  first sync and to recover after a failed one.
- ``update_script(previous)``: declares every object with ``add`` (a no-op for existing
  ones), flushes every chain and every static set/map and fills them again, then deletes
  the chains and sets that ``previous`` had and this ruleset has not. Dynamic sets
  (``keep_elements``) are declared but never flushed, so client-IP affinity survives syncs.
  It repairs anything changed behind our back (the periodic resync uses it).
- ``diff_script(previous)``: only the difference — new objects, chains whose rules changed
  (flushed and refilled), elements deleted and added one by one, stale objects deleted.
  One endpoint change costs a handful of lines instead of the whole table. It trusts that
  the kernel holds ``previous``; if it does not, nft refuses the transaction and the
  caller falls back to ``replace_script``.

Order inside a script: declarations (table, chains, sets, maps), flushes, element
deletions, rules, element additions, object deletions — rules may name any chain or set,
elements may jump to any chain, and stale chains are flushed (dropping their jumps)
before any of them is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Chain", "Ruleset", "SetDef", "quote"]

ELEMENTS_PER_LINE = 1000


def quote(text: str) -> str:
    """An nft string literal (comments); nft strings cannot hold a double quote."""
    return '"' + text.replace('"', "'").replace("\\", "/") + '"'


@dataclass(slots=True)
class Chain:
    name: str
    hook: str = ""  # base chains: "type nat hook prerouting priority -100"
    comment: str = ""
    rules: list[str] = field(default_factory=list)

    def add(self, rule: str) -> None:
        self.rules.append(rule)

    def declaration(self) -> str:
        parts: list[str] = []
        if self.hook:
            parts += [self.hook, "policy accept"]
        if self.comment:
            parts.append(f"comment {quote(self.comment)}")
        return " { " + " ; ".join(parts) + " ; }" if parts else ""


@dataclass(slots=True)
class SetDef:
    name: str
    kind: str  # "set" or "map"
    spec: str  # "type ipv4_addr ; flags dynamic,timeout ; timeout 3600s"
    comment: str = ""
    keep_elements: bool = False  # dynamic sets the packet path fills
    elements: dict[str, str] = field(default_factory=dict)  # key → element text

    def add(self, key: str, verdict: str = "", comment: str = "") -> None:
        """Add an element; a key already present keeps its first value (one bad object
        must not make the whole transaction fail on a duplicate map key)."""
        if key in self.elements:
            return
        text = key
        if comment:
            text += f" comment {quote(comment)}"
        if verdict:
            text += f" : {verdict}"
        self.elements[key] = text

    def declaration(self) -> str:
        parts = [self.spec]
        if self.comment:
            parts.append(f"comment {quote(self.comment)}")
        return " { " + " ; ".join(parts) + " ; }"


@dataclass(slots=True)
class Ruleset:
    family: str  # "ip" or "ip6"
    table: str
    comment: str = ""
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, SetDef] = field(default_factory=dict)

    # ------------------------------------------------------------------ building

    def chain(self, name: str, *, hook: str = "", comment: str = "") -> Chain:
        """The chain called ``name``, created (empty) on first use."""
        found = self.chains.get(name)
        if found is None:
            found = self.chains[name] = Chain(name, hook=hook, comment=comment)
        return found

    def set(self, name: str, *, kind: str = "set", spec: str, comment: str = "") -> SetDef:
        found = self.sets.get(name)
        if found is None:
            keep = "dynamic" in spec
            found = self.sets[name] = SetDef(name, kind, spec, comment, keep_elements=keep)
        return found

    def element(self, set_name: str, key: str, verdict: str = "", comment: str = "") -> None:
        self.sets[set_name].add(key, verdict, comment)

    # ------------------------------------------------------------------ scripts

    @property
    def _where(self) -> str:
        return f"{self.family} {self.table}"

    def _table_line(self) -> str:
        body = f" {{ comment {quote(self.comment)} ; }}" if self.comment else ""
        return f"add table {self._where}{body}"

    def _declarations(self) -> list[str]:
        out = [self._table_line()]
        out += [f"add chain {self._where} {c.name}{c.declaration()}" for c in self.chains.values()]
        out += [f"add {s.kind} {self._where} {s.name}{s.declaration()}" for s in self.sets.values()]
        return out

    def _contents(self) -> list[str]:
        out: list[str] = []
        for c in self.chains.values():
            out += [f"add rule {self._where} {c.name} {rule}" for rule in c.rules]
        for s in self.sets.values():
            elements = list(s.elements.values())
            for i in range(0, len(elements), ELEMENTS_PER_LINE):
                chunk = ", ".join(elements[i : i + ELEMENTS_PER_LINE])
                out.append(f"add element {self._where} {s.name} {{ {chunk} }}")
        return out

    def replace_script(self) -> str:
        lines = [
            f"add table {self._where}",
            f"delete table {self._where}",
            *self._declarations(),
            *self._contents(),
        ]
        return "\n".join(lines) + "\n"

    def update_script(self, previous: Ruleset | None) -> str:
        """Change the table from ``previous`` (what the kernel holds) to this ruleset."""
        stale_chains = [n for n in (previous.chains if previous else {}) if n not in self.chains]
        stale_sets = [
            s for n, s in (previous.sets if previous else {}).items() if n not in self.sets
        ]
        lines = self._declarations()
        lines += [f"flush chain {self._where} {name}" for name in self.chains]
        lines += [f"flush chain {self._where} {name}" for name in stale_chains]
        lines += [
            f"flush {s.kind} {self._where} {s.name}"
            for s in self.sets.values()
            if not s.keep_elements
        ]
        lines += self._contents()
        lines += [f"delete chain {self._where} {name}" for name in stale_chains]
        lines += [f"delete {s.kind} {self._where} {s.name}" for s in stale_sets]
        return "\n".join(lines) + "\n"

    def diff_script(self, previous: Ruleset) -> str | None:
        """The smallest transaction from ``previous`` to this ruleset: new objects, changed
        chains rewritten, set and map elements added and deleted one by one, stale objects
        deleted. ``""`` when nothing changed; None when an existing object's definition
        changed (then use ``update_script``)."""
        where = self._where
        if (previous.family, previous.table, previous.comment) != (
            self.family,
            self.table,
            self.comment,
        ):
            return None
        new_decl: list[str] = []
        flushes: list[str] = []
        rules: list[str] = []
        for c in self.chains.values():
            old = previous.chains.get(c.name)
            if old is None:
                new_decl.append(f"add chain {where} {c.name}{c.declaration()}")
            elif old.declaration() != c.declaration():
                return None
            elif old.rules == c.rules:
                continue
            else:
                flushes.append(f"flush chain {where} {c.name}")
            rules += [f"add rule {where} {c.name} {rule}" for rule in c.rules]
        stale_chains = [n for n in previous.chains if n not in self.chains]
        flushes += [f"flush chain {where} {name}" for name in stale_chains]
        removals: list[str] = []
        additions: list[str] = []
        for st in self.sets.values():
            old_set = previous.sets.get(st.name)
            if old_set is None:
                new_decl.append(f"add {st.kind} {where} {st.name}{st.declaration()}")
                before: dict[str, str] = {}
            elif old_set.declaration() != st.declaration() or old_set.kind != st.kind:
                return None
            else:
                before = old_set.elements
            if st.keep_elements:
                continue
            gone = [k for k, text in before.items() if st.elements.get(k) != text]
            added = [text for k, text in st.elements.items() if before.get(k) != text]
            for i in range(0, len(gone), ELEMENTS_PER_LINE):
                chunk = ", ".join(gone[i : i + ELEMENTS_PER_LINE])
                removals.append(f"delete element {where} {st.name} {{ {chunk} }}")
            for i in range(0, len(added), ELEMENTS_PER_LINE):
                chunk = ", ".join(added[i : i + ELEMENTS_PER_LINE])
                additions.append(f"add element {where} {st.name} {{ {chunk} }}")
        stale_sets = [s for n, s in previous.sets.items() if n not in self.sets]
        deletions = [f"delete chain {where} {name}" for name in stale_chains]
        deletions += [f"delete {s.kind} {where} {s.name}" for s in stale_sets]
        lines = [*new_decl, *flushes, *removals, *rules, *additions, *deletions]
        return "\n".join(lines) + "\n" if lines else ""

    def text(self) -> str:
        """Everything the table holds, one line per object (for tests and debugging)."""
        return "\n".join([*self._declarations(), *self._contents()]) + "\n"
