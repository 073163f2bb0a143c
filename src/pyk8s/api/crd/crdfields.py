"""Rules for the smaller parts of a CRD, with upstream's messages.

Names (``spec.names`` and ``status.acceptedNames``: DNS-1035 plural/singular/short names/
categories, mixed-case kinds, kind != listKind), printer columns (type, format, a JSONPath
starting with ``.``), the scale subresource's paths, conversion (strategy ``None`` or
``Webhook`` with its client config and review versions), ``status.storedVersions``, the
API-approval annotation of protected groups (``*.k8s.io``, ``*.kubernetes.io``) and the
ban on ``spec.preserveUnknownFields: true``. Each function returns ``Cause``s for the
part at the given path; ``definition`` strings them together in upstream's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "deprecation_errors",
    "dns1035",
    "required_enum",
    "validate_approval",
    "validate_column",
    "validate_conversion",
    "validate_names",
    "validate_preserve_unknown_fields",
    "validate_status",
    "validate_subresources",
]

Obj = Mapping[str, Any]

_COLUMN_TYPES: Final = ("boolean", "date", "integer", "number", "string")
_COLUMN_FORMATS: Final = (
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
)
_REVIEW_VERSIONS: Final = ("v1", "v1beta1")
_APPROVAL: Final = "api-approved.kubernetes.io"


def dns1035(value: str, path: Path) -> list[Cause]:
    errs = names.is_dns1035_label(value)
    return [field.invalid(path, value, ",".join(errs))] if errs else []


def required_enum(path: Path, value: str, allowed: tuple[str, ...]) -> list[Cause]:
    if not value:
        return [field.required(path)]
    return [] if value in allowed else [field.not_supported(path, value, allowed)]


def deprecation_errors(v: Obj, warning: str) -> list[str]:
    if v.get("deprecated") is not True:
        return ["can only be set for deprecated versions"]
    errs = []
    if len(warning.encode()) > 256:
        errs.append("must be <= 256 characters long")
    if not warning:
        errs.append("must not be an empty string")
    for i, ch in enumerate(warning):
        if not ch.isprintable():
            errs.append(
                "must only contain printable UTF-8 characters; non-printable character found at "
                f"index {len(warning[:i].encode())}"
            )
            break
    return errs


def validate_names(names_: Mapping[str, Any], path: Path) -> list[Cause]:
    out: list[Cause] = []
    for key in ("plural", "singular"):
        value = as_str(names_.get(key))
        if value:
            out += dns1035(value, path.child(key))
    for key in ("kind", "listKind"):
        value = as_str(names_.get(key))
        errs = names.is_dns1035_label(value.lower()) if value else []
        if errs:
            out.append(
                field.invalid(
                    path.child(key),
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(errs),
                )
            )
    for i, short in enumerate(as_list(names_.get("shortNames"))):
        out += dns1035(as_str(short), path.child("shortNames").index(i))
    kind, list_kind = as_str(names_.get("kind")), as_str(names_.get("listKind"))
    if kind and kind == list_kind:
        out.append(
            field.invalid(
                path.child("listKind"), list_kind, "kind and listKind may not be the same"
            )
        )
    for i, category in enumerate(as_list(names_.get("categories"))):
        out += dns1035(as_str(category), path.child("categories").index(i))
    return out


def _simple_json_path(value: str, path: Path) -> list[Cause]:
    if not value:
        return [field.invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [field.invalid(path, value, "must be a simple json path starting with .")]
    return []


def validate_column(col: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if not col.get("name"):
        out.append(field.required(path.child("name")))
    type_ = as_str(col.get("type"))
    must = "must be one of " + ",".join(_COLUMN_TYPES)
    if not type_:
        out.append(field.required(path.child("type"), must))
    elif type_ not in _COLUMN_TYPES:
        out.append(field.invalid(path.child("type"), type_, must))
    fmt = as_str(col.get("format"))
    if fmt and fmt not in _COLUMN_FORMATS:
        out.append(
            field.invalid(path.child("format"), fmt, "must be one of " + ",".join(_COLUMN_FORMATS))
        )
    json_path = as_str(col.get("jsonPath"))
    if not json_path:
        out.append(field.required(path.child("JSONPath")))
    else:
        out += _simple_json_path(json_path, path.child("JSONPath"))
    return out


def validate_subresources(subs: Any, path: Path) -> list[Cause]:
    scale = as_obj(subs).get("scale") if isinstance(subs, Mapping) else None
    if not isinstance(scale, Mapping):
        return []
    out: list[Cause] = []
    for key, prefix, where in (
        ("specReplicasPath", ".spec.", "should be a json path under .spec"),
        ("statusReplicasPath", ".status.", "should be a json path under .status"),
    ):
        value, p = as_str(scale.get(key)), path.child(f"scale.{key}")
        if not value:
            out.append(field.required(p))
        elif errs := _simple_json_path(value, p):
            out += errs
        elif not value.startswith(prefix):
            out.append(field.invalid(p, value, where))
    selector = as_str(scale.get("labelSelectorPath"))
    if selector:
        p = path.child("scale.labelSelectorPath")
        if errs := _simple_json_path(selector, p):
            out += errs
        elif not selector.startswith((".spec.", ".status.")):
            out.append(
                field.invalid(p, selector, "should be a json path under either .spec or .status")
            )
    return out


def validate_conversion(conversion: Mapping[str, Any], path: Path) -> list[Cause]:
    strategy = as_str(conversion.get("strategy"))
    out = required_enum(path.child("strategy"), strategy, ("None", "Webhook"))
    webhook = as_obj(conversion.get("webhook"))
    review = as_list(webhook.get("conversionReviewVersions"))
    config = webhook.get("clientConfig")
    if strategy == "Webhook":
        wpath = path.child("webhookClientConfig")
        if not isinstance(config, Mapping):
            out.append(field.required(wpath, "required when strategy is set to Webhook"))
        elif (config.get("url") is None) == (config.get("service") is None):
            out.append(field.required(wpath, "exactly one of url or service is required"))
        rpath = path.child("conversionReviewVersions")
        if not review:
            out.append(field.required(rpath))
        else:
            seen: set[str] = set()
            for i, rv in enumerate(as_str(r) for r in review):
                if rv in seen:
                    out.append(field.invalid(rpath.index(i), rv, "duplicate version"))
                    continue
                seen.add(rv)
                out += [field.invalid(rpath.index(i), rv, e) for e in names.is_dns1035_label(rv)]
            if not seen & set(_REVIEW_VERSIONS):
                out.append(
                    field.invalid(
                        rpath,
                        field.go_str_list([as_str(r) for r in review]),
                        "must include at least one of v1, v1beta1",
                    )
                )
    else:
        if config is not None:
            out.append(
                field.forbidden(
                    path.child("webhookClientConfig"),
                    "should not be set when strategy is not set to Webhook",
                )
            )
        if review:
            out.append(
                field.forbidden(
                    path.child("conversionReviewVersions"),
                    "should not be set when strategy is not set to Webhook",
                )
            )
    return out


def validate_status(crd: Mapping[str, Any]) -> list[Cause]:
    status = as_obj(crd.get("status"))
    out = validate_names(as_obj(status.get("acceptedNames")), Path("status", "acceptedNames"))
    path = Path("status", "storedVersions")
    raw = status.get("storedVersions")
    stored = [as_str(s) for s in as_list(raw)]
    shown = field.go_str_list(stored if isinstance(raw, list) else None)
    if not stored:
        return [*out, field.invalid(path, shown, "must have at least one stored version")]
    remaining = dict.fromkeys(stored)
    for v in as_list(as_obj(crd.get("spec")).get("versions")):
        name = as_str(as_obj(v).get("name"))
        if as_obj(v).get("storage") is True and name not in remaining:
            out.append(field.invalid(path, shown, "must have the storage version " + name))
        remaining.pop(name, None)
    for name in remaining:
        out.append(
            field.invalid(
                path.index(stored.index(name)),
                name,
                f"missing from spec.versions; {name} was previously a storage version, and must remain in "
                f"spec.versions until a storage migration ensures no data remains persisted in {name} and "
                f"removes {name} from status.storedVersions",
            )
        )
    return out


def _approval_state(crd: Mapping[str, Any]) -> tuple[str, str]:
    annotation = as_str(as_obj(as_obj(crd.get("metadata")).get("annotations")).get(_APPROVAL))
    see = "see https://github.com/kubernetes/enhancements/pull/1111"
    if not annotation:
        return "missing", f'protected groups must have approval annotation "{_APPROVAL}", {see}'
    if annotation.startswith("unapproved"):
        return "bypassed", f"not approved: {field.go_quote(annotation)}"
    scheme, sep, rest = annotation.partition("://")
    if sep and scheme and rest.split("/", 1)[0]:
        return "approved", f"approved in {annotation}"
    return "invalid", (
        f'protected groups must have approval annotation "{_APPROVAL}" with either a URL or a '
        f'reason starting with "unapproved", {see}'
    )


def validate_approval(crd: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    group = as_str(as_obj(crd.get("spec")).get("group"))
    protected = group in ("k8s.io", "kubernetes.io") or group.endswith(
        (".k8s.io", ".kubernetes.io")
    )
    if not protected:
        return []
    state, reason = _approval_state(crd)
    if old is not None and _approval_state(old)[0] == state:
        return []
    path = Path("metadata", "annotations").key(_APPROVAL)
    annotation = as_str(as_obj(as_obj(crd.get("metadata")).get("annotations")).get(_APPROVAL))
    if state == "missing":
        return [field.required(path, reason)]
    if state == "invalid":
        return [field.invalid(path, annotation, reason)]
    return []


def validate_preserve_unknown_fields(
    crd: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[Cause]:
    if old is not None and as_obj(old.get("spec")).get("preserveUnknownFields") is True:
        return []
    if as_obj(crd.get("spec")).get("preserveUnknownFields") is True:
        return [
            field.invalid(
                Path("spec", "preserveUnknownFields"),
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        ]
    return []
