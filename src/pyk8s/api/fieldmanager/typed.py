"""Objects walked against their shape: field sets, comparisons, removals.

The walks of upstream's ``typed`` package, over decoded JSON and a ``Shape``:

* ``validate`` — what ``ObjectToTyped`` refuses: list-map items without their keys,
  set items that are not scalars, fields a struct does not declare, and (for an apply
  configuration, not a stored object) two items with the same key;
* ``fields_of`` — everything a value sets (``ToFieldSet``). Scalars, atomic lists and
  atomic maps are leaves; granular lists record each item (``k:``/``v:``) and descend;
  granular maps descend, recording a key itself when it is a free map key, empty, or null.
  A struct field holding a non-empty object is *not* recorded itself, only what is under
  it — so an applier owns ``.spec.replicas`` but not ``.spec``. Duplicate items (a stored
  list may have them) are owned as a whole;
* ``compare`` — what changed from one value to another, as Added / Modified / Removed
  sets. Containers that appear or vanish whole are recorded with their contents, which is
  where the ``"."`` entries of Update managers come from;
* ``remove_items`` — a value without the given paths (a path removes its whole subtree);
  containers left empty disappear, as upstream's nulls do once decoded;
* ``ensure_named_fields`` — a set plus the struct fields above its paths, for pruning;
* ``zero_value`` — an approximation of the Go zero value of the object's type, which is
  what upstream compares a created object against (see its docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyk8s.api.fieldmanager.fieldpath import FieldSet, Path, PathElement, path_text
from pyk8s.api.fieldmanager.shapes import Shape
from pyk8s.api.fieldmanager.values import JSON, MISSING, Missing, values_equal

__all__ = [
    "Comparison",
    "ItemError",
    "compare",
    "ensure_named_fields",
    "fields_of",
    "item_element",
    "remove_items",
    "validate",
    "zero_value",
]

Value = JSON | Missing
_ROOT = frozenset({"apiVersion", "kind", "metadata"})  # every object has them, schema or not


class ItemError(ValueError):
    """A list item that cannot be named by its keys."""


def item_element(item: JSON, list_shape: Shape) -> PathElement:
    """The path element of a list item: its keys (list-map) or its value (set)."""
    keys = list_shape.list_keys
    if keys:
        if item is None:
            raise ItemError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ItemError("associative list with keys may not have non-map elements")
        pairs: dict[str, JSON] = {}
        item_shape = list_shape.items()
        for name in keys:
            if name in item:
                pairs[name] = item[name]
                continue
            default = item_shape.key_default(name)
            if default is MISSING:
                raise ItemError(
                    f'associative list with keys has an element that omits key field "{name}"'
                    " (and doesn't have default value)"
                )
            pairs[name] = default
        return PathElement.key(pairs)
    if isinstance(item, dict):
        raise ItemError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ItemError("not supported: associative list with lists as elements")
    if item is None:
        raise ItemError("associative list without keys has an element that's an explicit null")
    return PathElement.item(item)


# --- validate ---------------------------------------------------------------------------


def validate(value: JSON, shape: Shape, *, allow_duplicates: bool, undeclared: bool) -> list[str]:
    """Upstream's typed-conversion errors, each ``"<path>: <message>"``; fields a struct
    does not declare are errors only with ``undeclared``."""
    errors: list[str] = []
    _Validator(errors, allow_duplicates, undeclared).walk(value, shape, ())
    return errors


@dataclass
class _Validator:
    errors: list[str]
    allow_duplicates: bool
    undeclared: bool

    def walk(self, value: JSON, shape: Shape, path: Path) -> None:
        kind = shape.kind_of(value)
        if kind == "map" and isinstance(value, dict):
            for key, child in value.items():
                here = (*path, PathElement.field(key))
                if self.undeclared and not shape.knows(key) and not (not path and key in _ROOT):
                    self.errors.append(f"{path_text(here)}: field not declared in schema")
                    return
                self.walk(child, shape.field(key), here)
        elif kind == "list" and isinstance(value, list) and shape.associative:
            item_shape = shape.items()
            seen: set[PathElement] = set()
            for i, item in enumerate(value):
                try:
                    pe = item_element(item, shape)
                except ItemError as exc:
                    self.errors.append(f"{path_text(path)}: element {i}: {exc}")
                    return
                if pe in seen and not self.allow_duplicates:
                    self.errors.append(f"{path_text(path)}: duplicate entries for key {pe}")
                seen.add(pe)
                self.walk(item, item_shape, (*path, pe))
        elif kind == "list" and isinstance(value, list):
            item_shape = shape.items()
            for i, item in enumerate(value):
                self.walk(item, item_shape, (*path, PathElement.index(i)))


# --- fields_of --------------------------------------------------------------------------


def fields_of(value: JSON, shape: Shape) -> FieldSet:
    """The set of fields ``value`` sets (upstream's ``ToFieldSet``)."""
    out = FieldSet()
    _collect(value, shape, (), out)
    return out


def _collect(value: JSON, shape: Shape, path: Path, out: FieldSet) -> None:
    kind = shape.kind_of(value)
    if kind == "scalar":
        out.insert(path)
    elif kind == "list":
        if not shape.associative:
            out.insert(path)
        elif isinstance(value, list):
            items = _index_items(value, shape)
            counts: dict[PathElement, int] = {}
            for pe, _ in items:
                counts[pe] = counts.get(pe, 0) + 1
            item_shape = shape.items()
            for pe, item in items:
                here = (*path, pe)
                if counts[pe] == 1:
                    _collect(item, item_shape, here, out)
                out.insert(here)
    elif shape.map_atomic:
        out.insert(path)
    elif isinstance(value, dict):
        for key, child in value.items():
            here = (*path, PathElement.field(key))
            _collect(child, shape.field(key), here, out)
            if child is None or child == {} or not shape.declared(key):
                out.insert(here)


def _index_items(items: list[JSON], shape: Shape) -> list[tuple[PathElement, JSON]]:
    """Each item with its path element; items that cannot be named are skipped (the
    objects were validated before, so this only happens for live objects upstream also
    could not type)."""
    out: list[tuple[PathElement, JSON]] = []
    for item in items:
        try:
            out.append((item_element(item, shape), item))
        except ItemError:
            continue
    return out


# --- compare ----------------------------------------------------------------------------


@dataclass
class Comparison:
    """What changed between two values (upstream's ``typed.Comparison``)."""

    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def filtered(self, keep: Callable[[FieldSet], FieldSet]) -> Comparison:
        return Comparison(keep(self.added), keep(self.modified), keep(self.removed))

    def changed(self) -> FieldSet:
        """Modified and added paths: what the writer now owns and others lose."""
        return self.modified.union(self.added)


def compare(old: JSON, new: JSON, shape: Shape) -> Comparison:
    """The differences from ``old`` to ``new`` (``None`` is an explicit null)."""
    out = Comparison()
    _compare(old, new, shape, (), out)
    return out


def _compare(lhs: Value, rhs: Value, shape: Shape, path: Path, out: Comparison) -> None:
    if rhs is MISSING:
        kinds = [shape.kind_of(lhs)]
    elif lhs is MISSING or shape.kind_of(lhs) == shape.kind_of(rhs):
        kinds = [shape.kind_of(rhs)]
    else:
        kinds = [shape.kind_of(lhs), shape.kind_of(rhs)]
    leaf = False
    for kind in kinds:  # a value that changed kind is compared as both, as upstream does
        leaf = _compare_as(kind, lhs, rhs, shape, path, out)
    if not leaf:
        if lhs is MISSING:
            out.added.insert(path)
        elif rhs is MISSING:
            out.removed.insert(path)


def _compare_as(
    kind: str, lhs: Value, rhs: Value, shape: Shape, path: Path, out: Comparison
) -> bool:
    """Compare as ``kind``; True when the value was compared as a leaf."""
    if kind == "list":
        lhs_list = lhs if isinstance(lhs, list) else None
        rhs_list = rhs if isinstance(rhs, list) else None
        if not shape.associative or (not lhs_list and not rhs_list):
            _compare_leaf(lhs, rhs, path, out)
            return True
        _compare_items(lhs_list or [], rhs_list or [], shape, path, out)
        return False
    if kind == "map":
        lhs_map = lhs if isinstance(lhs, dict) else None
        rhs_map = rhs if isinstance(rhs, dict) else None
        if shape.map_atomic or (not lhs_map and not rhs_map):
            _compare_leaf(lhs, rhs, path, out)
            return True
        lhs_map, rhs_map = lhs_map or {}, rhs_map or {}
        for key in {**lhs_map, **rhs_map}:
            _compare(
                lhs_map.get(key, MISSING),
                rhs_map.get(key, MISSING),
                shape.field(key),
                (*path, PathElement.field(key)),
                out,
            )
        return False
    _compare_leaf(lhs, rhs, path, out)
    return True


def _compare_leaf(lhs: Value, rhs: Value, path: Path, out: Comparison) -> None:
    if lhs is MISSING:
        out.added.insert(path)
    elif rhs is MISSING:
        out.removed.insert(path)
    elif not values_equal(lhs, rhs):
        out.modified.insert(path)


def _compare_items(
    lhs: list[JSON], rhs: list[JSON], shape: Shape, path: Path, out: Comparison
) -> None:
    order: list[PathElement] = []
    old: dict[PathElement, list[JSON]] = {}
    new: dict[PathElement, list[JSON]] = {}
    for side, items in ((old, lhs), (new, rhs)):
        for pe, item in _index_items(items, shape):
            if pe not in old and pe not in new:
                order.append(pe)
            side.setdefault(pe, []).append(item)
    item_shape = shape.items()
    for pe in order:
        before, after = old.get(pe, []), new.get(pe, [])
        here = (*path, pe)
        if len(before) <= 1 and len(after) <= 1:
            _compare(
                before[0] if before else MISSING,
                after[0] if after else MISSING,
                item_shape,
                here,
                out,
            )
        elif len(before) >= 2 and len(after) >= 2:
            if not values_equal(before, after):
                out.modified.insert(here)
        elif len(before) >= 2:
            if after:
                _compare(MISSING, after[0], item_shape, here, out)
            out.removed.insert(here)
        else:
            if before:
                _compare(before[0], MISSING, item_shape, here, out)
            out.added.insert(here)


# --- remove_items -----------------------------------------------------------------------


def remove_items(value: JSON, paths: FieldSet, shape: Shape) -> Value:
    """``value`` without ``paths``; MISSING when nothing is left of a container."""
    if paths.empty():
        return value
    kind = shape.kind_of(value)
    if kind == "list" and isinstance(value, list) and shape.associative:
        item_shape = shape.items()
        kept: list[JSON] = []
        members = paths.member_elements()
        for item in value:
            try:
                pe = item_element(item, shape)
            except ItemError:
                kept.append(item)
                continue
            if pe in members:
                continue
            below = paths.with_prefix(pe)
            rest = remove_items(item, below, item_shape) if not below.empty() else item
            if rest is not MISSING:
                kept.append(rest)
        return kept if kept else MISSING
    if kind == "map" and isinstance(value, dict) and not shape.map_atomic:
        members = paths.member_elements()
        out: dict[str, JSON] = {}
        for key, child in value.items():
            pe = PathElement.field(key)
            if pe in members:
                continue
            below = paths.with_prefix(pe)
            rest = remove_items(child, below, shape.field(key)) if not below.empty() else child
            if rest is not MISSING:
                out[key] = rest
        return out if out else MISSING
    return value


# --- ensure_named_fields ----------------------------------------------------------------


def ensure_named_fields(paths: FieldSet, shape: Shape) -> FieldSet:
    """``paths`` plus, as members, the struct fields that have paths below them."""
    out = FieldSet()
    _ensure(paths, shape, (), out, typed=True)
    return out


def _ensure(paths: FieldSet, shape: Shape, prefix: Path, out: FieldSet, *, typed: bool) -> None:
    for pe in paths.member_elements():
        out.insert((*prefix, pe))
    for pe, below in paths.child_sets():
        here = (*prefix, pe)
        if pe.is_field and typed and shape.admits_map:
            if shape.declared(str(pe.value)):
                out.insert(here)
            _ensure(below, shape.field(str(pe.value)), here, out, typed=True)
        elif pe.is_key and typed and shape.admits_list:
            _ensure(below, shape.items(), here, out, typed=True)
        else:  # no type is known below a value or index element
            _ensure(below, shape, here, out, typed=False)


# --- zero_value -------------------------------------------------------------------------


def zero_value(obj: JSON, shape: Shape) -> JSON:
    """What upstream's freshly created (Go zero-valued) object of this type looks like,
    as far as ``obj`` and its schema tell.

    Upstream compares a created object against an empty Go struct, in which non-pointer
    struct fields exist (``spec``, ``spec.template``, ``spec.strategy``) and
    non-``omitempty`` lists are null (``containers``). That decides only where Update
    managers get ``"."`` entries. The schema does not say which fields are pointers, so
    every struct field ``obj`` fills with a non-empty object counts as present, and every
    required list as null; pointer structs (``rollingUpdate``) therefore lack the ``"."``
    upstream gives them.
    """
    if not isinstance(obj, dict) or shape.node is None:
        return {}
    required = shape.node.raw.get("required") or ()
    out: dict[str, JSON] = {}
    for key, value in obj.items():
        if not shape.declared(key):
            continue
        child = shape.field(key)
        if isinstance(value, dict) and value and child.granular_map and child.node is not None:
            if child.node.properties and not child.node.is_map:
                out[key] = zero_value(value, child)
        elif isinstance(value, list) and key in required:
            out[key] = None
    return out
