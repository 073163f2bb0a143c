"""JSON patch (RFC 6902, ``application/json-patch+json``) as upstream's apiserver applies it.

Upstream uses ``gopkg.in/evanphx/json-patch.v4``; this module keeps its messages (``error
in remove for path: '/a/b': Unable to remove nonexistent key: b: missing value``) and the
behaviours clients rely on:

* operations run in order on a copy; the first failure aborts the whole patch;
* ``replace`` of a missing object member sets it (evanphx v4 does, RFC 6902 would not);
  a missing array index is an error;
* ``test`` of a missing member passes when the expected value is ``null``;
* array indices are non-negative decimal integers, ``-`` appends (``add`` only);
* ``copy`` from a missing member is an error (evanphx v4 would copy ``null``).

A patch that is not a list of objects is malformed (``PatchError`` code 400); more than
``MAX_OPERATIONS`` operations is 413; an operation that does not apply is 422.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api.patch.errors import PatchError

__all__ = ["MAX_OPERATIONS", "apply_json_patch"]

MAX_OPERATIONS = 10000

_MISSING = "missing value"
_BAD_INDEX = "invalid index referenced"
_ABSENT = object()


def apply_json_patch(document: Any, patch: Any) -> Any:
    """``document`` with the operations of ``patch`` applied; neither input is modified."""
    if not isinstance(patch, list):
        kind = "object" if isinstance(patch, dict) else _json_kind(patch)
        raise PatchError(
            f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch", code=400
        )
    for op in patch:
        if not isinstance(op, dict):
            raise PatchError(
                f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation",
                code=400,
            )
    if len(patch) > MAX_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(patch)}",
            code=413,
        )
    doc = _copy(document)
    for op in patch:
        doc = _apply(doc, op)
    return doc


def _apply(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    if kind == "add":
        path = _path(op, "add")
        container, key = _parent(
            doc, path, f'add operation does not apply: doc is missing path: "{path}"', root_ok=True
        )
        if container is None:
            return _value(op)
        _add(container, key, _value(op), f"error in add for path: '{path}'")
    elif kind == "remove":
        path = _path(op, "remove")
        container, key = _parent(
            doc, path, f'remove operation does not apply: doc is missing path: "{path}"'
        )
        _remove(container, key, f"error in remove for path: '{path}'")
    elif kind == "replace":
        path = _path(op, "replace")
        value = _value(op)
        if path == "":
            if not isinstance(value, (dict, list)):
                raise PatchError("replace operation value must be object or array")
            return value
        container, key = _parent(
            doc, path, f"replace operation does not apply: doc is missing path: {path}"
        )
        if isinstance(container, list):
            index = _index(container, key, f"error in remove for path: '{path}'")
            if index >= len(container):
                raise PatchError(
                    f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
                )
            container[index] = value
        else:
            container[key] = value
    elif kind in ("move", "copy"):
        source = _from(op, kind)
        container, key = _parent(
            doc, source, f"{kind} operation does not apply: doc is missing from path: {source}"
        )
        if kind == "move":
            value = _get(container, key, f"error in move for path: '{key}'")
            _remove(container, key, f"error in move for path: '{key}'")
        else:
            value = _copy(_get(container, key, f"error in copy for from: '{source}'"))
            if value is _ABSENT:
                raise PatchError(
                    f"copy operation does not apply: doc is missing from path: {source}: {_MISSING}"
                )
        path = _path(op, kind)
        target, key = _parent(
            doc,
            path,
            f"{kind} operation does not apply: doc is missing destination path: {path}",
            root_ok=True,
        )
        if target is None:
            return value
        label = (
            f"error in move for path: '{path}'"
            if kind == "move"
            else "error while adding value during copy"
        )
        _add(target, key, value, label)
    elif kind == "test":
        _test(doc, op)
    else:
        raise PatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return doc


def _test(doc: Any, op: dict[str, Any]) -> None:
    path = _path(op, "test")
    expected = op.get("value")
    if path == "":
        actual: Any = doc
    else:
        container, key = _parent(
            doc, path, f"test operation does not apply: is missing path: {path}"
        )
        actual = _get(container, key, f"error in test for path: '{path}'")
        if actual is _ABSENT:
            actual = None
    if not _equal(actual, expected):
        raise PatchError(f"testing value {path} failed: test failed")


# --- pointers ------------------------------------------------------------------------------


def _path(op: dict[str, Any], kind: str) -> str:
    path = op.get("path")
    if isinstance(path, str):
        return path
    if path is not None:
        detail = f"json: cannot unmarshal {_json_kind(path)} into Go value of type string"
    elif kind in ("add", "remove", "copy"):
        detail = _MISSING  # evanphx drops the cause for these three
    else:
        detail = f"operation missing path field: {_MISSING}"
    raise PatchError(f"{kind} operation failed to decode path: {detail}")


def _from(op: dict[str, Any], kind: str) -> str:
    source = op.get("from")
    if not isinstance(source, str):
        raise PatchError(
            f"{kind} operation failed to decode from: operation, missing from field: {_MISSING}"
        )
    return source


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise PatchError(f"operation, missing value field: {_MISSING}")
    return _copy(op["value"])


def _parent(doc: Any, path: str, missing: str, *, root_ok: bool = False) -> tuple[Any, str]:
    """The container holding the last token of ``path``, and that (decoded) token.

    The root pointer ``""`` has no parent: ``(None, "")`` where the operation may target
    the whole document (add, and the destination of move and copy), an error elsewhere.
    """
    if path == "" and root_ok:
        return None, ""
    if path == "":
        raise PatchError(f"{missing}: {_MISSING}")
    if not path.startswith("/"):
        raise PatchError(f"{missing}: {_MISSING}")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    here = doc
    for token in tokens[:-1]:
        if isinstance(here, dict):
            here = here.get(token)
        elif isinstance(here, list) and token.isdigit() and int(token) < len(here):
            here = here[int(token)]
        else:
            here = None
        if not isinstance(here, (dict, list)):
            raise PatchError(f"{missing}: {_MISSING}")
    if not isinstance(here, (dict, list)):
        raise PatchError(f"{missing}: {_MISSING}")
    return here, tokens[-1]


def _index(container: list[Any], key: str, label: str) -> int:
    if not (key.isdigit() or (key.startswith("-") and key[1:].isdigit())):
        raise PatchError(f'{label}: strconv.Atoi: parsing "{key}": invalid syntax')
    index = int(key)
    if index < 0:
        raise PatchError(f"{label}: Unable to access invalid index: {index}: {_BAD_INDEX}")
    return index


def _add(container: Any, key: str, value: Any, label: str) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    if not (key.isdigit() or (key.startswith("-") and key[1:].isdigit())):
        raise PatchError(
            f"{label}: value was not a proper array index: '{key}': "
            f'strconv.Atoi: parsing "{key}": invalid syntax'
        )
    index = int(key)
    if index < 0 or index > len(container):
        raise PatchError(f"{label}: Unable to access invalid index: {index}: {_BAD_INDEX}")
    container.insert(index, value)


def _remove(container: Any, key: str, label: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"{label}: Unable to remove nonexistent key: {key}: {_MISSING}")
        del container[key]
        return
    index = _index(container, key, label)
    if index >= len(container):
        raise PatchError(f"{label}: Unable to access invalid index: {index}: {_BAD_INDEX}")
    del container[index]


def _get(container: Any, key: str, label: str) -> Any:
    if isinstance(container, dict):
        return container.get(key, _ABSENT)
    index = _index(container, key, label)
    if index >= len(container):
        raise PatchError(f"{label}: Unable to access invalid index: {index}: {_BAD_INDEX}")
    return container[index]


# --- values --------------------------------------------------------------------------------


def _equal(left: Any, right: Any) -> bool:
    """JSON equality: 1, 1.0 and true are three different values."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(v, right[k]) for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return type(left) is type(right) and bool(left == right)


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
