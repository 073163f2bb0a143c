"""Request paths → what they name (pure). Mirrors upstream's RequestInfoFactory:

    /api/v1/<plural>[/<name>[/<sub>]]                      cluster-scoped, or all namespaces
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]      namespaced
    /apis/<group>/<version>/…                             the same below a named group

``/api/v1/namespaces/<name>[/<sub>]`` is the namespaces resource itself unless the segment
after the name is a namespaced plural. Discovery paths come back as ``Discovery``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pyk8s.api import resources
from pyk8s.api.resources import Resource

__all__ = ["Discovery", "ResourceRequest", "parse"]


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    resource: Resource
    namespace: str | None  # None: cluster-scoped, or a list/watch across all namespaces
    name: str | None
    subresource: str | None


@dataclass(frozen=True, slots=True)
class Discovery:
    group: str | None  # None for /api and /apis roots
    version: str | None
    legacy: bool  # under /api


class Lookup(Protocol):
    """Finds a served resource by (group, version, plural)."""

    def find(self, group: str, version: str, plural: str) -> Resource | None: ...


class _Builtin:
    def find(self, group: str, version: str, plural: str) -> Resource | None:
        return resources.find(group, version, plural)


def parse(path: str, lookup: Lookup | None = None) -> ResourceRequest | Discovery | None:
    """None when the path names nothing (→ 404)."""
    lk = lookup or _DEFAULT
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return Discovery(None, None, legacy=True)
        group, version, rest = "", parts[1], parts[2:]
        if not rest:
            return Discovery("", version, legacy=True)
    elif parts[0] == "apis":
        if len(parts) == 1:
            return Discovery(None, None, legacy=False)
        if len(parts) == 2:
            return Discovery(parts[1], None, legacy=False)
        group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            return Discovery(group, version, legacy=False)
    else:
        return None

    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = lk.find(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace = rest[1]
            rest = rest[2:]
    res = lk.find(group, version, rest[0])
    if res is None:
        return None
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) >= 3 else None
    if len(rest) > 3 and sub != "proxy":
        return None  # only proxy subresources take a trailing path
    if sub is not None and sub not in res.subresources:
        return None
    if res.namespaced and namespace is None and name is not None:
        return None  # a namespaced object must be addressed within its namespace
    return ResourceRequest(res, namespace, name, sub)


_DEFAULT = _Builtin()
