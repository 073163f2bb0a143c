"""Validation of admissionregistration.k8s.io/v1 Mutating- and
ValidatingWebhookConfigurations, as upstream 1.33's
``pkg/apis/admissionregistration/validation`` and ``apiserver/pkg/util/webhook``
(``ValidateWebhookURL``, ``ValidateWebhookService``) do it, with their messages.

``validate_webhook_configuration(obj, mutating=…)`` is the create check;
``validate_webhook_configuration_update(new, old, mutating=…)`` the update check, which
(as upstream) keeps accepting what the stored object already had: side effects other than
``None``/``NoneOnDryRun``, unknown review versions, duplicate webhook names and invalid
label values in selectors stay allowed only if the old object had them. Objects are
defaulted JSON (``pyk8s.api.defaults_admission``); ``matchConditions`` (CEL) are not
checked.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path, go_quote, go_str_list

__all__ = ["validate_webhook_configuration", "validate_webhook_configuration_update"]

REVIEW_VERSIONS: Final = ("v1", "v1beta1")
_FAILURE_POLICIES: Final = ("Fail", "Ignore")
_MATCH_POLICIES: Final = ("Equivalent", "Exact")
_SIDE_EFFECTS: Final = ("None", "NoneOnDryRun", "Some", "Unknown")
_NO_SIDE_EFFECTS: Final = ("None", "NoneOnDryRun")
_OPERATIONS: Final = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
_REINVOCATION: Final = ("IfNeeded", "Never")
_SCOPES: Final = ("*", "Cluster", "Namespaced")
_URL_FORM: Final = "; desired format: https://host[/path]"
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2}).{0,2}")


@dataclass(frozen=True, slots=True)
class _Options:
    require_no_side_effects: bool = True
    require_recognized_version: bool = True
    require_unique_names: bool = True
    allow_invalid_label_value: bool = False


def validate_webhook_configuration(obj: Obj, *, mutating: bool) -> list[Cause]:
    """``Validate{Mutating,Validating}WebhookConfiguration``."""
    return _validate(obj, _Options(), mutating=mutating)


def validate_webhook_configuration_update(new: Obj, old: Obj, *, mutating: bool) -> list[Cause]:
    """ObjectMeta update rules, then ``Validate…WebhookConfigurationUpdate``."""
    hooks = [as_obj(h) for h in as_list(old.get("webhooks"))]
    hook_names = [h.get("name") for h in hooks]
    opts = _Options(
        require_no_side_effects=all(h.get("sideEffects") in _NO_SIDE_EFFECTS for h in hooks),
        require_recognized_version=all(
            not as_list(h.get("admissionReviewVersions"))
            or any(v in REVIEW_VERSIONS for v in as_list(h.get("admissionReviewVersions")))
            for h in hooks
        ),
        require_unique_names=len(set(map(str, hook_names))) == len(hook_names),
        allow_invalid_label_value=any(
            isinstance(h.get(key), Mapping) and names.validate_label_selector(h[key], Path(key))
            for h in hooks
            for key in ("namespaceSelector", "objectSelector")
        ),
    )
    out = names.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    return out + _validate(new, opts, mutating=mutating)


def _validate(obj: Obj, opts: _Options, *, mutating: bool) -> list[Cause]:
    out = names.validate_object_meta(
        obj.get("metadata"), namespaced=False, name_fn=names.name_is_dns_subdomain
    )
    seen: set[str] = set()
    for i, hook in enumerate(as_list(obj.get("webhooks"))):
        path = Path("webhooks").index(i)
        hook = as_obj(hook)
        out += _webhook(hook, opts, path, mutating=mutating)
        out += _review_versions(
            hook.get("admissionReviewVersions"), opts, path.child("admissionReviewVersions")
        )
        name = as_str(hook.get("name"))
        if opts.require_unique_names and name:
            if name in seen:
                out.append(field.duplicate(path.child("name"), name))
            seen.add(name)
    return out


def _fully_qualified_name(name: str, path: Path) -> list[Cause]:
    """``utilvalidation.IsFullyQualifiedName``."""
    if not name:
        return [field.required(path)]
    if errs := names.is_dns1123_subdomain(name):
        return [field.invalid(path, name, ",".join(errs))]
    if len(name.split(".")) < 3:
        return [
            field.invalid(
                path, name, "should be a domain with at least three segments separated by dots"
            )
        ]
    return []


def _webhook(hook: Obj, opts: _Options, path: Path, *, mutating: bool) -> list[Cause]:
    out = _fully_qualified_name(as_str(hook.get("name")), path.child("name"))
    for j, rule in enumerate(as_list(hook.get("rules"))):
        out += _rule_with_operations(as_obj(rule), path.child("rules").index(j))
    for key, supported in (("failurePolicy", _FAILURE_POLICIES), ("matchPolicy", _MATCH_POLICIES)):
        value = hook.get(key)
        if value is not None and value not in supported:
            out.append(field.not_supported(path.child(key), value, supported))
    allowed = _NO_SIDE_EFFECTS if opts.require_no_side_effects else _SIDE_EFFECTS
    side = hook.get("sideEffects")
    if side is None:
        out.append(
            field.required(path.child("sideEffects"), f"must specify one of {', '.join(allowed)}")
        )
    elif side not in allowed:
        out.append(field.not_supported(path.child("sideEffects"), side, allowed))
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not isinstance(timeout, bool) and not 1 <= timeout <= 30:
        out.append(
            field.invalid(
                path.child("timeoutSeconds"),
                timeout,
                "the timeout value must be between 1 and 30 seconds",
            )
        )
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            out += names.validate_label_selector(
                hook[key],
                path.child(key),
                allow_invalid_label_value=opts.allow_invalid_label_value,
            )
    policy = hook.get("reinvocationPolicy")
    if mutating and policy is not None and policy not in _REINVOCATION:
        out.append(field.not_supported(path.child("reinvocationPolicy"), policy, _REINVOCATION))
    out += _client_config(as_obj(hook.get("clientConfig")), path.child("clientConfig"))
    return out


def _rule_with_operations(rule: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    ops = as_list(rule.get("operations"))
    if not ops:
        out.append(field.required(path.child("operations")))
    if len(ops) > 1 and "*" in ops:
        out.append(
            field.invalid(
                path.child("operations"),
                go_str_list(ops, "admissionregistration.OperationType"),
                "if '*' is present, must not specify other operations",
            )
        )
    for i, op in enumerate(ops):
        if op not in _OPERATIONS:
            out.append(field.not_supported(path.child("operations").index(i), op, _OPERATIONS))
    return out + _rule(rule, path)


def _rule(rule: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    for key, what in (("apiGroups", "API groups"), ("apiVersions", "API versions")):
        items = as_list(rule.get(key))
        if not items:
            out.append(field.required(path.child(key)))
        if len(items) > 1 and "*" in items:
            out.append(
                field.invalid(
                    path.child(key),
                    go_str_list(items),
                    f"if '*' is present, must not specify other {what}",
                )
            )
    for i, version in enumerate(as_list(rule.get("apiVersions"))):
        if version == "":
            out.append(field.required(path.child("apiVersions").index(i)))
    out += _resources(as_list(rule.get("resources")), path.child("resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in _SCOPES:
        out.append(field.not_supported(path.child("scope"), scope, _SCOPES))
    return out


def _resources(resources: list[Any], path: Path) -> list[Cause]:
    """``validateResources`` (subresources allowed), quirks included."""
    out: list[Cause] = []
    if not resources:
        out.append(field.required(path))
    wildcard_sub: set[str] = set()  # x/*
    wildcard_res: set[str] = set()  # */x
    double = single = plain = False
    for i, entry in enumerate(resources):
        entry = as_str(entry)
        if entry == "":
            out.append(field.required(path.index(i)))
            continue
        double = double or entry == "*/*"
        single = single or entry == "*"
        if "/" not in entry:
            plain = entry != "*"
            continue
        res, sub = entry.split("/", 1)
        if res in wildcard_sub:
            out.append(
                field.invalid(
                    path.index(i), entry, f"if '{res}/*' is present, must not specify {entry}"
                )
            )
        if sub in wildcard_res:
            out.append(
                field.invalid(
                    path.index(i), entry, f"if '*/{sub}' is present, must not specify {entry}"
                )
            )
        if sub == "*":
            wildcard_sub.add(res)
        if res == "*":
            wildcard_res.add(sub)
    if len(resources) > 1 and double:
        out.append(
            field.invalid(
                path,
                go_str_list(resources),
                "if '*/*' is present, must not specify other resources",
            )
        )
    if single and plain:
        out.append(
            field.invalid(
                path,
                go_str_list(resources),
                "if '*' is present, must not specify other resources without subresources",
            )
        )
    return out


def _review_versions(versions: Any, opts: _Options, path: Path) -> list[Cause]:
    accepted = ", ".join(REVIEW_VERSIONS)
    items = as_list(versions)
    if not items:
        return [field.required(path, f"must specify one of {accepted}")]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, v in enumerate(items):
        v = as_str(v)
        if v in seen:
            out.append(field.invalid(path.index(i), v, "duplicate version"))
            continue
        seen.add(v)
        out += [field.invalid(path.index(i), v, m) for m in names.is_dns1035_label(v)]
    if opts.require_recognized_version and not seen & set(REVIEW_VERSIONS):
        out.append(
            field.invalid(path, go_str_list(items), f"must include at least one of {accepted}")
        )
    return out


def _client_config(cc: Obj, path: Path) -> list[Cause]:
    url, service = cc.get("url"), cc.get("service")
    if (url is None) == (service is None):
        return [field.required(path, "exactly one of url or service is required")]
    if url is not None:
        return _webhook_url(as_str(url), path.child("url"))
    svc = as_obj(service)
    port = svc.get("port")
    port = port if isinstance(port, int) and not isinstance(port, bool) else 443
    return _webhook_service(
        as_str(svc.get("namespace")),
        as_str(svc.get("name")),
        svc.get("path") if isinstance(svc.get("path"), str) else None,
        port,
        path.child("service"),
    )


def _parse_url_error(url: str) -> str | None:
    """What Go's ``url.Parse`` would reject (the common cases)."""
    prefix = f"parse {go_quote(url)}: "
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return prefix + "net/url: invalid control character in URL"
    if url.startswith(":"):
        return prefix + "missing protocol scheme"
    if bad := _BAD_ESCAPE.search(url):
        return prefix + f"invalid URL escape {go_quote(bad.group(0))}"
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return prefix + "missing ']' in host"
    host = parts.netloc.rpartition("@")[2]
    for ch in host:
        if ch in ' <>"{}|\\^`' or ord(ch) > 0x7E:
            return prefix + f"invalid character {go_quote(ch)} in host name"
    return None


