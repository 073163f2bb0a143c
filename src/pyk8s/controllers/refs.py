"""ownerReferences between controllers and what they control: controller refs, and the
claim rules (upstream's ControllerRefManager) that adopt orphans matching a selector and
release owned objects that stopped matching.

``claim_action`` is the decision, pure; ``Claimer`` carries it out with the patches
upstream sends (strategic merge patches that name the object's uid, so a patch never
lands on a re-created namesake):

- adopt:   ``{"metadata":{"ownerReferences":[<controller ref>],"uid":<uid>}}``
- release: ``{"metadata":{"ownerReferences":[{"$patch":"delete","uid":<owner uid>}],"uid":<uid>}}``

Rules (ClaimObject): an object controlled by someone else is ignored; one we control is
kept while the selector matches and released when it does not (unless we are being
deleted); an orphan is adopted when the selector matches, neither side is being deleted
and the namespaces agree. Before the first adoption of a sync the owner is re-read from
the server (``can_adopt``): a cache may not show that it is being deleted yet.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pyk8s.api import resources
from pyk8s.client import errors, rest
from pyk8s.controllers import meta

__all__ = [
    "CannotAdopt",
    "ClaimAction",
    "Claimer",
    "adopt_patch",
    "claim_action",
    "controller_of",
    "controller_ref",
    "is_controlled_by",
    "release_patch",
]

Obj = dict[str, Any]


class CannotAdopt(Exception):
    """The owner is being deleted or was replaced: adopting now would be wrong."""


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") is True:
            return ref  # type: ignore[no-any-return]
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == meta.uid(owner)


def controller_ref(owner: Mapping[str, Any], *, api_version: str, kind: str) -> Obj:
    """metav1.NewControllerRef: controller and blockOwnerDeletion both true."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.name(owner),
        "uid": meta.uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


class ClaimAction(enum.Enum):
    KEEP = "keep"  # ours, and it matches
    ADOPT = "adopt"  # an orphan that matches: make it ours
    RELEASE = "release"  # ours, but it no longer matches
    IGNORE = "ignore"  # someone else's, or not ours and not to be adopted


def claim_action(owner: Mapping[str, Any], obj: Mapping[str, Any], matches: bool) -> ClaimAction:
    ref = controller_of(obj)
    owner_deleting = meta.deletion_timestamp(owner) is not None
    if ref is not None:
        if ref.get("uid") != meta.uid(owner):
            return ClaimAction.IGNORE
        if matches:
            return ClaimAction.KEEP
        return ClaimAction.IGNORE if owner_deleting else ClaimAction.RELEASE
    if owner_deleting or not matches or meta.deletion_timestamp(obj) is not None:
        return ClaimAction.IGNORE
    if meta.namespace(owner) and meta.namespace(owner) != meta.namespace(obj):
        return ClaimAction.IGNORE
    return ClaimAction.ADOPT


def adopt_patch(obj: Mapping[str, Any], ref: Mapping[str, Any]) -> Obj:
    return {"metadata": {"ownerReferences": [dict(ref)], "uid": meta.uid(obj)}}


def release_patch(obj: Mapping[str, Any], owner_uid: str) -> Obj:
    return {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
            "uid": meta.uid(obj),
        }
    }


class Claimer:
    """Claims objects of one resource for one owner during one sync."""

    def __init__(
        self,
        client: rest.RESTClient,
        resource: resources.Resource,
        *,
        owner: Mapping[str, Any],
        ref: Mapping[str, Any],
        can_adopt: Callable[[], Awaitable[None]],
    ) -> None:
        self.client = client
        self.resource = resource
        self.owner = owner
        self.ref = ref
        self._can_adopt = can_adopt
        self._adopt_checked = False

    async def claim(
        self, objs: Sequence[Mapping[str, Any]], matches: Callable[[Mapping[str, Any]], bool]
    ) -> list[Mapping[str, Any]]:
        """The objects that are ours after adopting and releasing; errors raise (the
        caller's sync is retried), except objects gone in the meantime."""
        claimed: list[Mapping[str, Any]] = []
        first_error: Exception | None = None
        for obj in objs:
            action = claim_action(self.owner, obj, matches(obj))
            try:
                if action is ClaimAction.KEEP:
                    claimed.append(obj)
                elif action is ClaimAction.ADOPT:
                    if not self._adopt_checked:
                        await self._can_adopt()
                        self._adopt_checked = True
                    claimed.append(await self._patch(obj, adopt_patch(obj, self.ref)))
                elif action is ClaimAction.RELEASE:
                    await self._patch(obj, release_patch(obj, meta.uid(self.owner)))
            except errors.NotFound:
                continue
            except (errors.ApiError, errors.TransportError, CannotAdopt) as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return claimed

    async def _patch(self, obj: Mapping[str, Any], body: Obj) -> Obj:
        return await self.client.patch(
            self.resource,
            meta.name(obj),
            body,
            namespace=meta.namespace(obj) or None,
            patch_type=rest.PatchType.STRATEGIC,
        )
