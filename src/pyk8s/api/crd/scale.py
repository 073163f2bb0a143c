"""The ``scale`` subresource of custom resources (``autoscaling/v1`` Scale).

A CRD version declares ``subresources.scale`` with ``specReplicasPath`` (under
``.spec``), ``statusReplicasPath`` (under ``.status``) and optionally
``labelSelectorPath``; the paths are simple dotted JSON paths (``.spec.replicas``).

* ``scale_from_object(spec, obj)`` is upstream's ``scaleFromCustomResource``: a Scale
  with the object's name, namespace, uid, resourceVersion and creationTimestamp,
  ``spec.replicas`` and ``status.replicas`` (0 when absent) and ``status.selector``;
  a value of the wrong type raises ``ScaleError`` with upstream's accessor message
  (the apiserver answers 400 BadRequest).
* ``apply_scale(spec, obj, scale)`` writes a Scale's ``spec.replicas`` back into a copy
  of the object (``ScaleError`` when the object had no replicas and the Scale sets none).
* ``validate_scale(spec, obj)`` is the custom-resource validator's scale part: the
  replicas must be int64 values in ``[0, 2147483647]`` and the selector a string.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pyk8s.api.crd import gofmt
from pyk8s.api.crd.versions import subresources_for
from pyk8s.api.validation import field
from pyk8s.api.validation.field import Cause

__all__ = [
    "ScaleError",
    "ScaleSpec",
    "apply_scale",
    "scale_from_object",
    "scale_spec",
    "scale_spec_for",
    "validate_scale",
]

_MAX_INT32: Final = 2147483647


class ScaleError(ValueError):
    """The object cannot be read or written as a Scale."""


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str = ""


def scale_spec(raw: Mapping[str, Any] | None) -> ScaleSpec | None:
    """``subresources.scale`` as a ``ScaleSpec`` (``None`` when not declared)."""
    if not isinstance(raw, Mapping):
        return None
    return ScaleSpec(
        str(raw.get("specReplicasPath") or ""),
        str(raw.get("statusReplicasPath") or ""),
        str(raw.get("labelSelectorPath") or ""),
    )


def scale_spec_for(crd: Mapping[str, Any], version: str) -> ScaleSpec | None:
    return scale_spec(subresources_for(crd, version).get("scale"))


def _fields(path: str) -> list[str]:
    return path.removeprefix(".").split(".")


def _go_type(v: Any) -> str:
    if v is None:
        return "<nil>"
    return {
        "boolean": "bool",
        "integer": "int64",
        "number": "float64",
        "string": "string",
        "array": "[]interface {}",
        "object": "map[string]interface {}",
    }[gofmt.json_type(v)]


def _go_v(v: Any) -> str:
    """``%v`` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool | int | float):
        return gofmt.go_number(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{_go_v(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    return str(v)


def _nested(obj: Mapping[str, Any], fields: list[str], want: str) -> tuple[Any, bool]:
    """``unstructured.Nested<Type>``: (value, found), ``ScaleError`` on a type mismatch."""
    cur: Any = obj
    for i, name in enumerate(fields):
        if cur is None:
            return None, False
        if not isinstance(cur, Mapping):
            where = "." + ".".join(fields[: i + 1])
            raise ScaleError(
                f"{where} accessor error: {_go_v(cur)} is of the type {_go_type(cur)}, "
                "expected map[string]interface{}"
            )
        if name not in cur:
            return None, False
        cur = cur[name]
    ok = (
        isinstance(cur, int) and not isinstance(cur, bool)
        if want == "int64"
        else isinstance(cur, str)
    )
    if not ok:
        where = "." + ".".join(fields)
        raise ScaleError(
            f"{where} accessor error: {_go_v(cur)} is of the type {_go_type(cur)}, expected {want}"
        )
    return cur, True


def _int32(v: int) -> int:
    """Go's ``int32(v)`` conversion (wraps around)."""
    return (v + 2**31) % 2**32 - 2**31


def scale_from_object(spec: ScaleSpec, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v1`` Scale for a custom resource."""
    spec_replicas, _ = _nested(obj, _fields(spec.spec_replicas_path), "int64")
    status_replicas, _ = _nested(obj, _fields(spec.status_replicas_path), "int64")
    selector = ""
    if spec.label_selector_path:
        selector, _ = _nested(obj, _fields(spec.label_selector_path), "string")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    scale_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if meta.get(k)
    }
    status: dict[str, Any] = {"replicas": _int32(status_replicas or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": _int32(spec_replicas or 0)},
        "status": status,
    }


def apply_scale(
    spec: ScaleSpec, obj: Mapping[str, Any], scale: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of ``obj`` with the Scale's ``spec.replicas`` at ``specReplicasPath``.

    A ``metadata.resourceVersion`` on the Scale becomes the object's (the precondition).
    """
    fields = _fields(spec.spec_replicas_path)
    _, found = _nested(obj, fields, "int64")
    scale_spec_ = scale.get("spec")
    replicas = scale_spec_.get("replicas") if isinstance(scale_spec_, Mapping) else None
    if replicas is None:
        if not found:
            raise ScaleError(
                f"the spec replicas field {field.go_quote(spec.spec_replicas_path)} cannot be empty"
            )
        replicas = 0
    out = copy.deepcopy(dict(obj))
    cur = out
    for name in fields[:-1]:
        nxt = cur.get(name)
        if not isinstance(nxt, dict):
            nxt = cur[name] = {}
        cur = nxt
    cur[fields[-1]] = int(replicas)
    scale_meta = scale.get("metadata")
    rv = scale_meta.get("resourceVersion") if isinstance(scale_meta, Mapping) else None
    if rv:
        out.setdefault("metadata", {})["resourceVersion"] = rv
    return out


def _replicas(obj: Mapping[str, Any], path: str) -> list[Cause]:
    try:
        value, _ = _nested(obj, _fields(path), "int64")
    except ScaleError as exc:
        return [field.invalid(path, 0, str(exc))]
    value = value or 0
    if value < 0:
        return [field.invalid(path, value, "should be a non-negative integer")]
    if value > _MAX_INT32:
        return [field.invalid(path, value, f"should be less than or equal to {_MAX_INT32}")]
    return []


def validate_scale(
    spec: ScaleSpec | None, obj: Mapping[str, Any], *, status_only: bool = False
) -> list[Cause]:
    """``ValidateScaleSpec`` (unless ``status_only``) and ``ValidateScaleStatus``."""
    if spec is None:
        return []
    out = [] if status_only else _replicas(obj, spec.spec_replicas_path)
    out += _replicas(obj, spec.status_replicas_path)
    if spec.label_selector_path:
        try:
            _nested(obj, _fields(spec.label_selector_path), "string")
        except ScaleError as exc:
            out.append(field.invalid(spec.label_selector_path, "", str(exc)))
    return out
