"""What upstream's registry strategies do before validation (``PrepareForCreate`` /
``PrepareForUpdate``), plus the bits of conversion and of the Service REST layer that
change the object a client sent.  Pure functions; objects are changed in place.

Pipeline the apiserver runs (as upstream's generic store does):

* create: decode → ``apply_defaults`` → system fields (uid, creationTimestamp, name from
  ``generateName``) → ``prepare_for_create`` → ``validate_create`` → store.
* update (PUT of the main resource): decode → ``apply_defaults`` → ``prepare_for_update``
  (keeps the old status, bumps ``metadata.generation`` when the spec changed …) →
  ``validate_update`` → store.

``prepare_for_create`` reads ``metadata.uid`` (a Job's generated selector needs it), so
the uid must be set first.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any, Final

from pyk8s.api import resources
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "GENERATION_KINDS",
    "pod_qos_class",
    "prepare_for_create",
    "prepare_for_update",
    "prepare_job_create",
]

Key = tuple[str, str]

# Kinds whose strategy sets metadata.generation = 1 on create and bumps it on spec change.
GENERATION_KINDS: Final[frozenset[Key]] = frozenset(
    {
        ("", "pods"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "networkpolicies"),
        ("policy", "poddisruptionbudgets"),
    }
)
# Kinds with a status subresource: a PUT of the main resource keeps the stored status,
# and (except nodes) create starts from an empty status.
_STATUS_KINDS: Final[frozenset[Key]] = frozenset(
    {
        ("", "namespaces"),
        ("", "pods"),
        ("", "services"),
        ("", "nodes"),
        ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("networking.k8s.io", "ingresses"),
        ("policy", "poddisruptionbudgets"),
    }
)
_CLUSTER_SCOPED: Final[frozenset[Key]] = frozenset(
    r.key for r in resources.BUILTIN if not r.namespaced
)
_DS_TEMPLATE_GENERATION: Final = "deprecated.daemonset.template.generation"


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def pod_qos_class(pod: Obj) -> str:
    """``qos.GetPodQOS``: Guaranteed, Burstable or BestEffort from cpu/memory resources."""
    spec = as_obj(pod.get("spec"))
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in as_list(spec.get("containers")) + as_list(spec.get("initContainers")):
        res = as_obj(as_obj(c).get("resources"))
        for bag, acc in (
            (as_obj(res.get("requests")), requests),
            (as_obj(res.get("limits")), None),
        ):
            found = set()
            for name, raw in bag.items():
                if name not in ("cpu", "memory"):
                    continue
                try:
                    v = parse_quantity(raw).value
                except QuantityError:
                    continue
                if v <= 0:
                    continue
                target = requests if acc is not None else limits
                target[name] = target.get(name, 0) + v
                found.add(name)
            if acc is None and found != {"cpu", "memory"}:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if (
        guaranteed
        and all(limits.get(k) == v for k, v in requests.items())
        and len(requests) == len(limits)
    ):
        return "Guaranteed"
    return "Burstable"


def prepare_job_create(obj: Obj, uid: str) -> None:
    """The Job strategy's ``generateSelector``: template labels and a selector on the uid."""
    spec = _spec(obj)
    if spec.get("manualSelector") is True:
        return
    name = as_str(_meta(obj).get("name"))
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        tmpl = spec["template"] = {}
    tmeta = tmpl.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = tmpl["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name)
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault("batch.kubernetes.io/controller-uid", uid)


def _merge_string_data(secret: Obj) -> None:
    sd = secret.pop("stringData", None)
    if isinstance(sd, dict) and sd:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = {}
        for k, v in sd.items():
            data[k] = base64.b64encode(as_str(v).encode()).decode()


def _normalize_cluster_ips(new: Obj, old: Obj | None) -> None:
    spec = _spec(new)
    ip, ips = as_str(spec.get("clusterIP")), as_list(spec.get("clusterIPs"))
    if old is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    ospec = as_obj(old.get("spec"))
    oip, oips = as_str(ospec.get("clusterIP")), as_list(ospec.get("clusterIPs"))
    if oips and not ips and oip == ip:
        spec["clusterIPs"] = list(oips)
        ips = spec["clusterIPs"]
    if oip != ip:
        same = as_list(spec.get("clusterIPs")) == oips
        if oip and not ip:
            if same:
                spec.pop("clusterIPs", None)
        elif same:
            spec["clusterIPs"] = [ip]


def _patch_allocated(new: Obj, old: Obj) -> None:
    """Service REST ``patchAllocatedValues``: keep what the allocator assigned."""
    spec, ospec = _spec(new), as_obj(old.get("spec"))
    stype, otype = as_str(spec.get("type")), as_str(ospec.get("type"))

    def needs_ip(t: str) -> bool:
        return t != "ExternalName"

    if needs_ip(stype) and needs_ip(otype):
        if not as_str(spec.get("clusterIP")) and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        if not as_list(spec.get("clusterIPs")) and as_list(ospec.get("clusterIPs")):
            spec["clusterIPs"] = list(ospec["clusterIPs"])
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if key not in spec and key in ospec:
                spec[key] = copy.deepcopy(ospec[key])
    node_port_types = ("NodePort", "LoadBalancer")
    if stype in node_port_types and otype in node_port_types:
        old_ports = {
            as_str(as_obj(p).get("name")): as_int(as_obj(p).get("nodePort"))
            for p in as_list(ospec.get("ports"))
        }
        new_ports = {as_int(as_obj(p).get("nodePort")) for p in as_list(spec.get("ports"))}
        used = new_ports & set(old_ports.values())
        for p in as_list(spec.get("ports")):
            if isinstance(p, dict) and not p.get("nodePort"):
                val = old_ports.get(as_str(p.get("name")), 0)
                if val and val not in used:
                    p["nodePort"] = val
    both_local = spec.get("externalTrafficPolicy") == ospec.get("externalTrafficPolicy") == "Local"
    lb = stype == otype == "LoadBalancer"
    if (
        lb
        and both_local
        and not spec.get("healthCheckNodePort")
        and ospec.get("healthCheckNodePort")
    ):
        spec["healthCheckNodePort"] = ospec["healthCheckNodePort"]


def _drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """Service ``dropTypeDependentFields``: when the type changes, fields only the old type
    needs go — but only those the client left as they were (a changed value is the
    client's, and validation judges it)."""
    spec, ospec = _spec(new), as_obj(old.get("spec"))
    stype, otype = as_str(spec.get("type")) or "ClusterIP", as_str(ospec.get("type")) or "ClusterIP"
    if stype == otype:
        return
    external = ("NodePort", "LoadBalancer")
    if (
        stype == "ExternalName"
        and otype != "ExternalName"
        and spec.get("clusterIP") == ospec.get("clusterIP")
    ):
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if spec.get(key) == ospec.get(key):
                spec.pop(key, None)
    if otype in external and stype not in external:
        old_nps = [as_obj(p).get("nodePort") for p in as_list(ospec.get("ports"))]
        new_nps = [as_obj(p).get("nodePort") for p in as_list(spec.get("ports"))]
        if old_nps == new_nps:
            for p in as_list(spec.get("ports")):
                if isinstance(p, dict):
                    p.pop("nodePort", None)
        if spec.get("externalTrafficPolicy") == ospec.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
    if otype == "LoadBalancer" and stype != "LoadBalancer":
        for key in ("healthCheckNodePort", "allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if key in spec and spec.get(key) == ospec.get(key):
                spec.pop(key, None)


def _create_pod(obj: Obj) -> None:
    status: Obj = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
    if as_list(as_obj(obj.get("spec")).get("schedulingGates")):
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }
        ]
    obj["status"] = status


