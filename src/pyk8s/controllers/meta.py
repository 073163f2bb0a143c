"""Reading object metadata and status conditions from the plain JSON dicts the informer
caches hold — small pure accessors every controller here shares.

Contract: nothing in this module mutates its arguments unless its name says so
(``set_condition`` and ``remove_condition`` change the *status dict* they are given, which
callers build fresh for each sync). Times on the wire are RFC 3339 in UTC with whole
seconds (metav1.Time); ``parse_time`` accepts fractional seconds too (MicroTime).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Obj",
    "annotations_of",
    "deletion_timestamp",
    "finalizers",
    "format_time",
    "generation",
    "get_condition",
    "labels",
    "name",
    "namespace",
    "owner_references",
    "parse_time",
    "remove_condition",
    "resource_version",
    "set_condition",
    "uid",
]

Obj = dict[str, Any]


_EMPTY: Mapping[str, Any] = {}


# These run for every pod on every sync: plain dict lookups, no ABC isinstance checks.


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if meta is not None else _EMPTY


def name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def namespace(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("namespace") or "")


def uid(obj: Mapping[str, Any]) -> str:
    value = _meta(obj).get("uid")
    return value if isinstance(value, str) else str(value or "")


def resource_version(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("resourceVersion") or "")


def generation(obj: Mapping[str, Any]) -> int:
    return int(_meta(obj).get("generation") or 0)


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    value = _meta(obj).get("labels")
    return value if value is not None else _EMPTY


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    value = _meta(obj).get("annotations")
    return value if value is not None else _EMPTY


def finalizers(obj: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in _meta(obj).get("finalizers") or ()]


def owner_references(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(_meta(obj).get("ownerReferences") or ())


def deletion_timestamp(obj: Mapping[str, Any]) -> str | None:
    value = _meta(obj).get("deletionTimestamp")
    return str(value) if value else None


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None if absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_time(t: datetime) -> str:
    """metav1.Time: RFC 3339 in UTC, whole seconds."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- conditions


def get_condition(status: Mapping[str, Any] | None, ctype: str) -> Mapping[str, Any] | None:
    if not status:
        return None
    for cond in status.get("conditions") or ():
        if cond.get("type") == ctype:
            return cond  # type: ignore[no-any-return]
    return None


def set_condition(status: Obj, condition: Mapping[str, Any], *, keep_transition: bool) -> None:
    """Upstream's SetXCondition: a condition with the same status and reason is left
    alone; otherwise it replaces the old one (appended last). With ``keep_transition``
    (deployments), an unchanged status keeps its ``lastTransitionTime``."""
    current = get_condition(status, str(condition.get("type")))
    if (
        current is not None
        and current.get("status") == condition.get("status")
        and current.get("reason") == condition.get("reason")
    ):
        return
    new = dict(condition)
    if (
        keep_transition
        and current is not None
        and current.get("status") == condition.get("status")
        and current.get("lastTransitionTime")
    ):
        new["lastTransitionTime"] = current["lastTransitionTime"]
    remove_condition(status, str(condition.get("type")))
    status.setdefault("conditions", []).append(new)


def remove_condition(status: Obj, ctype: str) -> None:
    conditions: Sequence[Any] = status.get("conditions") or ()
    kept = [c for c in conditions if not (isinstance(c, Mapping) and c.get("type") == ctype)]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)
