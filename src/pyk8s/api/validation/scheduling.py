"""Pod scheduling fields: tolerations, affinity, node selectors, topology spread, and the
pod and container security contexts (core validation, upstream messages)."""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.validation import field, names
from pyk8s.api.validation.access import Obj, as_int, as_list, as_obj, as_str
from pyk8s.api.validation.field import Cause, Path
from pyk8s.api.validation.volumes import validate_local_descending_path

__all__ = [
    "validate_affinity",
    "validate_node_selector",
    "validate_pod_security_context",
    "validate_security_context",
    "validate_taint_effect",
    "validate_tolerations",
    "validate_topology_spread",
]

_TAINT_EFFECTS: Final = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_MAX_ID: Final = 0xFFFFFFFF


def validate_taint_effect(effect: str, path: Path, *, allow_empty: bool) -> list[Cause]:
    if not allow_empty and not effect:
        return [field.required(path)]
    if effect not in _TAINT_EFFECTS:
        return [field.not_supported(path, effect, _TAINT_EFFECTS)]
    return []


def validate_tolerations(tolerations: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    for i, t in enumerate(as_list(tolerations)):
        t = as_obj(t)
        ip = path.index(i)
        key, op = as_str(t.get("key")), as_str(t.get("operator"))
        value, effect = as_str(t.get("value")), as_str(t.get("effect"))
        if key:
            out.extend(field.invalid(ip.child("key"), key, m) for m in names.is_qualified_name(key))
        if not key and op != "Exists":
            out.append(
                field.invalid(
                    ip.child("operator"),
                    op,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            out.append(
                field.invalid(
                    ip.child("effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if op in ("Equal", ""):
            errs = names.is_label_value(value)
            if errs:
                out.append(field.invalid(ip.child("operator"), value, ";".join(errs)))
        elif op == "Exists":
            if value:
                out.append(
                    field.invalid(
                        ip.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            out.append(field.not_supported(ip.child("operator"), op, ("Equal", "Exists")))
        if effect:
            out.extend(validate_taint_effect(effect, ip.child("effect"), allow_empty=True))
    return out


def _node_selector_requirement(rq: Obj, path: Path, *, check_values: bool) -> list[Cause]:
    out: list[Cause] = []
    op = as_str(rq.get("operator"))
    values = as_list(rq.get("values"))
    if op in ("In", "NotIn"):
        if not values:
            out.append(
                field.required(
                    path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif op in ("Exists", "DoesNotExist"):
        if values:
            out.append(
                field.forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            out.append(
                field.required(
                    path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                )
            )
    else:
        out.append(field.invalid(path.child("operator"), op, "not a valid selector operator"))
    key = as_str(rq.get("key"))
    out.extend(field.invalid(path.child("key"), key, m) for m in names.is_qualified_name(key))
    if check_values:
        for j, v in enumerate(values):
            v = as_str(v)
            out.extend(
                field.invalid(path.child("values").index(j), v, m) for m in names.is_label_value(v)
            )
    return out


def _node_selector_term(term: Obj, path: Path, *, check_values: bool) -> list[Cause]:
    out: list[Cause] = []
    for j, rq in enumerate(as_list(term.get("matchExpressions"))):
        out.extend(
            _node_selector_requirement(
                as_obj(rq), path.child("matchExpressions").index(j), check_values=check_values
            )
        )
    for j, rq in enumerate(as_list(term.get("matchFields"))):
        rq = as_obj(rq)
        fp = path.child("matchFields").index(j)
        op = as_str(rq.get("operator"))
        values = as_list(rq.get("values"))
        if op in ("In", "NotIn"):
            if len(values) != 1:
                out.append(
                    field.required(
                        fp.child("values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    )
                )
        else:
            out.append(field.invalid(fp.child("operator"), op, "not a valid selector operator"))
        key = as_str(rq.get("key"))
        if key != "metadata.name":
            out.append(field.invalid(fp.child("key"), key, "not a valid field selector key"))
        else:
            for k, v in enumerate(values):
                v = as_str(v)
                out.extend(
                    field.invalid(fp.child("values").index(k), v, m)
                    for m in names.is_dns1123_subdomain(v)
                )
    return out


def validate_node_selector(sel: Obj, path: Path, *, check_values: bool = True) -> list[Cause]:
    terms = as_list(sel.get("nodeSelectorTerms"))
    tp = path.child("nodeSelectorTerms")
    if not terms:
        return [field.required(tp, "must have at least one node selector term")]
    out: list[Cause] = []
    for i, term in enumerate(terms):
        out.extend(_node_selector_term(as_obj(term), tp.index(i), check_values=check_values))
    return out


def _pod_affinity_term(term: Obj, path: Path) -> list[Cause]:
    out = names.validate_label_selector(term.get("labelSelector"), path.child("labelSelector"))
    out.extend(
        names.validate_label_selector(
            term.get("namespaceSelector"), path.child("namespaceSelector")
        )
    )
    for ns in as_list(term.get("namespaces")):
        ns = as_str(ns)
        out.extend(
            field.invalid(path.child("namespace"), ns, m) for m in names.is_dns1123_label(ns)
        )
    key = as_str(term.get("topologyKey"))
    if not key:
        out.append(field.required(path.child("topologyKey"), "can not be empty"))
    out.extend(
        field.invalid(path.child("topologyKey"), key, m) for m in names.is_qualified_name(key)
    )
    return out


def _pod_affinity(pa: Obj, path: Path) -> list[Cause]:
    out: list[Cause] = []
    req = "requiredDuringSchedulingIgnoredDuringExecution"
    pref = "preferredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(as_list(pa.get(req))):
        out.extend(_pod_affinity_term(as_obj(term), path.child(req).index(i)))
    for i, wt in enumerate(as_list(pa.get(pref))):
        wt = as_obj(wt)
        wp = path.child(pref).index(i)
        weight = as_int(wt.get("weight"))
        if not 1 <= weight <= 100:
            out.append(field.invalid(wp.child("weight"), weight, "must be in the range 1-100"))
        out.extend(
            _pod_affinity_term(as_obj(wt.get("podAffinityTerm")), wp.child("podAffinityTerm"))
        )
    return out


def validate_affinity(affinity: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(affinity, dict):
        return out
    na = affinity.get("nodeAffinity")
    if isinstance(na, dict):
        np = path.child("nodeAffinity")
        req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(req, dict):
            out.extend(
                validate_node_selector(
                    req, np.child("requiredDuringSchedulingIgnoredDuringExecution")
                )
            )
        pref = "preferredDuringSchedulingIgnoredDuringExecution"
        for i, term in enumerate(as_list(na.get(pref))):
            term = as_obj(term)
            tp = np.child(pref).index(i)
            weight = as_int(term.get("weight"))
            if not 1 <= weight <= 100:
                out.append(field.invalid(tp.child("weight"), weight, "must be in the range 1-100"))
            out.extend(
                _node_selector_term(
                    as_obj(term.get("preference")), tp.child("preference"), check_values=False
                )
            )
    for key in ("podAffinity", "podAntiAffinity"):
        if isinstance(affinity.get(key), dict):
            out.extend(_pod_affinity(affinity[key], path.child(key)))
    return out


def validate_topology_spread(constraints: Any, path: Path) -> list[Cause]:
    out: list[Cause] = []
    items = [as_obj(c) for c in as_list(constraints)]
    for i, c in enumerate(items):
        cp = path.index(i)
        skew = as_int(c.get("maxSkew"))
        if skew <= 0:
            out.append(field.invalid(cp.child("maxSkew"), skew, "must be greater than zero"))
        key = as_str(c.get("topologyKey"))
        if not key:
            out.append(field.required(cp.child("topologyKey"), "can not be empty"))
        when = as_str(c.get("whenUnsatisfiable"))
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            out.append(
                field.not_supported(
                    cp.child("whenUnsatisfiable"), when, ("DoNotSchedule", "ScheduleAnyway")
                )
            )
        for other in items[i + 1 :]:
            if (
                as_str(other.get("topologyKey")) == key
                and as_str(other.get("whenUnsatisfiable")) == when
            ):
                out.append(
                    field.duplicate(
                        cp.child("{topologyKey, whenUnsatisfiable}"),
                        field.GoRepr(f"{{{key}, {when}}}"),
                    )
                )
                break
        md = c.get("minDomains")
        if md is not None:
            if as_int(md) <= 0:
                out.append(
                    field.invalid(cp.child("minDomains"), as_int(md), "must be greater than zero")
                )
            if when != "DoNotSchedule":
                out.append(
                    field.invalid(
                        cp.child("minDomains"),
                        as_int(md),
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not " + when,
                    )
                )
        out.extend(names.validate_label_selector(c.get("labelSelector"), cp.child("labelSelector")))
    return out


def _ids(sc: Obj, path: Path, keys: tuple[str, ...]) -> list[Cause]:
    out: list[Cause] = []
    for k in keys:
        v = sc.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= _MAX_ID:
            out.append(field.invalid(path.child(k), v, names.inclusive_range_error(0, _MAX_ID)))
    return out


def _seccomp(sp: Any, path: Path) -> list[Cause]:
    if not isinstance(sp, dict):
        return []
    out: list[Cause] = []
    t = as_str(sp.get("type"))
    allowed = ("Localhost", "RuntimeDefault", "Unconfined")
    if not t:
        out.append(
            field.required(path.child("type"), "type is required when seccompProfile is set")
        )
    elif t not in allowed:
        out.append(field.not_supported(path.child("type"), t, allowed))
    lp = sp.get("localhostProfile")
    if t == "Localhost":
        if lp is None:
            out.append(
                field.required(
                    path.child("localhostProfile"), "must be set when seccomp type is Localhost"
                )
            )
        else:
            out.extend(validate_local_descending_path(as_str(lp), path.child("localhostProfile")))
    elif lp is not None:
        out.append(
            field.invalid(
                path.child("localhostProfile"),
                field.GoRepr(
                    f"core.SeccompProfile{{Type:{field.go_quote(t)}, LocalhostProfile:(*string)}}"
                ),
                "can only be set when seccomp type is Localhost",
            )
        )
    return out


def validate_security_context(sc: Any, path: Path, *, host_users: bool) -> list[Cause]:
    if not isinstance(sc, dict):
        return []
    out = _ids(sc, path, ("runAsUser", "runAsGroup"))
    pm = sc.get("procMount")
    if isinstance(pm, str):
        if pm not in ("Default", "Unmasked"):
            out.append(field.not_supported(path.child("procMount"), pm, ("Default", "Unmasked")))
        if host_users and pm == "Unmasked":
            out.append(
                field.invalid(
                    path.child("procMount"), pm, "`hostUsers` must be false to use `Unmasked`"
                )
            )
    out.extend(_seccomp(sc.get("seccompProfile"), path.child("seccompProfile")))
    if sc.get("allowPrivilegeEscalation") is False:
        shown = field.GoRepr("core.SecurityContext{...}")
        if sc.get("privileged") is True:
            out.append(
                field.invalid(
                    path,
                    shown,
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        caps = as_obj(sc.get("capabilities"))
        for cap in as_list(caps.get("add")):
            if cap == "CAP_SYS_ADMIN":
                out.append(
                    field.invalid(
                        path,
                        shown,
                        "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                    )
                )
    return out


def validate_pod_security_context(spec: Obj, spec_path: Path) -> list[Cause]:
    sc = spec.get("securityContext")
    if not isinstance(sc, dict):
        return []
    path = spec_path.child("securityContext")
    out = _ids(sc, path, ("fsGroup", "runAsUser", "runAsGroup"))
    for i, g in enumerate(as_list(sc.get("supplementalGroups"))):
        if isinstance(g, int) and not 0 <= g <= _MAX_ID:
            out.append(
                field.invalid(
                    path.child("supplementalGroups").index(i),
                    g,
                    names.inclusive_range_error(0, _MAX_ID),
                )
            )
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        out.append(
            field.invalid(
                spec_path.child("shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    policy = sc.get("fsGroupChangePolicy")
    if isinstance(policy, str) and policy not in ("Always", "OnRootMismatch"):
        out.append(
            field.not_supported(
                path.child("fsGroupChangePolicy"), policy, ("Always", "OnRootMismatch")
            )
        )
    out.extend(_seccomp(sc.get("seccompProfile"), path.child("seccompProfile")))
    return out
