"""Field management for one write: the apiserver's field manager, as pure functions.

``update`` is for create, update and the non-apply patches: given the stored object (None
on create) and the object about to be stored, it returns the latter with
``metadata.managedFields`` brought up to date. ``apply`` is server-side apply: it merges a
configuration onto the stored object and returns the object to store, or raises
``Conflicts`` / ``ApplyError``. Neither modifies its inputs or does I/O. They run, in
order, the layers of upstream's ``NewDefaultFieldManager``:

* version check: the configuration must be of the request's group, version and kind;
* last-applied: for the manager ``kubectl`` only (``kubectl apply --server-side``),
  conflicts on fields recorded in ``kubectl.kubernetes.io/last-applied-configuration``
  with the value they still have are forced — the migration from client-side apply —
  and an existing annotation is rewritten to the new configuration afterwards;
* skip-non-applied: an existing object that has no managedFields is not tracked by
  updates; the first apply to it first records everything it has as owned by an
  ``Update`` entry named ``before-first-apply``;
* manager identity (manager ``unknown`` when empty), the cap of ten Update entries,
  timestamps (an entry's ``time`` moves only when the write changed what it owns — for an
  apply, when the object changed), and stripping identity fields from what a writer owns.

Which fields a write may own: on the main resource not ``status``, on ``/status`` only
``status`` (``reset_fields`` overrides with the set the kind's strategy resets). As
upstream, the merged object still carries whatever the configuration says there; the
registry's strategy resets those fields, exactly as it does for an update.

Requests may set managedFields on update (``[]`` or ``[{}]`` clears them; anything that
does not decode is ignored in favour of the stored entries); subresource writes never
can. Explicit nulls in an apply configuration take part in merging and conflicts as
upstream, and are then dropped from the result, as decoding into Go types drops them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import orjson

from pyk8s.api.fieldmanager.errors import ApplyError, Conflict, Conflicts
from pyk8s.api.fieldmanager.fieldpath import FieldSet, PathElement, path_text
from pyk8s.api.fieldmanager.managedfields import (
    APPLY,
    UPDATE,
    Managed,
    ManagerId,
    cap_updaters,
    decode,
    encode,
    is_reset,
    strip_meta,
)
from pyk8s.api.fieldmanager.shapes import Shape
from pyk8s.api.fieldmanager.typed import compare, validate, zero_value
from pyk8s.api.fieldmanager.typed import fields_of as typed_fields_of
from pyk8s.api.fieldmanager.updater import ConflictError, Keep, Owned, record_apply, record_update
from pyk8s.api.schemas import SchemaNode

__all__ = ["LAST_APPLIED", "apply", "fields_of", "update"]

Obj = dict[str, Any]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
_KUBECTL = "kubectl"
_ANNOTATIONS_LIMIT = 256 * 1024
_STATUS = (PathElement.field("status"),)


def fields_of(obj: Any, schema: SchemaNode | None) -> FieldSet:
    """Every field ``obj`` sets, as an applier of ``obj`` would own them (before identity
    fields are stripped)."""
    return typed_fields_of(obj, Shape.of(schema))


def update(
    live: Obj | None,
    new: Obj,
    *,
    manager: str,
    api_version: str,
    time: str,
    subresource: str | None = None,
    schema: SchemaNode | None,
    reset_fields: FieldSet | None = None,
) -> Obj:
    """``new`` with managedFields recording ``manager``'s create/update/patch."""
    shape = Shape.of(schema)
    keep = _keep(subresource, reset_fields)
    result = _clone(new)
    meta = result.get("metadata")
    if not isinstance(meta, dict):
        meta = result["metadata"] = {}
    requested = meta.pop("managedFields", None)
    live_meta = (live or {}).get("metadata") or {}
    managed = _decode_live_or_new(live_meta.get("managedFields"), requested, subresource)
    creating = live is None or not live_meta.get("uid")
    if not managed.fields and not creating:
        return result  # upstream leaves objects that were never tracked untracked
    old = _without_managed_fields(live) if live is not None else zero_value(result, shape)
    if _typing_errors(old, shape) or _typing_errors(result, shape):
        return result  # upstream's UpdateNoErrors: managedFields dropped, write goes on
    mid = ManagerId.of(manager or "unknown", UPDATE, api_version, subresource or "")
    managed = _track_update(old, result, managed, mid, time=time, shape=shape, keep=keep)
    cap_updaters(managed)
    _store(result, managed)
    return result


