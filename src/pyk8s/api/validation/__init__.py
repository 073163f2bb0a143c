"""Validation of built-in objects as upstream Kubernetes 1.33 does it.

``validate_create(key, obj)`` and ``validate_update(key, new, old)`` take a resource key
from ``pyk8s.api.resources`` (``("apps", "deployments")``) and defaulted JSON objects,
and return the ``Cause``s upstream's ``field.ErrorList`` would hold, in upstream's order;
an empty list means the object is accepted.  They are pure: no I/O, no clock, the objects
are not changed.

The apiserver turns causes into a 422 ``Invalid`` Status with ``invalid_status`` (or
just its message with ``invalid_message``: ``Deployment.apps "web" is invalid: …``).
Before validation it runs ``apply_defaults`` (``pyk8s.api.defaults``) and the strategy
steps here (``prepare_for_create`` / ``prepare_for_update``); ``decode_error`` reports what
upstream rejects earlier, while decoding (400 BadRequest: bad base64, bad quantities).

Kinds not in the table (custom resources, virtual review kinds) validate to ``[]``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Final

from pyk8s.api import resources
from pyk8s.api.validation import (
    admissionregistration,
    apps,
    batch,
    core,
    names,
    networking,
    other,
    persistent,
    pod,
    rbac,
    service,
)
from pyk8s.api.validation.access import Obj, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path, go_quote
from pyk8s.api.validation.prepare import prepare_for_create, prepare_for_update, prepare_job_create
from pyk8s.api.validation.quantity import QUANTITY_FORMAT_ERROR, QuantityError, parse_quantity

__all__ = [
    "Cause",
    "decode_error",
    "invalid_message",
    "invalid_status",
    "prepare_for_create",
    "prepare_for_update",
    "prepare_job_create",
    "validate_create",
    "validate_status_update",
    "validate_update",
]

Key = tuple[str, str]
CreateFn = Callable[[Obj], list[Cause]]
UpdateFn = Callable[[Obj, Obj], list[Cause]]


def _then_meta_update(create: CreateFn) -> UpdateFn:
    """Upstream's common ``Validate<Kind>Update``: ObjectMeta update rules + create rules."""

    def update(new: Obj, old: Obj) -> list[Cause]:
        return names.validate_object_meta_update(new.get("metadata"), old.get("metadata")) + create(
            new
        )

    return update


def _event_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    return out + core.validate_event(new)


