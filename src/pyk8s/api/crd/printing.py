"""Server-side Table printing of custom resources (upstream's CRD ``tableconvertor``).

``table_for(columns)`` turns a version's ``additionalPrinterColumns`` into a
``TableConvertor``; ``table_for_version(crd, version)`` reads them from the CRD. The
columns are ``Name`` (format ``name``) followed by one column per printer column with its
``name``, ``type``, ``format``, ``priority`` and ``description`` (upstream's
``Custom resource definition column (in JSONPath format): <path>`` when none is given).
A version without printer columns gets upstream's default: ``Age``, type ``date``, from
``.metadata.creationTimestamp`` — so ``kubectl get`` shows NAME and AGE.

Cells (``row_cells(obj, now)``), one per column, as upstream computes them:

* the JSONPath is evaluated with missing keys allowed; no match is ``None`` (JSON null);
* ``string`` columns print the first match as client-go's JSONPath printer does:
  strings raw, numbers and booleans as Go prints them, objects and arrays as compact
  JSON, ``null`` as ``<no value>``;
* ``integer`` gives an int (floats truncated), ``number`` a float, ``boolean`` a bool;
  anything of the wrong JSON type is ``None``;
* ``date`` parses an RFC 3339 string and shows its age like ``kubectl`` (``5m30s``),
  ``<unknown>`` for an empty or zero time and ``<invalid>`` for garbage.

``ColumnError`` is raised for a JSONPath outside the supported subset (upstream fails the
whole table: "the server could not properly serve the CR columns"). Pure; ``now`` is
passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from pyk8s.api.crd import gofmt, jsonpath
from pyk8s.api.crd.versions import columns_for
from pyk8s.api.printers import ColumnDefinition, descriptions, human_duration

__all__ = [
    "CRCell",
    "ColumnError",
    "TableConvertor",
    "default_columns",
    "table_for",
    "table_for_version",
]

CRCell = str | int | float | bool | None

_RFC3339: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_GO_ZERO: Final = datetime(1, 1, 1, tzinfo=UTC)


class ColumnError(ValueError):
    """A printer column's JSONPath cannot be parsed."""


def default_columns() -> list[dict[str, Any]]:
    """What upstream serves for a version without ``additionalPrinterColumns``."""
    return [
        {
            "name": "Age",
            "type": "date",
            "description": descriptions.CREATION_TIMESTAMP,
            "jsonPath": ".metadata.creationTimestamp",
        }
    ]


@dataclass(frozen=True, slots=True)
class TableConvertor:
    columns: tuple[ColumnDefinition, ...]
    paths: tuple[jsonpath.Path, ...]

    def column_definitions(self) -> list[ColumnDefinition]:
        """The Table's ``columnDefinitions`` (fresh dicts)."""
        return [ColumnDefinition(**c) for c in self.columns]

    def row_cells(self, obj: Mapping[str, Any], now: datetime) -> list[CRCell]:
        """One row's ``cells``: the name, then one per printer column."""
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        cells: list[CRCell] = [name if isinstance(name, str) else ""]
        for column, path in zip(self.columns[1:], self.paths, strict=True):
            found = path.find(obj)
            if not found:
                cells.append(None)
            elif column["type"] == "string":
                cells.append(_text(found[0]))
            else:
                cells.append(_typed(column["type"], found[0], now))
        return cells


def table_for(columns: Sequence[Mapping[str, Any]]) -> TableConvertor:
    """The convertor for these printer columns (``default_columns()`` when empty)."""
    columns = columns or default_columns()
    defs = [
        ColumnDefinition(
            name="Name", type="string", format="name", description=descriptions.NAME, priority=0
        )
    ]
    paths = []
    for col in columns:
        expr = str(col.get("jsonPath") or "")
        try:
            paths.append(jsonpath.parse(expr))
        except jsonpath.JSONPathError:
            raise ColumnError(f"unrecognized column definition {expr!r}") from None
        description = str(col.get("description") or "")
        priority = col.get("priority")
        defs.append(
            ColumnDefinition(
                name=str(col.get("name") or ""),
                type=str(col.get("type") or ""),
                format=str(col.get("format") or ""),
                description=description
                or f"Custom resource definition column (in JSONPath format): {expr}",
                priority=priority if isinstance(priority, int) else 0,
            )
        )
    return TableConvertor(tuple(defs), tuple(paths))


def table_for_version(crd: Mapping[str, Any], version: str) -> TableConvertor:
    return table_for(columns_for(crd, version))


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return gofmt.go_number(value)
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    # encoding/json escapes HTML characters
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _typed(kind: str, value: Any, now: datetime) -> CRCell:
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if value is None or isinstance(value, bool):
        return None
    if kind == "integer" and isinstance(value, int | float):
        return int(value)
    if kind == "number" and isinstance(value, int | float):
        return float(value)
    if kind == "date" and isinstance(value, str):
        return _age(value, now)
    return None


def _age(value: str, now: datetime) -> str:
    if value in ("", "null"):
        return "<unknown>"
    if not _RFC3339.match(value):
        return "<invalid>"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    if when == _GO_ZERO:
        return "<unknown>"
    return human_duration((now - when).total_seconds())
