"""Server-side Table printing: upstream's columns and cells for every built-in kind.

The apiserver answers ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` by
wrapping these into a meta.k8s.io/v1 Table: ``column_definitions(key)`` gives the
``columnDefinitions`` and ``row_cells(key, obj, now)`` one row's ``cells`` (the server adds
``object``). Keys are ``Resource.key``, i.e. (group, plural).

Contract:

- Columns and cells are upstream's (pkg/printers/internalversion/printers.go, 1.33),
  including the ``-o wide`` columns (priority 1): the server always prints wide, as
  upstream's TableConvertor does, and kubectl hides what it was not asked for.
- ``len(row_cells(k, o, now)) == len(column_definitions(k))`` for every key.
- Kinds without an upstream printer (roles, cluster roles, limit ranges, the create-only
  review kinds, anything unknown) get upstream's default table: ``Name`` (format
  ``name``) and ``Created At`` (type ``date``, the RFC 3339 creation time in UTC).
- Ages are relative to ``now`` (timezone-aware; a naive one is taken as UTC), rounded as
  duration.HumanDuration (exported as ``human_duration``).
- Pure: no I/O, no clock; objects are plain JSON dicts and are not modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pyk8s.api.printers import apps, batch, core, descriptions, networking, other, pods, rbac
from pyk8s.api.printers.columns import Cell, ColumnDefinition, Printer, column
from pyk8s.api.printers.formatting import get_map, get_str, human_duration, parse_time

__all__ = [
    "Cell",
    "ColumnDefinition",
    "column_definitions",
    "has_printer",
    "human_duration",
    "row_cells",
]

_PRINTERS: dict[tuple[str, str], Printer] = {
    **pods.PRINTERS,
    **core.PRINTERS,
    **apps.PRINTERS,
    **batch.PRINTERS,
    **networking.PRINTERS,
    **rbac.PRINTERS,
    **other.PRINTERS,
}

_DEFAULT_COLUMNS = (
    column("Name", "string", descriptions.NAME, format_="name"),
    column("Created At", "date", descriptions.CREATION_TIMESTAMP),
)


def _default_cells(obj: Mapping[str, object], now: datetime) -> list[Cell]:
    meta = get_map(obj, "metadata")
    created = parse_time(meta.get("creationTimestamp"))
    t = created.astimezone(UTC) if created else datetime(1, 1, 1, tzinfo=UTC)  # Go's zero
    shown = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"
    return [get_str(meta, "name"), shown]


_DEFAULT = Printer(_DEFAULT_COLUMNS, _default_cells)


def has_printer(resource_key: tuple[str, str]) -> bool:
    """Whether upstream has a dedicated printer (otherwise the default table is used)."""
    return resource_key in _PRINTERS


def column_definitions(resource_key: tuple[str, str]) -> list[ColumnDefinition]:
    """The Table's ``columnDefinitions`` for a resource (fresh dicts, safe to modify)."""
    return [ColumnDefinition(**c) for c in _PRINTERS.get(resource_key, _DEFAULT).columns]


def row_cells(
    resource_key: tuple[str, str], obj: Mapping[str, object], now: datetime
) -> list[Cell]:
    """One row's ``cells`` for ``obj``, in column order."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return _PRINTERS.get(resource_key, _DEFAULT).cells(obj, now)
