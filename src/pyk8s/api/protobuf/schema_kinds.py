"""Protobuf schema: the kinds the decoder accepts, and the shape of every table entry.

``KINDS`` maps the ``(apiVersion, kind)`` of a ``runtime.Unknown`` envelope to the
message that encodes the object. ``schema_meta``, ``schema_core`` and ``schema_groups``
hold ``MESSAGES``: message name → {field number: ``Field``}, covering every message
reachable from ``KINDS`` (the decoder checks this closure when it loads).

A ``Field`` is ``(json_name, type, label, message)``:

* ``json_name`` — the key in the object's JSON. Usually the proto field name; the Go
  JSON tag wins where they differ (``uid`` for proto ``uID``, ``apiGroup`` for
  ``aPIGroup``). ``""`` for an inlined field (label ``inline``).
* ``type`` — a proto scalar (``string``, ``bytes``, ``bool``, ``int32``, ``int64``),
  ``message`` (then ``message`` names it), or one of apimachinery's types that have their
  own JSON form: ``time`` / ``microtime`` (``Timestamp{seconds=1, nanos=2}`` → RFC 3339,
  zero → absent), ``duration`` (``{duration=1}`` ns → Go's ``"1h2m3s"``), ``quantity``
  (``{string=1}`` → string), ``intorstring`` (``{type=1, intVal=2, strVal=3}`` → int or
  string), ``fieldsv1`` / ``rawextension`` (``{raw=1}`` → the embedded JSON).
* ``label`` — cardinality plus Go's JSON presence rule for the field:
  ``opt``  a Go pointer: kept whenever it is on the wire, even if zero (``replicas: 0``);
  ``omit`` a Go value with ``omitempty``: dropped when zero ("", 0, false);
  ``keep`` a Go value without ``omitempty``, or any struct value (``omitempty`` never
  drops a Go struct): always present, its zero value filled in when absent;
  ``rep``  repeated: a list, dropped when empty;
  ``map``  ``map<string, type>``: a dict, dropped when empty;
  ``inline`` an embedded Go struct (``json:""``): its fields merge into the parent.
* ``message`` — the message name for ``type == "message"``, else ``None``.

Message names are upstream's proto names without the ``k8s.io.api.`` /
``k8s.io.apimachinery.pkg.apis.`` prefix: ``core.v1.PodSpec``, ``meta.v1.ObjectMeta``.
``LIST_WRAPPERS`` are messages that stand for a Go named slice (``ExtraValue []string``,
marked ``+protobuf.nullable=true`` upstream): ``{items=1}`` whose JSON is the list itself.

Facts come from upstream's ``generated.proto`` files (k8s.io/api, k8s.io/apimachinery,
HEAD after 1.33, a superset of 1.33) and the Go struct tags beside them, extracted by an
offline script kept out of the repository.
"""

from __future__ import annotations

from typing import Final

__all__ = ["KINDS", "LIST_WRAPPERS", "Field"]

Field = tuple[str, str, str, str | None]

KINDS: Final[dict[tuple[str, str], str]] = {
    ("v1", "Namespace"): "core.v1.Namespace",
    ("v1", "Pod"): "core.v1.Pod",
    ("v1", "Service"): "core.v1.Service",
    ("v1", "Endpoints"): "core.v1.Endpoints",
    ("v1", "ConfigMap"): "core.v1.ConfigMap",
    ("v1", "Secret"): "core.v1.Secret",
    ("v1", "ServiceAccount"): "core.v1.ServiceAccount",
    ("v1", "Node"): "core.v1.Node",
    ("v1", "Event"): "core.v1.Event",
    ("v1", "PersistentVolume"): "core.v1.PersistentVolume",
    ("v1", "PersistentVolumeClaim"): "core.v1.PersistentVolumeClaim",
    ("v1", "ResourceQuota"): "core.v1.ResourceQuota",
    ("v1", "LimitRange"): "core.v1.LimitRange",
    ("v1", "PodTemplate"): "core.v1.PodTemplate",
    ("v1", "ReplicationController"): "core.v1.ReplicationController",
    ("v1", "Binding"): "core.v1.Binding",
    ("apps/v1", "Deployment"): "apps.v1.Deployment",
    ("apps/v1", "ReplicaSet"): "apps.v1.ReplicaSet",
    ("apps/v1", "StatefulSet"): "apps.v1.StatefulSet",
    ("apps/v1", "DaemonSet"): "apps.v1.DaemonSet",
    ("apps/v1", "ControllerRevision"): "apps.v1.ControllerRevision",
    ("batch/v1", "Job"): "batch.v1.Job",
    ("batch/v1", "CronJob"): "batch.v1.CronJob",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "autoscaling.v2.HorizontalPodAutoscaler",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "autoscaling.v1.HorizontalPodAutoscaler",
    ("networking.k8s.io/v1", "Ingress"): "networking.v1.Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "networking.v1.IngressClass",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networking.v1.NetworkPolicy",
    ("discovery.k8s.io/v1", "EndpointSlice"): "discovery.v1.EndpointSlice",
    ("coordination.k8s.io/v1", "Lease"): "coordination.v1.Lease",
    ("rbac.authorization.k8s.io/v1", "Role"): "rbac.v1.Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rbac.v1.RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "rbac.v1.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "rbac.v1.ClusterRoleBinding",
    ("storage.k8s.io/v1", "StorageClass"): "storage.v1.StorageClass",
    ("policy/v1", "PodDisruptionBudget"): "policy.v1.PodDisruptionBudget",
    ("scheduling.k8s.io/v1", "PriorityClass"): "scheduling.v1.PriorityClass",
    ("events.k8s.io/v1", "Event"): "events.v1.Event",
    ("node.k8s.io/v1", "RuntimeClass"): "node.v1.RuntimeClass",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "authentication.v1.SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenReview"): "authentication.v1.TokenReview",
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
    ): "authorization.v1.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "authorization.v1.SubjectAccessReview",
    ("policy/v1", "Eviction"): "policy.v1.Eviction",
    ("autoscaling/v1", "Scale"): "autoscaling.v1.Scale",
    ("authentication.k8s.io/v1", "TokenRequest"): "authentication.v1.TokenRequest",
}

LIST_WRAPPERS: Final[frozenset[str]] = frozenset(
    {
        "authentication.v1.AttestationValue",
        "authentication.v1.ExtraValue",
        "authorization.v1.ExtraValue",
    }
)