def _create_namespace(obj: Obj) -> None:
    obj["status"] = {"phase": "Active"}
    spec = _spec(obj)
    fins = spec.get("finalizers")
    if not isinstance(fins, list):
        fins = spec["finalizers"] = []
    if "kubernetes" not in fins:
        fins.append("kubernetes")


def _create_daemon_set(obj: Obj) -> None:
    ann = _meta(obj).get("annotations")
    if not isinstance(ann, dict):
        ann = _meta(obj)["annotations"] = {}
    ann[_DS_TEMPLATE_GENERATION] = "1"


_CREATE_EXTRA: Final[dict[Key, Callable[[Obj], None]]] = {
    ("", "pods"): _create_pod,
    ("", "namespaces"): _create_namespace,
    ("", "secrets"): _merge_string_data,
    ("", "services"): lambda obj: _normalize_cluster_ips(obj, None),
    ("", "persistentvolumes"): lambda obj: obj.__setitem__("status", {"phase": "Pending"}),
    ("", "persistentvolumeclaims"): lambda obj: obj.__setitem__("status", {"phase": "Pending"}),
    ("apps", "daemonsets"): _create_daemon_set,
}


def prepare_for_create(key: Key, obj: Obj) -> None:
    """``PrepareForCreate``: reset status, ``generation: 1``, kind-specific fix-ups.

    Also what upstream's ``rest.BeforeCreate`` does for every kind: a new object has no
    ``deletionTimestamp`` nor ``deletionGracePeriodSeconds``, and a cluster-scoped one no
    ``namespace``.
    """
    meta = _meta(obj)
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    if key in _CLUSTER_SCOPED:
        meta.pop("namespace", None)
    if key in _STATUS_KINDS and key != ("", "nodes"):
        obj["status"] = {"loadBalancer": {}} if key == ("", "services") else {}
    if key in GENERATION_KINDS:
        _meta(obj)["generation"] = 1
    if key == ("batch", "jobs"):
        prepare_job_create(obj, as_str(_meta(obj).get("uid")))
    extra = _CREATE_EXTRA.get(key)
    if extra is not None:
        extra(obj)


