"""Table column definitions and the ``Printer`` pairing columns with a cell function.

A ``ColumnDefinition`` is metav1.TableColumnDefinition as JSON: all five keys always
present (``format`` ``""`` and ``priority`` 0 when unset), as upstream serialises them.
Priority 1 marks the ``-o wide`` columns; the server always sends them and kubectl hides
them unless asked. A printer's ``cells`` returns exactly one value per column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from pyk8s.api.printers import descriptions
from pyk8s.api.printers.formatting import Obj

__all__ = ["AGE", "NAME", "Cell", "ColumnDefinition", "Printer", "column", "containers_columns"]

Cell = str | int | bool


class ColumnDefinition(TypedDict):
    name: str
    type: str
    format: str
    description: str
    priority: int


def column(
    name: str, type_: str, description: str, *, format_: str = "", priority: int = 0
) -> ColumnDefinition:
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description,
        "priority": priority,
    }


@dataclass(frozen=True, slots=True)
class Printer:
    columns: tuple[ColumnDefinition, ...]
    cells: Callable[[Obj, datetime], list[Cell]]


NAME = column("Name", "string", descriptions.NAME, format_="name")
AGE = column("Age", "string", descriptions.CREATION_TIMESTAMP)


def containers_columns(selector_description: str | None) -> tuple[ColumnDefinition, ...]:
    """The wide Containers/Images(/Selector) columns most workload printers end with."""
    cols = (
        column("Containers", "string", "Names of each container in the template.", priority=1),
        column(
            "Images", "string", "Images referenced by each container in the template.", priority=1
        ),
    )
    if selector_description is None:
        return cols
    return (*cols, column("Selector", "string", selector_description, priority=1))
