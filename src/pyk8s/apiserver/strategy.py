"""Per-kind rules the registry applies around every write (upstream's registry strategies),
as one object per resource. The rules themselves are pure functions in ``pyk8s.api``:
defaulting (``api.defaults``), what create resets and what an update keeps
(``api.validation.prepare_*``), validation, and Table printing. The registry runs them in
upstream's order:

create: decode check → defaults → system metadata → prepare_create → validate_create;
update: decode check → defaults → prepare_update → validate_update.

A write to the ``status`` subresource keeps everything but the status from the stored
object (upstream's status strategies). CustomResourceDefinitions and the custom resources
they define get their own strategies (``CRDStrategy``, ``CustomStrategy``), registered per
served version when a CRD is established.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

import orjson

from pyk8s.api import defaults, errors, printers, validation
from pyk8s.api.crd import default as crd_default
from pyk8s.api.crd import definition as crd_definition
from pyk8s.api.crd import printing as crd_printing
from pyk8s.api.crd import prune as crd_prune
from pyk8s.api.crd import scale as crd_scale
from pyk8s.api.crd import validate as crd_validate
from pyk8s.api.crd.schema import Structural
from pyk8s.api.resources import Resource
from pyk8s.api.schemas import GVK

__all__ = ["CRDStrategy", "CustomStrategy", "Strategy", "for_resource", "register", "unregister"]

Obj = dict[str, Any]

# writes the server itself makes through a subresource with its own checks (a binding
# sets spec.nodeName, which a pod update may not change)
_SYSTEM_WRITES = frozenset({"binding"})

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _json_copy(obj: Obj) -> Obj:
    """A deep copy of a plain JSON object: an orjson round trip is several times faster
    than ``copy.deepcopy`` (this runs on every status write)."""
    out: Obj = orjson.loads(orjson.dumps(obj))
    return out


def _keep_all_but_status(new: Obj, old: Obj) -> None:
    """A status write changes the status (and, as upstream's status strategies allow,
    annotations — the deployment controller records revisions that way); everything else
    comes from the stored object."""
    status = new.get("status")
    keep = {
        k: new["metadata"][k] for k in ("resourceVersion", "annotations") if k in new["metadata"]
    }
    new.clear()
    new.update(_json_copy(old))
    new["metadata"].update(keep)
    if status is None:
        new.pop("status", None)
    else:
        new["status"] = status


class Strategy:
    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.key = resource.key

    def check_decode(self, obj: Obj) -> None:
        """What upstream refuses while decoding (bad base64, bad quantities) → 400."""
        msg = validation.decode_error(self.key, obj)
        if msg:
            raise errors.bad_request(msg)

    def unknown_fields(self, obj: Obj) -> list[str] | None:
        """Paths of fields the schema does not know; None: use the built-in schemas."""
        return None

    def default(self, obj: Obj) -> None:
        defaults.apply_defaults(self.key, obj)

    def prepare_create(self, obj: Obj) -> None:
        validation.prepare_for_create(self.key, obj)

    def prepare_update(self, new: Obj, old: Obj, *, subresource: str | None) -> None:
        if subresource in _SYSTEM_WRITES:
            return
        if subresource == "status":
            _keep_all_but_status(new, old)
            return
        if subresource == "finalize":
            # namespaces/finalize changes spec.finalizers and nothing else
            finalizers = (new.get("spec") or {}).get("finalizers")
            new.clear()
            new.update(copy.deepcopy(old))
            spec = new.setdefault("spec", {})
            if finalizers:
                spec["finalizers"] = finalizers
            else:
                spec.pop("finalizers", None)
            return
        validation.prepare_for_update(self.key, new, old)

    def validate_create(self, obj: Obj) -> list[validation.Cause]:
        return validation.validate_create(self.key, obj)

    def validate_update(
        self, new: Obj, old: Obj, *, subresource: str | None = None
    ) -> list[validation.Cause]:
        if subresource in _SYSTEM_WRITES:
            return []
        if subresource == "status":
            return validation.validate_status_update(self.key, new, old)
        return validation.validate_update(self.key, new, old)

    def columns(self) -> list[dict[str, Any]]:
        return [dict(c) for c in printers.column_definitions(self.key)]

    def cells(self, obj: Obj, now: datetime.datetime) -> list[Any]:
        return list(printers.row_cells(self.key, obj, now))

    @property
    def strategic_merge(self) -> bool:
        return True


class CRDStrategy(Strategy):
    """apiextensions.k8s.io/v1 CustomResourceDefinitions."""

    def check_decode(self, obj: Obj) -> None:
        return None

    def default(self, obj: Obj) -> None:
        crd_definition.defaults_crd(obj)

    def prepare_create(self, obj: Obj) -> None:
        crd_definition.prepare_for_create(obj)
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CRD_CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CRD_CLEANUP_FINALIZER)

    def prepare_update(self, new: Obj, old: Obj, *, subresource: str | None) -> None:
        if subresource == "status":
            crd_definition.prepare_for_status_update(new, old)
        else:
            crd_definition.prepare_for_update(new, old)

    def validate_create(self, obj: Obj) -> list[validation.Cause]:
        return crd_definition.validate_crd(obj)

    def validate_update(
        self, new: Obj, old: Obj, *, subresource: str | None = None
    ) -> list[validation.Cause]:
        if subresource == "status":
            return crd_definition.validate_crd_status_update(new, old)
        return crd_definition.validate_crd_update(new, old)


class CustomStrategy(Strategy):
    """Objects of one served version of a CRD, checked against its structural schema."""

    def __init__(
        self,
        resource: Resource,
        *,
        schema: Structural | None,
        table: crd_printing.TableConvertor,
        scale: crd_scale.ScaleSpec | None,
    ) -> None:
        super().__init__(resource)
        self.schema = schema
        self.table = table
        self.scale = scale
        self.has_status = "status" in resource.subresources
        self.gvk = GVK(resource.group, resource.version, resource.kind)

    def check_decode(self, obj: Obj) -> None:
        return None

    def unknown_fields(self, obj: Obj) -> list[str] | None:
        return crd_prune.prune(self.schema, copy.deepcopy(obj))

    def default(self, obj: Obj) -> None:
        crd_prune.prune(self.schema, obj)
        crd_default.drop_nulls(self.schema, obj)
        crd_default.apply_defaults(self.schema, obj)

    def prepare_create(self, obj: Obj) -> None:
        if self.has_status:
            obj.pop("status", None)
        obj["metadata"]["generation"] = 1

    def prepare_update(self, new: Obj, old: Obj, *, subresource: str | None) -> None:
        if subresource == "status":
            _keep_all_but_status(new, old)
            return
        if self.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        skip = {"metadata", "status"} if self.has_status else {"metadata"}
        changed = any(new.get(k) != old.get(k) for k in (set(new) | set(old)) - skip)
        generation = (old.get("metadata") or {}).get("generation") or 1
        new["metadata"]["generation"] = generation + 1 if changed else generation

    def validate_create(self, obj: Obj) -> list[validation.Cause]:
        return crd_validate.validate_object(
            self.schema, obj, kind=self.gvk, namespaced=self.resource.namespaced, scale=self.scale
        )

    def validate_update(
        self, new: Obj, old: Obj, *, subresource: str | None = None
    ) -> list[validation.Cause]:
        if subresource == "status":
            return crd_validate.validate_status_update(
                self.schema, new, old, kind=self.gvk, scale=self.scale
            )
        return crd_validate.validate_object_update(
            self.schema, new, old, kind=self.gvk, scale=self.scale
        )

    def columns(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self.table.column_definitions()]

    def cells(self, obj: Obj, now: datetime.datetime) -> list[Any]:
        return list(self.table.row_cells(obj, now))

    @property
    def strategic_merge(self) -> bool:
        return False


_CACHE: dict[tuple[str, str, str], Strategy] = {}
_CUSTOM: dict[tuple[str, str, str], Strategy] = {}


def register(strategy: Strategy) -> None:
    r = strategy.resource
    _CUSTOM[(r.group, r.version, r.plural)] = strategy


def unregister(group: str, plural: str) -> None:
    for k in [k for k in _CUSTOM if k[0] == group and k[2] == plural]:
        del _CUSTOM[k]


def for_resource(resource: Resource) -> Strategy:
    k = (resource.group, resource.version, resource.plural)
    custom = _CUSTOM.get(k)
    if custom is not None:
        return custom
    s = _CACHE.get(k)
    if s is None:
        if resource.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            s = CRDStrategy(resource)
        else:
            s = Strategy(resource)
        _CACHE[k] = s
    return s