_TABLE: Final[dict[Key, tuple[CreateFn, UpdateFn]]] = {
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (
        lambda o: admissionregistration.validate_webhook_configuration(o, mutating=True),
        lambda n, o: admissionregistration.validate_webhook_configuration_update(
            n, o, mutating=True
        ),
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
        lambda o: admissionregistration.validate_webhook_configuration(o, mutating=False),
        lambda n, o: admissionregistration.validate_webhook_configuration_update(
            n, o, mutating=False
        ),
    ),
    ("", "pods"): (pod.validate_pod_create, pod.validate_pod_update),
    ("", "services"): (service.validate_service, service.validate_service_update),
    ("", "configmaps"): (core.validate_config_map, core.validate_config_map_update),
    ("", "secrets"): (core.validate_secret, core.validate_secret_update),
    ("", "namespaces"): (core.validate_namespace, core.validate_namespace_update),
    ("", "nodes"): (core.validate_node, core.validate_node_update),
    ("", "serviceaccounts"): (
        core.validate_service_account,
        _then_meta_update(core.validate_service_account),
    ),
    ("", "persistentvolumes"): (persistent.validate_pv, persistent.validate_pv_update),
    ("", "persistentvolumeclaims"): (persistent.validate_pvc, persistent.validate_pvc_update),
    ("", "endpoints"): (core.validate_endpoints, _then_meta_update(core.validate_endpoints)),
    ("", "events"): (core.validate_event, _event_update),
    ("", "limitranges"): (core.validate_limit_range, _then_meta_update(core.validate_limit_range)),
    ("", "resourcequotas"): (
        core.validate_resource_quota,
        _then_meta_update(core.validate_resource_quota),
    ),
    ("", "replicationcontrollers"): (
        core.validate_replication_controller,
        core.validate_replication_controller_update,
    ),
    ("", "podtemplates"): (
        core.validate_pod_template,
        _then_meta_update(core.validate_pod_template),
    ),
    ("apps", "deployments"): (apps.validate_deployment, apps.validate_deployment_update),
    ("apps", "replicasets"): (apps.validate_replica_set, apps.validate_replica_set_update),
    ("apps", "statefulsets"): (apps.validate_stateful_set, apps.validate_stateful_set_update),
    ("apps", "daemonsets"): (apps.validate_daemon_set, apps.validate_daemon_set_update),
    ("apps", "controllerrevisions"): (
        apps.validate_controller_revision,
        apps.validate_controller_revision_update,
    ),
    ("batch", "jobs"): (batch.validate_job, batch.validate_job_update),
    ("batch", "cronjobs"): (batch.validate_cron_job, batch.validate_cron_job_update),
    ("networking.k8s.io", "ingresses"): (
        networking.validate_ingress,
        networking.validate_ingress_update,
    ),
    ("networking.k8s.io", "ingressclasses"): (
        networking.validate_ingress_class,
        networking.validate_ingress_class_update,
    ),
    ("networking.k8s.io", "networkpolicies"): (
        networking.validate_network_policy,
        networking.validate_network_policy_update,
    ),
    ("rbac.authorization.k8s.io", "roles"): (
        lambda o: rbac.validate_role(o, namespaced=True),
        lambda n, o: rbac.validate_role_update(n, o, namespaced=True),
    ),
    ("rbac.authorization.k8s.io", "clusterroles"): (
        lambda o: rbac.validate_role(o, namespaced=False),
        lambda n, o: rbac.validate_role_update(n, o, namespaced=False),
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): (
        lambda o: rbac.validate_binding(o, namespaced=True),
        lambda n, o: rbac.validate_binding_update(n, o, namespaced=True),
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (
        lambda o: rbac.validate_binding(o, namespaced=False),
        lambda n, o: rbac.validate_binding_update(n, o, namespaced=False),
    ),
    ("coordination.k8s.io", "leases"): (
        other.validate_lease,
        _then_meta_update(other.validate_lease),
    ),
    ("policy", "poddisruptionbudgets"): (other.validate_pdb, _then_meta_update(other.validate_pdb)),
    ("scheduling.k8s.io", "priorityclasses"): (
        other.validate_priority_class,
        other.validate_priority_class_update,
    ),
    ("storage.k8s.io", "storageclasses"): (
        other.validate_storage_class,
        other.validate_storage_class_update,
    ),
    ("node.k8s.io", "runtimeclasses"): (
        other.validate_runtime_class,
        other.validate_runtime_class_update,
    ),
    ("discovery.k8s.io", "endpointslices"): (
        other.validate_endpoint_slice,
        other.validate_endpoint_slice_update,
    ),
    ("autoscaling", "horizontalpodautoscalers"): (
        other.validate_hpa,
        _then_meta_update(other.validate_hpa),
    ),
    ("events.k8s.io", "events"): (lambda o: core.validate_event(o, core_v1=False), _event_update),
}


def _path_segment_meta(obj: Obj, key: Key) -> list[Cause]:
    """The generic store's second pass: names must be usable as one URL path segment."""
    res = next((r for r in resources.BUILTIN if r.key == key), None)
    namespaced = res.namespaced if res is not None else True
    return names.validate_object_meta(
        obj.get("metadata"),
        namespaced=namespaced,
        name_fn=lambda n, p: networking.is_valid_path_segment_name(n),
    )


def validate_create(key: Key, obj: Obj) -> list[Cause]:
    """Upstream's ``Strategy.Validate`` (then the store's generic ObjectMeta pass)."""
    entry = _TABLE.get(key)
    if entry is None:
        return []
    causes = entry[0](obj)
    if not causes:
        causes = _path_segment_meta(obj, key)
    return causes


def validate_update(key: Key, new: Obj, old: Obj) -> list[Cause]:
    """Upstream's ``Strategy.ValidateUpdate`` for a PUT of the main resource."""
    entry = _TABLE.get(key)
    if entry is None:
        return []
    return entry[1](new, old)


def validate_status_update(key: Key, new: Obj, old: Obj) -> list[Cause]:
    """A write to the ``status`` subresource. For pods, upstream's status strategy
    validates object metadata and the status only: everything outside status and
    annotations was copied from the stored object, which passed validation when it was
    written, so the whole-pod validation is skipped (it dominated kubelet status writes).
    Other kinds keep the full update validation."""
    if key != ("", "pods"):
        return validate_update(key, new, old)
    return names.validate_object_meta_update(
        new.get("metadata"), old.get("metadata"), Path("metadata")
    )


def _qualified_kind(key: Key, obj: Obj | None = None) -> tuple[str, str]:
    group, plural = key
    res = next((r for r in resources.BUILTIN if r.key == key), None)
    kind = res.kind if res is not None else as_str((obj or {}).get("kind")) or plural
    return group, kind


def invalid_message(key: Key, name: str, causes: list[Cause]) -> str:
    """``Kind.group "name" is invalid: <msg>`` or ``… is invalid: [<msg1>, <msg2>]``."""
    group, kind = _qualified_kind(key)
    qualified = f"{kind}.{group}" if group else kind

    unique: list[str] = []
    for c in causes:
        if c.message not in unique:
            unique.append(c.message)
    if not unique:
        return f"{qualified} {go_quote(name)} is invalid"
    body = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    return f"{qualified} {go_quote(name)} is invalid: {body}"


def invalid_status(key: Key, name: str, causes: list[Cause]) -> dict[str, Any]:
    """The 422 ``Status`` object upstream's ``errors.NewInvalid`` builds."""
    group, kind = _qualified_kind(key)
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [c.status_cause() for c in causes],
    }
    if group:
        details["group"] = group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(key, name, causes),
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }


