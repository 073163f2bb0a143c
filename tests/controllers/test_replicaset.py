"""ReplicaSet controller logic without a server: the deletion ranking, how many pods to
create or delete, status, the claim rules, pods from templates, slow-start batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.controllers import podcontrol, pods, refs, replicaset_plan

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
Obj = dict[str, Any]


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str,
    *,
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 3600,
    created_ago: float = 7200,
    restarts: int = 0,
    cost: int | None = None,
    labels: dict[str, str] | None = None,
    owner: Obj | None = None,
    deleting: bool = False,
) -> Obj:
    conditions = []
    if ready_for is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": ts(ready_for)})
    else:
        conditions.append({"type": "Ready", "status": "False"})
    meta: Obj = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "creationTimestamp": ts(created_ago),
        "labels": labels if labels is not None else {"app": "web"},
    }
    if cost is not None:
        meta["annotations"] = {pods.DELETION_COST_ANNOTATION: str(cost)}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    return {
        "metadata": meta,
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"name": "c", "restartCount": restarts}],
        },
    }


def rs(
    replicas: int = 3, *, min_ready: int = 0, generation: int = 1, status: Obj | None = None
) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid", "generation": generation},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {}},
        },
        "status": status or {},
    }


# ---------------------------------------------------------------------- deletion ranking


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(pod("a", node=""), pod("b"), id="unassigned-before-assigned"),
        pytest.param(
            pod("a", phase="Pending"), pod("b", phase="Unknown"), id="pending-before-unknown"
        ),
        pytest.param(pod("a", phase="Unknown"), pod("b"), id="unknown-before-running"),
        pytest.param(pod("a", ready_for=None), pod("b"), id="not-ready-before-ready"),
        pytest.param(pod("a", cost=-5), pod("b", cost=10), id="lower-deletion-cost-first"),
        pytest.param(pod("a", ready_for=10), pod("b", ready_for=100000), id="ready-shorter-first"),
        pytest.param(pod("a", restarts=5), pod("b", restarts=1), id="more-restarts-first"),
        pytest.param(
            pod("a", created_ago=60), pod("b", created_ago=86400), id="newer-before-older"
        ),
        pytest.param(
            pod("a", node="", phase="Running"),
            pod("b", node="n1", phase="Pending", ready_for=None),
            id="unassigned-beats-phase",
        ),
        pytest.param(
            pod("a", ready_for=None, cost=100),
            pod("b", cost=-100),
            id="readiness-beats-cost",
        ),
    ],
)
def test_deletion_order_prefers(first: Obj, second: Obj) -> None:
    assert pods.deletion_order([second, first], now=NOW)[0] is first
    assert pods.deletion_order([first, second], now=NOW)[0] is first


def test_doubled_up_pods_go_first() -> None:
    lone = pod("lone", node="n1")
    crowded = pod("crowded", node="n2")
    related = [lone, crowded, pod("x", node="n2"), pod("y", node="n2")]
    assert pods.deletion_order([lone, crowded], related=related, now=NOW)[0] is crowded


def test_ready_times_in_the_same_log2_bucket_fall_back_to_creation_and_uid() -> None:
    # ready 1000 s and 1001 s ago land in one log2 bucket: no preference from ready time
    a = pod("a", ready_for=1000, created_ago=70000)
    b = pod("b", ready_for=1001, created_ago=70001)
    order = pods.deletion_order([b, a], now=NOW)
    # creation times also share a bucket → ordered by uid
    assert [p["metadata"]["name"] for p in order] == ["a", "b"]


def test_without_now_times_compare_exactly() -> None:
    a = pod("a", ready_for=1000)
    b = pod("b", ready_for=1001)
    assert pods.deletion_order([b, a])[0] is a  # ready more recently goes first


@pytest.mark.parametrize(
    ("p", "min_ready", "expected"),
    [
        pytest.param(pod("a", ready_for=5), 0, True, id="ready-no-min"),
        pytest.param(pod("a", ready_for=5), 10, False, id="not-ready-long-enough"),
        pytest.param(pod("a", ready_for=11), 10, True, id="ready-long-enough"),
        pytest.param(pod("a", ready_for=10), 10, False, id="exactly-min-is-not-yet"),
        pytest.param(pod("a", ready_for=None), 0, False, id="not-ready"),
    ],
)
def test_is_available(p: Obj, min_ready: int, expected: bool) -> None:
    assert pods.is_available(p, min_ready, NOW) is expected


@pytest.mark.parametrize(
    ("p", "active"),
    [
        pytest.param(pod("a"), True, id="running"),
        pytest.param(pod("a", phase="Succeeded"), False, id="succeeded"),
        pytest.param(pod("a", phase="Failed"), False, id="failed"),
        pytest.param(pod("a", deleting=True), False, id="deleting"),
    ],
)
def test_is_active(p: Obj, active: bool) -> None:
    assert pods.is_active(p) is active


# ---------------------------------------------------------------------- plan


@pytest.mark.parametrize(
    ("replicas", "have", "create", "delete"),
    [
        pytest.param(3, 0, 3, 0, id="create-all"),
        pytest.param(3, 3, 0, 0, id="steady"),
        pytest.param(3, 5, 0, 2, id="delete-extra"),
        pytest.param(0, 2, 0, 2, id="scale-to-zero"),
        pytest.param(1000, 0, 500, 0, id="burst-cap-create"),
        pytest.param(0, 700, 0, 500, id="burst-cap-delete"),
    ],
)
def test_plan_replicas(replicas: int, have: int, create: int, delete: int) -> None:
    active = [pod(f"p{i}") for i in range(have)]
    plan = replicaset_plan.plan_replicas(rs(replicas), active, now=NOW)
    assert (plan.create, len(plan.delete)) == (create, delete)


def test_plan_deletes_the_least_valuable_pods() -> None:
    keep = [pod("keep1"), pod("keep2")]
    pending = pod("pending", phase="Pending", ready_for=None)
    unready = pod("unready", ready_for=None)
    plan = replicaset_plan.plan_replicas(rs(2), [keep[0], unready, keep[1], pending], now=NOW)
    assert [p["metadata"]["name"] for p in plan.delete] == ["pending", "unready"]


# ---------------------------------------------------------------------- status


def test_replica_status_counts() -> None:
    active = [
        pod("a", labels={"app": "web", "tier": "fe"}),
        pod("b", labels={"app": "web"}),
        pod("c", ready_for=None, labels={"app": "web", "tier": "fe"}),
        pod("d", ready_for=5, labels={"app": "web", "tier": "fe", "extra": "x"}),
    ]
    status = replicaset_plan.replica_status(rs(4, min_ready=10), active, manage_error=None, now=NOW)
    assert status == {
        "replicas": 4,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 2,
    }


def test_replica_failure_condition_is_set_and_cleared() -> None:
    failed = replicaset_plan.replica_status(
        rs(3), [pod("a")], manage_error='pods "web-x" is forbidden: quota', now=NOW
    )
    assert failed["conditions"] == [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "lastTransitionTime": "2024-05-01T12:00:00Z",
            "reason": "FailedCreate",
            "message": 'pods "web-x" is forbidden: quota',
        }
    ]
    again = replicaset_plan.replica_status(
        {**rs(3), "status": failed}, [pod("a")], manage_error="other", now=NOW + timedelta(1)
    )
    assert again["conditions"] == failed["conditions"]  # an existing failure is kept as is
    cleared = replicaset_plan.replica_status(
        {**rs(3), "status": failed}, [pod("a")], manage_error=None, now=NOW
    )
    assert "conditions" not in cleared
    too_many = replicaset_plan.replica_status(rs(0), [pod("a")], manage_error="boom", now=NOW)
    assert too_many["conditions"][0]["reason"] == "FailedDelete"


@pytest.mark.parametrize(
    ("obj", "status", "needed"),
    [
        pytest.param(
            rs(status={"replicas": 3, "observedGeneration": 1}), {"replicas": 3}, False, id="same"
        ),
        pytest.param(
            rs(status={"replicas": 2, "observedGeneration": 1}), {"replicas": 3}, True, id="count"
        ),
        pytest.param(
            rs(generation=2, status={"replicas": 3, "observedGeneration": 1}),
            {"replicas": 3},
            True,
            id="generation",
        ),
        pytest.param(
            rs(status={"observedGeneration": 1}),
            {"conditions": [{"type": "ReplicaFailure"}]},
            True,
            id="conditions",
        ),
    ],
)
def test_status_needs_update(obj: Obj, status: Obj, needed: bool) -> None:
    assert replicaset_plan.status_needs_update(obj, status) is needed


def test_replication_controller_map_selector() -> None:
    rc = {"spec": {"selector": {"app": "web"}}}
    assert replicaset_plan.REPLICATION_CONTROLLER.selector(rc).matches({"app": "web", "x": "y"})
    assert not replicaset_plan.REPLICATION_CONTROLLER.selector({"spec": {}}).matches({"app": "web"})


# ---------------------------------------------------------------------- claiming

OWNER = {"metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid"}}
MINE = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "web",
    "uid": "rs-uid",
    "controller": True,
}
THEIRS = {**MINE, "uid": "other"}


@pytest.mark.parametrize(
    ("owner", "obj", "matches", "action"),
    [
        pytest.param(OWNER, pod("a", owner=MINE), True, refs.ClaimAction.KEEP, id="ours-matching"),
        pytest.param(
            OWNER, pod("a", owner=MINE), False, refs.ClaimAction.RELEASE, id="ours-not-matching"
        ),
        pytest.param(
            OWNER, pod("a", owner=THEIRS), True, refs.ClaimAction.IGNORE, id="someone-elses"
        ),
        pytest.param(OWNER, pod("a"), True, refs.ClaimAction.ADOPT, id="orphan-matching"),
        pytest.param(OWNER, pod("a"), False, refs.ClaimAction.IGNORE, id="orphan-not-matching"),
        pytest.param(
            OWNER, pod("a", deleting=True), True, refs.ClaimAction.IGNORE, id="orphan-deleting"
        ),
        pytest.param(
            {"metadata": {**OWNER["metadata"], "deletionTimestamp": "x"}},
            pod("a"),
            True,
            refs.ClaimAction.IGNORE,
            id="owner-deleting-no-adoption",
        ),
        pytest.param(
            {"metadata": {**OWNER["metadata"], "deletionTimestamp": "x"}},
            pod("a", owner=MINE),
            False,
            refs.ClaimAction.IGNORE,
            id="owner-deleting-no-release",
        ),
        pytest.param(
            {"metadata": {**OWNER["metadata"], "namespace": "other"}},
            pod("a"),
            True,
            refs.ClaimAction.IGNORE,
            id="other-namespace",
        ),
    ],
)
def test_claim_action(owner: Obj, obj: Obj, matches: bool, action: refs.ClaimAction) -> None:
    assert refs.claim_action(owner, obj, matches) is action


def test_adopt_and_release_patches_carry_the_uid() -> None:
    p = pod("a")
    ref = refs.controller_ref(OWNER, api_version="apps/v1", kind="ReplicaSet")
    assert ref == {**MINE, "blockOwnerDeletion": True}
    assert refs.adopt_patch(p, ref) == {"metadata": {"ownerReferences": [ref], "uid": "uid-a"}}
    assert refs.release_patch(p, "rs-uid") == {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": "rs-uid"}], "uid": "uid-a"}
    }


# ---------------------------------------------------------------------- pod control


def test_pod_from_template() -> None:
    template = {
        "metadata": {
            "labels": {"app": "web"},
            "annotations": {"a": "b"},
            "finalizers": ["x/y"],
            "name": "ignored",
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    owner = {"metadata": {"name": "web-abc", "namespace": "ns", "uid": "u"}}
    got = podcontrol.pod_from_template(template, owner=owner, ref=MINE)
    assert got == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-abc-",
            "namespace": "ns",
            "labels": {"app": "web"},
            "annotations": {"a": "b"},
            "finalizers": ["x/y"],
            "ownerReferences": [MINE],
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    got["spec"]["containers"][0]["image"] = "changed"
    assert template["spec"]["containers"][0]["image"] == "nginx"  # a copy


@pytest.mark.parametrize(
    ("count", "fail_at", "batches", "successes"),
    [
        pytest.param(10, None, [1, 2, 4, 3], 10, id="doubling"),
        pytest.param(1, None, [1], 1, id="one"),
        pytest.param(0, None, [], 0, id="none"),
        pytest.param(10, 2, [1, 2], 2, id="failure-stops-after-its-batch"),
    ],
)
async def test_slow_start_batch(
    count: int, fail_at: int | None, batches: list[int], successes: int
) -> None:
    calls = 0
    seen: list[int] = []
    in_flight = 0

    async def fn() -> None:
        nonlocal calls, in_flight
        calls += 1
        this = calls
        in_flight += 1
        if in_flight == 1:
            seen.append(0)
        seen[-1] += 1
        await asyncio.sleep(0)
        in_flight -= 1
        if fail_at is not None and this == fail_at:
            raise RuntimeError("quota")

    ok, err = await podcontrol.slow_start_batch(count, fn)
    assert seen == batches
    assert ok == successes
    assert (err is None) is (fail_at is None)