def _webhook_url(url: str, path: Path) -> list[Cause]:
    """``webhook.ValidateWebhookURL(path, url, forceHttps=true)``."""
    if (err := _parse_url_error(url)) is not None:
        return [field.required(path, "url must be a valid URL: " + err + _URL_FORM)]
    parts = urllib.parse.urlsplit(url)
    out: list[Cause] = []
    if parts.scheme != "https":
        out.append(
            field.invalid(path, parts.scheme, "'https' is the only allowed URL scheme" + _URL_FORM)
        )
    user, at, host = parts.netloc.rpartition("@")
    if not host:
        out.append(field.invalid(path, host, "host must be specified" + _URL_FORM))
    if at:
        out.append(field.invalid(path, user, "user information is not permitted in the URL"))
    if parts.fragment:
        out.append(field.invalid(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        out.append(
            field.invalid(path, parts.query, "query parameters are not permitted in the URL")
        )
    return out


def _webhook_service(
    namespace: str, name: str, url_path: str | None, port: int, path: Path
) -> list[Cause]:
    """``webhook.ValidateWebhookService``."""
    out: list[Cause] = []
    if not name:
        out.append(field.required(path.child("name"), "service name is required"))
    if not namespace:
        out.append(field.required(path.child("namespace"), "service namespace is required"))
    if errs := names.is_valid_port_num(port):
        out.append(field.invalid(path.child("port"), port, "port is not valid: " + ", ".join(errs)))
    if url_path is None or url_path in ("", "/"):
        return out
    at = path.child("path")
    if url_path == "//":
        return [*out, field.invalid(at, url_path, "segment[0] may not be empty")]
    if not url_path.startswith("/"):
        out.append(field.invalid(at, url_path, "must start with a '/'"))
    check = url_path[1:]
    if check.endswith("/"):
        check = check[:-1]
    for i, step in enumerate(check.split("/")):
        if not step:
            out.append(field.invalid(at, url_path, f"segment[{i}] may not be empty"))
            continue
        out += [
            field.invalid(at, url_path, f"segment[{i}]: {m}")
            for m in names.is_dns1123_subdomain(step)
        ]
    return out
