"""Name, label, annotation and ObjectMeta rules (apimachinery's ``util/validation`` and
``api/validation``), with upstream's exact messages.

The ``is_*`` functions return upstream's list of problem strings (empty when valid), the
way ``validation.IsDNS1123Subdomain`` does; ``validate_*`` functions return ``Cause``s.
``validate_object_meta`` is what every kind runs on create; ``validate_object_meta_update``
on update (immutable name/namespace/uid/creationTimestamp, resourceVersion required …).
Name generation (``generateName``) happens before validation, as upstream's store does it:
``generate_name`` gives the same shape of name (base cut to 58 characters + 5 random).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pyk8s.api.validation import field
from pyk8s.api.validation.field import Cause, Path

__all__ = [
    "NameFn",
    "generate_name",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_dns1123_subdomain_with_underscore",
    "is_http_header_name",
    "is_label_value",
    "is_qualified_name",
    "is_relaxed_env_var_name",
    "is_valid_ip",
    "is_valid_percent",
    "is_valid_port_name",
    "is_valid_port_num",
    "is_wildcard_dns1123_subdomain",
    "name_is_dns1035_label",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "validate_annotations",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_finalizers",
    "validate_immutable",
    "validate_label_selector",
    "validate_labels",
    "validate_nonnegative",
    "validate_object_meta",
    "validate_object_meta_update",
    "validate_qualified_name",
]

NameFn = Callable[[str, bool], list[str]]

DNS1123_LABEL_MAX: Final = 63
DNS1123_SUBDOMAIN_MAX: Final = 253
TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024
FIELD_IMMUTABLE: Final = "field is immutable"
IS_NEGATIVE: Final = "must be greater than or equal to 0"

_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_US_FMT: Final = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT: Final = _LABEL_FMT + "(\\." + _LABEL_FMT + ")*"
_SUBDOMAIN_US_FMT: Final = _LABEL_US_FMT + "(\\." + _LABEL_US_FMT + ")*"
_DNS1035_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_WILDCARD_FMT: Final = "\\*\\." + _SUBDOMAIN_FMT
_QNAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT: Final = "(" + _QNAME_FMT + ")?"
_CONFIG_KEY_FMT: Final = "[-._a-zA-Z0-9]+"
_PERCENT_FMT: Final = "[0-9]+%"
_HEADER_FMT: Final = "[-A-Za-z0-9]+"

_LABEL_RE: Final = re.compile(f"^{_LABEL_FMT}$")
_SUBDOMAIN_RE: Final = re.compile(f"^{_SUBDOMAIN_FMT}$")
_SUBDOMAIN_US_RE: Final = re.compile(f"^{_SUBDOMAIN_US_FMT}$")
_DNS1035_RE: Final = re.compile(f"^{_DNS1035_FMT}$")
_WILDCARD_RE: Final = re.compile(f"^{_WILDCARD_FMT}$")
_QNAME_RE: Final = re.compile(f"^{_QNAME_FMT}$")
_LABEL_VALUE_RE: Final = re.compile(f"^{_LABEL_VALUE_FMT}$")
_CONFIG_KEY_RE: Final = re.compile(f"^{_CONFIG_KEY_FMT}$")
_PERCENT_RE: Final = re.compile(f"^{_PERCENT_FMT}$")
_HEADER_RE: Final = re.compile(f"^{_HEADER_FMT}$")
_PORT_NAME_CHARSET_RE: Final = re.compile("^[-a-z0-9]+$")
_PORT_NAME_LETTER_RE: Final = re.compile("[a-z]")

_QNAME_ERR: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {ex}, regex used for validation is '{fmt}')"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _full(regex: re.Pattern[str], value: str) -> bool:
    # Go's regexp `$` matches only at the very end; Python's `$` also before a final "\n".
    return regex.fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _full(_LABEL_RE, value):
        if _full(_SUBDOMAIN_RE, value):
            errs.append("must not contain dots")
        else:
            errs.append(
                regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character",
                    _LABEL_FMT,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _full(_SUBDOMAIN_RE, value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1123_subdomain_with_underscore(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _full(_SUBDOMAIN_US_RE, value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '_', '-' or '.', and must start and end with an alphanumeric "
                "character",
                _SUBDOMAIN_US_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _full(_DNS1035_RE, value):
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _full(_WILDCARD_RE, value):
        errs.append(
            regex_error(
                "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                "subdomain, which must consist of lower case alphanumeric characters, '-' or "
                "'.' and end with an alphanumeric character",
                _WILDCARD_FMT,
                "*.example.com",
            )
        )
    return errs


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QNAME_ERR, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part " + max_len_error(63))
    if not _full(_QNAME_RE, name):
        errs.append(
            "name part " + regex_error(_QNAME_ERR, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > 63:
        errs.append(max_len_error(63))
    if not _full(_LABEL_VALUE_RE, value):
        errs.append(
            regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _full(_CONFIG_KEY_RE, value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    errs.extend(_chdir_prefix(value))
    return errs


def is_relaxed_env_var_name(value: str) -> list[str]:
    """RelaxedEnvironmentVariableValidation (beta, on in 1.33): printable ASCII but '='."""
    errs = []
    if not value:
        errs.append("environment variable name must be non-empty")
    for ch in value:
        if ord(ch) > 0x7F or not ch.isprintable() or ch == "=":
            errs.append(
                "a valid environment variable name must consist only of printable ASCII "
                "characters other than '='"
            )
            break
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if len(port.encode()) > 15:
        errs.append(max_len_error(15))
    if not _full(_PORT_NAME_CHARSET_RE, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if _full(_PERCENT_RE, value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            _PERCENT_FMT,
            "1%",
            "93%",
        )
    ]


def is_http_header_name(value: str) -> list[str]:
    if _full(_HEADER_RE, value):
        return []
    return [
        regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'",
            _HEADER_FMT,
            "X-Header-Name",
        )
    ]


def _parse_ipv4_sloppy(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or not p.isascii() or len(p) > 3 or int(p) > 255:
            return False
    return True


def is_valid_ip(value: str) -> bool:
    """``netutils.ParseIPSloppy`` accepts it (IPv4 leading zeros allowed, as in 1.33)."""
    import ipaddress

    if _parse_ipv4_sloppy(value):
        return True
    if ":" not in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return "%" not in value


# --- name functions (ValidateNameFunc) ------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def generate_name(base: str, rng: random.Random | None = None) -> str:
    """``names.SimpleNameGenerator``: base cut to 58 characters plus 5 random ones."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    r = rng or random.SystemRandom()
    return base[:58] + "".join(r.choice(alphabet) for _ in range(5))


