"""A Deployment's ReplicaSets, as pure functions (upstream's deployment/util): which one is
new, which are old, their names, revisions and annotations, and the rolling-update
fenceposts.

- **pod-template-hash.** ``compute_hash`` is upstream's ComputeHash shape: FNV-1a (32 bit)
  over the pod template, then the collision count (little-endian, in an 8-byte buffer),
  rendered as the decimal number through ``safe_encode`` (each character mapped onto
  ``bcdfghjklmnpqrstvwxz2456789``, so no vowels and no ambiguous characters). Upstream
  hashes Go's spew dump of the typed struct, which a JSON object cannot reproduce byte for
  byte; here the input is the template's canonical JSON (sorted keys). The hash only
  has to be stable for one template, which it is. New ReplicaSets are named
  ``<deployment>-<hash>``; on a name collision with a foreign ReplicaSet the Deployment's
  ``status.collisionCount`` is bumped, which changes the hash.
- **new / old.** The new ReplicaSet is the oldest one (creation time, then name) whose
  template equals the Deployment's, ignoring the pod-template-hash label (upstream's
  EqualIgnoreHash, with empty and missing fields equal); every other one is old.
- **revisions.** ``deployment.kubernetes.io/revision`` on each ReplicaSet; the new one gets
  max(old) + 1 when it is behind, and a ReplicaSet brought back (rollback) keeps its
  earlier numbers in ``revision-history`` (at most 2000 characters).
- **fenceposts.** ``resolve_fenceposts``: maxSurge rounds percentages up, maxUnavailable
  down; both 0 → maxUnavailable 1.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from pyk8s.controllers import meta, refs

__all__ = [
    "DEFAULT_UNIQUE_LABEL",
    "DESIRED_REPLICAS",
    "MAX_REPLICAS",
    "REVISION",
    "REVISION_HISTORY",
    "compute_hash",
    "equal_ignore_hash",
    "find_active_or_latest",
    "find_new_replicaset",
    "find_old_replicasets",
    "is_rolling_update",
    "is_saturated",
    "max_revision",
    "max_surge",
    "max_unavailable",
    "new_replicaset",
    "new_rs_new_replicas",
    "replicas",
    "replicas_annotations_need_update",
    "resolve_fenceposts",
    "revision",
    "safe_encode",
    "scaled_value",
    "set_new_rs_annotations",
    "set_replicas_annotations",
    "sort_by_creation",
]

Obj = dict[str, Any]
RS = Mapping[str, Any]

DEFAULT_UNIQUE_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_REVISION_HISTORY_CHARS = 2000

_SKIP_ANNOTATIONS = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------------- hashing


def safe_encode(s: str) -> str:
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0"
    return safe_encode(str(_fnv32a(data)))


def _normalized(value: Any) -> Any:
    """Semantic equality: empty maps/lists and nulls are the same as absent fields."""
    if isinstance(value, Mapping):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def equal_ignore_hash(t1: Mapping[str, Any], t2: Mapping[str, Any]) -> bool:
    def strip(t: Mapping[str, Any]) -> Any:
        c = copy.deepcopy(dict(t))
        labels = (c.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(DEFAULT_UNIQUE_LABEL, None)
        return _normalized(c)

    return bool(strip(t1) == strip(t2))


# ---------------------------------------------------------------------- finding


def replicas(obj: Mapping[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def template_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("spec") or {}).get("template") or {}


def sort_by_creation(rss: Sequence[RS]) -> list[RS]:
    return sorted(
        rss, key=lambda r: ((r.get("metadata") or {}).get("creationTimestamp") or "", meta.name(r))
    )


def find_new_replicaset(d: Mapping[str, Any], rss: Sequence[RS]) -> RS | None:
    for rs in sort_by_creation(rss):
        if equal_ignore_hash(template_of(rs), template_of(d)):
            return rs
    return None


def find_old_replicasets(d: Mapping[str, Any], rss: Sequence[RS]) -> tuple[list[RS], list[RS]]:
    """(old ones with replicas > 0, all old ones)."""
    new = find_new_replicaset(d, rss)
    old = [rs for rs in rss if new is None or meta.uid(rs) != meta.uid(new)]
    return [rs for rs in old if replicas(rs) != 0], old


def find_active_or_latest(new: RS | None, old: Sequence[RS]) -> RS | None:
    """The only active ReplicaSet, the newest when none is active, None for several."""
    if new is None and not old:
        return None
    newest_first = list(reversed(sort_by_creation(old)))
    active = [rs for rs in [*newest_first, new] if rs is not None and replicas(rs) > 0]
    if not active:
        return new if new is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


# ---------------------------------------------------------------------- revisions


def revision(obj: Mapping[str, Any]) -> int | None:
    """The revision annotation (0 when absent, None when unparsable)."""
    raw = meta.annotations_of(obj).get(REVISION)
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        return None


def max_revision(rss: Sequence[RS]) -> int:
    return max((r for rs in rss if (r := revision(rs)) is not None), default=0)


def set_new_rs_annotations(
    d: Mapping[str, Any],
    rs_annotations: Mapping[str, str],
    new_revision: int,
    *,
    exists: bool,
) -> tuple[dict[str, str], bool]:
    """SetNewReplicaSetAnnotations: (the annotations the new ReplicaSet should carry,
    whether they changed)."""
    out = dict(rs_annotations)
    changed = False
    for k, v in meta.annotations_of(d).items():
        if k in _SKIP_ANNOTATIONS or out.get(k) == v:
            continue
        out[k] = v
        changed = True
    old_raw = out.get(REVISION)
    try:
        old_revision = int(old_raw) if old_raw else 0
    except ValueError:
        return out, False
    if old_revision < new_revision:
        out[REVISION] = str(new_revision)
        changed = True
        if old_raw is not None:
            history = out.get(REVISION_HISTORY, "")
            if not history:
                out[REVISION_HISTORY] = old_raw
            else:
                old_revisions = history.split(",")
                total = len(history) + len(old_raw) + 1
                start = 0
                while total > MAX_REVISION_HISTORY_CHARS and start < len(old_revisions):
                    total -= len(old_revisions[start]) + 1
                    start += 1
                if total <= MAX_REVISION_HISTORY_CHARS:
                    out[REVISION_HISTORY] = ",".join([*old_revisions[start:], old_raw])
    if not exists:
        desired = replicas(d)
        out, replicas_changed = set_replicas_annotations(out, desired, desired + max_surge(d))
        changed = changed or replicas_changed
    return out, changed


def set_replicas_annotations(
    annotations: Mapping[str, str], desired: int, maximum: int
) -> tuple[dict[str, str], bool]:
    out = dict(annotations)
    changed = out.get(DESIRED_REPLICAS) != str(desired) or out.get(MAX_REPLICAS) != str(maximum)
    out[DESIRED_REPLICAS] = str(desired)
    out[MAX_REPLICAS] = str(maximum)
    return out, changed


def replicas_annotations_need_update(rs: RS, desired: int, maximum: int) -> bool:
    ann = meta.annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def annotation_int(rs: RS, key: str) -> int | None:
    raw = meta.annotations_of(rs).get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


# ---------------------------------------------------------------------- fenceposts


def is_rolling_update(d: Mapping[str, Any]) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return (strategy.get("type") or "RollingUpdate") == "RollingUpdate"


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid value {text!r}") from None
    percent = int(text[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(
    surge: int | str | None, unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    s = scaled_value(surge if surge is not None else 0, desired, round_up=True)
    u = scaled_value(unavailable if unavailable is not None else 0, desired, round_up=False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def _rolling(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    ru = _rolling(d)
    unavailable = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[1]
    return min(unavailable, replicas(d))


# ---------------------------------------------------------------------- sizing


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[RS], new_rs: RS) -> int:
    """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
    if not is_rolling_update(d):
        return replicas(d)
    surge = scaled_value(_rolling(d).get("maxSurge"), replicas(d), round_up=True)
    current = sum(replicas(rs) for rs in all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + scale_up


def is_saturated(d: Mapping[str, Any], rs: RS | None) -> bool:
    if rs is None:
        return False
    desired = annotation_int(rs, DESIRED_REPLICAS)
    return (
        desired is not None
        and replicas(rs) == replicas(d)
        and desired == replicas(d)
        and int((rs.get("status") or {}).get("availableReplicas") or 0) == replicas(d)
    )


def new_replicaset(
    d: Mapping[str, Any], old_rss: Sequence[RS], *, api_version: str = "apps/v1"
) -> Obj:
    """The ReplicaSet to create for the Deployment's current template (replicas and
    annotations filled in as getNewReplicaSet does)."""
    spec = d.get("spec") or {}
    collision = (d.get("status") or {}).get("collisionCount")
    template = copy.deepcopy(dict(spec.get("template") or {}))
    pod_hash = compute_hash(template, collision)
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), DEFAULT_UNIQUE_LABEL: pod_hash}
    selector = copy.deepcopy(dict(spec.get("selector") or {}))
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        DEFAULT_UNIQUE_LABEL: pod_hash,
    }
    rs: Obj = {
        "apiVersion": api_version,
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta.name(d)}-{pod_hash}",
            "namespace": meta.namespace(d),
            "ownerReferences": [refs.controller_ref(d, api_version="apps/v1", kind="Deployment")],
            "labels": dict(tmeta["labels"]),
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": template,
        },
    }
    rs["spec"]["replicas"] = new_rs_new_replicas(d, [*old_rss, rs], rs)
    annotations, _ = set_new_rs_annotations(d, {}, max_revision(old_rss) + 1, exists=False)
    rs["metadata"]["annotations"] = annotations
    return rs
