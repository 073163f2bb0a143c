"""apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision
(``pkg/apis/apps/validation`` plus the strategies' update rules, upstream messages).

Selectors must match the template's labels; on update the selector is immutable
(``spec.selector: Invalid value: v1.LabelSelector{…}: field is immutable``), and a
StatefulSet may change only replicas, ordinals, template, updateStrategy,
revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.validation import field, names, pod
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "label_selector_error",
    "selector_matches",
    "validate_controller_revision",
    "validate_controller_revision_update",
    "validate_daemon_set",
    "validate_daemon_set_update",
    "validate_deployment",
    "validate_deployment_update",
    "validate_replica_set",
    "validate_replica_set_update",
    "validate_stateful_set",
    "validate_stateful_set_update",
]

_SPEC: Final = Path("spec")
_META: Final = Path("metadata")
_STS_MUTABLE: Final = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def label_selector_error(sel: Any) -> bool:
    """True when ``metav1.LabelSelectorAsSelector`` would fail on ``sel``."""
    sel = as_obj(sel)
    for k, v in as_obj(sel.get("matchLabels")).items():
        if names.is_qualified_name(k) or names.is_label_value(as_str(v)):
            return True
    for e in as_list(sel.get("matchExpressions")):
        e = as_obj(e)
        op, values = e.get("operator"), as_list(e.get("values"))
        if names.is_qualified_name(as_str(e.get("key"))):
            return True
        if op in ("In", "NotIn"):
            if not values or any(names.is_label_value(as_str(v)) for v in values):
                return True
        elif op in ("Exists", "DoesNotExist"):
            if values:
                return True
        else:
            return True
    return False


def selector_matches(sel: Any, labels: Any) -> bool:
    """``LabelSelectorAsSelector(sel).Matches(labels)``; an empty selector matches all."""
    sel, labels = as_obj(sel), as_obj(labels)
    for k, v in as_obj(sel.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for e in as_list(sel.get("matchExpressions")):
        e = as_obj(e)
        key, op = as_str(e.get("key")), e.get("operator")
        values = [as_str(v) for v in as_list(e.get("values"))]
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _selector_empty(sel: Obj) -> bool:
    return not as_obj(sel.get("matchLabels")) and not as_list(sel.get("matchExpressions"))


def _template_labels(spec: Obj) -> Obj | None:
    labels = as_obj(spec.get("template")).get("metadata")
    raw = as_obj(labels).get("labels")
    return raw if isinstance(raw, dict) else None


def _selector_and_template(spec: Obj, kind: str, *, invalid_detail: str) -> list[Cause]:
    """Replicas, selector, selector-matches-template, and the pod template (RS/Deployment)."""
    out: list[Cause] = []
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        out.append(field.required(_SPEC.child("selector")))
    else:
        out.extend(names.validate_label_selector(sel, _SPEC.child("selector")))
        if _selector_empty(sel):
            out.append(
                field.invalid(
                    _SPEC.child("selector"),
                    field.go_selector(sel),
                    f"empty selector is invalid for {kind}",
                )
            )
    tp = _SPEC.child("template")
    if isinstance(sel, dict) and label_selector_error(sel):
        out.append(field.invalid(_SPEC.child("selector"), field.go_selector(sel), invalid_detail))
        return out
    tmpl = as_obj(spec.get("template"))
    if (
        isinstance(sel, dict)
        and not _selector_empty(sel)
        and not selector_matches(sel, _template_labels(spec))
    ):
        out.append(
            field.invalid(
                tp.child("metadata", "labels"),
                field.go_str_map(_template_labels(spec)),
                "`selector` does not match template `labels`",
            )
        )
    out.extend(pod.validate_pod_template_spec(tmpl, tp))
    tspec = as_obj(tmpl.get("spec"))
    restart = as_str(tspec.get("restartPolicy"))
    if restart != "Always":
        out.append(field.not_supported(tp.child("spec", "restartPolicy"), restart, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        label = {"deployment": "ReplicaSet"}.get(kind, kind)
        out.append(
            field.forbidden(
                tp.child("spec", "activeDeadlineSeconds"),
                f"activeDeadlineSeconds in {label} is not Supported",
            )
        )
    return out


def _percent_value(v: Any) -> int | None:
    if isinstance(v, str) and not names.is_valid_percent(v):
        return int(v[:-1])
    return None


def _int_or_percent_value(v: Any) -> int:
    p = _percent_value(v)
    if p is not None:
        return p
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    return 0


def _positive_int_or_percent(v: Any, path: Path) -> list[Cause]:
    if isinstance(v, str):
        return [
            field.invalid(path, field.go_int_or_string(v), m) for m in names.is_valid_percent(v)
        ]
    return names.validate_nonnegative(as_int(v), path)


def _not_more_than_100(v: Any, path: Path) -> list[Cause]:
    p = _percent_value(v)
    if p is not None and p > 100:
        return [field.invalid(path, field.go_int_or_string(v), "must not be greater than 100%")]
    return []


# --- Deployment / ReplicaSet ---------------------------------------------------------------


def _deployment_strategy(strategy: Obj, path: Path) -> list[Cause]:
    stype = as_str(strategy.get("type"))
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if ru is not None:
            return [
                field.forbidden(
                    path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if stype == "RollingUpdate":
        if not isinstance(ru, dict):
            return [
                field.required(
                    path.child("rollingUpdate"), "this should be defaulted and never be nil"
                )
            ]
        rp = path.child("rollingUpdate")
        mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
        out = _positive_int_or_percent(mu, rp.child("maxUnavailable"))
        out.extend(_positive_int_or_percent(ms, rp.child("maxSurge")))
        if _int_or_percent_value(mu) == 0 and _int_or_percent_value(ms) == 0:
            out.append(
                field.invalid(
                    rp.child("maxUnavailable"),
                    field.go_int_or_string(mu),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        out.extend(_not_more_than_100(mu, rp.child("maxUnavailable")))
        return out
    shown = field.GoRepr(
        f"apps.DeploymentStrategy{{Type:{field.go_quote(stype)}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}"
    )
    return [field.not_supported(path, shown, ("Recreate", "RollingUpdate"))]


def _deployment_spec(spec: Obj) -> list[Cause]:
    out = names.validate_nonnegative(as_int(spec.get("replicas")), _SPEC.child("replicas"))
    out.extend(_selector_and_template(spec, "deployment", invalid_detail="invalid label selector"))
    out.extend(_deployment_strategy(as_obj(spec.get("strategy")), _SPEC.child("strategy")))
    mrs = as_int(spec.get("minReadySeconds"))
    out.extend(names.validate_nonnegative(mrs, _SPEC.child("minReadySeconds")))
    rhl = spec.get("revisionHistoryLimit")
    if isinstance(rhl, int):
        out.extend(names.validate_nonnegative(rhl, _SPEC.child("revisionHistoryLimit")))
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int):
        out.extend(names.validate_nonnegative(pds, _SPEC.child("progressDeadlineSeconds")))
        if pds <= mrs:
            out.append(
                field.invalid(
                    _SPEC.child("progressDeadlineSeconds"),
                    pds,
                    "must be greater than minReadySeconds",
                )
            )
    return out


def _meta(obj: Obj, name_fn: names.NameFn = names.name_is_dns_subdomain) -> list[Cause]:
    return names.validate_object_meta(obj.get("metadata"), namespaced=True, name_fn=name_fn)


def _selector_immutable(new: Obj, old: Obj) -> list[Cause]:
    ns, os_ = (
        as_obj(as_obj(new.get("spec")).get("selector")),
        as_obj(as_obj(old.get("spec")).get("selector")),
    )
    return names.validate_immutable(ns, os_, _SPEC.child("selector"), field.go_selector(ns))


def validate_deployment(d: Obj) -> list[Cause]:
    return _meta(d) + _deployment_spec(as_obj(d.get("spec")))


def validate_deployment_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    out.extend(_deployment_spec(as_obj(new.get("spec"))))
    return out + _selector_immutable(new, old)


def _replica_set_spec(spec: Obj) -> list[Cause]:
    out = names.validate_nonnegative(as_int(spec.get("replicas")), _SPEC.child("replicas"))
    out.extend(
        names.validate_nonnegative(
            as_int(spec.get("minReadySeconds")), _SPEC.child("minReadySeconds")
        )
    )
    out.extend(_selector_and_template(spec, "deployment", invalid_detail="invalid label selector"))
    return out


def validate_replica_set(rs: Obj) -> list[Cause]:
    return _meta(rs) + _replica_set_spec(as_obj(rs.get("spec")))


def validate_replica_set_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    out.extend(_replica_set_spec(as_obj(new.get("spec"))))
    return out + _selector_immutable(new, old)


# --- StatefulSet ---------------------------------------------------------------------------


def _stateful_set_spec(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    pmp = as_str(spec.get("podManagementPolicy"))
    if not pmp:
        out.append(field.required(_SPEC.child("podManagementPolicy")))
    elif pmp not in ("OrderedReady", "Parallel"):
        out.append(
            field.invalid(
                _SPEC.child("podManagementPolicy"), pmp, "must be 'OrderedReady' or 'Parallel'"
            )
        )
    us = as_obj(spec.get("updateStrategy"))
    ustype = as_str(us.get("type"))
    up = _SPEC.child("updateStrategy")
    ru = us.get("rollingUpdate")
    if not ustype:
        out.append(field.required(up))
    elif ustype == "OnDelete":
        if ru is not None:
            out.append(
                field.invalid(
                    up.child("rollingUpdate"),
                    field.GoRepr("&apps.RollingUpdateStatefulSetStrategy{...}"),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif ustype == "RollingUpdate":
        if isinstance(ru, dict):
            rp = up.child("rollingUpdate")
            out.extend(
                names.validate_nonnegative(as_int(ru.get("partition")), rp.child("partition"))
            )
            mu = ru.get("maxUnavailable")
            if mu is not None:
                out.extend(_positive_int_or_percent(mu, rp.child("maxUnavailable")))
                if _int_or_percent_value(mu) == 0:
                    out.append(
                        field.invalid(
                            rp.child("maxUnavailable"), field.go_int_or_string(mu), "cannot be 0"
                        )
                    )
                out.extend(_not_more_than_100(mu, rp.child("maxUnavailable")))
    else:
        shown = field.GoRepr(
            f"apps.StatefulSetUpdateStrategy{{Type:{field.go_quote(ustype)}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}}"
        )
        out.append(field.invalid(up, shown, "must be 'RollingUpdate' or 'OnDelete'"))
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(policy, dict):
        pp = _SPEC.child("persistentVolumeClaimRetentionPolicy")
        for key in ("whenDeleted", "whenScaled"):
            v = as_str(policy.get(key))
            if v not in ("Retain", "Delete"):
                out.append(field.not_supported(pp.child(key), v, ("Retain", "Delete")))
    out.extend(names.validate_nonnegative(as_int(spec.get("replicas")), _SPEC.child("replicas")))
    out.extend(
        names.validate_nonnegative(
            as_int(spec.get("minReadySeconds")), _SPEC.child("minReadySeconds")
        )
    )
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        out.extend(
            names.validate_nonnegative(as_int(ordinals.get("start")), _SPEC.child("ordinals.start"))
        )
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        out.append(field.required(_SPEC.child("selector")))
    else:
        out.extend(names.validate_label_selector(sel, _SPEC.child("selector")))
        if _selector_empty(sel):
            out.append(
                field.invalid(
                    _SPEC.child("selector"),
                    field.go_selector(sel),
                    "empty selector is invalid for statefulset",
                )
            )
    tp = _SPEC.child("template")
    tmpl = as_obj(spec.get("template"))
    if isinstance(sel, dict) and label_selector_error(sel):
        out.append(field.invalid(_SPEC.child("selector"), field.go_selector(sel), ""))
    else:
        labels = _template_labels(spec)
        if isinstance(sel, dict) and not _selector_empty(sel) and not selector_matches(sel, labels):
            out.append(
                field.invalid(
                    tp.child("metadata", "labels"),
                    field.go_str_map(labels),
                    "`selector` does not match template `labels`",
                )
            )
        # Upstream checks only the template metadata here, not its PodSpec: mounts of
        # volumeClaimTemplates would look dangling.
        tmeta = as_obj(tmpl.get("metadata"))
        out.extend(names.validate_labels(tmeta.get("labels"), tp.child("labels")))
        out.extend(names.validate_annotations(tmeta.get("annotations"), tp.child("annotations")))
        out.extend(
            pod.validate_pod_annotations(tmeta, as_obj(tmpl.get("spec")), tp.child("annotations"))
        )
    tspec = as_obj(tmpl.get("spec"))
    restart = as_str(tspec.get("restartPolicy"))
    if restart != "Always":
        out.append(field.not_supported(tp.child("spec", "restartPolicy"), restart, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(
            field.forbidden(
                tp.child("spec", "activeDeadlineSeconds"),
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    return out


def validate_stateful_set(sts: Obj) -> list[Cause]:
    return _meta(sts, names.name_is_dns_label) + _stateful_set_spec(as_obj(sts.get("spec")))


def validate_stateful_set_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    ns, os_ = as_obj(new.get("spec")), as_obj(old.get("spec"))
    out.extend(_stateful_set_spec(ns))
    if {k: v for k, v in ns.items() if k not in _STS_MUTABLE} != {
        k: v for k, v in os_.items() if k not in _STS_MUTABLE
    }:
        listed = ", ".join(f"'{k}'" for k in _STS_MUTABLE[:-1])
        out.append(
            field.forbidden(
                _SPEC,
                f"updates to statefulset spec for fields other than {listed} and 'minReadySeconds' are forbidden",
            )
        )
    return out


# --- DaemonSet ------------------------------------------------------------------------------


def _daemon_set_spec(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        out.append(field.required(_SPEC.child("selector")))
    else:
        out.extend(names.validate_label_selector(sel, _SPEC.child("selector")))
    labels = _template_labels(spec)
    if (
        isinstance(sel, dict)
        and not label_selector_error(sel)
        and not selector_matches(sel, labels)
    ):
        out.append(
            field.invalid(
                _SPEC.child("template", "metadata", "labels"),
                field.go_str_map(labels),
                "`selector` does not match template `labels`",
            )
        )
    if isinstance(sel, dict) and _selector_empty(sel):
        out.append(
            field.invalid(
                _SPEC.child("selector"),
                field.go_selector(sel),
                "empty selector is invalid for daemonset",
            )
        )
    tp = _SPEC.child("template")
    tmpl = as_obj(spec.get("template"))
    out.extend(pod.validate_pod_template_spec(tmpl, tp))
    tspec = as_obj(tmpl.get("spec"))
    restart = as_str(tspec.get("restartPolicy"))
    if restart != "Always":
        out.append(field.not_supported(tp.child("spec", "restartPolicy"), restart, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(
            field.forbidden(
                tp.child("spec", "activeDeadlineSeconds"),
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    out.extend(
        names.validate_nonnegative(
            as_int(spec.get("minReadySeconds")), _SPEC.child("minReadySeconds")
        )
    )
    us = as_obj(spec.get("updateStrategy"))
    up = _SPEC.child("updateStrategy")
    ustype = as_str(us.get("type"))
    if ustype == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if not isinstance(ru, dict):
            out.append(field.required(up.child("rollingUpdate")))
        else:
            rp = up.child("rollingUpdate")
            mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
            out.extend(_positive_int_or_percent(mu, rp.child("maxUnavailable")))
            out.extend(_positive_int_or_percent(ms, rp.child("maxSurge")))
            out.extend(_not_more_than_100(mu, rp.child("maxUnavailable")))
            out.extend(_not_more_than_100(ms, rp.child("maxSurge")))
            has_u, has_s = _int_or_percent_value(mu) != 0, _int_or_percent_value(ms) != 0
            if has_u and has_s:
                out.append(
                    field.invalid(
                        rp.child("maxSurge"),
                        field.go_int_or_string(ms),
                        "may not be set when maxUnavailable is non-zero",
                    )
                )
            elif not has_u and not has_s:
                out.append(
                    field.required(rp.child("maxUnavailable"), "cannot be 0 when maxSurge is 0")
                )
    elif ustype != "OnDelete":
        shown = field.GoRepr(
            f"&apps.DaemonSetUpdateStrategy{{Type:{field.go_quote(ustype)}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}"
        )
        out.append(field.not_supported(up, shown, ("RollingUpdate", "OnDelete")))
    rhl = spec.get("revisionHistoryLimit")
    if isinstance(rhl, int):
        out.extend(names.validate_nonnegative(rhl, _SPEC.child("revisionHistoryLimit")))
    return out


def validate_daemon_set(ds: Obj) -> list[Cause]:
    return _meta(ds) + _daemon_set_spec(as_obj(ds.get("spec")))


def validate_daemon_set_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    out.extend(_daemon_set_spec(as_obj(new.get("spec"))))
    return out + _selector_immutable(new, old)


# --- ControllerRevision ---------------------------------------------------------------------


def validate_controller_revision(cr: Obj) -> list[Cause]:
    out = _meta(cr)
    if cr.get("data") is None:
        out.append(field.required(Path("data"), "data is mandatory"))
    out.extend(names.validate_nonnegative(as_int(cr.get("revision")), Path("revision")))
    return out


def validate_controller_revision_update(new: Obj, old: Obj) -> list[Cause]:
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    out.extend(validate_controller_revision(new))
    if new.get("data") != old.get("data"):
        out.append(
            field.invalid(
                Path("data"), field.GoRepr("runtime.RawExtension{...}"), names.FIELD_IMMUTABLE
            )
        )
    return out
