"""ControllerRevisions: the history StatefulSets and DaemonSets keep of their pod
templates (upstream's pkg/controller/history). Pure functions, no I/O.

A revision stores a strategic-merge patch that restores the owner's template
(``{"spec": {"template": {..., "$patch": "replace"}}}``), a ``revision`` number (1, 2, …;
the highest is the newest) and the ``controller-revision-hash`` label.

Contract:
- ``go_json`` encodes as Go's ``json.Marshal`` of a map does (keys sorted, no spaces,
  ``<``, ``>``, ``&`` escaped), so the bytes hashed here are the bytes upstream hashes.
- ``hash_revision`` is ``HashControllerRevision``: FNV-1 (32 bit) over those bytes and the
  decimal collision count, encoded with ``rand.SafeEncodeString``. ``hash_template`` is
  the DaemonSet's ``ComputeHash`` over the template (FNV-1a; upstream hashes Go's dump of
  the struct, which cannot be reproduced, so the JSON stands in for it).
- ``revision_name``: ``<owner>-<hash>``, the owner part cut to 223 characters.
- ``sort_revisions``: by revision, then creation time, then name (``SortControllerRevisions``).
  ``equal_revision``: same data. ``next_revision``: one more than the highest.
- ``revisions_to_truncate``: the non-live revisions to delete, oldest first, so that at
  most ``limit`` non-live ones remain; a negative limit keeps everything.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from pyk8s.controllers.workload_ownership import controller_ref
from pyk8s.controllers.workload_pods import meta

__all__ = [
    "HASH_LABEL",
    "choose_update_revision",
    "equal_revision",
    "go_json",
    "hash_revision",
    "hash_template",
    "new_revision",
    "next_revision",
    "revision_name",
    "revisions_to_truncate",
    "safe_encode",
    "sort_revisions",
    "template_patch",
]

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def go_json(value: Any) -> bytes:
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _fnv1(data: bytes, h: int = _FNV_OFFSET) -> int:
    for byte in data:
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
        h ^= byte
    return h


def _fnv1a(data: bytes, h: int = _FNV_OFFSET) -> int:
    for byte in data:
        h ^= byte
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in s)


def hash_revision(data: Any, collision_count: int | None) -> str:
    h = _fnv1(go_json(data))
    if collision_count is not None:
        h = _fnv1(str(collision_count).encode(), h)
    return safe_encode(str(h))


def hash_template(template: Any, collision_count: int | None) -> str:
    h = _fnv1a(go_json(template))
    if collision_count is not None:
        h = _fnv1a((collision_count & 0xFFFFFFFF).to_bytes(4, "little"), h)
    return safe_encode(str(h))


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:223]}-{hash_}"


def template_patch(owner: Mapping[str, Any]) -> Obj:
    """The patch that restores ``owner``'s pod template (``getPatch``)."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def new_revision(
    owner: Mapping[str, Any],
    *,
    api_version: str,
    kind: str,
    template_labels: Mapping[str, str],
    data: Obj,
    revision: int,
    collision_count: int | None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """``NewControllerRevision``: named ``<owner>-<hash>``, labelled with the hash."""
    hash_ = hash_revision(data, collision_count)
    rev_meta: Obj = {
        "name": revision_name(str(meta(owner).get("name") or ""), hash_),
        "namespace": meta(owner).get("namespace") or "",
        "labels": {**template_labels, HASH_LABEL: hash_},
        "ownerReferences": [controller_ref(owner, api_version=api_version, kind=kind)],
    }
    if annotations:
        rev_meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": rev_meta,
        "data": data,
        "revision": revision,
    }


def _sort_key(rev: Mapping[str, Any]) -> tuple[int, str, str]:
    m = meta(rev)
    return (
        int(rev.get("revision") or 0),
        str(m.get("creationTimestamp") or ""),
        str(m.get("name") or ""),
    )


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    return sorted(revisions, key=_sort_key)


def equal_revision(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.get("data") == b.get("data")


def next_revision(revisions: Sequence[Mapping[str, Any]]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def revisions_to_truncate(sorted_revisions: Sequence[Obj], live: set[str], limit: int) -> list[Obj]:
    if limit < 0:
        return []
    history = [r for r in sorted_revisions if meta(r).get("name") not in live]
    excess = len(history) - limit
    return history[:excess] if excess > 0 else []


def choose_update_revision(sorted_revisions: Sequence[Obj], candidate: Obj) -> tuple[str, Obj]:
    """How to make ``candidate`` the update revision (``getStatefulSetRevisions``):
    ``("reuse", latest)`` when the newest revision already has its data, ``("renumber",
    older)`` to roll back to an older equal revision under the candidate's number, else
    ``("create", candidate)``."""
    equal = [r for r in sorted_revisions if equal_revision(r, candidate)]
    if equal and equal_revision(sorted_revisions[-1], equal[-1]):
        return "reuse", sorted_revisions[-1]
    if equal:
        return "renumber", equal[-1]
    return "create", candidate
