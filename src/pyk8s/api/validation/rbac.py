"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding
(``pkg/apis/rbac/validation``, upstream messages).  Names are path segments, not DNS
names (``system:controller:foo`` is valid); a binding's ``roleRef`` never changes."""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path
from pyk8s.api.validation.networking import is_valid_path_segment_name

__all__ = [
    "validate_binding",
    "validate_binding_update",
    "validate_role",
    "validate_role_update",
]

GROUP: Final = "rbac.authorization.k8s.io"


def _rbac_name(name: str, prefix: bool) -> list[str]:
    return is_valid_path_segment_name(name)


def _rule(rule: Obj, namespaced: bool, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if not as_list(rule.get("verbs")):
        out.append(field.required(path.child("verbs"), "verbs must contain at least one value"))
    urls = as_list(rule.get("nonResourceURLs"))
    if urls:
        shown = field.go_str_list(urls)
        if namespaced:
            out.append(
                field.invalid(
                    path.child("nonResourceURLs"),
                    shown,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if (
            as_list(rule.get("apiGroups"))
            or as_list(rule.get("resources"))
            or as_list(rule.get("resourceNames"))
        ):
            out.append(
                field.invalid(
                    path.child("nonResourceURLs"),
                    shown,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return out
    if not as_list(rule.get("apiGroups")):
        out.append(
            field.required(
                path.child("apiGroups"), "resource rules must supply at least one api group"
            )
        )
    if not as_list(rule.get("resources")):
        out.append(
            field.required(
                path.child("resources"), "resource rules must supply at least one resource"
            )
        )
    return out


def validate_role(role: Obj, *, namespaced: bool) -> list[Cause]:
    out = names.validate_object_meta(
        role.get("metadata"), namespaced=namespaced, name_fn=_rbac_name
    )
    for i, rule in enumerate(as_list(role.get("rules"))):
        out.extend(_rule(as_obj(rule), namespaced, Path("rules").index(i)))
    agg = role.get("aggregationRule")
    if not namespaced and isinstance(agg, dict):
        for i, sel in enumerate(as_list(agg.get("clusterRoleSelectors"))):
            out.extend(
                names.validate_label_selector(
                    sel, Path("aggregationRule", "clusterRoleSelectors").index(i)
                )
            )
    return out


def validate_role_update(new: Obj, old: Obj, *, namespaced: bool) -> list[Cause]:
    out = validate_role(new, namespaced=namespaced)
    return out + names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))


def _subject(subject: Obj, namespaced: bool, path: Path) -> list[Cause]:
    out: list[Cause] = []
    name, kind, group = (
        as_str(subject.get("name")),
        as_str(subject.get("kind")),
        as_str(subject.get("apiGroup")),
    )
    if not name:
        out.append(field.required(path.child("name")))
    if kind == "ServiceAccount":
        if name:
            out.extend(
                field.invalid(path.child("name"), name, m) for m in names.is_dns1123_subdomain(name)
            )
        if group:
            out.append(field.not_supported(path.child("apiGroup"), group, ("",)))
        if not namespaced and not as_str(subject.get("namespace")):
            out.append(field.required(path.child("namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            out.append(field.not_supported(path.child("apiGroup"), group, (GROUP,)))
    else:
        out.append(
            field.not_supported(path.child("kind"), kind, ("ServiceAccount", "User", "Group"))
        )
    return out


def validate_binding(binding: Obj, *, namespaced: bool) -> list[Cause]:
    out = names.validate_object_meta(
        binding.get("metadata"), namespaced=namespaced, name_fn=_rbac_name
    )
    ref = as_obj(binding.get("roleRef"))
    rp = Path("roleRef")
    if as_str(ref.get("apiGroup")) != GROUP:
        out.append(field.not_supported(rp.child("apiGroup"), as_str(ref.get("apiGroup")), (GROUP,)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if as_str(ref.get("kind")) not in kinds:
        out.append(field.not_supported(rp.child("kind"), as_str(ref.get("kind")), kinds))
    rname = as_str(ref.get("name"))
    if not rname:
        out.append(field.required(rp.child("name")))
    else:
        out.extend(
            field.invalid(rp.child("name"), rname, m) for m in is_valid_path_segment_name(rname)
        )
    for i, s in enumerate(as_list(binding.get("subjects"))):
        out.extend(_subject(as_obj(s), namespaced, Path("subjects").index(i)))
    return out


def _go_role_ref(ref: Any) -> field.GoRepr:
    ref = as_obj(ref)
    return field.GoRepr(
        "rbac.RoleRef{"
        f"APIGroup:{field.go_quote(as_str(ref.get('apiGroup')))}, "
        f"Kind:{field.go_quote(as_str(ref.get('kind')))}, "
        f"Name:{field.go_quote(as_str(ref.get('name')))}}}"
    )


def validate_binding_update(new: Obj, old: Obj, *, namespaced: bool) -> list[Cause]:
    out = validate_binding(new, namespaced=namespaced)
    out.extend(names.validate_object_meta_update(new.get("metadata"), old.get("metadata")))
    if as_obj(new.get("roleRef")) != as_obj(old.get("roleRef")):
        out.append(
            field.invalid(
                Path("roleRef"), _go_role_ref(new.get("roleRef")), "cannot change roleRef"
            )
        )
    return out