def _b64_error(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\r", "").replace("\n", "")
    for i, ch in enumerate(cleaned):
        if not (ch.isascii() and (ch.isalnum() or ch in "+/=")):
            return f"illegal base64 data at input byte {i}"
    try:
        base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return f"illegal base64 data at input byte {max(len(cleaned) - 1, 0)}"
    return None


def _quantity_fields(obj: Obj) -> list[Any]:
    spec = as_obj(obj.get("spec"))
    specs = [spec, as_obj(as_obj(spec.get("template")).get("spec"))]
    specs.append(
        as_obj(
            as_obj(as_obj(as_obj(spec.get("jobTemplate")).get("spec")).get("template")).get("spec")
        )
    )
    values: list[Any] = []
    for s in specs:
        for c in as_list(s.get("containers")) + as_list(s.get("initContainers")):
            res = as_obj(as_obj(c).get("resources"))
            for bag in ("limits", "requests"):
                values.extend(as_obj(res.get(bag)).values())
    return values


def decode_error(key: Key, obj: Obj) -> str | None:
    """What upstream's decoder says (400 BadRequest) before validation ever runs.

    ``Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input
    byte 6`` for a Secret whose ``data`` is not base64; the quantity regex message for a
    container resource that is not a quantity.  ``None`` when the object decodes.
    """
    _, kind = _qualified_kind(key, obj)
    res = next((r for r in resources.BUILTIN if r.key == key), None)
    version = res.version if res is not None else "v1"
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    bags: list[Any] = []
    if key == ("", "secrets"):
        bags = [obj.get("data")]
    elif key == ("", "configmaps"):
        bags = [obj.get("binaryData")]
    for bag in bags:
        for k in sorted(as_obj(bag)):
            err = _b64_error(as_obj(bag)[k])
            if err:
                return prefix + err
    for raw in _quantity_fields(obj):
        try:
            parse_quantity(raw)
        except QuantityError as exc:
            return prefix + (str(exc) or QUANTITY_FORMAT_ERROR)
    return None
