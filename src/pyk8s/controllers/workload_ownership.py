"""Controller references for the workload controllers: who owns an object, adoption and
release (upstream's ControllerRefManager), and expectations of our own writes.

Claiming (``claim``) is pure: given an owner, its selector and the candidate objects it
decides which are already ours, which to adopt and which to release, as upstream's
``ClaimObject`` does:
- an object controlled by another owner (another UID) is never touched;
- ours and matching the selector: owned; ours and no longer matching: released (unless
  the owner is being deleted, then left alone);
- an orphan that matches, while neither it nor the owner is being deleted: adopted.

Adoption and release are strategic-merge patches that carry ``metadata.uid`` (upstream's
guard against patching a re-created object of the same name), ``adoption_patch`` may also
add finalizers (the Job controller's tracking finalizer).

``Expectations`` replaces upstream's TTL'd ControllerExpectations with something exact:
after creating or deleting objects for a key, the controller records their UIDs, and the
informer handlers mark each one observed when the cache shows it (created: any event for
that UID; deleted: a delete event, or any event with a deletionTimestamp). A key is
``satisfied`` when nothing is pending, so a sync never acts on a cache that does not yet
show its own previous writes. ``forget(key)`` drops a key (owner deleted).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import selectors
from pyk8s.client.informer import SharedInformer
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.workload_pods import labels, meta, selector_of

__all__ = [
    "Claim",
    "Expectations",
    "WrittenVersions",
    "adoption_patch",
    "claim",
    "controller_of",
    "controller_ref",
    "is_controlled_by",
    "owner_keys",
    "release_patch",
]

Obj = dict[str, Any]


def controller_ref(owner: Mapping[str, Any], *, api_version: str, kind: str) -> Obj:
    """metav1.NewControllerRef."""
    m = meta(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": m.get("name") or "",
        "uid": m.get("uid") or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == meta(owner).get("uid")


@dataclass(frozen=True, slots=True)
class Claim:
    owned: list[Obj] = field(default_factory=list)
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)


def claim(
    owner: Mapping[str, Any],
    selector: selectors.LabelSelector,
    candidates: Iterable[Obj],
) -> Claim:
    result = Claim()
    owner_uid = meta(owner).get("uid")
    owner_deleting = bool(meta(owner).get("deletionTimestamp"))
    for obj in candidates:
        ref = controller_of(obj)
        matches = selector.matches(labels(obj))
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if matches:
                result.owned.append(obj)
            elif not owner_deleting:
                result.release.append(obj)
            continue
        if owner_deleting or not matches or meta(obj).get("deletionTimestamp"):
            continue
        result.adopt.append(obj)
    return result


def adoption_patch(
    obj: Mapping[str, Any], ref: Mapping[str, Any], *, finalizers: Sequence[str] = ()
) -> Obj:
    patch_meta: Obj = {"ownerReferences": [dict(ref)], "uid": meta(obj).get("uid")}
    if finalizers:
        patch_meta["finalizers"] = list(finalizers)
    return {"metadata": patch_meta}


def release_patch(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> Obj:
    return {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": meta(owner).get("uid")}],
            "uid": meta(obj).get("uid"),
        }
    }


class Expectations:
    """Per-key UIDs whose creation or deletion the cache has not shown yet.

    Informer events can be handled before the write that caused them returns, so every
    observed UID is also remembered (the last ``memory`` of them): expecting something
    already seen is a no-op.
    """

    def __init__(self, *, memory: int = 65536) -> None:
        self._creates: dict[str, Any] = {}
        self._deletes: dict[str, Any] = {}
        self._pending: collections.Counter[Any] = collections.Counter()
        self._seen: collections.OrderedDict[str, bool] = collections.OrderedDict()
        self._memory = memory

    def expect_created(self, key: Any, uid: str) -> None:
        if uid and uid not in self._seen and uid not in self._creates:
            self._creates[uid] = key
            self._pending[key] += 1

    def expect_deleted(self, key: Any, uid: str) -> None:
        if uid and not self._seen.get(uid, False) and uid not in self._deletes:
            self._deletes[uid] = key
            self._pending[key] += 1

    def observe(self, obj: Mapping[str, Any], *, deleted: bool = False) -> None:
        """Record an informer event about ``obj`` (call it for every add/update/delete)."""
        uid = meta(obj).get("uid") or ""
        if not uid:
            return
        gone = deleted or bool(meta(obj).get("deletionTimestamp"))
        self._seen[uid] = gone or self._seen.get(uid, False)
        self._seen.move_to_end(uid)
        while len(self._seen) > self._memory:
            self._seen.popitem(last=False)
        self._settle(self._creates, uid)
        if gone:
            self._settle(self._deletes, uid)

    def _settle(self, table: dict[str, Any], uid: str) -> None:
        key = table.pop(uid, _MISSING)
        if key is not _MISSING:
            self._pending[key] -= 1
            if self._pending[key] <= 0:
                del self._pending[key]

    def satisfied(self, key: Any) -> bool:
        return self._pending.get(key, 0) <= 0

    def lower(self, uid: str) -> None:
        """Give up on one expectation (the write turned out not to happen)."""
        self._settle(self._creates, uid)
        self._settle(self._deletes, uid)

    def forget(self, key: Any) -> None:
        for table in (self._creates, self._deletes):
            for uid in [u for u, k in table.items() if k == key]:
                del table[uid]
        self._pending.pop(key, None)


_MISSING = object()


class WrittenVersions:
    """The resourceVersion of each object's last write by this controller.

    A sync that starts from a cached copy older than our own last write would act on
    stale status and lose the write race (409), so it is skipped instead: the watch event
    of our write re-enqueues the key. pyk8s resourceVersions are storage revisions
    (DESIGN §4), so they compare as integers; anything else never counts as behind.
    """

    def __init__(self) -> None:
        self._written: dict[Any, int] = {}

    def record(self, key: Any, written: Mapping[str, Any]) -> None:
        rv = _revision(written)
        if rv is not None:
            self._written[key] = max(rv, self._written.get(key, rv))

    def behind(self, key: Any, cached: Mapping[str, Any]) -> bool:
        mine = self._written.get(key)
        rv = _revision(cached)
        if mine is None or rv is None:
            return False
        if rv >= mine:
            del self._written[key]
            return False
        return True

    def forget(self, key: Any) -> None:
        self._written.pop(key, None)


def _revision(obj: Mapping[str, Any]) -> int | None:
    try:
        return int(str(meta(obj).get("resourceVersion") or ""))
    except ValueError:
        return None


def owner_keys(
    pod: Mapping[str, Any], *, kind: str, owners: SharedInformer[Obj]
) -> list[ObjectKey]:
    """The owners of ``kind`` to resync for a pod event: its controller if it has one
    (and that owner's uid still matches), else every owner whose selector matches it
    (an orphan that may be adopted)."""
    ns = str(meta(pod).get("namespace") or "")
    ref = controller_of(pod)
    if ref is not None:
        if ref.get("kind") != kind:
            return []
        key = ObjectKey(ns, str(ref.get("name") or ""))
        owner = owners.get(key)
        return [key] if owner is not None and meta(owner).get("uid") == ref.get("uid") else []
    keys = []
    for candidate in owners.list(ns):
        try:
            if selector_of(candidate).matches(labels(pod)):
                keys.append(ObjectKey.of(candidate))
        except selectors.SelectorError:
            continue
    return keys
