"""Kubernetes manifests embedded in the user's notes (``shared/seeds/*.txt``).

The notes are prose with YAML in Markdown code blocks, sometimes indented under list
items, sometimes with a fence left open.  ``extract_manifests`` finds the YAML documents
that start with an ``apiVersion:`` or ``kind:`` line and follows each one for as long as
its lines look like YAML at or below its indentation; it stops at a fence, a ``---``
separator, a heredoc terminator, a dedent, or prose.  Each document is parsed on its own.

``Manifest.status`` says what was found: ``"builtin"`` (a kind in
``pyk8s.api.resources``), ``"other-kind"`` (parsed, with apiVersion and kind, but not a
built-in: CRDs, kind's Cluster config …), ``"fragment"`` (YAML without apiVersion/kind),
``"unparsable"`` (not YAML).  Shared by the API unit tests and the e2e suite.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pyk8s.api import resources

__all__ = ["Manifest", "extract_manifests", "load_seed_manifests", "seeds_dir"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_START = re.compile(r"^(\s*)(apiVersion|kind)\s*:")
_YAMLISH = re.compile(r"""^\s*(#|-\s|-$|[\w.\-/"'$]+\s*:(\s|$)|[}\]]|\|)""")


@dataclass
class Manifest:
    source: str  # "<file>:<line>" of the document's first line
    text: str
    status: str
    obj: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def key(self) -> tuple[str, str] | None:
        api_version = str(self.obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        res = resources.find_by_kind(group, version, str(self.obj.get("kind", "")))
        return res.key if res is not None else None

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata")
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    @property
    def id(self) -> str:
        kind = self.obj.get("kind", "?")
        return f"{self.source}:{kind}/{self.name or '-'}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _collect(lines: list[str], start: int, base: int) -> int:
    """Index one past the last line of the document starting at ``start``."""
    end = start + 1
    last_content = start + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.strip()
        if _FENCE.match(line) or stripped in ("---", "EOF", "...") or stripped.startswith("---"):
            break
        if stripped:
            ind = _indent(line)
            if ind < base:
                break
            if ind == base and not _YAMLISH.match(line):
                break
            last_content = end + 1
        end += 1
    return last_content


def _classify(text: str, source: str) -> Manifest:
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return Manifest(source, text, "unparsable", error=str(exc).splitlines()[0])
    if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
        return Manifest(source, text, "fragment", obj if isinstance(obj, dict) else {})
    m = Manifest(source, text, "other-kind", obj)
    if m.key is not None:
        m.status = "builtin"
    return m


def extract_manifests(text: str, origin: str = "<text>") -> list[Manifest]:
    lines = text.splitlines()
    out: list[Manifest] = []
    i = 0
    while i < len(lines):
        m = _START.match(lines[i])
        if not m:
            i += 1
            continue
        base = len(m.group(1))
        end = _collect(lines, i, base)
        doc = "\n".join(
            line[base:] if len(line) >= base else line.lstrip() for line in lines[i:end]
        )
        out.append(_classify(doc, f"{origin}:{i + 1}"))
        i = end
    return out


def seeds_dir() -> Path:
    env = os.environ.get("PYK8S_SEEDS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "seeds"
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/seeds")


def load_seed_manifests() -> list[Manifest]:
    out: list[Manifest] = []
    for path in sorted(seeds_dir().glob("*.txt")):
        out.extend(extract_manifests(path.read_text(encoding="utf-8"), path.name))
    return out
