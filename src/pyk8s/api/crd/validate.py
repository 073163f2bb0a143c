"""Validation of custom resources, as upstream's ``customresource`` strategy runs it.

``validate_object(schema, obj, kind=…, namespaced=…, scale=…)`` (create),
``validate_object_update(…, new, old)`` (update of the main resource) and
``validate_status_update(…)`` (``/status``) return upstream's field errors as ``Cause``s,
in upstream's order:

1. ``kind``/``apiVersion`` must name the served kind (``kind: Invalid value: "Foo": must be
   CronTab``); if not, nothing else is reported;
2. ObjectMeta (``validate_object_meta`` with DNS-subdomain names, or the update rules);
3. the schema (``valuecheck``: ``spec.replicas: Invalid value: "string": spec.replicas in
   body must be of type integer: "string"``, ``spec.size: Required value``, …), with
   ratcheting on update;
4. the scale subresource's replicas and selector paths (``scale.validate_scale``);
5. embedded resources (``x-kubernetes-embedded-resource``): ``apiVersion`` and ``kind``
   required, their ObjectMeta valid;
6. ``x-kubernetes-list-type`` ``set``/``map`` uniqueness (``spec.ports[1]: Duplicate value:
   map[string]interface {}{"port":80}``); on update only if the old object was unique.

On create, when all of that passes, the generic store's own ObjectMeta pass follows (names
must be usable as a URL path segment), as for built-in kinds. ``x-kubernetes-validations``
(CEL) rules are not evaluated. Objects are the pruned, defaulted JSON; nothing is mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api.crd import gofmt, valuecheck
from pyk8s.api.crd.scale import ScaleSpec, validate_scale
from pyk8s.api.crd.schema import Structural
from pyk8s.api.schemas import GVK
from pyk8s.api.validation import field, names, networking
from pyk8s.api.validation.field import Cause, GoRepr, Path

__all__ = [
    "validate_embedded",
    "validate_list_sets_and_maps",
    "validate_object",
    "validate_object_update",
    "validate_status_update",
    "validate_value",
]

Obj = Mapping[str, Any]


def validate_value(schema: Structural | None, value: Any, *, prefix: str = "") -> list[Cause]:
    """Schema errors only (no metadata or list rules); ``prefix`` is the value's path."""
    return valuecheck.check(schema, value, prefix=prefix)


def validate_object(
    schema: Structural | None,
    obj: Obj,
    *,
    kind: GVK | None = None,
    namespaced: bool = True,
    scale: ScaleSpec | None = None,
) -> list[Cause]:
    """Upstream's ``customResourceStrategy.Validate`` plus the store's ObjectMeta pass."""
    type_meta = _type_meta(obj, kind)
    if type_meta:
        return type_meta
    out = names.validate_object_meta(
        kube_finalizers=False,
        meta=obj.get("metadata"),
        namespaced=namespaced,
        name_fn=names.name_is_dns_subdomain,
    )
    out += valuecheck.check(schema, obj)
    out += validate_scale(scale, obj)
    out += validate_embedded(schema, obj)
    out += validate_list_sets_and_maps(schema, obj)
    if not out:
        out = names.validate_object_meta(
            kube_finalizers=False,
            meta=obj.get("metadata"),
            namespaced=namespaced,
            name_fn=_path_segment,
        )
    return out


def validate_object_update(
    schema: Structural | None,
    new: Obj,
    old: Obj,
    *,
    kind: GVK | None = None,
    scale: ScaleSpec | None = None,
) -> list[Cause]:
    """``customResourceStrategy.ValidateUpdate`` (ratcheting the schema errors)."""
    type_meta = _type_meta(new, kind)
    if type_meta:
        return type_meta
    out = names.validate_object_meta_update(
        new.get("metadata"), old.get("metadata"), kube_finalizers=False
    )
    out += valuecheck.check(schema, new, old=old)
    out += validate_scale(scale, new)
    out += validate_embedded(schema, new)
    if not validate_list_sets_and_maps(schema, old):
        out += validate_list_sets_and_maps(schema, new)
    return out


def validate_status_update(
    schema: Structural | None,
    new: Obj,
    old: Obj,
    *,
    kind: GVK | None = None,
    scale: ScaleSpec | None = None,
) -> list[Cause]:
    """``ValidateStatusUpdate``: only ``status`` is checked against its schema."""
    type_meta = _type_meta(new, kind)
    if type_meta:
        return type_meta
    out = names.validate_object_meta_update(
        new.get("metadata"), old.get("metadata"), kube_finalizers=False
    )
    status_schema = schema.properties.get("status") if schema is not None else None
    if "status" in new:
        old_status = old.get("status", valuecheck.MISSING)
        out += valuecheck.check(status_schema, new["status"], prefix="status", old=old_status)
    return out + validate_scale(scale, new, status_only=True)


def _path_segment(name: str, prefix: bool) -> list[str]:
    return networking.is_valid_path_segment_name(name)


def _type_meta(obj: Obj, kind: GVK | None) -> list[Cause]:
    if kind is None:
        return []
    out: list[Cause] = []
    got_kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    got_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else ""
    if got_kind != kind.kind:
        out.append(field.invalid("kind", got_kind, f"must be {kind.kind}"))
    want = f"{kind.group}/{kind.version}"
    if got_version != want:
        out.append(field.invalid("apiVersion", got_version, f"must be {want}"))
    return out


