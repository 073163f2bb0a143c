"""API discovery documents (pure): legacy (/api, /apis, per group-version resource lists)
and aggregated (apidiscovery.k8s.io/v2 APIGroupDiscoveryList), built from the resource
table. Encoded once; rebuilt when the set of resources changes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

from pyk8s.api.resources import Resource

__all__ = ["Documents", "subresource_kind"]

Obj = dict[str, Any]

_SUB: dict[str, tuple[tuple[str, str, str] | None, tuple[str, ...]]] = {
    # subresource: ((group, version, kind) or None for the parent kind, verbs)
    "status": (None, ("get", "patch", "update")),
    "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update")),
    "binding": (("", "v1", "Binding"), ("create",)),
    "eviction": (("policy", "v1", "Eviction"), ("create",)),
    "log": (None, ("get",)),
    "exec": (("", "v1", "PodExecOptions"), ("create", "get")),
    "attach": (("", "v1", "PodAttachOptions"), ("create", "get")),
    "portforward": (("", "v1", "PodPortForwardOptions"), ("create", "get")),
    "proxy": (None, ("create", "delete", "get", "patch", "update")),
    "ephemeralcontainers": (None, ("get", "patch", "update")),
    "resize": (None, ("get", "patch", "update")),
    "token": (("authentication.k8s.io", "v1", "TokenRequest"), ("create",)),
    "finalize": (None, ("update",)),
}

_PROXY_KINDS = {
    "pods": "PodProxyOptions",
    "nodes": "NodeProxyOptions",
    "services": "ServiceProxyOptions",
}


def subresource_kind(res: Resource, sub: str) -> tuple[str, str, str]:
    gvk, _ = _SUB.get(sub, (None, ()))
    if sub == "proxy":
        return ("", "v1", _PROXY_KINDS.get(res.plural, "PodProxyOptions"))
    return gvk or (res.group, res.version, res.kind)


def _storage_hash(res: Resource) -> str:
    raw = f"{res.group}/{res.stored_as}/{res.kind}".encode()
    return base64.b64encode(hashlib.sha256(raw).digest()[:8]).decode()


class Documents:
    """Every discovery document, encoded, for one set of resources."""

    def __init__(self, all_resources: Iterable[Resource]) -> None:
        self.resources = list(all_resources)
        by_gv: dict[tuple[str, str], list[Resource]] = {}
        group_versions: dict[str, list[str]] = {}
        for r in self.resources:
            by_gv.setdefault((r.group, r.version), []).append(r)
            versions = group_versions.setdefault(r.group, [])
            if r.version not in versions:
                if r.preferred:
                    versions.insert(0, r.version)
                else:
                    versions.append(r.version)
        self.by_gv = by_gv
        self.group_versions = group_versions
        self.api_versions = orjson.dumps(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
                ],
            }
        )
        self.api_groups = orjson.dumps(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._group(g) for g in group_versions if g],
            }
        )
        self.groups = {
            g: orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **self._group(g)})
            for g in group_versions
            if g
        }
        self.resource_lists = {gv: orjson.dumps(self._resource_list(gv)) for gv in by_gv}
        self.aggregated_core = orjson.dumps(self._aggregated(legacy=True))
        self.aggregated_apis = orjson.dumps(self._aggregated(legacy=False))

    def _group(self, group: str) -> Obj:
        versions = [
            {"groupVersion": f"{group}/{v}", "version": v} for v in self.group_versions[group]
        ]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    def _resource_list(self, gv: tuple[str, str]) -> Obj:
        group, version = gv
        out: list[Obj] = []
        for r in self.by_gv[gv]:
            entry: Obj = {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            if r.short_names:
                entry["shortNames"] = list(r.short_names)
            if r.categories:
                entry["categories"] = list(r.categories)
            if "list" in r.verbs:
                entry["storageVersionHash"] = _storage_hash(r)
            out.append(entry)
            for sub in r.subresources:
                g, v, k = subresource_kind(r, sub)
                se: Obj = {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": k,
                    "verbs": list(_SUB[sub][1]),
                }
                if (g, v) != (r.group, r.version):
                    se["group"] = g
                    se["version"] = v
                out.append(se)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": out,
        }

    def _aggregated_resource(self, r: Resource) -> Obj:
        entry: Obj = {
            "resource": r.plural,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.subresources:
            subs = []
            for sub in r.subresources:
                g, v, k = subresource_kind(r, sub)
                subs.append(
                    {
                        "subresource": sub,
                        "responseKind": {"group": g, "version": v, "kind": k},
                        "verbs": list(_SUB[sub][1]),
                    }
                )
            entry["subresources"] = subs
        return entry

    def _aggregated(self, *, legacy: bool) -> Obj:
        items: list[Obj] = []
        for group, versions in self.group_versions.items():
            if (group == "") != legacy:
                continue
            vers = [
                {
                    "version": v,
                    "resources": [self._aggregated_resource(r) for r in self.by_gv[(group, v)]],
                    "freshness": "Current",
                }
                for v in versions
            ]
            meta: Obj = {"creationTimestamp": None}
            if group:
                meta["name"] = group
            items.append({"metadata": meta, "versions": vers})
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }
