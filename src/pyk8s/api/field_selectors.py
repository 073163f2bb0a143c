"""Field selectors, as upstream's k8s.io/apimachinery/pkg/fields (1.33), and what each
kind lets them select.

- ``parse_field_selector`` is fields.ParseSelector: terms split on unescaped commas and
  sorted; ``\\``, ``\\,`` and ``\\=`` are the only escapes in values; ``==`` means ``=``.
- ``validate_field_selector`` is the apiserver's field-label conversion (per kind, from
  pkg/apis/*/v1/conversion.go): it raises ``SelectorError`` worded as upstream for a label
  the kind does not support (the server answers 400 BadRequest), and returns the selector
  with legacy labels renamed (pods: ``spec.host`` → ``spec.nodeName``).
- ``field_set`` is the kind's ``ToSelectableFields`` (pkg/registry/*/strategy.go): the
  values selectors match against, rendered as upstream renders them (Go zero values for
  missing fields, ``true``/``false``, decimal integers). A label missing from the set
  matches as ``""``. Where upstream reads the internal type, the v1 → internal conversion is
  applied by hand (pod IPs, events.k8s.io/v1 events). Some fields are computed but never
  reachable, because the conversion refuses them (replicasets' ``status.replicas``,
  namespaces' ``name``); upstream computes them all the same.

Use the ``pyk8s.api.selectors`` facade rather than this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from pyk8s.api import resources
from pyk8s.api.label_selectors import Operator, SelectorError, go_quote

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "field_set",
    "parse_field_selector",
    "primary_pod_ip",
    "validate_field_selector",
]


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field = value`` or ``field != value`` (``==`` is reported as ``=``, as upstream)."""

    field: str
    operator: Operator
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return equal if self.operator is Operator.EQUALS else not equal

    def __str__(self) -> str:
        return f"{self.field}{'=' if self.operator is Operator.EQUALS else '!='}{self.value}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal (first ``=`` term on it), as upstream."""
        for r in self.requirements:
            if r.field == field and r.operator is Operator.EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_terms(s: str) -> list[str]:
    """Split on commas not preceded by an escaping backslash; escapes stay in place."""
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(s):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _unescape_value(s: str) -> str:
    if not any(c in s for c in "\\,="):
        return s
    out: list[str] = []
    escaped = False
    for ch in s:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # upstream prints the rune with %v, i.e. its code point
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(s: str) -> FieldSelector:
    """fields.ParseSelector: the ``fieldSelector`` query parameter."""
    reqs: list[FieldRequirement] = []
    for term in sorted(_split_terms(s)):
        if not term:
            continue
        # the first operator found, scanning left to right; "!=" and "==" before "="
        for i in range(len(term)):
            op = next((o for o in ("!=", "==", "=") if term.startswith(o, i)), None)
            if op is not None:
                value = _unescape_value(term[i + len(op) :])
                kind = Operator.NOT_EQUALS if op == "!=" else Operator.EQUALS
                reqs.append(FieldRequirement(term[:i], kind, value))
                break
        else:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{term}'")
    return FieldSelector(tuple(reqs))


# Per kind, the field labels upstream's conversion funcs accept and how they word a refusal.
# Kinds without a conversion func get DefaultMetaV1FieldSelectorConversion.
_NOT_SUPPORTED = "field label not supported: {label}"
_EVENT_LABELS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "metadata.namespace",
        "metadata.name",
    }
)
_FIELD_LABELS: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("", "pods"): (
        frozenset(
            {
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
                "spec.host",
            }
        ),
        _NOT_SUPPORTED,
    ),
    ("", "nodes"): (frozenset({"metadata.name", "spec.unschedulable"}), _NOT_SUPPORTED),
    ("", "replicationcontrollers"): (
        frozenset({"metadata.name", "metadata.namespace", "status.replicas"}),
        _NOT_SUPPORTED,
    ),
    ("", "events"): (_EVENT_LABELS, _NOT_SUPPORTED),
    ("events.k8s.io", "events"): (_EVENT_LABELS, _NOT_SUPPORTED),
    ("", "namespaces"): (frozenset({"status.phase", "metadata.name"}), _NOT_SUPPORTED),
    ("", "secrets"): (frozenset({"type", "metadata.namespace", "metadata.name"}), _NOT_SUPPORTED),
    ("", "services"): (
        frozenset({"metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"}),
        _NOT_SUPPORTED,
    ),
    ("batch", "jobs"): (
        frozenset({"metadata.name", "metadata.namespace", "status.successful"}),
        "field label {quoted} not supported for Job",
    ),
}
_DEFAULT_LABELS = frozenset({"metadata.name", "metadata.namespace"})
_DEFAULT_REFUSAL = (
    '{quoted} is not a known field selector: only "metadata.name", "metadata.namespace"'
)
_RENAMED = {("", "pods"): {"spec.host": "spec.nodeName"}}


