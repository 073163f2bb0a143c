"""The downward API's values: what a ``fieldRef`` or ``resourceFieldRef`` resolves to.

Pure functions shared by container environment variables (``envvars``) and downwardAPI /
projected volumes (``volumes.payloads``), with upstream's semantics and messages
(``pkg/fieldpath``, ``pkg/apis/core/pods.ConvertDownwardAPIFieldLabel``,
``pkg/api/v1/resource``):

- ``metadata.labels`` / ``metadata.annotations`` render as sorted ``key="value"`` lines,
  the value quoted the way Go's ``%q`` does; ``metadata.labels['k']`` picks one value
  (missing → empty string).
- Resource values are rounded *up* to whole divisor units; the divisor defaults to ``1``.
  Unset (or zero) cpu / memory / ephemeral-storage limits take the node's allocatable,
  as the kubelet does before it answers a ``limits.*`` reference.

Errors are ``FieldPathError`` whose text is upstream's message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from pyk8s.api.validation.quantity import QuantityError, parse_quantity

__all__ = [
    "FieldPathError",
    "convert_field_label",
    "extract_field_path",
    "format_map",
    "go_quote",
    "merge_limits",
    "resource_value",
    "resource_value_for_container",
    "split_subscript",
]

Obj = dict[str, Any]

_SUBSCRIPTABLE = ("metadata.annotations", "metadata.labels")
_POD_FIELDS = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
_DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")


class FieldPathError(ValueError):
    """A field or resource reference that cannot be resolved; ``str()`` is upstream's text."""


def split_subscript(field_path: str) -> tuple[str, str] | None:
    """``metadata.labels['app']`` → ``("metadata.labels", "app")``; None without subscript."""
    if not field_path.endswith("']"):
        return None
    path, sep, subscript = field_path[:-2].partition("['")
    if not sep or not path:
        return None
    return path, subscript


def convert_field_label(api_version: str, label: str) -> str:
    """Check a pod ``fieldRef`` path the way the API does; returns the internal path."""
    if api_version not in ("", "v1"):
        raise FieldPathError(f"unsupported pod version: {api_version}")
    split = split_subscript(label)
    if split is not None:
        if split[0] in _SUBSCRIPTABLE:
            return label
        raise FieldPathError(f"field label does not support subscript: {label}")
    if label in _POD_FIELDS:
        return label
    if label == "spec.host":  # old v1 clients
        return "spec.nodeName"
    raise FieldPathError(f"field label not supported: {label}")


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: double-quoted, with Go escapes for what is not printable."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == " " or (ch.isprintable() and code != 0x7F):
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def format_map(m: Mapping[str, str]) -> str:
    """Labels or annotations as the downward API renders them: sorted ``k="v"`` lines."""
    return "\n".join(f"{k}={go_quote(m[k])}" for k in sorted(m))


def extract_field_path(pod: Obj, field_path: str) -> str:
    """Metadata fields of a pod (``pkg/fieldpath.ExtractFieldPathAsString``)."""
    meta = pod.get("metadata") or {}
    split = split_subscript(field_path)
    if split is not None:
        path, key = split
        if path == "metadata.annotations":
            return str((meta.get("annotations") or {}).get(key, ""))
        if path == "metadata.labels":
            return str((meta.get("labels") or {}).get(key, ""))
        raise FieldPathError(f"fieldPath {go_quote(field_path)} does not support subscript")
    if field_path == "metadata.annotations":
        return format_map(meta.get("annotations") or {})
    if field_path == "metadata.labels":
        return format_map(meta.get("labels") or {})
    if field_path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(field_path.split(".", 1)[1], ""))
    raise FieldPathError(f"unsupported fieldPath: {field_path}")


def merge_limits(container: Obj, allocatable: Mapping[str, Any] | None) -> Obj:
    """A copy of ``container`` whose unset or zero cpu/memory/ephemeral-storage limits
    are the node's allocatable (``MergeContainerResourceLimits``)."""
    resources = dict(container.get("resources") or {})
    limits = dict(resources.get("limits") or {})
    for name in _DEFAULTED_LIMITS:
        current = limits.get(name)
        if (current is None or _is_zero(current)) and allocatable and name in allocatable:
            limits[name] = allocatable[name]
    resources["limits"] = limits
    return {**container, "resources": resources}


def _is_zero(raw: Any) -> bool:
    try:
        return parse_quantity(raw).value == 0
    except QuantityError:
        return False


def _find_container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return dict(c)
    raise FieldPathError(f"container {name} not found")


def resource_value_for_container(
    selector: Obj, pod: Obj, container_name: str, allocatable: Mapping[str, Any] | None
) -> str:
    """A ``resourceFieldRef`` naming a container of ``pod``, limits defaulted to allocatable."""
    container = merge_limits(_find_container(pod, container_name), allocatable)
    return resource_value(selector, container)


def resource_value(selector: Obj, container: Obj) -> str:
    """``ExtractContainerResourceValue``: the container's request or limit in divisor units,
    rounded up. Unset values count as zero."""
    raw_divisor = selector.get("divisor")
    divisor = _quantity(raw_divisor) if raw_divisor not in (None, "") else Fraction(1)
    if divisor == 0:
        divisor = Fraction(1)
    resource = str(selector.get("resource", ""))
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise FieldPathError(f"unsupported container resource : {resource}")
    if name not in _DEFAULTED_LIMITS and not name.startswith("hugepages-"):
        raise FieldPathError(f"unsupported container resource : {resource}")
    values = (container.get("resources") or {}).get(kind) or {}
    raw = values.get(name)
    value = _quantity(raw) if raw is not None else Fraction(0)
    if name == "cpu":
        # float64(cpu.MilliValue()) / float64(divisor.MilliValue()), ceiling
        milli = math.ceil(value * 1000)
        divisor_milli = math.ceil(divisor * 1000)
        return str(math.ceil(Fraction(milli, divisor_milli)))
    # memory, ephemeral-storage, hugepages: Value() / divisor.Value(), ceiling
    return str(math.ceil(Fraction(math.ceil(value), math.ceil(divisor))))


def _quantity(raw: Any) -> Fraction:
    try:
        return parse_quantity(raw).value
    except QuantityError as e:
        raise FieldPathError(str(e)) from None
