"""merge_patch: RFC 7386 (its appendix A examples) and upstream's null pruning."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api.patch import PatchError
from pyk8s.api.patch.merge_patch import apply_merge_patch


@pytest.mark.parametrize(
    ("original", "patch", "expected"),
    [
        # RFC 7386, appendix A
        pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="rfc-replace-member"),
        pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="rfc-add-member"),
        pytest.param({"a": "b"}, {"a": None}, {}, id="rfc-null-removes"),
        pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="rfc-remove-one"),
        pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="rfc-array-by-scalar"),
        pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="rfc-scalar-by-array"),
        pytest.param(
            {"a": {"b": "c"}},
            {"a": {"b": "d", "c": None}},
            {"a": {"b": "d"}},
            id="rfc-nested",
        ),
        pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="rfc-arrays-replaced"),
        pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="rfc-array-document"),
        pytest.param({"a": "b"}, ["c"], ["c"], id="rfc-array-patch-replaces-document"),
        pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="rfc-existing-null-kept"),
        pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="rfc-object-onto-array"),
        pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="rfc-deep-new-null"),
        # Kubernetes-shaped
        pytest.param(
            {"metadata": {"labels": {"app": "web", "tier": "x"}}},
            {"metadata": {"labels": {"tier": None, "new": "1"}}},
            {"metadata": {"labels": {"app": "web", "new": "1"}}},
            id="labels",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}},
            {"spec": {"containers": [{"name": "a", "image": "y"}]}},
            {"spec": {"containers": [{"name": "a", "image": "y"}]}},
            id="lists-are-replaced-not-merged",
        ),
        # upstream (evanphx) null pruning
        pytest.param(
            {"spec": {}},
            {"spec": {"template": {"a": None, "b": [{"c": None, "d": 1}, None]}}},
            {"spec": {"template": {"b": [{"d": 1}, None]}}},
            id="new-values-lose-nulls-even-in-arrays",
        ),
        pytest.param(
            {"spec": {"x": "scalar"}},
            {"spec": {"x": {"y": None, "z": 1}}},
            {"spec": {"x": {"z": 1}}},
            id="object-over-scalar-pruned",
        ),
        pytest.param(
            {"spec": {"x": {"old": 1}}},
            {"spec": {"x": [{"y": None}]}},
            {"spec": {"x": [{"y": None}]}},
            id="array-over-object-kept-verbatim",
        ),
        pytest.param({"a": 1}, {}, {"a": 1}, id="empty-patch"),
    ],
)
def test_apply_merge_patch(original: Any, patch: Any, expected: Any) -> None:
    before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    assert apply_merge_patch(original, patch) == expected
    assert (original, patch) == (before, patch_before)


def test_result_shares_nothing_with_inputs() -> None:
    original = {"a": {"b": [1]}}
    patch = {"c": {"d": [2]}}
    result = apply_merge_patch(original, patch)
    result["a"]["b"].append(9)
    result["c"]["d"].append(9)
    assert original == {"a": {"b": [1]}} and patch == {"c": {"d": [2]}}


@pytest.mark.parametrize("patch", [None, "x", 1, True], ids=["null", "string", "int", "bool"])
def test_scalar_patch_is_bad_request(patch: Any) -> None:
    with pytest.raises(PatchError) as caught:
        apply_merge_patch({"a": 1}, patch)
    assert (caught.value.code, caught.value.message) == (400, "Invalid JSON Patch")
