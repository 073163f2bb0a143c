"""The set of resources this apiserver serves right now: the built-in table plus the
resources of established CustomResourceDefinitions. Routing, discovery and OpenAPI read it;
the CRD controller changes it. Every change rebuilds the encoded discovery documents once,
so requests keep reading prebuilt bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyk8s.api.resources import Resource
from pyk8s.apiserver import discovery

__all__ = ["ResourceTable"]


class ResourceTable:
    def __init__(self, builtin: Iterable[Resource]) -> None:
        self._builtin = list(builtin)
        self._custom: dict[str, list[Resource]] = {}
        self._listeners: list[Callable[[], None]] = []
        self._rebuild()

    def _rebuild(self) -> None:
        all_ = list(self._builtin)
        for rs in self._custom.values():
            all_.extend(rs)
        self.resources = all_
        self._by_gvr = {(r.group, r.version, r.plural): r for r in all_}
        self._by_gvk = {(r.group, r.version, r.kind): r for r in all_}
        self.docs = discovery.Documents(all_)
        for fn in self._listeners:
            fn()

    def on_change(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def find_by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_gvk.get((group, version, kind))

    def custom(self, name: str) -> list[Resource]:
        return list(self._custom.get(name, ()))

    def is_builtin_group(self, group: str) -> bool:
        return any(r.group == group for r in self._builtin)

    def set_custom(self, name: str, resources: list[Resource]) -> None:
        if self._custom.get(name) == resources:
            return
        self._custom[name] = resources
        self._rebuild()

    def remove_custom(self, name: str) -> None:
        if self._custom.pop(name, None) is not None:
            self._rebuild()