# --- Cause-producing validators -------------------------------------------------------


def validate_dns1123_label(value: str, path: Path) -> list[Cause]:
    return [field.invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: Path) -> list[Cause]:
    return [field.invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def validate_qualified_name(value: str, path: Path) -> list[Cause]:
    return [field.invalid(path, value, m) for m in is_qualified_name(value)]


def validate_nonnegative(value: Any, path: Path) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [field.invalid(path, value, IS_NEGATIVE)]
    return []


def validate_immutable(new: Any, old: Any, path: Path, shown: Any = None) -> list[Cause]:
    """``ValidateImmutableField``: ``shown`` is the new value as upstream prints it."""
    if new == old:
        return []
    return [field.invalid(path, new if shown is None else shown, FIELD_IMMUTABLE)]


def validate_labels(labels: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(labels, Mapping):
        return out
    for k in sorted(labels):
        v = labels[k]
        out.extend(field.invalid(path, k, m) for m in is_qualified_name(k))
        v = v if isinstance(v, str) else ""
        out.extend(field.invalid(path, v, m) for m in is_label_value(v))
    return out


def validate_annotations(annotations: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(annotations, Mapping):
        return out
    total = 0
    for k in sorted(annotations):
        out.extend(field.invalid(path, k, m) for m in is_qualified_name(k.lower()))
        v = annotations[k]
        total += len(k.encode()) + len(v.encode() if isinstance(v, str) else b"")
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(field.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def validate_label_selector(
    sel: Any, path: Path, *, allow_invalid_label_value: bool = False
) -> list[Cause]:
    """``metav1validation.ValidateLabelSelector``."""
    out: list[Cause] = []
    if not isinstance(sel, Mapping):
        return out
    out.extend(validate_labels(sel.get("matchLabels"), path.child("matchLabels")))
    exprs = sel.get("matchExpressions")
    for i, e in enumerate(exprs if isinstance(exprs, list) else []):
        e = e if isinstance(e, Mapping) else {}
        ep = path.child("matchExpressions").index(i)
        op = e.get("operator", "")
        raw_values = e.get("values")
        values: list[Any] = raw_values if isinstance(raw_values, list) else []
        if op in ("In", "NotIn"):
            if not values:
                out.append(
                    field.required(
                        ep.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"
                    )
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    field.forbidden(
                        ep.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            out.append(field.invalid(ep.child("operator"), op, "not a valid selector operator"))
        key = e.get("key", "")
        key = key if isinstance(key, str) else ""
        out.extend(field.invalid(ep.child("key"), key, m) for m in is_qualified_name(key))
        if not allow_invalid_label_value:
            for j, v in enumerate(values):
                v = v if isinstance(v, str) else ""
                out.extend(
                    field.invalid(ep.child("values").index(j), v, m) for m in is_label_value(v)
                )
    return out


_STANDARD_FINALIZERS: Final = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def _kube_finalizer_name(value: str, path: Path) -> list[Cause]:
    if "/" not in value and value not in _STANDARD_FINALIZERS:
        return [
            field.invalid(
                path, value, "name is neither a standard finalizer name nor is it fully qualified"
            )
        ]
    return []


def validate_finalizer_name(value: str, path: Path) -> list[Cause]:
    """Namespace ``spec.finalizers``: qualified name plus the standard-name rule."""
    out = [field.invalid(path, value, m) for m in is_qualified_name(value)]
    return out + _kube_finalizer_name(value, path)


def validate_finalizers(finalizers: Any, path: Path, *, kube_rule: bool = True) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(finalizers, list):
        return out
    names = [f if isinstance(f, str) else "" for f in finalizers]
    for name in names:
        out.extend(field.invalid(path, name, m) for m in is_qualified_name(name))
    if "orphan" in names and "foregroundDeletion" in names:
        out.append(
            field.invalid(
                path,
                field.go_str_list(names),
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    # core's ValidateObjectMeta (every built-in kind) adds the legacy standard-name rule;
    # apiextensions' generic one (CRDs and custom resources) does not
    if kube_rule:
        for i, name in enumerate(names):
            out.extend(_kube_finalizer_name(name, path.index(i)))
    return out


def _owner_references(refs: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(refs, list):
        return out
    first_controller = ""
    for ref in refs:
        ref = ref if isinstance(ref, Mapping) else {}
        api_version = str(ref.get("apiVersion", ""))
        version = api_version.rsplit("/", 1)[-1] if api_version else ""
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        kind = str(ref.get("kind", ""))
        if not version:
            out.append(
                field.invalid(path.child("apiVersion"), api_version, "version must not be empty")
            )
        if not kind:
            out.append(field.invalid(path.child("kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            out.append(field.invalid(path.child("name"), "", "name must not be empty"))
        if not ref.get("uid"):
            out.append(field.invalid(path.child("uid"), "", "uid must not be empty"))
        if group == "" and version == "v1" and kind == "Event":
            out.append(
                field.invalid(
                    path,
                    field.GoRepr("owner reference"),
                    "/v1, Kind=Event is disallowed from being an owner",
                )
            )
        if ref.get("controller") is True:
            current = f"{kind}/{ref.get('name', '')}"
            if first_controller:
                out.append(
                    field.invalid(
                        path,
                        field.GoRepr("[]v1.OwnerReference{...}"),
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return out


def validate_object_meta(
    meta: Any,
    *,
    namespaced: bool,
    name_fn: NameFn,
    path: Path | None = None,
    kube_finalizers: bool = True,
) -> list[Cause]:
    """``ValidateObjectMeta`` (apimachinery, plus core's finalizer-name rule)."""
    path = path or Path("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    out: list[Cause] = []
    generate = meta.get("generateName") or ""
    if isinstance(generate, str) and generate:
        out.extend(
            field.invalid(path.child("generateName"), generate, m) for m in name_fn(generate, True)
        )
    name = meta.get("name") or ""
    name = name if isinstance(name, str) else ""
    if not name:
        out.append(field.required(path.child("name"), "name or generateName is required"))
    else:
        out.extend(field.invalid(path.child("name"), name, m) for m in name_fn(name, False))
    ns = meta.get("namespace") or ""
    ns = ns if isinstance(ns, str) else ""
    if namespaced:
        if not ns:
            out.append(field.required(path.child("namespace")))
        else:
            out.extend(
                field.invalid(path.child("namespace"), ns, m) for m in name_is_dns_label(ns, False)
            )
    elif ns:
        out.append(field.forbidden(path.child("namespace"), "not allowed on this type"))
    out.extend(validate_nonnegative(meta.get("generation", 0), path.child("generation")))
    out.extend(validate_labels(meta.get("labels"), path.child("labels")))
    out.extend(validate_annotations(meta.get("annotations"), path.child("annotations")))
    out.extend(_owner_references(meta.get("ownerReferences"), path.child("ownerReferences")))
    out.extend(
        validate_finalizers(
            meta.get("finalizers"), path.child("finalizers"), kube_rule=kube_finalizers
        )
    )
    return out


def validate_object_meta_update(
    new: Any, old: Any, path: Path | None = None, *, kube_finalizers: bool = True
) -> list[Cause]:
    """``ValidateObjectMetaUpdate``: what a PUT may not change in metadata."""
    path = path or Path("metadata")
    new = new if isinstance(new, Mapping) else {}
    old = old if isinstance(old, Mapping) else {}
    out: list[Cause] = []
    if old.get("deletionTimestamp"):
        extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            out.append(
                field.forbidden(
                    path.child("finalizers"),
                    "no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers {field.go_str_list(extra)}",
                )
            )
    if not new.get("resourceVersion"):
        out.append(
            field.invalid(path.child("resourceVersion"), "", "must be specified for an update")
        )
    new_gen, old_gen = new.get("generation", 0) or 0, old.get("generation", 0) or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        out.append(field.invalid(path.child("generation"), new_gen, "must not be decremented"))
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        a, b = new.get(key) or "", old.get(key) or ""
        if a != b:
            shown: Any = a
            if key == "creationTimestamp":
                shown = field.GoRepr(f"v1.Time{{{a}}}" if a else "v1.Time{}")
            out.append(field.invalid(path.child(key), shown, FIELD_IMMUTABLE))
    if new.get("deletionTimestamp") != old.get("deletionTimestamp"):
        a = new.get("deletionTimestamp")
        out.append(field.invalid(path.child("deletionTimestamp"), a, FIELD_IMMUTABLE))
    if new.get("deletionGracePeriodSeconds") != old.get("deletionGracePeriodSeconds"):
        out.append(
            field.invalid(
                path.child("deletionGracePeriodSeconds"),
                new.get("deletionGracePeriodSeconds"),
                FIELD_IMMUTABLE,
            )
        )
    out.extend(validate_labels(new.get("labels"), path.child("labels")))
    out.extend(validate_annotations(new.get("annotations"), path.child("annotations")))
    out.extend(_owner_references(new.get("ownerReferences"), path.child("ownerReferences")))
    fins = new.get("finalizers") if kube_finalizers else None
    for i, name in enumerate(fins if isinstance(fins, list) else []):
        out.extend(
            _kube_finalizer_name(
                name if isinstance(name, str) else "", path.child("finalizers").index(i)
            )
        )
    return out
