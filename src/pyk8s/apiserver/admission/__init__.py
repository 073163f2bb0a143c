"""Admission: the chain every write passes between the registry's preparation and
storage (upstream's admission plugins and webhooks).

The registry calls, for a create or update: ``mutate`` after defaulting and the kind's
create/update preparation, then (after re-defaulting) the kind's validation, then
``validate``; for a delete: ``validate`` with the stored object as ``old``. ``mutate``
returns the object to continue with; both raise ``api.errors.StatusError`` to deny, and
append warnings for the client to ``Attributes.warnings``.

Admission webhooks are ``webhooks.WebhookAdmission`` (a ``Chain``): ``matching`` decides
which webhooks a request calls, ``review`` writes AdmissionReviews and reads the answers
(both pure), ``client`` is the HTTPS call. Mutating webhooks also see deletes: for a
DELETE, ``WebhookAdmission.validate`` runs them (object ``null``) before the validating
ones, as upstream's delete handler does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pyk8s.api.resources import Resource

__all__ = ["Attributes", "Chain", "NoAdmission", "UserInfo"]

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()


@dataclass(slots=True)
class Attributes:
    resource: Resource  # as requested (group, version, plural, kind)
    subresource: str | None
    namespace: str | None
    name: str
    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    user: UserInfo
    dry_run: bool = False
    options: Obj = field(default_factory=dict)  # Create/Update/DeleteOptions as upstream
    warnings: list[str] = field(default_factory=list)


class Chain(Protocol):
    async def mutate(self, attrs: Attributes, obj: Obj, old: Obj | None) -> Obj: ...

    async def validate(self, attrs: Attributes, obj: Obj | None, old: Obj | None) -> None: ...


class NoAdmission:
    async def mutate(self, attrs: Attributes, obj: Obj, old: Obj | None) -> Obj:
        return obj

    async def validate(self, attrs: Attributes, obj: Obj | None, old: Obj | None) -> None:
        return None