def apply(
    live: Obj | None,
    config: Obj,
    *,
    manager: str,
    api_version: str,
    time: str,
    force: bool,
    subresource: str | None = None,
    schema: SchemaNode | None,
    kind: str | None = None,
    name: str | None = None,
    reset_fields: FieldSet | None = None,
) -> Obj:
    """The object after ``manager`` applies ``config`` to ``live`` (None: create).

    ``kind`` is the kind the request is for (default: the stored object's); ``name``,
    when given, is the name in the URL, which the result must carry (upstream's
    checkName). Raises ``Conflicts`` (409) or ``ApplyError`` (400/500).
    """
    shape = Shape.of(schema)
    keep = _keep(subresource, reset_fields)
    _check_body(config, api_version, kind or (live or {}).get("kind"))
    live_obj = _without_managed_fields(live) if live is not None else {}
    try:
        managed = decode(((live or {}).get("metadata") or {}).get("managedFields"))
    except ValueError as exc:
        raise ApplyError(f"failed to decode managed fields: {exc}", code=500) from None
    _check_typed(config, live_obj, api_version, shape)
    mid = ManagerId.of(manager or "unknown", APPLY, api_version, subresource or "")

    def attempt(forced: bool) -> tuple[Obj, Managed]:
        current = managed
        if not current.fields and live is not None:
            first = ManagerId.of(BEFORE_FIRST_APPLY, UPDATE, api_version, subresource or "")
            before = zero_value(live_obj, shape)
            current = _track_update(
                before, live_obj, current, first, time=time, shape=shape, keep=keep
            )
        merged, owners, changed = record_apply(
            live_obj,
            config,
            current.fields,
            writer=mid.key,
            api_version=api_version,
            force=forced,
            shape=shape,
            keep=keep,
        )
        times = dict(current.times)
        own = owners.get(mid.key)
        if own is not None:
            stripped = strip_meta(own.fields)
            if stripped.empty():
                del owners[mid.key]
            else:
                owners[mid.key] = Owned(stripped, own.api_version, own.applied)
        if changed:
            times[mid.key] = time
        return (merged if changed else copy.deepcopy(live_obj)), Managed(owners, times)

    try:
        result, after = attempt(force)
    except ConflictError as exc:
        conflicts = exc.conflicts
        if manager == _KUBECTL:
            allowed = _allowed_by_last_applied(live_obj, api_version, shape)
            if allowed is not None:
                conflicts = [(m, p) for m, p in conflicts if not allowed.has(p)]
        if conflicts:
            raise _conflicts(conflicts) from None
        result, after = attempt(True)
    if manager == _KUBECTL and _annotations(result).get(LAST_APPLIED):
        _set_last_applied(result, config)
    result = _drop_nulls_in(result)
    if name is not None:
        found = (result.get("metadata") or {}).get("name") or ""
        if found != name:
            raise ApplyError(
                f"the name of the object ({found}) does not match the name on the URL ({name})"
            )
    _store(result, after)
    return result


# --- layers -----------------------------------------------------------------------------


def _track_update(
    old: Any, new: Any, managed: Managed, mid: ManagerId, *, time: str, shape: Shape, keep: Keep
) -> Managed:
    owners, gained = record_update(old, new, managed.fields, shape=shape, keep=keep)
    gained = strip_meta(gained)
    out = Managed(owners, dict(managed.times))
    if not gained.empty():
        previous = owners.get(mid.key)
        fields = gained if previous is None else gained.union(previous.fields)
        owners[mid.key] = Owned(fields, mid.api_version, applied=False)
        out.times[mid.key] = time
    return out


def _decode_live_or_new(stored: Any, requested: Any, subresource: str | None) -> Managed:
    if subresource is None:
        if is_reset(requested):
            return Managed.empty()
        try:
            managed = decode(requested)
        except ValueError:
            managed = Managed.empty()
        if managed.fields:
            return managed
    try:
        return decode(stored)
    except ValueError:
        return Managed.empty()


