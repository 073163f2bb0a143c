"""json_patch: RFC 6902 with upstream's (evanphx/json-patch v4) messages and quirks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api.patch import PatchError
from pyk8s.api.patch.json_patch import MAX_OPERATIONS, apply_json_patch

DOC: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "web", "a/b": "1", "m~n": "2"}},
    "spec": {"replicas": 1, "list": ["a", "b", "c"], "nested": {"x": [{"y": 1}]}},
}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        pytest.param(
            [{"op": "add", "path": "/metadata/labels/tier", "value": "web"}],
            {"metadata": {"labels": {"app": "web", "a/b": "1", "m~n": "2", "tier": "web"}}},
            id="add-member",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/1", "value": "x"}],
            {"spec": {"list": ["a", "x", "b", "c"]}},
            id="add-inserts-into-array",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/-", "value": "d"}],
            {"spec": {"list": ["a", "b", "c", "d"]}},
            id="add-dash-appends",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/3", "value": "d"}],
            {"spec": {"list": ["a", "b", "c", "d"]}},
            id="add-at-length-appends",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/replicas", "value": 3}],
            {"spec": {"replicas": 3}},
            id="add-replaces-existing-member",
        ),
        pytest.param(
            [{"op": "remove", "path": "/metadata/labels/a~1b"}],
            {"metadata": {"labels": {"app": "web", "m~n": "2"}}},
            id="remove-escaped-slash",
        ),
        pytest.param(
            [{"op": "remove", "path": "/metadata/labels/m~0n"}],
            {"metadata": {"labels": {"app": "web", "a/b": "1"}}},
            id="remove-escaped-tilde",
        ),
        pytest.param(
            [{"op": "remove", "path": "/spec/list/0"}],
            {"spec": {"list": ["b", "c"]}},
            id="remove-array-element",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/replicas", "value": 5}],
            {"spec": {"replicas": 5}},
            id="replace",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/paused", "value": True}],
            {"spec": {"paused": True}},
            id="replace-missing-member-sets-it-like-upstream",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/list/2", "value": "z"}],
            {"spec": {"list": ["a", "b", "z"]}},
            id="replace-array-element",
        ),
        pytest.param(
            [{"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/role"}],
            {"metadata": {"labels": {"role": "web", "a/b": "1", "m~n": "2"}}},
            id="move",
        ),
        pytest.param(
            [{"op": "move", "from": "/spec/list/0", "path": "/spec/list/-"}],
            {"spec": {"list": ["b", "c", "a"]}},
            id="move-within-array",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/nested/x", "path": "/spec/copied"}],
            {"spec": {"copied": [{"y": 1}]}},
            id="copy",
        ),
        pytest.param(
            [
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 2},
            ],
            {"spec": {"replicas": 2}},
            id="test-then-replace",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/missing", "value": None}],
            {},
            id="test-missing-against-null-passes",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/nested", "value": {"x": [{"y": 1}]}}],
            {},
            id="test-deep-equality",
        ),
        pytest.param(
            [{"op": "replace", "path": "", "value": {"kind": "X"}}],
            None,
            id="replace-root",
        ),
        pytest.param(
            [{"op": "add", "path": "", "value": {"kind": "X"}}],
            None,
            id="add-root",
        ),
        pytest.param([], {}, id="empty-patch"),
    ],
)
def test_apply(ops: list[dict[str, Any]], expected: dict[str, Any] | None) -> None:
    original = copy.deepcopy(DOC)
    result = apply_json_patch(original, ops)
    assert original == DOC  # input untouched
    if expected is None:
        assert result == {"kind": "X"}
        return
    want = copy.deepcopy(DOC)
    for section, values in expected.items():
        if section == "metadata" and "labels" in values:
            want["metadata"]["labels"] = values["labels"]
        else:
            want[section].update(values)
    assert result == want


def test_copies_do_not_alias() -> None:
    result = apply_json_patch(DOC, [{"op": "copy", "from": "/spec/nested", "path": "/spec/n2"}])
    result["spec"]["n2"]["x"][0]["y"] = 99
    assert result["spec"]["nested"]["x"][0]["y"] == 1
    assert DOC["spec"]["nested"]["x"][0]["y"] == 1


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        pytest.param(
            [{"op": "remove", "path": "/metadata/labels/nope"}],
            "error in remove for path: '/metadata/labels/nope': "
            "Unable to remove nonexistent key: nope: missing value",
            id="remove-missing-key",
        ),
        pytest.param(
            [{"op": "remove", "path": "/spec/list/7"}],
            "error in remove for path: '/spec/list/7': "
            "Unable to access invalid index: 7: invalid index referenced",
            id="remove-index-out-of-range",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/missing/deeper", "value": 1}],
            'add operation does not apply: doc is missing path: "/spec/missing/deeper": '
            "missing value",
            id="add-missing-parent",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/9", "value": 1}],
            "error in add for path: '/spec/list/9': "
            "Unable to access invalid index: 9: invalid index referenced",
            id="add-index-out-of-range",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/-1", "value": 1}],
            "error in add for path: '/spec/list/-1': "
            "Unable to access invalid index: -1: invalid index referenced",
            id="negative-index",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/list/x", "value": 1}],
            "error in add for path: '/spec/list/x': value was not a proper array index: 'x': "
            'strconv.Atoi: parsing "x": invalid syntax',
            id="non-numeric-index",
        ),
        pytest.param(
            [{"op": "replace", "path": "/spec/list/3", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/list/3: missing value",
            id="replace-index-out-of-range",
        ),
        pytest.param(
            [{"op": "replace", "path": "/nope/x", "value": 1}],
            "replace operation does not apply: doc is missing path: /nope/x: missing value",
            id="replace-missing-parent",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/replicas", "value": 2}],
            "testing value /spec/replicas failed: test failed",
            id="test-fails",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/replicas", "value": 1.0}],
            "testing value /spec/replicas failed: test failed",
            id="test-int-is-not-float",
        ),
        pytest.param(
            [{"op": "test", "path": "/spec/replicas", "value": True}],
            "testing value /spec/replicas failed: test failed",
            id="test-int-is-not-bool",
        ),
        pytest.param(
            [{"op": "move", "from": "/spec/nope", "path": "/spec/x"}],
            "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value",
            id="move-missing-source",
        ),
        pytest.param(
            [{"op": "copy", "from": "/spec/nope", "path": "/spec/x"}],
            "copy operation does not apply: doc is missing from path: /spec/nope: missing value",
            id="copy-missing-source",
        ),
        pytest.param(
            [{"op": "move", "path": "/spec/x"}],
            "move operation failed to decode from: operation, missing from field: missing value",
            id="move-without-from",
        ),
        pytest.param(
            [{"op": "add", "value": 1}],
            "add operation failed to decode path: missing value",
            id="add-without-path",
        ),
        pytest.param(
            [{"op": "replace", "value": 1}],
            "replace operation failed to decode path: operation missing path field: missing value",
            id="replace-without-path",
        ),
        pytest.param(
            [{"op": "add", "path": "/spec/x"}],
            "operation, missing value field: missing value",
            id="add-without-value",
        ),
        pytest.param(
            [{"op": "frobnicate", "path": "/x"}], "Unexpected kind: frobnicate", id="bad-op"
        ),
        pytest.param([{"path": "/x"}], "Unexpected kind: unknown", id="missing-op"),
        pytest.param(
            [{"op": "remove", "path": ""}],
            'remove operation does not apply: doc is missing path: "": missing value',
            id="remove-root",
        ),
        pytest.param(
            [{"op": "copy", "from": "", "path": "/x"}],
            "copy operation does not apply: doc is missing from path: : missing value",
            id="copy-from-root",
        ),
        pytest.param(
            [
                {"op": "replace", "path": "/spec/replicas", "value": 9},
                {"op": "test", "path": "/spec/replicas", "value": 1},
            ],
            "testing value /spec/replicas failed: test failed",
            id="later-failure-aborts-all",
        ),
    ],
)
def test_errors_do_not_apply(ops: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(DOC, ops)
    assert caught.value.message == message
    assert caught.value.code == 422


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        pytest.param(
            {"op": "add"},
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            id="object",
        ),
        pytest.param(
            ["add"],
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
            id="not-operations",
        ),
        pytest.param(
            None, "json: cannot unmarshal null into Go value of type jsonpatch.Patch", id="null"
        ),
    ],
)
def test_malformed_patch_is_bad_request(patch: Any, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(DOC, patch)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_too_many_operations() -> None:
    ops = [{"op": "test", "path": "/spec/replicas", "value": 1}] * (MAX_OPERATIONS + 1)
    with pytest.raises(PatchError) as caught:
        apply_json_patch(DOC, ops)
    assert caught.value.code == 413
    assert caught.value.message == (
        "The allowed maximum operations in a JSON patch is 10000, got 10001"
    )
