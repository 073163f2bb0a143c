"""Ownership bookkeeping for one write (structured-merge-diff's ``merge.Updater``).

Managers own field sets. ``record_update`` and ``record_apply`` take the sets before a
write and give the sets after it:

* any write: compare the object before and after. Every *other* manager loses the paths
  that were removed, and the paths that were modified or added — for an update always;
  for an apply those are conflicts, and without ``force`` the write is refused
  (``ConflictError``) instead. Fields set to the value they already had are no change,
  so two appliers agreeing on a value share it;
* update: the writer gains what it modified or added (its earlier entry is treated as
  another manager's, so the caller unions the two, as upstream's field manager does);
* apply: the writer owns exactly the configuration's field set. Before comparing, fields
  it applied last time and no longer applies are removed from the merged object, unless
  some manager (the writer's new configuration included) still owns them — then they stay.
  A struct field nobody owns anything under any more goes with all its contents; a list
  item goes when the writer owned the item itself and nobody else does.

Managers with nothing left are dropped. ``keep`` filters every set recorded and every
comparison, for the fields a write may not own (``status`` on the main resource).
Upstream compares each manager at its own API version through conversion; here every
version is compared as the request's, since the field paths of the versions we serve match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyk8s.api.fieldmanager.fieldpath import FieldSet, Path
from pyk8s.api.fieldmanager.merge import merge
from pyk8s.api.fieldmanager.shapes import Shape
from pyk8s.api.fieldmanager.typed import (
    Comparison,
    compare,
    ensure_named_fields,
    fields_of,
    remove_items,
)
from pyk8s.api.fieldmanager.values import JSON, MISSING, values_equal

__all__ = ["ConflictError", "Keep", "Owned", "record_apply", "record_update"]

Keep = Callable[[FieldSet], FieldSet]


@dataclass(frozen=True)
class Owned:
    """What one manager owns (upstream's ``VersionedSet``)."""

    fields: FieldSet
    api_version: str
    applied: bool


class ConflictError(Exception):
    """Another manager owns fields the write changes: (manager id, path) pairs."""

    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def _changes(
    old: JSON,
    new: JSON,
    managers: Mapping[str, Owned],
    *,
    writer: str | None,
    force: bool,
    shape: Shape,
    keep: Keep,
) -> tuple[dict[str, Owned], Comparison]:
    """The other managers after the write, and the (filtered) comparison."""
    diff = compare(old, new, shape).filtered(keep)
    changed = diff.changed()
    conflicts: dict[str, FieldSet] = {}
    for mid, owned in managers.items():
        if mid == writer:
            continue
        clash = owned.fields.intersection(changed)
        if not clash.empty():
            conflicts[mid] = clash
    if conflicts and not force:
        raise ConflictError(
            [(mid, path) for mid in sorted(conflicts) for path in conflicts[mid].paths()]
        )
    out: dict[str, Owned] = {}
    for mid, owned in managers.items():
        fields = owned.fields
        if mid != writer:
            if mid in conflicts:
                fields = fields.difference(conflicts[mid])
            fields = fields.difference(diff.removed)
        if not fields.empty():
            out[mid] = Owned(fields, owned.api_version, owned.applied)
    return out, diff


def record_update(
    old: JSON,
    new: JSON,
    managers: Mapping[str, Owned],
    *,
    shape: Shape,
    keep: Keep,
) -> tuple[dict[str, Owned], FieldSet]:
    """``old`` replaced by ``new`` with a non-apply verb: every manager after losing what
    changed (the writer's own earlier entry included), and what the writer now owns
    through this write (empty when it changed nothing it may own)."""
    out, diff = _changes(old, new, managers, writer=None, force=True, shape=shape, keep=keep)
    return out, keep(diff.changed())


def record_apply(
    live: JSON,
    config: JSON,
    managers: Mapping[str, Owned],
    *,
    writer: str,
    api_version: str,
    force: bool,
    shape: Shape,
    keep: Keep,
) -> tuple[JSON, dict[str, Owned], bool]:
    """``config`` applied by ``writer``: the new object, the managers, and whether the
    object changed. Raises ConflictError unless ``force``."""
    merged = merge(live, config, shape)
    last = managers.get(writer)
    current = dict(managers)
    current[writer] = Owned(keep(fields_of(config, shape)), api_version, applied=True)
    if last is not None and not last.fields.empty():
        merged = _prune(merged, current, last.fields, shape)
    if merged is MISSING:
        merged = {}
    out, _ = _changes(live, merged, current, writer=writer, force=force, shape=shape, keep=keep)
    return merged, out, not values_equal(live, merged)


def _prune(merged: JSON, managers: Mapping[str, Owned], last: FieldSet, shape: Shape) -> JSON:
    """``merged`` without what the writer applied last time, applies no more, and nobody
    else owns (upstream's prune, addBackOwnedItems and addBackDanglingItems in one)."""
    present = ensure_named_fields(fields_of(merged, shape), shape)
    owned = FieldSet()
    for entry in managers.values():
        owned = owned.union(entry.fields)
    drop = present.intersection(ensure_named_fields(last, shape)).difference(
        ensure_named_fields(owned, shape)
    )
    pruned = remove_items(merged, drop, shape)
    return {} if pruned is MISSING else pruned
