"""Defaulting of built-in objects, as upstream 1.33's ``pkg/apis/*/v1/defaults.go`` and
the generated ``zz_generated.defaults.go`` do it.

``apply_defaults(key, obj)`` fills in, in place, what the apiserver adds to an object it
decodes (``("apps", "deployments")`` gets ``replicas: 1``, a RollingUpdate strategy of
25%/25%, ``revisionHistoryLimit: 10``, ``progressDeadlineSeconds: 600``, and every pod
template gets the PodSpec defaults).  It never overwrites a value the client set, runs
the same on create and on update, and is idempotent.  Kinds it does not know are left
alone.  Strategy steps that are not defaulting (status reset, ``generation``, a Job's
generated selector) live in ``pyk8s.api.validation.prepare``; ``prepare_job_create`` is
re-exported here for callers that think of it as defaulting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pyk8s.api import defaults_admission
from pyk8s.api import defaults_workloads as _w
from pyk8s.api.defaults_pod import (
    canonical_resource_list,
    default_pod,
    default_pod_spec,
    default_pvc_spec,
    items_at,
    mapping_at,
)
from pyk8s.api.validation.prepare import prepare_job_create

__all__ = ["apply_defaults", "default_pod_spec", "prepare_job_create"]

Obj = dict[str, Any]
Key = tuple[str, str]


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec


def _status(obj: Obj) -> Obj:
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    return status


def _pod_template(holder: Obj) -> None:
    """Default the PodSpec of ``holder["template"]`` (a PodTemplateSpec)."""
    tmpl = holder.get("template")
    if isinstance(tmpl, dict):
        spec = tmpl.get("spec")
        if not isinstance(spec, dict):
            spec = tmpl["spec"] = {}
        default_pod_spec(spec)


def _service(svc: Obj) -> None:
    spec = _spec(svc)
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        client = cfg.get("clientIP") if isinstance(cfg, dict) else None
        if not isinstance(client, dict) or client.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    stype = spec["type"]
    for port in items_at(spec, "ports"):
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    externally = stype in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if externally and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and stype in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if stype != "ExternalName":
        # What the allocator fills in on a single-stack IPv4 cluster.
        headless = spec.get("clusterIP") == "None"
        if spec.get("ipFamilyPolicy") is None:
            no_selector = not spec.get("selector")
            spec["ipFamilyPolicy"] = (
                "RequireDualStack" if headless and no_selector else "SingleStack"
            )
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]


def _namespace(ns: Obj) -> None:
    meta = ns.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(meta, dict) and isinstance(name, str) and name:
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = name
    status = _status(ns)
    if not status.get("phase"):
        status["phase"] = "Active"


def _secret(secret: Obj) -> None:
    if not secret.get("type"):
        secret["type"] = "Opaque"


def _pv(pv: Obj) -> None:
    spec = _spec(pv)
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    canonical_resource_list(spec.get("capacity"))
    host = spec.get("hostPath")
    if isinstance(host, dict) and host.get("type") is None:
        host["type"] = ""
    status = _status(pv)
    if not status.get("phase"):
        status["phase"] = "Pending"


def _pvc(pvc: Obj) -> None:
    default_pvc_spec(_spec(pvc))
    status = _status(pvc)
    if not status.get("phase"):
        status["phase"] = "Pending"


def _node(node: Obj) -> None:
    status = node.get("status")
    if not isinstance(status, dict):
        return
    canonical_resource_list(status.get("capacity"))
    canonical_resource_list(status.get("allocatable"))
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


def _endpoints(ep: Obj) -> None:
    for subset in items_at(ep, "subsets"):
        for port in items_at(subset, "ports"):
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _limit_range(lr: Obj) -> None:
    for item in items_at(_spec(lr), "limits"):
        if not isinstance(item, dict):
            continue
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_resource_list(item.get(key))
        if item.get("type") != "Container":
            continue
        default = item.setdefault("default", {})
        request = item.setdefault("defaultRequest", {})
        for k, v in mapping_at(item, "max").items():
            default.setdefault(k, v)
        for k, v in default.items():
            request.setdefault(k, v)
        for k, v in mapping_at(item, "min").items():
            request.setdefault(k, v)


def _resource_quota(rq: Obj) -> None:
    canonical_resource_list(_spec(rq).get("hard"))


def _replication_controller(rc: Obj) -> None:
    spec = _spec(rc)
    tmpl = spec.get("template")
    labels = (
        tmpl.get("metadata", {}).get("labels")
        if isinstance(tmpl, dict) and isinstance(tmpl.get("metadata"), dict)
        else None
    )
    if isinstance(labels, dict) and labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = rc.setdefault("metadata", {})
        if isinstance(meta, dict) and not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _pod_template(spec)


def _pod_template_kind(pt: Obj) -> None:
    _pod_template(pt)


_DEFAULTERS: Final[dict[Key, Callable[[Obj], None]]] = {
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): lambda o: (
        defaults_admission.default_webhook_configuration(o, mutating=True)
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): lambda o: (
        defaults_admission.default_webhook_configuration(o, mutating=False)
    ),
    ("", "pods"): default_pod,
    ("", "podtemplates"): _pod_template_kind,
    ("", "services"): _service,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("", "persistentvolumes"): _pv,
    ("", "persistentvolumeclaims"): _pvc,
    ("", "nodes"): _node,
    ("", "endpoints"): _endpoints,
    ("", "limitranges"): _limit_range,
    ("", "resourcequotas"): _resource_quota,
    ("", "replicationcontrollers"): _replication_controller,
    **_w.DEFAULTERS,
}


def apply_defaults(key: Key, obj: Obj) -> None:
    """Fill in upstream's defaults for the kind at ``key`` (group, plural), in place."""
    fn = _DEFAULTERS.get(key)
    if fn is not None:
        fn(obj)