def _keep(subresource: str | None, reset_fields: FieldSet | None) -> Keep:
    if reset_fields is not None:
        return lambda fields: fields.recursive_difference(reset_fields)
    if subresource == "status":
        return lambda fields: fields.only_under([_STATUS])
    if subresource is None:
        excluded = FieldSet([_STATUS])
        return lambda fields: fields.recursive_difference(excluded)
    return lambda fields: fields


def _check_body(config: Any, api_version: str, kind: Any) -> None:
    if not isinstance(config, dict):
        raise ApplyError(
            "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
            f"unmarshal {_json_kind(config)} into Go value of type map[string]interface {{}}"
        )
    got_version = config.get("apiVersion") if isinstance(config.get("apiVersion"), str) else ""
    got_kind = config.get("kind") if isinstance(config.get("kind"), str) else ""
    want = _group_version(api_version)
    got = _group_version(str(got_version))
    if got != want or not got_kind or (isinstance(kind, str) and kind and got_kind != kind):
        raise ApplyError(f"invalid object type: {got[0]}/{got[1]}, Kind={got_kind}")
    meta = config.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, dict) else None
    if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
        raise ApplyError("metadata.managedFields must be nil")


def _check_typed(config: Obj, live: Obj, api_version: str, shape: Shape) -> None:
    for what, obj, errors in (
        ("patch", config, validate(config, shape, allow_duplicates=False, undeclared=True)),
        ("live", live, _typing_errors(live, shape)),
    ):
        if errors:
            meta = obj.get("metadata")
            ns, nm = (
                (meta.get("namespace", ""), meta.get("name", ""))
                if isinstance(meta, dict)
                else ("", "")
            )
            group, version = _group_version(api_version)
            where = f"{ns}/{nm}; {group}/{version}, Kind={obj.get('kind', '')}"
            raise ApplyError(
                f"failed to create typed {what} object ({where}): {_join(errors)}", code=500
            )


def _clone(obj: Obj) -> Obj:
    """A deep copy of a JSON object; orjson round-trips several times faster than
    ``copy.deepcopy`` (objects here are always plain JSON)."""
    out: Obj = orjson.loads(orjson.dumps(obj))
    return out


def _typing_errors(obj: Any, shape: Shape) -> list[str]:
    return validate(obj, shape, allow_duplicates=True, undeclared=False)


def _join(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "errors:\n  " + "\n  ".join(errors)


def _conflicts(found: list[tuple[str, Any]]) -> Conflicts:
    out = []
    for key, path in found:
        mid = ManagerId.parse(key)
        out.append(
            Conflict(
                manager=mid.manager,
                operation=mid.operation,
                api_version=mid.api_version,
                subresource=mid.subresource,
                path=path_text(path),
                described=mid.describe(),
            )
        )
    return Conflicts(tuple(out))


def _allowed_by_last_applied(live: Obj, api_version: str, shape: Shape) -> FieldSet | None:
    """Fields client-side apply last applied and that still hold that value."""
    text = _annotations(live).get(LAST_APPLIED)
    if not isinstance(text, str) or not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    if validate(last, shape, allow_duplicates=False, undeclared=True) or validate(
        live, shape, allow_duplicates=False, undeclared=True
    ):
        return None
    diff = compare(last, live, shape)
    return (
        typed_fields_of(last, shape)
        .difference(diff.modified)
        .difference(diff.added)
        .difference(diff.removed)
    )


def _set_last_applied(obj: Obj, config: Obj) -> None:
    """Record ``config`` as the last-applied annotation, as kubectl's client would."""
    body = copy.deepcopy(config)
    meta = body.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[LAST_APPLIED] = text + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_LIMIT:
        del annotations[LAST_APPLIED]


# --- small helpers ----------------------------------------------------------------------


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    found = meta.get("annotations") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def _without_managed_fields(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def _store(obj: Obj, managed: Managed) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta.pop("managedFields", None)
    entries = encode(managed)
    if entries:
        meta["managedFields"] = entries


def _drop_nulls_in(obj: Obj) -> Obj:
    return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _group_version(api_version: str) -> tuple[str, str]:
    if "/" not in api_version:
        return "", api_version
    group, _, version = api_version.partition("/")
    return group, version


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"
