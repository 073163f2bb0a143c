"""A CRD's status: accepted names and the NamesAccepted / Established conditions.

Upstream splits this over two controllers: the naming controller compares
``spec.names`` with the names other CRDs of the same group have already been granted
(their ``status.acceptedNames``) and sets ``NamesAccepted``; the establishing controller
then flips ``Established`` to True once the handler serves the resource. pyk8s serves a
CRD as soon as its names are accepted, so ``crd_status`` computes both in one step:

* every requested name that is unchanged from the accepted one, or not claimed by another
  CRD (``conflicts``), is accepted; conflicts set NamesAccepted False with upstream's
  reason (``PluralConflict``, ``SingularConflict``, ``ShortNamesConflict``,
  ``KindConflict``, ``ListKindConflict``) and message (``"crontabs" is already in use``);
* no conflict: NamesAccepted True, ``NoConflicts``, ``no conflicts found``;
* Established True (``InitialNamesAccepted``, ``the initial names have been accepted``)
  once names are accepted, and it stays True after that; before, it is False
  (``NotAccepted``, ``not all names are accepted``).

``lastTransitionTime`` changes only when a condition's status changes. Pure: the caller
passes ``now`` and the names taken by the group's other CRDs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyk8s.api.validation.access import as_list, as_obj, as_str

__all__ = ["NameClaims", "accepted_names", "claims_of", "crd_status", "crd_status_conditions"]

Obj = Mapping[str, Any]
JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NameClaims:
    """Names other CRDs of the same group hold: resource names and kind names."""

    resources: frozenset[str] = field(default_factory=frozenset)
    kinds: frozenset[str] = field(default_factory=frozenset)


def claims_of(crds: Iterable[Obj], *, group: str, exclude: str = "") -> NameClaims:
    """The accepted names of ``crds`` in ``group`` (skipping the CRD named ``exclude``)."""
    res: set[str] = set()
    kinds: set[str] = set()
    for crd in crds:
        meta, spec = as_obj(crd.get("metadata")), as_obj(crd.get("spec"))
        if spec.get("group") != group or meta.get("name") == exclude:
            continue
        accepted = as_obj(as_obj(crd.get("status")).get("acceptedNames"))
        res.update(as_str(accepted.get(k)) for k in ("plural", "singular"))
        res.update(as_str(s) for s in as_list(accepted.get("shortNames")))
        kinds.update(as_str(accepted.get(k)) for k in ("kind", "listKind"))
    return NameClaims(frozenset(res - {""}), frozenset(kinds - {""}))


def _taken(requested: str, accepted: str, used: frozenset[str]) -> str | None:
    if requested == accepted or requested not in used:
        return None
    return f'"{requested}" is already in use'


def accepted_names(crd: Obj, *, conflicts: NameClaims) -> tuple[JSON, str, str]:
    """``(acceptedNames, reason, message)``; ``reason`` is ``""`` when all are accepted."""
    requested = as_obj(as_obj(crd.get("spec")).get("names"))
    old = as_obj(as_obj(crd.get("status")).get("acceptedNames"))
    new: JSON = {k: v for k, v in old.items()}
    reason = message = ""
    for key, why, used in (
        ("plural", "PluralConflict", conflicts.resources),
        ("singular", "SingularConflict", conflicts.resources),
    ):
        err = _taken(as_str(requested.get(key)), as_str(old.get(key)), used)
        if err:
            reason, message = why, err
        else:
            new[key] = as_str(requested.get(key))
    short = [as_str(s) for s in as_list(requested.get("shortNames"))]
    old_short = [as_str(s) for s in as_list(old.get("shortNames"))]
    if short != old_short:
        errs = [
            e
            for s in short
            if s not in old_short and (e := _taken(s, "", conflicts.resources)) is not None
        ]
        if errs:
            reason = "ShortNamesConflict"
            message = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
        else:
            new["shortNames"] = short
    for key, why in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        err = _taken(as_str(requested.get(key)), as_str(old.get(key)), conflicts.kinds)
        if err:
            reason, message = why, err
        else:
            new[key] = as_str(requested.get(key))
    if "categories" in requested:
        new["categories"] = list(as_list(requested.get("categories")))
    else:
        new.pop("categories", None)
    new.setdefault("plural", "")
    new.setdefault("kind", "")
    required = ("plural", "kind")  # serialised even when empty, as upstream's JSON tags say
    kept = {k: v for k, v in new.items() if k in required or v not in ("", [], None)}
    return kept, reason, message


def _timestamp(now: datetime) -> str:
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(old: Obj | None, type_: str, status: str, reason: str, msg: str, now: str) -> JSON:
    since = as_str((old or {}).get("lastTransitionTime"))
    if old is None or old.get("status") != status or not since:
        since = now
    return {
        "type": type_,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": msg,
    }


def crd_status_conditions(crd: Obj, *, conflicts: NameClaims, now: datetime) -> list[JSON]:
    """The CRD's conditions after naming and establishing, other conditions kept."""
    old = [as_obj(c) for c in as_list(as_obj(crd.get("status")).get("conditions"))]
    by_type = {as_str(c.get("type")): c for c in old}
    _, reason, message = accepted_names(crd, conflicts=conflicts)
    stamp = _timestamp(now)
    if reason:
        names = _condition(
            by_type.get("NamesAccepted"), "NamesAccepted", "False", reason, message, stamp
        )
    else:
        names = _condition(
            by_type.get("NamesAccepted"),
            "NamesAccepted",
            "True",
            "NoConflicts",
            "no conflicts found",
            stamp,
        )
    established_old = by_type.get("Established")
    if established_old is not None and established_old.get("status") == "True":
        established = dict(established_old)
    elif not reason:
        established = _condition(
            established_old,
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
            stamp,
        )
    else:
        established = _condition(
            established_old,
            "Established",
            "False",
            "NotAccepted",
            "not all names are accepted",
            stamp,
        )
    out: list[JSON] = []
    placed = {"NamesAccepted": names, "Established": established}
    for c in old:
        t = as_str(c.get("type"))
        out.append(placed.pop(t) if t in placed else dict(c))
    out.extend(placed.values())
    return out


def crd_status(crd: Obj, *, conflicts: NameClaims, now: datetime) -> JSON:
    """The whole ``status``: ``conditions``, ``acceptedNames`` and ``storedVersions``."""
    names, _, _ = accepted_names(crd, conflicts=conflicts)
    status = dict(as_obj(crd.get("status")))
    status["acceptedNames"] = names
    status["conditions"] = crd_status_conditions(crd, conflicts=conflicts, now=now)
    status.setdefault("storedVersions", [])
    return status
