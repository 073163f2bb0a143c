"""Per-kind rules the registry applies around every write (upstream's registry strategies):
what create resets, what an update of the main resource or of ``status`` may change, when
``metadata.generation`` moves, and which defaulting and validation run.

Pure functions over JSON dicts; the registry calls them in this order:
create: prepare_create → defaults → validate_create;
update: prepare_update → defaults → validate_update.
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api import defaults, validation
from pyk8s.api.resources import Resource
from pyk8s.apiserver import objectmeta

__all__ = ["Strategy", "for_resource"]

Obj = dict[str, Any]
Key = tuple[str, str]

# kinds whose metadata.generation tracks spec changes (upstream: the workload and policy
# kinds); other kinds keep generation unset
_GENERATION = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("", "replicationcontrollers"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("storage.k8s.io", "storageclasses"),
        ("scheduling.k8s.io", "priorityclasses"),
    }
)

# status written by create is kept for these (the creator reports it, e.g. a kubelet
# registering its Node); every other kind with a status subresource starts empty
_KEEP_STATUS_ON_CREATE = frozenset({("", "nodes"), ("", "namespaces"), ("", "events")})


def _qos_class(pod: Obj) -> str:
    """Upstream's GetPodQOS over requests and limits of all containers."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim:
                guaranteed = False
            elif r in req and str(req[r]) != str(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Strategy:
    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.key: Key = resource.key
        self.has_status = "status" in resource.subresources
        self.tracks_generation = self.key in _GENERATION

    def prepare_create(self, obj: Obj) -> None:
        meta = obj["metadata"]
        if self.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if self.has_status and self.key not in _KEEP_STATUS_ON_CREATE:
            obj.pop("status", None)
            if self.key == ("", "pods"):
                obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj)}
            elif self.key == ("", "persistentvolumeclaims"):
                obj["status"] = {"phase": "Pending"}
            elif self.key == ("", "persistentvolumes"):
                obj["status"] = {"phase": "Pending"}
            elif self.key == ("", "services"):
                obj["status"] = {"loadBalancer": {}}
            elif self.key[0] in ("apps", "batch", "autoscaling", "policy") or self.key == (
                "",
                "replicationcontrollers",
            ):
                obj["status"] = {}
            elif self.key == ("networking.k8s.io", "ingresses"):
                obj["status"] = {"loadBalancer": {}}

    def prepare_update(self, new: Obj, old: Obj, *, subresource: str | None) -> None:
        """Keep what this endpoint may not change, then move generation if needed."""
        if subresource == "status":
            status = new.get("status")
            keep_meta = new.get("metadata") or {}
            fresh = copy.deepcopy(old)
            if status is None:
                fresh.pop("status", None)
            else:
                fresh["status"] = status
            # upstream status strategies ignore metadata changes except these
            for k in ("resourceVersion", "managedFields"):
                if k in keep_meta:
                    fresh["metadata"][k] = keep_meta[k]
                else:
                    fresh["metadata"].pop(k, None)
            new.clear()
            new.update(fresh)
            return
        if self.has_status and subresource is None:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            old_gen = (old.get("metadata") or {}).get("generation") or 1
            new["metadata"]["generation"] = old_gen
            if objectmeta.spec_changed(new, old):
                new["metadata"]["generation"] = old_gen + 1

    def default(self, obj: Obj) -> None:
        defaults.apply_defaults(self.key, obj)

    def validate_create(self, obj: Obj) -> list[validation.Cause]:
        return validation.validate_create(self.key, obj)

    def validate_update(self, new: Obj, old: Obj) -> list[validation.Cause]:
        return validation.validate_update(self.key, new, old)


_CACHE: dict[tuple[str, str, str], Strategy] = {}


def for_resource(resource: Resource) -> Strategy:
    k = (resource.group, resource.version, resource.plural)
    s = _CACHE.get(k)
    if s is None:
        s = _CACHE[k] = Strategy(resource)
    return s
