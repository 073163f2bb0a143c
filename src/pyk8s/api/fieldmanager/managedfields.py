"""``metadata.managedFields`` entries to ownership and back (upstream's
``managedfields/internal``: managedfields.go, stripmeta.go, capmanagers.go).

An entry is identified by (manager, operation, subresource) and, for ``Update`` entries
only, apiVersion: one applier has one entry whatever version it applies at, while an
updater writing at two versions has two. The identifier is the JSON of those fields, and
managers are keyed, sorted and named in conflicts by it, as upstream does.

Entries are written sorted by operation (``Apply`` before ``Update``), then time (whole
seconds; no time first), manager, apiVersion and subresource. An entry's ``time`` is the
last write that changed what the manager owns. Fields that say nothing about intent
(``apiVersion``, ``kind``, ``metadata.name``, ``.uid``, ``.resourceVersion`` …) are
stripped from what a writer gains; at most ten ``Update`` entries are kept, the oldest
folded into one ``ancient-changes`` entry per apiVersion.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyk8s.api.fieldmanager.fieldpath import FieldSet, PathElement
from pyk8s.api.fieldmanager.updater import Owned
from pyk8s.api.fieldmanager.values import go_quote

__all__ = [
    "APPLY",
    "UPDATE",
    "Managed",
    "ManagerId",
    "cap_updaters",
    "decode",
    "encode",
    "is_reset",
    "strip_meta",
]

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


class ManagerId(NamedTuple):
    manager: str
    operation: str
    api_version: str  # empty for Apply entries
    subresource: str = ""

    @classmethod
    def of(cls, manager: str, operation: str, api_version: str, subresource: str) -> ManagerId:
        return cls(manager, operation, "" if operation == APPLY else api_version, subresource)

    @property
    def key(self) -> str:
        """Upstream's identifier: the entry's JSON without fields, time or fieldsType."""
        out = {"manager": self.manager, "operation": self.operation}
        out["apiVersion"] = self.api_version
        out["subresource"] = self.subresource
        return json.dumps(
            {k: v for k, v in out.items() if v}, separators=(",", ":"), ensure_ascii=False
        )

    @classmethod
    def parse(cls, key: str) -> ManagerId:
        raw = json.loads(key)
        return cls(
            raw.get("manager", ""),
            raw.get("operation", ""),
            raw.get("apiVersion", ""),
            raw.get("subresource", ""),
        )

    def describe(self) -> str:
        """How a conflict names the manager: ``"m"``, or ``"m" using apps/v1`` for updaters."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


@dataclass
class Managed:
    """Decoded managedFields: what each manager owns and when it last changed."""

    fields: dict[str, Owned]
    times: dict[str, str | None]

    @classmethod
    def empty(cls) -> Managed:
        return cls({}, {})

    def copy(self) -> Managed:
        return Managed(dict(self.fields), dict(self.times))


def is_reset(entries: Any) -> bool:
    """``[]`` or ``[{}]``: a client asking to clear managedFields."""
    if not isinstance(entries, list):
        return False
    if not entries:
        return True
    return len(entries) == 1 and isinstance(entries[0], dict) and not any(entries[0].values())


def decode(entries: Any) -> Managed:
    """Parse managedFields (None: no entries); ValueError with upstream's messages."""
    managed = Managed.empty()
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type == "":
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise ValueError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}')
        mid = ManagerId.of(
            str(entry.get("manager") or ""), operation, api_version, entry.get("subresource") or ""
        )
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1"))
        except ValueError as exc:
            raise ValueError(f"error decoding versioned set: error decoding set: {exc}") from None
        managed.fields[mid.key] = Owned(fields, api_version, operation == APPLY)
        time = entry.get("time")
        managed.times[mid.key] = time if isinstance(time, str) else None
    return managed


def encode(managed: Managed) -> list[dict[str, Any]]:
    """The managedFields entries, in upstream's order."""
    entries: list[dict[str, Any]] = []
    for key, owned in managed.fields.items():
        mid = ManagerId.parse(key)
        entry: dict[str, Any] = {}
        if mid.manager:
            entry["manager"] = mid.manager
        entry["operation"] = APPLY if owned.applied else mid.operation
        entry["apiVersion"] = owned.api_version
        time = managed.times.get(key)
        if time:
            entry["time"] = time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = owned.fields.to_fields_v1()
        if mid.subresource:
            entry["subresource"] = mid.subresource
        entries.append(entry)
    entries.sort(
        key=lambda e: (
            e["operation"],
            unix_seconds(e.get("time")),
            e.get("manager", ""),
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    return entries


def unix_seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        parsed = datetime.datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return int(parsed.timestamp())


_STRIPPED = FieldSet(
    [(PathElement.field("apiVersion"),), (PathElement.field("kind"),)]
    + [(PathElement.field("metadata"),)]
    + [
        (PathElement.field("metadata"), PathElement.field(name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ]
)


def strip_meta(fields: FieldSet) -> FieldSet:
    """``fields`` without the type and identity paths no manager owns."""
    return fields.difference(_STRIPPED)


def cap_updaters(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest Update entries into ``ancient-changes`` until ``limit`` remain."""
    updaters = [key for key, owned in managed.fields.items() if not owned.applied]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda key: (unix_seconds(managed.times.get(key)), key))
    first_of_version: dict[str, str] = {}
    remaining = len(updaters)
    for key in updaters:
        if remaining <= limit:
            break
        owned = managed.fields[key]
        version = owned.api_version
        bucket = ManagerId(ANCIENT_CHANGES, UPDATE, version).key
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = key
            continue
        if bucket not in managed.fields:
            managed.fields[bucket] = managed.fields.pop(first)
        if key == bucket:
            continue
        merged = owned.fields.union(managed.fields[bucket].fields)
        managed.fields[bucket] = Owned(merged, owned.api_version, owned.applied)
        del managed.fields[key]
        remaining -= 1
        managed.times[bucket] = managed.times.get(key)
