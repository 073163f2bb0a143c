"""Every complete manifest in the user's notes (``shared/seeds``) goes through the
apiserver's create pipeline (decode check → defaults → strategy prepare → validation):
the ones upstream accepts must be accepted, the few upstream rejects must be rejected for
the same reason.  CRD-like and non-built-in kinds and YAML fragments are skipped, and
counted so a change in the notes or in the extractor is noticed."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from pyk8s.api import resources, validation
from pyk8s.api.defaults import apply_defaults
from seeds import Manifest, extract_manifests, load_seed_manifests

MANIFESTS = load_seed_manifests()
BUILTIN = [m for m in MANIFESTS if m.status == "builtin"]

# source → (stage, upstream's message).  Stage "decode" is a 400 BadRequest before
# validation; "validate" a 422 Invalid.
REJECTED: dict[str, tuple[str, str]] = {
    # "the below Pod resource contains two labels": a Pod with no spec at all.
    "000_34c007144d4b888e.txt:620": (
        "validate",
        'Pod "label-demo" is invalid: spec.containers: Required value',
    ),
    # `containers:` followed only by a comment (`# ...`): null.
    "000_34c007144d4b888e.txt:983": (
        "validate",
        'Pod "my-pod" is invalid: spec.containers: Required value',
    ),
    # data values are placeholders, not base64.
    "000_34c007144d4b888e.txt:1973": (
        "decode",
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 6',
    ),
    # spec indented under metadata: the Pod has no spec (kubectl's strict field validation
    # would first report the unknown field metadata.spec).
    "002_924830bfcc748a96.txt:113": (
        "validate",
        'Pod "kuard" is invalid: spec.containers: Required value',
    ),
}

# The LoadBalancer Service at 004:540 asks for clusterIP 10.0.171.239: validation accepts
# it; upstream's allocator then rejects it unless that IP is in the service CIDR.


def _create(m: Manifest) -> tuple[str, str]:
    """(stage, message) of the rejection, or ("", "") when the object is accepted."""
    key = m.key
    assert key is not None
    obj = copy.deepcopy(m.obj)
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    meta = obj["metadata"]
    res = next(r for r in resources.BUILTIN if r.key == key)
    if res.namespaced:
        meta.setdefault("namespace", "default")  # the request path supplies it
    meta.setdefault("uid", "7c0c3d52-1b1e-4c55-9d61-0f4a8a7f2f10")
    err = validation.decode_error(key, obj)
    if err:
        return "decode", err
    apply_defaults(key, obj)
    validation.prepare_for_create(key, obj)
    causes = validation.validate_create(key, obj)
    if causes:
        return "validate", validation.invalid_message(key, m.name, causes)
    return "", ""


def test_manifest_counts() -> None:
    counts = Counter(m.status for m in MANIFESTS)
    assert counts == {"builtin": 50, "other-kind": 1}
    accepted = sum(1 for m in BUILTIN if m.source not in REJECTED)
    assert (accepted, len(REJECTED)) == (46, 4)


@pytest.mark.parametrize("manifest", BUILTIN, ids=[m.id for m in BUILTIN])
def test_seed_manifest(manifest: Manifest) -> None:
    assert _create(manifest) == REJECTED.get(manifest.source, ("", ""))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Some prose.\n\n```yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n```\n",
            [("builtin", "Pod", "a")],
            id="fenced",
        ),
        pytest.param(
            "- item\n  ```yaml\n  kind: Service\n  apiVersion: v1\n  metadata:\n    name: s\n  ```\n",
            [("builtin", "Service", "s")],
            id="indented-under-list-kind-first",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\n"
            "kind: ConfigMap\nmetadata:\n  name: b\n",
            [("builtin", "ConfigMap", "a"), ("builtin", "ConfigMap", "b")],
            id="multi-document",
        ),
        pytest.param(
            "```\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n\nThen some prose follows\n",
            [("builtin", "Pod", "p")],
            id="unclosed-fence-stops-at-prose",
        ),
        pytest.param(
            "cat <<EOF | kind create cluster --config=-\nkind: Cluster\napiVersion: "
            "kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\nEOF\n",
            [("other-kind", "Cluster", "")],
            id="heredoc-non-builtin",
        ),
        pytest.param(
            "```yaml\nmetadata:\n  labels:\n    a: b\n```\n", [], id="fragment-not-extracted"
        ),
    ],
)
def test_extract_manifests(text: str, expected: list[tuple[str, str, str]]) -> None:
    got = [(m.status, m.obj.get("kind"), m.name) for m in extract_manifests(text)]
    assert got == expected


def _paths(obj: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@pytest.mark.parametrize("odd", [None, 7, "x", [], {}], ids=["null", "int", "str", "list", "dict"])
def test_malformed_fields_never_crash_the_pipeline(odd: object) -> None:
    """Every field of every seed manifest replaced by a value of the wrong JSON type: the
    pipeline reports causes (or a decode error) but never raises."""
    for m in BUILTIN:
        key = m.key
        assert key is not None
        for path in _paths(m.obj):
            obj = copy.deepcopy(m.obj)
            target = obj
            for step in path[:-1]:
                target = target[step]  # type: ignore[index]
            target[path[-1]] = copy.deepcopy(odd)  # type: ignore[index]
            if not isinstance(obj.get("metadata"), dict):
                obj["metadata"] = {}
            validation.decode_error(key, obj)
            apply_defaults(key, obj)
            validation.prepare_for_create(key, obj)
            validation.validate_create(key, obj)
            stored = copy.deepcopy(obj)
            stored["metadata"]["resourceVersion"] = "1"
            new = copy.deepcopy(m.obj)
            apply_defaults(key, new)
            validation.prepare_for_update(key, new, stored)
            validation.validate_update(key, new, stored)
