"""Strategic merge patch: upstream's ``application/strategic-merge-patch+json`` semantics.

``apply_strategic_merge(original, patch, schema)`` follows apimachinery's
``strategicpatch.StrategicMergeMapPatch`` with the server's options (parallel lists are
applied, nulls that match nothing are dropped). The schema supplies, per field, the patch
metadata upstream declares (``schemas.PatchMeta``):

* maps merge key by key; a ``null`` value deletes the key; a field with strategy
  ``replace`` takes the patch's value whole;
* lists with strategy ``merge`` and a merge key (``containers`` by ``name``,
  ``volumeMounts`` by ``mountPath``, ``ownerReferences`` by ``uid``) merge element-wise by
  that key; lists of primitives with strategy ``merge`` (``finalizers``) are unioned;
  every other list (``args``, ``tolerations``) is replaced;
* directives: ``$patch: replace|delete`` on a map, ``{"$patch": "delete", <key>: v}`` and
  ``{"$patch": "replace"}`` elements in merge lists, ``$retainKeys`` (clear the keys not
  listed), ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>`` (the order
  of the merged list: listed items in that order, server-only items kept where they were).

With ``schema=None`` (a kind without upstream definitions) no field has patch metadata, so
the result is JSON merge patch semantics — maps merge, lists and scalars are replaced —
while directives are still honoured and never stored.

Where upstream keeps a patch value verbatim (a replaced list, a new list element), this
module also drops nulls and directive keys inside it: upstream leaves that to decoding into
Go structs, and nothing here decodes into structs. Errors are ``PatchError``s with
upstream's messages; upstream's BadRequest family is 400, everything else 422 (upstream
answers some of those with 500, which we keep for our own bugs).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import schemas
from pyk8s.api.patch.errors import PatchError, go_type, go_value

__all__ = ["apply_strategic_merge"]

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"
_NO_META = schemas.PatchMeta()

_BAD_DOC = "invalid JSON document"
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ORDER = "invalid patch format of setElementOrder list"

Node = schemas.SchemaNode | None


def apply_strategic_merge(
    original: dict[str, Any], patch: dict[str, Any], schema: schemas.SchemaNode | None
) -> dict[str, Any]:
    """``original`` with ``patch`` applied; neither input is modified."""
    if not isinstance(original, dict) or not isinstance(patch, dict):
        raise PatchError(_BAD_DOC, code=400)
    return _merge_map(_copy(original), _copy(patch), schema)


# --- maps ----------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: Node) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return _strip_map(patch)
        if directive == "delete":
            return {}
        patch[_DIRECTIVE] = directive
        raise PatchError(f"unknown patch type: {go_value(directive)} in map: {go_value(patch)}")
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)
    for key, value in list(patch.items()):
        delete_list = key.startswith(_DELETE_FROM)
        if delete_list:
            key = _strip_prefix(key, _DELETE_FROM, _BAD_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not delete_list:
                _store(original, key, value)
            continue
        current = original[key]
        child = node.field(key) if node is not None else None
        meta = child.meta if child is not None else _NO_META
        if isinstance(current, dict) and isinstance(value, dict):
            if meta.strategy == "replace":
                original[key] = _strip(value)
            else:
                original[key] = _merge_map(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, child, meta, delete_list)
        elif not delete_list:
            _store(original, key, value)
    return original


def _store(target: dict[str, Any], key: str, value: Any) -> None:
    """Set a value the original did not have (or had with another type)."""
    if isinstance(value, dict) and _DIRECTIVE in value:
        target.pop(key, None)  # a directive for something that is not there
    else:
        target[key] = _strip(value)


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list) or not all(isinstance(k, str) for k in retained):
        raise PatchError(_BAD_RETAIN_KEYS, code=400)
    keep = set(retained)
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM, _SET_ORDER)):
            continue
        if key not in keep:
            raise PatchError(_BAD_RETAIN_KEYS, code=400)
    for key in [k for k in original if k not in keep]:
        del original[key]


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], node: Node) -> None:
    """Apply every ``$setElementOrder/<field>`` together with the patch of ``<field>``."""
    for directive in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise PatchError(f"expected a []interface {{}}, but received a {go_type(order)}")
        key = _strip_prefix(directive, _SET_ORDER, _BAD_SET_ORDER)
        in_original, in_patch = key in original, key in patch
        current = _as_list(original[key]) if in_original else []
        wanted = _as_list(patch[key]) if in_patch else []
        child = node.field(key) if node is not None else None
        meta = child.meta if child is not None else _NO_META
        _check_order(wanted, order, meta.merge_key)
        live = _LiveView(current)
        if in_original and in_patch:
            merged = _merge_list_field(current, wanted, child, meta, delete_list=False, live=live)
        elif in_original:
            merged = current
        elif in_patch:
            merged = _strip(wanted)
        else:
            continue
        kind = _element_kind(current, wanted)
        if kind is not None:
            if meta.merge_key:
                listed, server_only = _partition_maps(merged, order, meta.merge_key)
            else:
                listed, server_only = _partition_scalars(merged, order)
            merged = _normalize_order(listed, server_only, order, live.items, meta.merge_key)
        original[key] = merged
        patch.pop(key, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list must be a subsequence of ``$setElementOrder`` (deletions aside)."""
    if not patch_list or not order:
        return
    items = _without_deletions(patch_list) if merge_key else patch_list
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and _DIRECTIVE in items[i]:
            i += 1
            continue
        if _merge_key_equal(items[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(items):
        raise PatchError(
            f"The order in patch list:\n{go_value(patch_list)}\n doesn't match "
            f"{_SET_ORDER} list:\n{go_value(order)}\n"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise PatchError(
                f"expected a map[string]interface {{}}, but received a {go_type(side)}"
            )
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _same(left[merge_key], right[merge_key])


# --- lists ---------------------------------------------------------------------------------


class _LiveView:
    """The caller's view of a list that upstream's ``mergeSlice`` edited in place.

    Upstream deletes elements with ``append(s[:i], s[i+1:]...)`` and adds new ones with
    ``append(s, v)``; both write into the backing array that the ``$setElementOrder`` step
    still reads through its own slice header (of the original length). That step then
    orders server-only items by: the survivors shifted left, the first new elements, stale
    leftovers. Upstream's orderings depend on it, so we replay it.
    """

    __slots__ = ("items", "length")

    def __init__(self, items: list[Any]) -> None:
        self.items = list(items)
        self.length = len(items)

    def delete(self, index: int) -> None:
        self.items[index : self.length - 1] = self.items[index + 1 : self.length]
        self.length -= 1

    def append(self, value: Any) -> None:
        if self.length < len(self.items):
            self.items[self.length] = value
        self.length += 1


def _merge_list_field(
    current: list[Any],
    patch: list[Any],
    child: Node,
    meta: schemas.PatchMeta,
    delete_list: bool,
    *,
    live: _LiveView | None = None,
) -> list[Any]:
    if meta.strategy != "merge" and not delete_list:
        return list(_strip(patch))
    # Upstream reads element metadata from the field's items, or from the field itself when
    # a list field's schema is the element type (a pointer-to-struct field used as a list).
    items = child.items() or child if child is not None else None
    return _merge_list(current, patch, items, meta.merge_key, delete_list, live)


def _merge_list(
    original: list[Any],
    patch: list[Any],
    items: Node,
    merge_key: str,
    delete_list: bool,
    live: _LiveView | None,
) -> list[Any]:
    if not original and not patch:
        return original
    original = list(original)  # the caller's list stays the live order
    kind = _element_kind(original, patch)
    if kind != "map":
        if delete_list:
            doomed = {_key(v) for v in patch}
            return [v for v in original if _key(v) not in doomed]
        merged = _dedupe(original + patch)
    else:
        if not merge_key:
            name = items.name if items is not None and items.name else "Struct"
            raise PatchError(f"cannot merge lists without merge key for {name}")
        original, patch = _apply_list_directives(original, patch, merge_key, live)
        merged = _merge_by_key(list(original), patch, merge_key, items, live)
    if merge_key:
        listed, server_only = _partition_maps(merged, patch, merge_key)
    else:
        listed, server_only = _partition_scalars(merged, patch)
    return _normalize_order(listed, server_only, patch, original, merge_key)


def _apply_list_directives(
    original: list[Any], patch: list[Any], merge_key: str, live: _LiveView | None
) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` elements; return (original, the patch's plain elements)."""
    plain: list[Any] = []
    replace = False
    for element in patch:
        if _DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
            while (index := _find(original, merge_key, element[merge_key])) is not None:
                del original[index]
                if live is not None:
                    live.delete(index)
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(
                f"unknown patch type: {go_value(directive)} in map: {go_value(element)}"
            )
    if replace:
        return [_strip(e) for e in plain], []
    return original, plain


def _merge_by_key(
    original: list[Any], patch: list[Any], merge_key: str, items: Node, live: _LiveView | None
) -> list[Any]:
    for element in patch:
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        index = _find(original, merge_key, element[merge_key])
        if index is None:
            original.append(_strip(element))
            if live is not None:
                live.append(original[-1])
        else:
            original[index] = _merge_map(original[index], element, items)
    return original


def _partition_maps(
    merged: list[Any], by: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    listed: list[Any] = []
    server_only: list[Any] = []
    for element in merged:
        if not isinstance(element, dict):
            raise PatchError(
                f"expected a map[string]interface {{}}, but received a {go_type(element)}"
            )
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        found = _find(by, merge_key, element[merge_key]) is not None
        (listed if found else server_only).append(element)
    return listed, server_only


def _partition_scalars(merged: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    wanted = {_key(v) for v in by if not isinstance(v, (dict, list))}
    listed = [v for v in merged if _key(v) in wanted]
    return listed, [v for v in merged if _key(v) not in wanted]


def _normalize_order(
    listed: list[Any], server_only: list[Any], order: list[Any], live: list[Any], merge_key: str
) -> list[Any]:
    """Patch items in patch order, server-only items in live order, interleaved by live order.

    Upstream's ``normalizeElementOrder`` + ``mergeSortedSlice``: a server-only item goes
    before a patch item only when both are in the live list and it came first there.
    """
    listed = _sort_by(listed, order, merge_key)
    server_only = _sort_by(server_only, live, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(listed):
        if j >= len(listed):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(listed[j])
            j += 1
        else:
            left = _index(live, server_only[i], merge_key)
            right = _index(live, listed[j], merge_key)
            if 0 <= left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(listed[j])
                j += 1
    return out


def _sort_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    deletions: list[Any] = []
    if merge_key:
        for element in (*items, *order):
            if not isinstance(element, dict):
                raise PatchError(
                    f"expected a map[string]interface {{}}, but received a {go_type(element)}"
                )
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
        deletions = [e for e in items if e.get(_DIRECTIVE) == "delete"]
        items = [e for e in items if e.get(_DIRECTIVE) != "delete"]

    def rank(element: Any) -> int:
        found = _index(order, element, merge_key)
        return found if found >= 0 else len(order)

    return sorted(items, key=rank) + deletions


def _index(items: list[Any], element: Any, merge_key: str) -> int:
    if merge_key:
        wanted = element.get(merge_key) if isinstance(element, dict) else None
        for i, item in enumerate(items):
            value = item.get(merge_key) if isinstance(item, dict) else None
            if _same(value, wanted):
                return i
        return -1
    for i, item in enumerate(items):
        if _same(item, element):
            return i
    return -1


def _find(items: list[Any], merge_key: str, value: Any) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError(f"value for key {i} is not a map")
        if merge_key in item and _same(item[merge_key], value):
            return i
    return None


def _without_deletions(items: list[Any]) -> list[Any]:
    for element in items:
        if not isinstance(element, dict):
            raise PatchError(
                f"expected a map[string]interface {{}}, but received a {go_type(element)}"
            )
    return [e for e in items if e.get(_DIRECTIVE) != "delete"]


def _element_kind(*lists: list[Any]) -> str | None:
    """The one Go type of every element; None when all lists are empty."""
    kind: str | None = None
    for values in lists:
        for value in values:
            this = "map" if isinstance(value, dict) else go_type(value)
            if kind is None:
                if isinstance(value, list):
                    raise PatchError("lists of lists are not supported")
                kind = this
            elif this != kind:
                shown = " ".join(go_value(v) for v in lists)
                raise PatchError(f"list element types are not identical: {shown}")
    return kind


# --- values --------------------------------------------------------------------------------


def _key(value: Any) -> tuple[str, Any]:
    """A hashable identity with Go's ``==`` on scalars: 1, 1.0 and True all differ."""
    if isinstance(value, (dict, list)):
        return ("json", repr(value))
    return (go_type(value), value)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return bool(left == right)
    return _key(left) == _key(right)


def _dedupe(values: list[Any]) -> list[Any]:
    seen: set[tuple[str, Any]] = set()
    out: list[Any] = []
    for value in values:
        key = _key(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _strip(value: Any) -> Any:
    """A patch value as it should be stored: no nulls in maps, no directives anywhere."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if v is None or k == _RETAIN_KEYS or k.startswith((_SET_ORDER, _DELETE_FROM)):
                continue
            if isinstance(v, dict) and _DIRECTIVE in v:
                continue
            out[k] = _strip(v)
        out.pop(_DIRECTIVE, None)
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and _DIRECTIVE in v)]
    return value


def _strip_map(value: dict[str, Any]) -> dict[str, Any]:
    stripped: dict[str, Any] = _strip(value)
    return stripped


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise PatchError(f"expected a []interface {{}}, but received a {go_type(value)}")
    return value


def _strip_prefix(key: str, prefix: str, error: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise PatchError(error, code=400)
    return rest


def _no_merge_key(element: dict[str, Any], merge_key: str) -> PatchError:
    return PatchError(f"map: {go_value(element)} does not contain declared merge key: {merge_key}")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