def _spec_changed(key: Key, new: Obj, old: Obj) -> bool:
    if key == ("apps", "deployments"):
        new_ann, old_ann = (
            as_obj(_meta(new).get("annotations")),
            as_obj(as_obj(old.get("metadata")).get("annotations")),
        )
        if new_ann != old_ann:
            return True
    return new.get("spec") != old.get("spec")


def prepare_for_update(key: Key, new: Obj, old: Obj) -> None:
    """``PrepareForUpdate`` for a PUT of the main resource (not the status subresource).

    First what upstream's ``rest.BeforeUpdate`` does for every kind: clients cannot set
    ``generation``, ``creationTimestamp``, ``deletionTimestamp`` or
    ``deletionGracePeriodSeconds``, and a missing ``uid`` is taken from the stored object;
    a cluster-scoped object loses any ``namespace`` it was sent with.
    """
    meta, old_meta = _meta(new), as_obj(old.get("metadata"))
    if key in _CLUSTER_SCOPED:
        meta.pop("namespace", None)
    for k in ("generation", "creationTimestamp", "deletionTimestamp"):
        if k in old_meta:
            meta[k] = copy.deepcopy(old_meta[k])
        elif k != "creationTimestamp":
            meta.pop(k, None)
    if not meta.get("uid") and old_meta.get("uid"):
        meta["uid"] = old_meta["uid"]
    if (
        old_meta.get("deletionGracePeriodSeconds") is not None
        and meta.get("deletionGracePeriodSeconds") is None
    ):
        meta["deletionGracePeriodSeconds"] = old_meta["deletionGracePeriodSeconds"]
    if key in _STATUS_KINDS:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if key == ("", "secrets"):
        _merge_string_data(new)
    elif key == ("", "services"):
        _patch_allocated(new, old)
        _drop_type_dependent_fields(new, old)
        _normalize_cluster_ips(new, old)
    elif key == ("", "namespaces"):
        ospec = as_obj(old.get("spec"))
        if "finalizers" in ospec:
            _spec(new)["finalizers"] = copy.deepcopy(ospec["finalizers"])
    elif key == ("apps", "daemonsets"):
        old_gen = as_obj(as_obj(old.get("metadata")).get("annotations")).get(
            _DS_TEMPLATE_GENERATION
        )
        ann = _meta(new).setdefault("annotations", {})
        if isinstance(ann, dict) and isinstance(old_gen, str):
            ann[_DS_TEMPLATE_GENERATION] = old_gen
            if as_obj(new.get("spec")).get("template") != as_obj(old.get("spec")).get("template"):
                ann[_DS_TEMPLATE_GENERATION] = (
                    str(int(old_gen) + 1) if old_gen.isdigit() else old_gen
                )
    if key in GENERATION_KINDS:
        old_gen_n = as_obj(old.get("metadata")).get("generation")
        gen = old_gen_n if isinstance(old_gen_n, int) else 0
        _meta(new)["generation"] = gen + 1 if _spec_changed(key, new, old) else gen
