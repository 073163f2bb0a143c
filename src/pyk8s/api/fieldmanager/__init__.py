"""Server-side apply and field management (upstream's structured-merge-diff v4 and the
apiserver's field manager), as pure functions over decoded objects.

Every object records in ``metadata.managedFields`` which manager owns which fields. The
registry calls ``update`` for every create, update and non-apply patch, and ``apply`` for
an apply patch (with ``live=None`` when the object does not exist yet); ``apply`` raises
``Conflicts`` (409, body from ``conflict_status``) or ``ApplyError`` (400/500).

Modules, in pipeline order: ``values`` (JSON equality and ordering as upstream),
``fieldpath`` (paths and FieldsV1 sets), ``shapes`` (the merge topology a schema gives),
``typed`` (field sets, comparisons, removals), ``merge`` (applying a configuration),
``updater`` (ownership after one write), ``managedfields`` (entries), ``manager`` (the
apiserver's layers: the public functions), ``errors``.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api.fieldmanager.errors import ApplyError, Conflict, Conflicts, conflict_status
from pyk8s.api.fieldmanager.fieldpath import FieldSet, Path, PathElement, path_text
from pyk8s.api.fieldmanager.manager import LAST_APPLIED, apply, fields_of, update

__all__ = [
    "LAST_APPLIED",
    "ApplyError",
    "Conflict",
    "Conflicts",
    "FieldSet",
    "Path",
    "PathElement",
    "apply",
    "conflict_status",
    "fields_of",
    "parse_fields_v1",
    "path_text",
    "serialize_fields_v1",
    "update",
]


def parse_fields_v1(fields: dict[str, Any] | None) -> FieldSet:
    """A FieldsV1 object (``metadata.managedFields[].fieldsV1``) as a set."""
    return FieldSet.from_fields_v1(fields)


def serialize_fields_v1(fields: FieldSet) -> dict[str, Any]:
    """A set as FieldsV1, keys in upstream's order."""
    return fields.to_fields_v1()
