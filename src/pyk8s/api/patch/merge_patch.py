"""JSON merge patch (RFC 7386, ``application/merge-patch+json``) as upstream applies it.

Upstream uses ``evanphx/json-patch``'s ``MergePatch``; its results are RFC 7386's, plus:

* a value that lands where the target had nothing (or ``null``, or a non-object) has its
  ``null`` members removed, also inside objects nested in arrays (``null`` array
  elements stay);
* a patch that is an array replaces the whole document (the HTTP layer then rejects it
  as not an object of the resource's kind);
* a patch that is ``null`` or a scalar is malformed: ``PatchError("Invalid JSON Patch")``,
  code 400.

Neither input is modified; the result shares no structure with them.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api.patch.errors import PatchError

__all__ = ["apply_merge_patch"]


def apply_merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386 ``MergePatch(original, patch)``."""
    if isinstance(patch, list):
        return _pruned(patch)
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch", code=400)
    if not isinstance(original, dict):
        return _pruned(patch)
    return _merge(_copy(original), patch)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if not isinstance(current, dict):
            target[key] = _pruned(value)
        elif isinstance(value, dict):
            target[key] = _merge(current, value)
        else:
            target[key] = _copy(value)
    return target


def _pruned(value: Any) -> Any:
    """A copy of ``value`` without ``null`` object members, at any depth."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
