"""StatefulSet planning, identities, claims and revisions: pure functions, tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.controllers import statefulset_pods as sp
from pyk8s.controllers import workload_history as history
from pyk8s.controllers.statefulset_plan import plan

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
LONG_AGO = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sts(replicas: int = 3, **spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid", "generation": 2},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            **spec,
        },
        "status": {},
    }


def pod(
    ordinal: int,
    phase: str = "Running",
    *,
    ready: bool = True,
    revision: str = "web-new",
    deleting: bool = False,
) -> Obj:
    name = f"web-{ordinal}"
    p: Obj = {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{ordinal}",
            "labels": {
                "app": "web",
                sp.POD_NAME_LABEL: name,
                sp.POD_INDEX_LABEL: str(ordinal),
                "controller-revision-hash": revision,
            },
        },
        "spec": {},
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": LONG_AGO,
                }
            ],
        },
    }
    if deleting:
        p["metadata"]["deletionTimestamp"] = LONG_AGO
    return p


def run(
    set_: Obj, pods: list[Obj], *, current: str = "web-new", claims: dict[str, Obj] | None = None
) -> Any:
    return plan(
        set_,
        pods,
        current_set=set_,
        update_set=set_,
        current_revision=current,
        update_revision="web-new",
        collision_count=0,
        claims=claims or {},
        now=NOW,
    )


def steps(p: Any) -> list[tuple[str, str]]:
    return [(s.kind.value, s.pod["metadata"]["name"]) for s in p.steps]


@pytest.mark.parametrize(
    ("set_", "pods", "expected"),
    [
        pytest.param(sts(3), [], [("create", "web-0")], id="ordered-creates-first-only"),
        pytest.param(sts(3), [pod(0, ready=False)], [], id="ordered-waits-for-ready"),
        pytest.param(sts(3), [pod(0, "Pending", ready=False)], [], id="ordered-waits-for-running"),
        pytest.param(sts(3), [pod(0)], [("create", "web-1")], id="ordered-next-after-ready"),
        pytest.param(sts(3), [pod(0, deleting=True)], [], id="ordered-waits-for-terminating"),
        pytest.param(
            sts(3, podManagementPolicy="Parallel"),
            [],
            [("create", "web-0"), ("create", "web-1"), ("create", "web-2")],
            id="parallel-creates-all",
        ),
        pytest.param(
            sts(2, podManagementPolicy="Parallel"),
            [pod(0, ready=False)],
            [("create", "web-1")],
            id="parallel-does-not-wait",
        ),
        pytest.param(
            sts(2), [pod(0, "Failed"), pod(1)], [("delete", "web-0")], id="failed-pod-deleted"
        ),
        pytest.param(
            sts(2), [pod(0, "Succeeded"), pod(1)], [("delete", "web-0")], id="succeeded-pod-deleted"
        ),
        pytest.param(
            sts(1),
            [pod(0), pod(1), pod(2)],
            [("delete", "web-2")],
            id="ordered-scale-down-highest-first",
        ),
        pytest.param(
            sts(1, podManagementPolicy="Parallel"),
            [pod(0), pod(1), pod(2)],
            [("delete", "web-2"), ("delete", "web-1")],
            id="parallel-scale-down-all",
        ),
        pytest.param(
            sts(1),
            [pod(0), pod(1), pod(2, deleting=True)],
            [],
            id="ordered-scale-down-waits-for-terminating",
        ),
        pytest.param(
            sts(1),
            [pod(0), pod(1, ready=False), pod(2)],
            [("delete", "web-2")],
            id="scale-down-healthy-before-first-unhealthy",
        ),
        pytest.param(
            sts(1),
            [pod(0), pod(1, ready=False)],
            [("delete", "web-1")],
            id="first-unhealthy-may-go",
        ),
        pytest.param(
            sts(1),
            [pod(0), pod(1, ready=False), pod(2, ready=False)],
            [],
            id="unhealthy-higher-blocks",
        ),
        pytest.param(
            {**sts(3), "metadata": {**sts(3)["metadata"], "deletionTimestamp": LONG_AGO}},
            [],
            [],
            id="set-being-deleted-does-nothing",
        ),
    ],
)
def test_scaling(set_: Obj, pods: list[Obj], expected: list[tuple[str, str]]) -> None:
    assert steps(run(set_, pods)) == expected


def old_pods(n: int, **kw: Any) -> list[Obj]:
    return [pod(i, revision="web-old", **kw) for i in range(n)]


@pytest.mark.parametrize(
    ("rolling", "pods", "expected"),
    [
        pytest.param({"partition": 0}, old_pods(3), ["web-2"], id="highest-first"),
        pytest.param({"partition": 2}, old_pods(3), ["web-2"], id="partition-2"),
        pytest.param({"partition": 3}, old_pods(3), [], id="partition-covers-all"),
        pytest.param(
            {"partition": 0, "maxUnavailable": 2},
            old_pods(3),
            ["web-2", "web-1"],
            id="max-unavailable-2",
        ),
        pytest.param(
            {"partition": 0, "maxUnavailable": "50%"},
            old_pods(3),
            ["web-2"],
            id="percent-rounds-down",
        ),
        pytest.param(
            {"partition": 0, "maxUnavailable": "10%"}, old_pods(3), ["web-2"], id="at-least-one"
        ),
        pytest.param(
            {"partition": 0},
            [pod(0, revision="web-old"), pod(1, revision="web-old"), pod(2, ready=False)],
            [],
            id="waits-for-updated-pod-to-be-ready",
        ),
        pytest.param(
            {"partition": 0},
            [pod(0, revision="web-old"), pod(1, revision="web-old"), pod(2)],
            ["web-1"],
            id="continues-downwards",
        ),
    ],
)
def test_rolling_update(rolling: Obj, pods: list[Obj], expected: list[str]) -> None:
    set_ = sts(3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    p = run(set_, pods, current="web-old")
    assert [name for kind, name in steps(p) if kind == "delete"] == expected
    current_count = sum(
        1 for x in pods if x["metadata"]["labels"]["controller-revision-hash"] == "web-old"
    )
    assert p.status["currentReplicas"] == current_count - len(expected)


def test_on_delete_never_deletes_for_update() -> None:
    set_ = sts(3, updateStrategy={"type": "OnDelete"})
    assert steps(run(set_, old_pods(3), current="web-old")) == []


def test_status_counts_and_completed_rollout() -> None:
    pods = [pod(0), pod(1), pod(2, ready=False)]
    p = run(sts(3), pods, current="web-old")
    assert p.status == {
        "observedGeneration": 2,
        "replicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "currentReplicas": 0,
        "updatedReplicas": 3,
        "currentRevision": "web-old",
        "updateRevision": "web-new",
        "collisionCount": 0,
    }
    done = run(sts(3), [pod(0), pod(1), pod(2)], current="web-old")
    assert done.status["currentRevision"] == "web-new"
    assert done.status["currentReplicas"] == 3


def test_min_ready_seconds_blocks_ordered_creation() -> None:
    fresh = pod(0)
    fresh["status"]["conditions"][0]["lastTransitionTime"] = (NOW - timedelta(seconds=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert steps(run(sts(2, minReadySeconds=10), [fresh])) == []
    assert steps(run(sts(2, minReadySeconds=3), [fresh])) == [("create", "web-1")]


def test_identity_drift_is_repaired() -> None:
    drifted = pod(1)
    del drifted["metadata"]["labels"][sp.POD_INDEX_LABEL]
    assert steps(run(sts(2), [pod(0), drifted])) == [("update", "web-1")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("web-0", ("web", 0), id="simple"),
        pytest.param("my-web-12", ("my-web", 12), id="dashes-in-name"),
        pytest.param("web", ("", -1), id="no-ordinal"),
        pytest.param("web-x", ("", -1), id="not-a-number"),
        pytest.param("web-99999999999", ("web", -1), id="overflows-int32"),
    ],
)
def test_parent_and_ordinal(name: str, expected: tuple[str, int]) -> None:
    assert sp.parent_and_ordinal({"metadata": {"name": name}}) == expected


def test_new_pod_identity_storage_and_revision() -> None:
    set_ = sts(
        3,
        volumeClaimTemplates=[
            {"metadata": {"name": "www"}, "spec": {}, "status": {"phase": "Pending"}}
        ],
        template={
            "metadata": {"labels": {"app": "web"}},
            "spec": {"volumes": [{"name": "www", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]},
        },
    )
    p = sp.new_pod(set_, 2, "web-abc")
    assert p["metadata"]["name"] == "web-2"
    assert p["metadata"]["labels"] == {
        "app": "web",
        sp.POD_NAME_LABEL: "web-2",
        sp.POD_INDEX_LABEL: "2",
        "controller-revision-hash": "web-abc",
    }
    assert p["metadata"]["ownerReferences"][0]["uid"] == "set-uid"
    assert p["spec"]["hostname"] == "web-2"
    assert p["spec"]["subdomain"] == "web"
    assert p["spec"]["volumes"] == [
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}},
        {"name": "cfg", "emptyDir": {}},
    ]
    claim = sp.claims_for(set_, 2)["www"]
    assert claim["metadata"] == {"name": "www-web-2", "namespace": "ns", "labels": {"app": "web"}}
    assert "status" not in claim


@pytest.mark.parametrize(
    ("ordinal", "partition", "expected"),
    [
        pytest.param(0, 2, "web-old", id="below-partition-current"),
        pytest.param(2, 2, "web-new", id="at-partition-update"),
    ],
)
def test_new_versioned_pod_partition(ordinal: int, partition: int, expected: str) -> None:
    set_ = sts(
        3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}
    )
    p = sp.new_versioned_pod(set_, set_, "web-old", "web-new", ordinal)
    assert p["metadata"]["labels"]["controller-revision-hash"] == expected


SET_REF = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "name": "web",
    "uid": "set-uid",
    "controller": True,
}


def pod_ref(ordinal: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": f"web-{ordinal}",
        "uid": f"uid-{ordinal}",
        "controller": True,
    }


@pytest.mark.parametrize(
    ("when_deleted", "when_scaled", "ordinal", "expected_kinds"),
    [
        pytest.param("Retain", "Retain", 0, [], id="retain-retain"),
        pytest.param("Delete", "Retain", 0, ["StatefulSet"], id="delete-on-set-deletion"),
        pytest.param("Retain", "Delete", 0, [], id="delete-on-scale-in-range"),
        pytest.param("Retain", "Delete", 5, ["Pod"], id="delete-on-scale-condemned"),
        pytest.param("Delete", "Delete", 0, ["StatefulSet"], id="delete-delete-in-range"),
        pytest.param("Delete", "Delete", 5, ["Pod"], id="delete-delete-condemned"),
    ],
)
def test_claim_owner_refs_follow_retention_policy(
    when_deleted: str, when_scaled: str, ordinal: int, expected_kinds: list[str]
) -> None:
    set_ = sts(
        3,
        persistentVolumeClaimRetentionPolicy={
            "whenDeleted": when_deleted,
            "whenScaled": when_scaled,
        },
    )
    p = pod(ordinal)
    claim: Obj = {"metadata": {"name": f"www-web-{ordinal}"}}
    refs = sp.updated_claim_owner_refs(claim, set_, p)
    assert [r["kind"] for r in refs] == expected_kinds
    claim["metadata"]["ownerReferences"] = refs
    assert sp.claim_owner_up_to_date(claim, set_, p)
    if expected_kinds:
        assert not sp.claim_owner_up_to_date({"metadata": {}}, set_, p)


def test_claims_with_foreign_controller_or_stale_ref_are_left_alone() -> None:
    set_ = sts(
        3, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"}
    )
    foreign = {
        "metadata": {
            "ownerReferences": [{"kind": "Other", "name": "x", "uid": "o", "controller": True}]
        }
    }
    assert sp.claim_owner_up_to_date(foreign, set_, pod(0))
    assert (
        sp.updated_claim_owner_refs(foreign, set_, pod(0)) == foreign["metadata"]["ownerReferences"]
    )
    stale = {"metadata": {"ownerReferences": [{**SET_REF, "uid": "old-set"}]}}
    assert sp.claim_owner_up_to_date(stale, set_, pod(0))


def test_stale_claim_blocks_pod_creation() -> None:
    set_ = sts(
        1,
        volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {}}],
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Delete"},
    )
    claims = {"www-web-0": {"metadata": {"name": "www-web-0", "ownerReferences": [pod_ref(0)]}}}
    assert steps(run(set_, [], claims=claims)) == []
    assert steps(run(set_, [])) == [("create", "web-0")]


# ---------------------------------------------------------------------- revisions


def test_revision_hash_is_stable_and_safe() -> None:
    data = history.template_patch(sts())
    h = history.hash_revision(data, 0)
    assert h == history.hash_revision(data, 0)
    assert h != history.hash_revision(data, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    rev = history.new_revision(
        sts(),
        api_version="apps/v1",
        kind="StatefulSet",
        template_labels={"app": "web"},
        data=data,
        revision=3,
        collision_count=0,
    )
    assert rev["metadata"]["name"] == f"web-{h}"
    assert rev["metadata"]["labels"] == {"app": "web", "controller-revision-hash": h}
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert sp.apply_revision(sts(), rev)["spec"]["template"] == sts()["spec"]["template"]


def test_go_json_matches_go_encoding() -> None:
    assert history.go_json({"b": 1, "a": "<&>"}) == b'{"a":"\\u003c\\u0026\\u003e","b":1}'
    # FNV-1 32 of "a" is 0x050c5d7e
    assert history._fnv1(b"a") == 0x050C5D7E
    assert history._fnv1a(b"a") == 0xE40C292C


def rev(name: str, number: int, data: Any) -> Obj:
    return {"metadata": {"name": name}, "revision": number, "data": data}


@pytest.mark.parametrize(
    ("revisions", "candidate_data", "expected"),
    [
        pytest.param([rev("a", 1, 1), rev("b", 2, 2)], 2, ("reuse", "b"), id="unchanged"),
        pytest.param([rev("a", 1, 1), rev("b", 2, 2)], 1, ("renumber", "a"), id="rollback"),
        pytest.param([rev("a", 1, 1), rev("b", 2, 2)], 3, ("create", "c"), id="new-template"),
    ],
)
def test_choose_update_revision(
    revisions: list[Obj], candidate_data: int, expected: tuple[str, str]
) -> None:
    action, chosen = history.choose_update_revision(revisions, rev("c", 3, candidate_data))
    assert (action, chosen["metadata"]["name"]) == expected


@pytest.mark.parametrize(
    ("limit", "live", "expected"),
    [
        pytest.param(10, set(), [], id="under-limit"),
        pytest.param(1, set(), ["r1", "r2"], id="oldest-first"),
        pytest.param(1, {"r1"}, ["r2"], id="live-kept"),
        pytest.param(0, {"r4"}, ["r1", "r2", "r3"], id="zero"),
        pytest.param(-1, set(), [], id="negative-keeps-all"),
    ],
)
def test_revisions_to_truncate(limit: int, live: set[str], expected: list[str]) -> None:
    revisions = [rev(f"r{i}", i, i) for i in range(1, 4)]
    out = history.revisions_to_truncate(revisions, live, limit)
    assert [r["metadata"]["name"] for r in out] == expected