# --- embedded resources -------------------------------------------------------------------


def validate_embedded(schema: Structural | None, obj: Any) -> list[Cause]:
    """``objectmeta.Validate`` below the root: TypeMeta and ObjectMeta of embedded objects."""
    return _embedded(Path(), obj, schema)


def _embedded(path: Path, x: Any, s: Structural | None) -> list[Cause]:
    if s is None:
        return []
    out: list[Cause] = []
    if isinstance(x, Mapping):
        if s.embedded_resource:
            out += _embedded_resource(path, x)
        for k in sorted(x):
            if k in s.properties:
                out += _embedded(path.child(k), x[k], s.properties[k])
            elif s.additional_properties is not None:
                out += _embedded(path.key(k), x[k], s.additional_schema)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _embedded(path.index(i), v, s.items)
    return out


def _embedded_resource(path: Path, x: Obj) -> list[Cause]:
    out: list[Cause] = []
    for key in ("apiVersion", "kind"):
        if key not in x:
            out.append(field.required(path.child(key), "must not be empty"))
    for key in sorted(x):
        v = x[key]
        p = path.child(key)
        if key in ("apiVersion", "kind") and not isinstance(v, str):
            out.append(field.invalid(p, gofmt.iface(v), "must be a string"))
        elif key in ("apiVersion", "kind") and not v:
            out.append(field.invalid(p, v, "must not be empty"))
        elif key == "apiVersion" and v.count("/") > 1:
            out.append(field.invalid(p, v, f"unexpected GroupVersion string: {v}"))
        elif key == "kind" and (errs := names.is_dns1035_label(v.lower())):
            detail = "may have mixed case, but should otherwise match: " + ",".join(errs)
            out.append(field.invalid(p, v, detail))
        elif key == "metadata":
            meta = dict(v) if isinstance(v, Mapping) else {}
            meta["name"] = meta.get("name") or "fakename"
            namespaced = bool(meta.get("namespace"))
            out += names.validate_object_meta(
                kube_finalizers=False,
                meta=meta,
                namespaced=namespaced,
                name_fn=_path_segment,
                path=p,
            )
    return out


# --- list-type set / map -------------------------------------------------------------------


def validate_list_sets_and_maps(schema: Structural | None, obj: Any) -> list[Cause]:
    """``ValidateListSetsAndMaps``: duplicates in ``set`` lists and ``map`` list keys."""
    if schema is None or not isinstance(obj, Mapping):
        return []
    return _object_lists(Path(), schema, obj)


def _object_lists(path: Path, s: Structural, obj: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    ap = s.additional_schema
    if ap is not None:
        for k in sorted(obj):
            out += _lists(path.key(k), ap, obj[k])
    for k in sorted(obj):
        if k in s.properties:
            out += _lists(path.child(k), s.properties[k], obj[k])
    return out


def _lists(path: Path, s: Structural, x: Any) -> list[Cause]:
    if isinstance(x, Mapping):
        return _object_lists(path, s, x)
    if not isinstance(x, list):
        return []
    out: list[Cause] = []
    if s.list_type == "set":
        out += [field.duplicate(path.index(i), gofmt.iface(x[i])) for i in _non_unique(x)]
    elif s.list_type == "map":
        out += _list_map(path, s, x)
    if s.items is not None:
        for i, item in enumerate(x):
            out += _lists(path.index(i), s.items, item)
    return out


def _non_unique(values: list[Any]) -> list[int]:
    """Indices of the second occurrence of each repeated value (upstream reports those)."""
    seen: dict[str, int] = {}
    out: list[int] = []
    for i, v in enumerate(values):
        key = _identity(v)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            out.append(i)
    return out


def _identity(v: Any) -> str:
    if isinstance(v, _Unspecified):
        return "\x00unspecified"
    return f"{gofmt.json_type(v)}:{gofmt.go_sharp(v)}"


class _Unspecified:
    """A list-map element without the key (compared like a value of its own)."""


def _list_map(path: Path, s: Structural, x: list[Any]) -> list[Cause]:
    for i, item in enumerate(x):
        if item is not None and not isinstance(item, Mapping):
            return [
                field.invalid(
                    path.index(i),
                    gofmt.iface(item),
                    "must be an object for an array of list-type map",
                )
            ]
    if len(x) <= 1:
        return []
    keys = list(s.list_map_keys)
    out: list[Cause] = []
    if len(keys) == 1:
        (k,) = keys
        values: list[Any] = [
            item[k] if isinstance(item, Mapping) and k in item else _Unspecified() for item in x
        ]
        for i in _non_unique(values):
            shown = {} if isinstance(values[i], _Unspecified) else {k: values[i]}
            out.append(field.duplicate(path.index(i), GoRepr(gofmt.go_sharp(shown))))
        return out
    composite = [
        {k: item[k] for k in keys if k in item} if isinstance(item, Mapping) else {} for item in x
    ]
    for i in _non_unique(composite):
        out.append(field.duplicate(path.index(i), GoRepr(gofmt.go_sharp(composite[i]))))
    return out
