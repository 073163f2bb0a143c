"""Which nodes a DaemonSet's pod belongs on, and the pod it gets there (upstream's
``NodeShouldRunDaemonPod`` and pkg/controller/daemon/util). Pure.

Contract:
- ``should_run(node, ds)`` → (should run, should continue running): the pod must fit
  the node's name (a template ``nodeName`` pins it), its ``nodeSelector`` and required
  node affinity (terms ORed, requirements ANDed; ``matchFields`` know ``metadata.name``);
  an untolerated NoSchedule/NoExecute taint means "do not run", and only an untolerated
  NoExecute taint also means "do not keep running". The pod is judged with the default
  DaemonSet tolerations added.
- ``default_tolerations``: ``node.kubernetes.io/not-ready`` and ``unreachable``
  (Exists, NoExecute, no tolerationSeconds), ``disk-pressure``, ``memory-pressure``,
  ``pid-pressure``, ``unschedulable`` (Exists, NoSchedule) and, for hostNetwork pods,
  ``network-unavailable`` (Exists, NoSchedule); each replaces a toleration that matches
  it in key, operator, value and effect, else is appended.
- ``pod_for_node`` pins the pod with required node affinity ``matchFields metadata.name In
  [node]`` (replacing any required node affinity, as upstream 1.12+ does; ``nodeName`` stays
  unset so the scheduler binds it), and labels it ``controller-revision-hash=<hash>`` and
  ``pod-template-generation`` (from the ``deprecated.daemonset.template.generation``
  annotation) when known.
- ``target_node(pod)``: ``spec.nodeName``, else the single node named by that affinity.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.controllers import workload_history as history
from pyk8s.controllers.workload_ownership import controller_ref
from pyk8s.controllers.workload_pods import annotations_of, labels, meta, pod_from_template

__all__ = [
    "GENERATION_ANNOTATION",
    "GENERATION_LABEL",
    "add_default_tolerations",
    "default_tolerations",
    "node_affinity_matches",
    "pod_for_node",
    "should_run",
    "target_node",
    "tolerates",
]

Obj = dict[str, Any]

API_VERSION = "apps/v1"
KIND = "DaemonSet"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
GENERATION_LABEL = "pod-template-generation"
_NAME_FIELD = "metadata.name"


def default_tolerations(host_network: bool) -> list[Obj]:
    tolerations = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    if host_network:
        tolerations.append(
            {
                "key": "node.kubernetes.io/network-unavailable",
                "operator": "Exists",
                "effect": "NoSchedule",
            }
        )
    return tolerations


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """v1.Toleration.MatchToleration: key, operator, value and effect."""
    return all((a.get(f) or "") == (b.get(f) or "") for f in ("key", "value", "effect")) and (
        a.get("operator") or "Equal"
    ) == (b.get("operator") or "Equal")


def add_default_tolerations(spec: Obj) -> None:
    for wanted in default_tolerations(bool(spec.get("hostNetwork"))):
        current = list(spec.get("tolerations") or ())
        if any(t == wanted for t in current):
            continue
        replaced = [wanted if _same_toleration(wanted, t) else t for t in current]
        if replaced == current:
            replaced.append(wanted)
        spec["tolerations"] = replaced


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(
    taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]], effects: set[str]
) -> bool:
    return any(
        t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations)
        for t in taints
    )


def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = [str(v) for v in req.get("values") or ()]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def _term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    node_labels = labels(node)
    for req in expressions:
        key = str(req.get("key") or "")
        if not _requirement_matches(req, node_labels.get(key)):
            return False
    for req in fields:
        value = str(meta(node).get("name") or "") if req.get("key") == _NAME_FIELD else None
        if value is None or not _requirement_matches(req, value):
            return False
    return True


def node_affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """The pod's nodeSelector and required node affinity both admit ``node``."""
    node_labels = labels(node)
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if node_labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or ())


def should_run(node: Mapping[str, Any], ds: Mapping[str, Any]) -> tuple[bool, bool]:
    spec = copy.deepcopy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    node_name = str(meta(node).get("name") or "")
    if spec.get("nodeName") and spec["nodeName"] != node_name:
        return False, False
    add_default_tolerations(spec)
    if not node_affinity_matches(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    if _untolerated(taints, tolerations, {"NoSchedule", "NoExecute"}):
        return False, not _untolerated(taints, tolerations, {"NoExecute"})
    return True, True


def pin_to_node(spec: Obj, node_name: str) -> None:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``."""
    term = {"matchFields": [{"key": _NAME_FIELD, "operator": "In", "values": [node_name]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}


def template_generation(ds: Mapping[str, Any]) -> str | None:
    value = annotations_of(ds).get(GENERATION_ANNOTATION)
    return str(value) if value else None


def pod_for_node(ds: Mapping[str, Any], node_name: str, hash_: str) -> Obj:
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    tmeta = template.setdefault("metadata", {})
    tlabels = dict(tmeta.get("labels") or {})
    generation = template_generation(ds)
    if generation is not None:
        tlabels[GENERATION_LABEL] = generation
    if hash_:
        tlabels[history.HASH_LABEL] = hash_
    tmeta["labels"] = tlabels
    spec = template.setdefault("spec", {})
    add_default_tolerations(spec)
    pin_to_node(spec, node_name)
    return pod_from_template(
        template, owner_ref=controller_ref(ds, api_version=API_VERSION, kind=KIND)
    )


def target_node(pod: Mapping[str, Any]) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for req in term.get("matchFields") or ():
            values = req.get("values") or []
            if req.get("key") == _NAME_FIELD and req.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return None
