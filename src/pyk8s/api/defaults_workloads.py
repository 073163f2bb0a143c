"""Defaults of the non-core groups: apps, batch, networking, rbac, storage, scheduling,
discovery and autoscaling (upstream 1.33 ``defaults.go`` of each group).

``DEFAULTERS`` maps a resource key to its defaulting function; ``pyk8s.api.defaults``
merges it into its table.  Every pod template inside a workload gets the PodSpec
defaults from ``defaults_pod``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pyk8s.api.defaults_pod import default_pod_spec, default_pvc_spec, items_at

__all__ = ["DEFAULTERS"]

Obj = dict[str, Any]
Key = tuple[str, str]


def _dict(parent: Obj, key: str) -> Obj:
    v = parent.get(key)
    if not isinstance(v, dict):
        v = parent[key] = {}
    return v


def _template(spec: Obj) -> None:
    tmpl = spec.get("template")
    if isinstance(tmpl, dict):
        default_pod_spec(_dict(tmpl, "spec"))


def _deployment(d: Obj) -> None:
    spec = _dict(d, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = _dict(strategy, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template(spec)


def _replica_set(rs: Obj) -> None:
    spec = _dict(rs, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _template(spec)


def _stateful_set(sts: Obj) -> None:
    spec = _dict(sts, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    us = _dict(spec, "updateStrategy")
    if not us.get("type"):
        us["type"] = "RollingUpdate"
        if not isinstance(us.get("rollingUpdate"), dict):
            us["rollingUpdate"] = {}
    ru = us.get("rollingUpdate")
    if us["type"] == "RollingUpdate" and isinstance(ru, dict) and ru.get("partition") is None:
        ru["partition"] = 0
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    policy = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    for key in ("whenDeleted", "whenScaled"):
        if not policy.get(key):
            policy[key] = "Retain"
    for vct in items_at(spec, "volumeClaimTemplates"):
        if not isinstance(vct, dict):
            continue
        vct.setdefault("apiVersion", "v1")
        vct.setdefault("kind", "PersistentVolumeClaim")
        default_pvc_spec(_dict(vct, "spec"))
        status = _dict(vct, "status")
        if not status.get("phase"):
            status["phase"] = "Pending"
    _template(spec)


def _daemon_set(ds: Obj) -> None:
    spec = _dict(ds, "spec")
    us = _dict(spec, "updateStrategy")
    if not us.get("type"):
        us["type"] = "RollingUpdate"
    if us["type"] == "RollingUpdate":
        ru = _dict(us, "rollingUpdate")
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template(spec)


def _job_spec(spec: Obj) -> None:
    _template(spec)


def _job(job: Obj) -> None:
    spec = _dict(job, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    tmpl = spec.get("template")
    labels = (
        tmpl.get("metadata", {}).get("labels")
        if isinstance(tmpl, dict) and isinstance(tmpl.get("metadata"), dict)
        else None
    )
    meta = job.get("metadata")
    if isinstance(labels, dict) and isinstance(meta, dict) and not meta.get("labels"):
        meta["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in items_at(pfp, "rules"):
            for pattern in items_at(rule, "onPodConditions"):
                if isinstance(pattern, dict) and not pattern.get("status"):
                    pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if isinstance(pfp, dict) else "TerminatingOrFailed"
    _job_spec(spec)


def _cron_job(cj: Obj) -> None:
    spec = _dict(cj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    jt = spec.get("jobTemplate")
    if isinstance(jt, dict):
        _job_spec(_dict(jt, "spec"))


def _network_policy(np_: Obj) -> None:
    spec = _dict(np_, "spec")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for direction in ("ingress", "egress"):
        for rule in items_at(spec, direction):
            for port in items_at(rule, "ports"):
                if isinstance(port, dict) and port.get("protocol") is None:
                    port["protocol"] = "TCP"


_RBAC: Final = "rbac.authorization.k8s.io"


def _binding(b: Obj) -> None:
    ref = _dict(b, "roleRef")
    if not ref.get("apiGroup"):
        ref["apiGroup"] = _RBAC
    for s in items_at(b, "subjects"):
        if isinstance(s, dict) and not s.get("apiGroup") and s.get("kind") in ("User", "Group"):
            s["apiGroup"] = _RBAC


def _storage_class(sc: Obj) -> None:
    if not sc.get("reclaimPolicy"):
        sc["reclaimPolicy"] = "Delete"
    if not sc.get("volumeBindingMode"):
        sc["volumeBindingMode"] = "Immediate"


def _priority_class(pc: Obj) -> None:
    if not pc.get("preemptionPolicy"):
        pc["preemptionPolicy"] = "PreemptLowerPriority"


def _endpoint_slice(es: Obj) -> None:
    for port in items_at(es, "ports"):
        if isinstance(port, dict):
            if port.get("name") is None:
                port["name"] = ""
            if port.get("protocol") is None:
                port["protocol"] = "TCP"


def _hpa(hpa: Obj) -> None:
    spec = _dict(hpa, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if not isinstance(behavior, dict):
        return
    up = _dict(behavior, "scaleUp")
    up.setdefault("stabilizationWindowSeconds", 0)
    up.setdefault("selectPolicy", "Max")
    if not up.get("policies"):
        up["policies"] = [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]
    down = _dict(behavior, "scaleDown")
    down.setdefault("stabilizationWindowSeconds", 300)
    down.setdefault("selectPolicy", "Max")
    if not down.get("policies"):
        down["policies"] = [{"type": "Percent", "value": 100, "periodSeconds": 15}]


DEFAULTERS: Final[dict[Key, Callable[[Obj], None]]] = {
    ("apps", "deployments"): _deployment,
    ("apps", "replicasets"): _replica_set,
    ("apps", "statefulsets"): _stateful_set,
    ("apps", "daemonsets"): _daemon_set,
    ("batch", "jobs"): _job,
    ("batch", "cronjobs"): _cron_job,
    ("networking.k8s.io", "networkpolicies"): _network_policy,
    (_RBAC, "rolebindings"): _binding,
    (_RBAC, "clusterrolebindings"): _binding,
    ("storage.k8s.io", "storageclasses"): _storage_class,
    ("scheduling.k8s.io", "priorityclasses"): _priority_class,
    ("discovery.k8s.io", "endpointslices"): _endpoint_slice,
    ("autoscaling", "horizontalpodautoscalers"): _hpa,
}