def validate_field_selector(resource_key: tuple[str, str], sel: FieldSelector) -> FieldSelector:
    """Check every label against the kind's supported set; return the converted selector.

    Raises ``SelectorError`` worded as upstream (the apiserver turns it into 400
    BadRequest). The returned selector has legacy labels renamed (``spec.host``).
    """
    supported, refusal = _FIELD_LABELS.get(resource_key, (_DEFAULT_LABELS, _DEFAULT_REFUSAL))
    renamed = _RENAMED.get(resource_key, {})
    out: list[FieldRequirement] = []
    for r in sel.requirements:
        if r.field not in supported:
            raise SelectorError(refusal.format(label=r.field, quoted=go_quote(r.field)))
        out.append(replace(r, field=renamed.get(r.field, r.field)))
    return FieldSelector(tuple(out))


def _map(obj: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _int(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key)
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"


def _bool(obj: Mapping[str, object], key: str) -> str:
    return "true" if obj.get(key) is True else "false"


def primary_pod_ip(status: Mapping[str, object]) -> str:
    """The pod's first IP as the internal type sees it: ``podIP`` wins over ``podIPs[0]``."""
    if ip := _str(status, "podIP"):
        return ip
    ips = status.get("podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], Mapping):
        return _str(ips[0], "ip")
    return ""


def _pod(obj: Mapping[str, object]) -> dict[str, str]:
    spec, status = _map(obj, "spec"), _map(obj, "status")
    return {
        "spec.nodeName": _str(spec, "nodeName"),
        "spec.restartPolicy": _str(spec, "restartPolicy"),
        "spec.schedulerName": _str(spec, "schedulerName"),
        "spec.serviceAccountName": _str(spec, "serviceAccountName"),
        "spec.hostNetwork": _bool(spec, "hostNetwork"),
        "status.phase": _str(status, "phase"),
        "status.podIP": primary_pod_ip(status),
        "status.nominatedNodeName": _str(status, "nominatedNodeName"),
    }


def _event(obj: Mapping[str, object]) -> dict[str, str]:
    if "regarding" in obj or str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        # events.k8s.io/v1 shape, converted to core as upstream's conversion does
        involved = _map(obj, "regarding")
        component = _str(_map(obj, "deprecatedSource"), "component")
    else:
        involved = _map(obj, "involvedObject")
        component = _str(_map(obj, "source"), "component")
    controller = _str(obj, "reportingController")
    return {
        "involvedObject.kind": _str(involved, "kind"),
        "involvedObject.namespace": _str(involved, "namespace"),
        "involvedObject.name": _str(involved, "name"),
        "involvedObject.uid": _str(involved, "uid"),
        "involvedObject.apiVersion": _str(involved, "apiVersion"),
        "involvedObject.resourceVersion": _str(involved, "resourceVersion"),
        "involvedObject.fieldPath": _str(involved, "fieldPath"),
        "reason": _str(obj, "reason"),
        "reportingComponent": controller,
        "source": component or controller,
        "type": _str(obj, "type"),
    }


_FIELD_SETS: dict[tuple[str, str], Callable[[Mapping[str, object]], dict[str, str]]] = {
    ("", "pods"): _pod,
    ("", "nodes"): lambda o: {"spec.unschedulable": _bool(_map(o, "spec"), "unschedulable")},
    ("", "namespaces"): lambda o: {
        "status.phase": _str(_map(o, "status"), "phase"),
        # upstream keeps this legacy key for backward compatibility
        "name": _str(_map(o, "metadata"), "name"),
    },
    ("", "secrets"): lambda o: {"type": _str(o, "type")},
    ("", "services"): lambda o: {
        "spec.clusterIP": _str(_map(o, "spec"), "clusterIP"),
        "spec.type": _str(_map(o, "spec"), "type"),
    },
    ("", "events"): _event,
    ("events.k8s.io", "events"): _event,
    ("", "replicationcontrollers"): lambda o: {
        "status.replicas": _int(_map(o, "status"), "replicas")
    },
    ("apps", "replicasets"): lambda o: {"status.replicas": _int(_map(o, "status"), "replicas")},
    ("batch", "jobs"): lambda o: {"status.successful": _int(_map(o, "status"), "succeeded")},
}


_NAMESPACED = {r.key: r.namespaced for r in resources.BUILTIN}


def field_set(resource_key: tuple[str, str], obj: Mapping[str, object]) -> dict[str, str]:
    """The kind's selectable fields of ``obj`` (upstream's ``ToSelectableFields``)."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    fields = {"metadata.name": str(meta.get("name") or "")}
    if _NAMESPACED.get(resource_key, True):
        fields["metadata.namespace"] = str(meta.get("namespace") or "")
    extra = _FIELD_SETS.get(resource_key)
    if extra is not None:
        fields.update(extra(obj))
    return fields
