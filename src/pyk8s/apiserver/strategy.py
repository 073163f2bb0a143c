"""Per-kind rules the registry applies around every write (upstream's registry strategies),
as one object per resource. The rules themselves are pure functions in ``pyk8s.api``:
defaulting (``api.defaults``), what create resets and what an update keeps
(``api.validation.prepare_*``), and validation. The registry runs them in upstream's order:

create: decode check → defaults → system metadata → prepare_create → validate_create;
update: decode check → defaults → prepare_update → validate_update.

A write to the ``status`` subresource keeps everything but the status from the stored
object (upstream's status strategies).
"""

from __future__ import annotations

import copy
from typing import Any

from pyk8s.api import defaults, errors, validation
from pyk8s.api.resources import Resource

__all__ = ["Strategy", "for_resource"]

Obj = dict[str, Any]

# writes the server itself makes through a subresource with its own checks (a binding
# sets spec.nodeName, which a pod update may not change)
_SYSTEM_WRITES = frozenset({"binding"})


class Strategy:
    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.key = resource.key

    def check_decode(self, obj: Obj) -> None:
        """What upstream refuses while decoding (bad base64, bad quantities) → 400."""
        msg = validation.decode_error(self.key, obj)
        if msg:
            raise errors.bad_request(msg)

    def default(self, obj: Obj) -> None:
        defaults.apply_defaults(self.key, obj)

    def prepare_create(self, obj: Obj) -> None:
        validation.prepare_for_create(self.key, obj)

    def prepare_update(self, new: Obj, old: Obj, *, subresource: str | None) -> None:
        if subresource in _SYSTEM_WRITES:
            return
        if subresource == "status":
            status = new.get("status")
            keep = {k: new["metadata"][k] for k in ("resourceVersion",) if k in new["metadata"]}
            new.clear()
            new.update(copy.deepcopy(old))
            new["metadata"].update(keep)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            return
        validation.prepare_for_update(self.key, new, old)

    def validate_create(self, obj: Obj) -> list[validation.Cause]:
        return validation.validate_create(self.key, obj)

    def validate_update(
        self, new: Obj, old: Obj, *, subresource: str | None = None
    ) -> list[validation.Cause]:
        if subresource in _SYSTEM_WRITES:
            return []
        return validation.validate_update(self.key, new, old)


_CACHE: dict[tuple[str, str, str], Strategy] = {}


def for_resource(resource: Resource) -> Strategy:
    k = (resource.group, resource.version, resource.plural)
    s = _CACHE.get(k)
    if s is None:
        s = _CACHE[k] = Strategy(resource)
    return s
