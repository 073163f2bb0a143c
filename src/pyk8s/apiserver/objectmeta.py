"""System-owned object metadata on create and update (pure), as upstream's rest.BeforeCreate
and rest.BeforeUpdate: names from generateName, uid, creationTimestamp, generation, and
``managedFields`` entries for Update operations.

managedFields here record, per (manager, operation), the set of fields the manager has set
(FieldsV1: ``f:<field>`` for map keys, ``k:{"name":…}`` for list items keyed by ``name``,
other lists atomic). Server-side apply replaces this with the schema-driven field manager.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import orjson

__all__ = [
    "manager_from_user_agent",
    "new_uid",
    "now_rfc3339",
    "record_update",
]

Obj = dict[str, Any]


def now_rfc3339(now: datetime.datetime | None = None) -> str:
    t = now or datetime.datetime.now(datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def manager_from_user_agent(user_agent: str | None) -> str:
    """Upstream's default field manager: the User-Agent up to the first '/'."""
    if not user_agent:
        return "unknown"
    return user_agent.split("/", 1)[0][:128] or "unknown"


def _fieldset(value: Any) -> Any:
    if isinstance(value, dict):
        return {f"f:{k}": _fieldset(v) for k, v in value.items()}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, dict) and "name" in i for i in value)
    ):
        out: dict[str, Any] = {}
        for item in value:
            key = "k:" + orjson.dumps({"name": item["name"]}).decode()
            inner = {f"f:{k}": _fieldset(v) for k, v in item.items()}
            out[key] = {".": {}, **inner}
        return out
    return {}


def _changed(new: Any, old: Any) -> Any:
    """The fieldset of what ``new`` sets differently from ``old`` (None: no change)."""
    if isinstance(new, dict) and isinstance(old, dict):
        out: dict[str, Any] = {}
        for k, v in new.items():
            if k not in old:
                out[f"f:{k}"] = _fieldset(v)
            else:
                sub = _changed(v, old[k])
                if sub is not None:
                    out[f"f:{k}"] = sub
        return out or None
    if new == old:
        return None
    return _fieldset(new)


def _merge_sets(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge_sets(out[k], v) if k in out else v
        return out
    return b


def _tracked(obj: Obj) -> Obj:
    tracked = {k: v for k, v in obj.items() if k not in ("status", "apiVersion", "kind")}
    meta = dict(obj.get("metadata") or {})
    for k in (
        "managedFields",
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "generation",
        "namespace",
        "name",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        meta.pop(k, None)
    tracked["metadata"] = meta
    return tracked


def record_update(
    new: Obj,
    old: Obj | None,
    *,
    manager: str,
    api_version: str,
    time: str,
    subresource: str | None = None,
) -> None:
    """Add or refresh ``manager``'s Update entry in new.metadata.managedFields."""
    meta = new.setdefault("metadata", {})
    entries: list[Obj] = list(meta.get("managedFields") or [])
    if subresource == "status":
        section_new: Any = {"status": new.get("status")} if "status" in new else {}
        section_old: Any = {"status": old.get("status")} if old and "status" in old else {}
    else:
        section_new = _tracked(new)
        section_old = _tracked(old) if old is not None else {}
    changed = _changed(section_new, section_old) if old is not None else _fieldset(section_new)
    if not changed:
        meta["managedFields"] = entries
        return
    for i, e in enumerate(entries):
        if (
            e.get("manager") == manager
            and e.get("operation") == "Update"
            and e.get("subresource") == subresource
        ):
            fields = _merge_sets(e.get("fieldsV1") or {}, changed)
            entries[i] = {**e, "apiVersion": api_version, "time": time, "fieldsV1": fields}
            break
    else:
        entry: Obj = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": changed,
        }
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    meta["managedFields"] = entries
