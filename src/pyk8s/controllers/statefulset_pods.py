"""A StatefulSet's pods and claims: identities, storage, revisions and the
PersistentVolumeClaim retention policy (upstream's stateful_set_utils.go). Pure.

Contract:
- Identity: pod ``<set>-<ordinal>`` in the set's namespace, labelled
  ``statefulset.kubernetes.io/pod-name=<pod>`` and ``apps.kubernetes.io/pod-index=<ordinal>``;
  on creation also ``spec.hostname=<pod>`` and ``spec.subdomain=<serviceName>``. Ordinals
  run from ``spec.ordinals.start`` (default 0) for ``spec.replicas`` pods; a name that does
  not end in ``-<digits>`` has ordinal -1 and is never the set's.
- Storage: one claim per ``volumeClaimTemplates`` entry, ``<template>-<set>-<ordinal>``,
  labelled with the template's labels plus the selector's ``matchLabels``, mounted as the
  pod volume named after the template (replacing a volume of that name).
- Revisions: pods carry ``controller-revision-hash=<revision name>``; a revision's data is
  the template patch (``workload_history.template_patch``) and ``apply_revision`` puts
  that template back on a copy of the set.
- Retention (``persistentVolumeClaimRetentionPolicy``), as owner references on claims:
  Retain/Retain none; WhenDeleted=Delete a controller ref to the set; WhenScaled=Delete a
  controller ref to the pod once its ordinal is out of range (and then no set ref). A
  claim with a stale ref (same name, other UID) or another controller is left alone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from pyk8s.controllers import workload_history as history
from pyk8s.controllers.workload_ownership import controller_ref
from pyk8s.controllers.workload_pods import labels, meta, pod_from_template

__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "apply_revision",
    "claim_name",
    "claim_owner_up_to_date",
    "claims_for",
    "end_ordinal",
    "identity_matches",
    "in_ordinal_range",
    "is_member",
    "new_pod",
    "new_versioned_pod",
    "ordinal",
    "pod_name",
    "pod_revision",
    "retention_policy",
    "start_ordinal",
    "storage_matches",
    "update_identity",
    "updated_claim_owner_refs",
]

Obj = dict[str, Any]

API_VERSION = "apps/v1"
KIND = "StatefulSet"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL_RE = re.compile(r"(.*)-([0-9]+)$")
_MAX_INT32 = 2**31 - 1


def parent_and_ordinal(pod: Mapping[str, Any]) -> tuple[str, int]:
    m = _ORDINAL_RE.match(str(meta(pod).get("name") or ""))
    if m is None:
        return "", -1
    value = int(m.group(2))
    return m.group(1), value if value <= _MAX_INT32 else -1


def ordinal(pod: Mapping[str, Any]) -> int:
    return parent_and_ordinal(pod)[1]


def _spec(sts: Mapping[str, Any]) -> Mapping[str, Any]:
    return sts.get("spec") or {}


def replicas(sts: Mapping[str, Any]) -> int:
    r = _spec(sts).get("replicas")
    return 1 if r is None else int(r)


def start_ordinal(sts: Mapping[str, Any]) -> int:
    return int((_spec(sts).get("ordinals") or {}).get("start") or 0)


def end_ordinal(sts: Mapping[str, Any]) -> int:
    return start_ordinal(sts) + replicas(sts) - 1


def in_ordinal_range(pod: Mapping[str, Any], sts: Mapping[str, Any]) -> bool:
    o = ordinal(pod)
    return start_ordinal(sts) <= o <= end_ordinal(sts)


def set_name(sts: Mapping[str, Any]) -> str:
    return str(meta(sts).get("name") or "")


def pod_name(sts: Mapping[str, Any], ord_: int) -> str:
    return f"{set_name(sts)}-{ord_}"


def claim_name(sts: Mapping[str, Any], template_name: str, ord_: int) -> str:
    return f"{template_name}-{set_name(sts)}-{ord_}"


def is_member(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    return parent_and_ordinal(pod)[0] == set_name(sts)


def pod_revision(pod: Mapping[str, Any]) -> str:
    return str(labels(pod).get(history.HASH_LABEL) or "")


def identity_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    parent, ord_ = parent_and_ordinal(pod)
    name = meta(pod).get("name")
    return (
        ord_ >= 0
        and parent == set_name(sts)
        and name == pod_name(sts, ord_)
        and meta(pod).get("namespace") == meta(sts).get("namespace")
        and labels(pod).get(POD_NAME_LABEL) == name
        and labels(pod).get(POD_INDEX_LABEL) == str(ord_)
    )


def _templates(sts: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [t for t in _spec(sts).get("volumeClaimTemplates") or () if isinstance(t, Mapping)]


def _template_name(t: Mapping[str, Any]) -> str:
    return str(meta(t).get("name") or "")


def storage_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    ord_ = ordinal(pod)
    if ord_ < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    for t in _templates(sts):
        vol = volumes.get(_template_name(t))
        source = (vol or {}).get("persistentVolumeClaim")
        if not source or source.get("claimName") != claim_name(sts, _template_name(t), ord_):
            return False
    return True


def claims_for(sts: Mapping[str, Any], ord_: int) -> dict[str, Obj]:
    """Template name → the claim the pod with ordinal ``ord_`` uses."""
    match_labels = ((_spec(sts).get("selector") or {}).get("matchLabels")) or {}
    claims: dict[str, Obj] = {}
    for t in _templates(sts):
        claim = copy.deepcopy(dict(t))
        claim.pop("status", None)
        cmeta = claim.setdefault("metadata", {})
        cmeta["name"] = claim_name(sts, _template_name(t), ord_)
        cmeta["namespace"] = meta(sts).get("namespace") or ""
        cmeta["labels"] = {**(cmeta.get("labels") or {}), **match_labels}
        claim["apiVersion"] = "v1"
        claim["kind"] = "PersistentVolumeClaim"
        claims[_template_name(t)] = claim
    return claims


def update_storage(sts: Mapping[str, Any], pod: Obj) -> None:
    claims = claims_for(sts, ordinal(pod))
    spec = pod.setdefault("spec", {})
    volumes = [
        {"name": name, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
        for name, claim in claims.items()
    ]
    volumes += [v for v in spec.get("volumes") or () if v.get("name") not in claims]
    spec["volumes"] = volumes


def update_identity(sts: Mapping[str, Any], pod: Obj) -> None:
    ord_ = ordinal(pod)
    pmeta = pod.setdefault("metadata", {})
    pmeta["name"] = pod_name(sts, ord_)
    pmeta["namespace"] = meta(sts).get("namespace") or ""
    pod_labels = pmeta.setdefault("labels", {})
    pod_labels[POD_NAME_LABEL] = pmeta["name"]
    pod_labels[POD_INDEX_LABEL] = str(ord_)


def new_pod(sts: Mapping[str, Any], ord_: int, revision: str) -> Obj:
    pod = pod_from_template(
        _spec(sts).get("template") or {},
        owner_ref=controller_ref(sts, api_version=API_VERSION, kind=KIND),
        name=pod_name(sts, ord_),
    )
    update_identity(sts, pod)
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    service = _spec(sts).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    update_storage(sts, pod)
    pod["metadata"].setdefault("labels", {})[history.HASH_LABEL] = revision
    return pod


def new_versioned_pod(
    current_set: Mapping[str, Any],
    update_set: Mapping[str, Any],
    current_revision: str,
    update_revision: str,
    ord_: int,
) -> Obj:
    """The pod for ``ord_`` at the revision the update strategy gives it
    (``newVersionedStatefulSetPod``, Go's operator precedence included)."""
    strategy = _spec(current_set).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    start = start_ordinal(current_set)
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    partition = int((rolling or {}).get("partition") or 0)
    if (
        strategy.get("type", "RollingUpdate") == "RollingUpdate"
        and rolling is None
        and ord_ < start + current_replicas
    ) or (rolling is not None and ord_ < start + partition):
        return new_pod(current_set, ord_, current_revision)
    return new_pod(update_set, ord_, update_revision)


def apply_revision(sts: Mapping[str, Any], revision: Mapping[str, Any]) -> Obj:
    """A copy of ``sts`` with the template stored in ``revision``."""
    clone = copy.deepcopy(dict(sts))
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template"))
    if isinstance(template, dict):
        template.pop("$patch", None)
        clone.setdefault("spec", {})["template"] = template
    return clone


# ---------------------------------------------------------------------- retention policy


def retention_policy(sts: Mapping[str, Any]) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain when unset."""
    policy = _spec(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return (policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain")


def _refs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in meta(obj).get("ownerReferences") or () if isinstance(r, Mapping)]


def _matches_ref(
    ref: Mapping[str, Any], obj: Mapping[str, Any], api_version: str, kind: str
) -> bool:
    return (
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("name") == meta(obj).get("name")
    )


def _has_owner_ref(target: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = meta(owner).get("uid")
    return any(r.get("uid") == uid for r in _refs(target))


def _has_stale_owner_ref(
    claim: Mapping[str, Any], obj: Mapping[str, Any], api_version: str, kind: str
) -> bool:
    for ref in _refs(claim):
        if _matches_ref(ref, obj, api_version, kind):
            return ref.get("uid") != meta(obj).get("uid")
    return False


def _has_unexpected_controller(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any]
) -> bool:
    if retention_policy(sts) == ("Retain", "Retain"):
        return False
    for ref in _refs(claim):
        if _matches_ref(ref, sts, API_VERSION, KIND):
            if ref.get("uid") != meta(sts).get("uid"):
                return True
            continue
        if _matches_ref(ref, pod, "v1", "Pod"):
            if ref.get("uid") != meta(pod).get("uid"):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any]
) -> bool:
    uids = {meta(sts).get("uid"), meta(pod).get("uid")}
    return any(r.get("uid") in uids and not r.get("controller") for r in _refs(claim))


def claim_owner_up_to_date(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any]
) -> bool:
    if _has_stale_owner_ref(claim, sts, API_VERSION, KIND) or _has_stale_owner_ref(
        claim, pod, "v1", "Pod"
    ):
        return True
    if _has_unexpected_controller(claim, sts, pod):
        return not (_has_owner_ref(claim, sts) or _has_owner_ref(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    want_set, want_pod = _wanted_refs(sts, pod)
    return _has_owner_ref(claim, sts) == want_set and _has_owner_ref(claim, pod) == want_pod


def _wanted_refs(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> tuple[bool, bool]:
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == "Delete":
        return (when_deleted == "Delete" and not scaled_down, scaled_down)
    return (when_deleted == "Delete", False)


def updated_claim_owner_refs(
    claim: Mapping[str, Any], sts: Mapping[str, Any], pod: Mapping[str, Any]
) -> list[Obj]:
    """The claim's ownerReferences as the retention policy wants them."""
    unexpected = _has_unexpected_controller(claim, sts, pod)
    refs = [
        dict(r)
        for r in _refs(claim)
        if not (_matches_ref(r, sts, API_VERSION, KIND) or _matches_ref(r, pod, "v1", "Pod"))
    ]
    if unexpected:
        return refs
    want_set, want_pod = _wanted_refs(sts, pod)
    if want_set:
        refs.append(controller_ref(sts, api_version=API_VERSION, kind=KIND))
    if want_pod:
        refs.append(controller_ref(pod, api_version="v1", kind="Pod"))
    return refs
