"""The garbage collector's decisions, pure (upstream's garbagecollector.go
attemptToDeleteItem, processDeletingDependentsItem and the patches it sends).

An object's owners are classified by what the collector found for each ownerReference:

- **solid**: the owner exists (same uid) and is not waiting for its dependents;
- **dangling**: no object with that uid exists (a live GET said NotFound, or found a
  namesake with another uid);
- **waiting**: the owner exists, is being deleted and carries the ``foregroundDeletion``
  finalizer — it waits for its dependents to go first.

``decide`` then picks what to do with the dependent:

- no ownerReferences, or only solid owners: nothing;
- solid owners plus dangling or waiting ones: remove the references to the latter (the
  object lives on with its solid owners; a waiting owner must not be kept waiting);
- a waiting owner and dependents of its own: delete it with ``Foreground`` propagation, so
  its own dependents go first (after unblocking its ownerReferences if one of those
  dependents is itself waiting on dependents — upstream's cycle guard);
- otherwise (no solid owner): delete it, with the propagation its own finalizers ask for
  (``orphan`` → Orphan, ``foregroundDeletion`` → Foreground, else Background).

An owner waiting on its dependents loses its ``foregroundDeletion`` finalizer once none of
the dependents that block it (``blockOwnerDeletion: true``) is left
(``blocking_dependents``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.controllers import meta

__all__ = [
    "FOREGROUND",
    "ORPHAN",
    "Action",
    "ActionKind",
    "OwnerState",
    "blocking_dependents",
    "decide",
    "owner_state",
    "references_to",
    "remove_finalizer_patch",
    "remove_references_patch",
    "unblock_references_patch",
]

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class OwnerState(enum.Enum):
    SOLID = "solid"
    DANGLING = "dangling"
    WAITING = "waiting"


def owner_state(owner: Mapping[str, Any] | None, ref: Mapping[str, Any]) -> OwnerState:
    if owner is None or meta.uid(owner) != ref.get("uid"):
        return OwnerState.DANGLING
    if meta.deletion_timestamp(owner) and FOREGROUND in meta.finalizers(owner):
        return OwnerState.WAITING
    return OwnerState.SOLID


class ActionKind(enum.Enum):
    NONE = "none"
    REMOVE_REFERENCES = "remove-references"
    DELETE = "delete"
    UNBLOCK_AND_DELETE = "unblock-and-delete"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    uids: tuple[str, ...] = ()  # references to remove
    propagation: str | None = None  # for deletes

    @classmethod
    def none(cls) -> Action:
        return cls(ActionKind.NONE)


def decide(
    item: Mapping[str, Any],
    states: Mapping[str, OwnerState],
    *,
    has_dependents: bool,
    a_dependent_waits: bool,
) -> Action:
    """What to do with ``item`` given its owners' states (by uid)."""
    refs = meta.owner_references(item)
    if not refs:
        return Action.none()
    solid: list[str] = []
    dangling: list[str] = []
    waiting: list[str] = []
    for ref in refs:
        uid = str(ref.get("uid") or "")
        state = states.get(uid, OwnerState.DANGLING)
        {OwnerState.SOLID: solid, OwnerState.DANGLING: dangling, OwnerState.WAITING: waiting}[
            state
        ].append(uid)
    if solid:
        if not dangling and not waiting:
            return Action.none()
        return Action(ActionKind.REMOVE_REFERENCES, uids=tuple(dangling + waiting))
    if waiting and has_dependents:
        kind = ActionKind.UNBLOCK_AND_DELETE if a_dependent_waits else ActionKind.DELETE
        return Action(kind, propagation="Foreground")
    finalizers = meta.finalizers(item)
    if ORPHAN in finalizers:
        policy = "Orphan"
    elif FOREGROUND in finalizers:
        policy = "Foreground"
    else:
        policy = "Background"
    return Action(ActionKind.DELETE, propagation=policy)


def references_to(obj: Mapping[str, Any], owner_uid: str) -> list[Mapping[str, Any]]:
    return [r for r in meta.owner_references(obj) if r.get("uid") == owner_uid]


def blocking_dependents(
    owner_uid: str, dependents: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    return [
        d
        for d in dependents
        if any(r.get("blockOwnerDeletion") is True for r in references_to(d, owner_uid))
    ]


def remove_references_patch(item: Mapping[str, Any], uids: Sequence[str]) -> Obj:
    """Strategic merge patch dropping the references to ``uids`` (guarded by the uid)."""
    return {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": uid} for uid in uids],
            "uid": meta.uid(item),
        }
    }


def unblock_references_patch(item: Mapping[str, Any]) -> Obj:
    """Strategic merge patch setting blockOwnerDeletion false wherever it is true."""
    return {
        "metadata": {
            "ownerReferences": [
                {"uid": r.get("uid"), "blockOwnerDeletion": False}
                for r in meta.owner_references(item)
                if r.get("blockOwnerDeletion") is True
            ],
            "uid": meta.uid(item),
        }
    }


def remove_finalizer_patch(obj: Mapping[str, Any], finalizer: str) -> Obj | None:
    """Merge patch removing ``finalizer``, conditional on the resourceVersion read; None
    if it is not there."""
    current = meta.finalizers(obj)
    if finalizer not in current:
        return None
    rest = [f for f in current if f != finalizer]
    return {
        "metadata": {
            "resourceVersion": meta.resource_version(obj),
            "finalizers": rest or None,
        }
    }
