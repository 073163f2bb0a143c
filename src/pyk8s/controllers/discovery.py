"""Which resources the apiserver serves right now (custom resources included), read from
its aggregated discovery documents (``/api`` and ``/apis`` with
``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``).

The garbage collector watches every resource it can delete, the namespace controller
empties every namespaced one; both re-read discovery periodically, so resources added at
run time (CRDs) are picked up.

Contract:
- ``preferred`` lists one ``Resource`` per (group, plural): the group's versions are taken
  in the order discovery lists them (preferred first) and the first version serving a
  resource wins — client-go's ServerPreferredResources. Subresources are not resources.
- ``for_kind(api_version, kind)`` maps an ownerReference to a resource (that exact
  version when served, else the group's preferred one) — the REST mapping.
- ``verbs(resource)`` are the verbs discovery advertised for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import resources
from pyk8s.client import rest

__all__ = ["AGGREGATED", "Discovery", "discover", "parse_aggregated"]

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@dataclass
class Discovery:
    preferred: list[resources.Resource] = field(default_factory=list)
    _verbs: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)
    _by_kind: dict[tuple[str, str, str], resources.Resource] = field(default_factory=dict)
    _preferred_kind: dict[tuple[str, str], resources.Resource] = field(default_factory=dict)

    def verbs(self, res: resources.Resource) -> frozenset[str]:
        return self._verbs.get((res.group, res.version, res.plural), frozenset())

    def with_verbs(self, *verbs: str, namespaced: bool | None = None) -> list[resources.Resource]:
        want = set(verbs)
        return [
            r
            for r in self.preferred
            if want <= self.verbs(r) and (namespaced is None or r.namespaced == namespaced)
        ]

    def for_kind(self, api_version: str, kind: str) -> resources.Resource | None:
        group, _, version = api_version.rpartition("/")
        found = self._by_kind.get((group, version, kind))
        return found if found is not None else self._preferred_kind.get((group, kind))


def _resource(group: str, version: str, raw: Mapping[str, Any]) -> resources.Resource:
    plural = str(raw.get("resource") or "")
    kind = str((raw.get("responseKind") or {}).get("kind") or "")
    namespaced = raw.get("scope") == "Namespaced"
    builtin = resources.find(group, version, plural)
    if builtin is not None and builtin.namespaced == namespaced:
        return builtin
    return resources.Resource(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        verbs=tuple(raw.get("verbs") or ()),
    )


def parse_aggregated(documents: Iterable[Mapping[str, Any]]) -> Discovery:
    out = Discovery()
    seen: set[tuple[str, str]] = set()
    for doc in documents:
        for item in doc.get("items") or ():
            group = str((item.get("metadata") or {}).get("name") or "")
            for version_doc in item.get("versions") or ():
                version = str(version_doc.get("version") or "")
                for raw in version_doc.get("resources") or ():
                    res = _resource(group, version, raw)
                    if not res.plural or "/" in res.plural:
                        continue
                    out._verbs[(group, version, res.plural)] = frozenset(raw.get("verbs") or ())
                    out._by_kind.setdefault((group, version, res.kind), res)
                    out._preferred_kind.setdefault((group, res.kind), res)
                    if (group, res.plural) not in seen:
                        seen.add((group, res.plural))
                        out.preferred.append(res)
    return out


async def discover(client: rest.RESTClient) -> Discovery:
    core = await client.request("GET", "/api", accept=AGGREGATED)
    groups = await client.request("GET", "/apis", accept=AGGREGATED)
    docs = [d for d in (core, groups) if isinstance(d, Mapping) and "items" in d]
    return parse_aggregated(docs)
