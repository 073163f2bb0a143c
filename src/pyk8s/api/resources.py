"""The table of built-in API resources: what the apiserver serves and how it is named.

One ``Resource`` per (group, version, plural). Everything that dispatches on a kind keys
on ``Resource.key`` = (group, plural) — e.g. ``("apps", "deployments")``, core group
``""`` — so printers, defaulting and validation agree on one name. Facts (kinds, plurals,
short names, categories, scopes, subresources, etcd key prefixes) follow upstream 1.33.

``storage_prefix`` is the etcd key prefix upstream uses (``/registry/<prefix>/<ns>/<name>``),
including its historical oddities (nodes under ``minions``, services under
``services/specs``). Resources served in more than one version share one storage prefix
and one stored version (``storage_version``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BUILTIN",
    "STANDARD_VERBS",
    "Resource",
    "by_group_version",
    "find",
    "find_by_kind",
    "groups",
]

STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    storage_prefix: str = ""
    storage_version: str = ""  # the version objects are stored in; "" = this version
    preferred: bool = True  # the group's preferred version serves this resource
    custom: bool = False  # defined by a CustomResourceDefinition
    spec_has_generation: bool = True  # generation bumps on spec change (upstream: most kinds)

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def stored_as(self) -> str:
        return self.storage_version or self.version

    def storage_key(self, namespace: str | None, name: str | None = None) -> str:
        """``/registry/<prefix>/[<ns>/][<name>]``; a trailing slash for prefixes."""
        base = f"/registry/{self.storage_prefix or self.plural}/"
        if self.namespaced and namespace:
            base += namespace + "/"
        return base + name if name else base


def _r(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    all_: bool = False,
    sub: tuple[str, ...] = (),
    verbs: tuple[str, ...] = STANDARD_VERBS,
    prefix: str = "",
    storage_version: str = "",
    preferred: bool = True,
) -> Resource:
    return Resource(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        short_names=short,
        categories=("all",) if all_ else (),
        subresources=sub,
        verbs=verbs,
        storage_prefix=prefix,
        storage_version=storage_version,
        preferred=preferred,
    )


_CREATE_ONLY = ("create",)

BUILTIN: tuple[Resource, ...] = (
    # core/v1
    _r(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        sub=("status", "finalize"),
    ),
    _r(
        "",
        "v1",
        "Pod",
        "pods",
        short=("po",),
        all_=True,
        sub=(
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "ephemeralcontainers",
            "resize",
        ),
    ),
    _r(
        "",
        "v1",
        "Service",
        "services",
        short=("svc",),
        all_=True,
        sub=("status", "proxy"),
        prefix="services/specs",
    ),
    _r("", "v1", "Endpoints", "endpoints", short=("ep",), prefix="services/endpoints"),
    _r("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), sub=("token",)),
    _r(
        "",
        "v1",
        "Node",
        "nodes",
        namespaced=False,
        short=("no",),
        sub=("status", "proxy"),
        prefix="minions",
    ),
    _r("", "v1", "Event", "events", short=("ev",)),
    _r(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short=("pv",),
        sub=("status",),
    ),
    _r(
        "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), sub=("status",)
    ),
    _r("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), sub=("status",)),
    _r("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _r("", "v1", "PodTemplate", "podtemplates"),
    _r(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=("rc",),
        all_=True,
        sub=("status", "scale"),
        prefix="controllers",
    ),
    _r("", "v1", "Binding", "bindings", verbs=_CREATE_ONLY),
    # apps/v1
    _r(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        all_=True,
        sub=("status", "scale"),
    ),
    _r(
        "apps", "v1", "ReplicaSet", "replicasets", short=("rs",), all_=True, sub=("status", "scale")
    ),
    _r(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        all_=True,
        sub=("status", "scale"),
    ),
    _r("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), all_=True, sub=("status",)),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # batch/v1
    _r("batch", "v1", "Job", "jobs", all_=True, sub=("status",)),
    _r("batch", "v1", "CronJob", "cronjobs", short=("cj",), all_=True, sub=("status",)),
    # autoscaling: v2 is preferred and stored; v1 is served by conversion
    _r(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        all_=True,
        sub=("status",),
    ),
    _r(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        all_=True,
        sub=("status",),
        storage_version="v2",
        preferred=False,
    ),
    # networking.k8s.io/v1
    _r(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short=("ing",),
        sub=("status",),
        prefix="ingress",
    ),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)),
    # policy/v1
    _r(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        sub=("status",),
    ),
    # scheduling.k8s.io/v1
    _r(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        namespaced=False,
        short=("pc",),
    ),
    # events.k8s.io/v1 shares storage with core/v1 events (converted on the way in and out)
    _r("events.k8s.io", "v1", "Event", "events", short=("ev",), storage_version="core/v1"),
    # node.k8s.io/v1
    _r("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", namespaced=False),
    # apiextensions.k8s.io/v1
    _r(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        sub=("status",),
    ),
    # admissionregistration.k8s.io/v1
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
    ),
    # authentication.k8s.io/v1 and authorization.k8s.io/v1 (virtual, create only)
    _r(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        namespaced=False,
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        namespaced=False,
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=_CREATE_ONLY,
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        namespaced=False,
        verbs=_CREATE_ONLY,
    ),
)

_BY_GVR: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in BUILTIN}
_BY_GVK: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.kind): r for r in BUILTIN}


def find(group: str, version: str, plural: str) -> Resource | None:
    return _BY_GVR.get((group, version, plural))


def find_by_kind(group: str, version: str, kind: str) -> Resource | None:
    return _BY_GVK.get((group, version, kind))


def by_group_version() -> dict[tuple[str, str], list[Resource]]:
    """Resources grouped by (group, version), in table order."""
    out: dict[tuple[str, str], list[Resource]] = {}
    for r in BUILTIN:
        out.setdefault((r.group, r.version), []).append(r)
    return out


def groups() -> list[tuple[str, list[str]]]:
    """(group, [versions, preferred first]) for every named group, in table order."""
    seen: dict[str, list[str]] = {}
    for r in BUILTIN:
        if not r.group:
            continue
        versions = seen.setdefault(r.group, [])
        if r.version not in versions:
            if r.preferred:
                versions.insert(0, r.version)
            else:
                versions.append(r.version)
    return list(seen.items())
