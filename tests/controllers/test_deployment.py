"""Deployment controller decisions without a server: fenceposts and their rounding, the
pod-template hash, revisions and annotations, proportional scaling, rolling and recreate
steps, rollover, history cleanup, status and conditions. Cases follow upstream's
sync_test.go, rolling_test.go, progress_test.go and deployment_util_test.go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.controllers import deployment_replicasets as drs
from pyk8s.controllers import deployment_scaling as scaling
from pyk8s.controllers import deployment_status as dstatus

Obj = dict[str, Any]
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def deploy(
    replicas: int = 10,
    *,
    surge: int | str | None = "25%",
    unavailable: int | str | None = "25%",
    strategy: str = "RollingUpdate",
    image: str = "nginx:1",
    annotations: dict[str, str] | None = None,
    generation: int = 1,
    status: Obj | None = None,
    progress_deadline: int | None = 600,
    history: int | None = 10,
) -> Obj:
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        },
        "strategy": {"type": strategy},
    }
    if strategy == "RollingUpdate":
        ru: Obj = {}
        if surge is not None:
            ru["maxSurge"] = surge
        if unavailable is not None:
            ru["maxUnavailable"] = unavailable
        spec["strategy"]["rollingUpdate"] = ru
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    if history is not None:
        spec["revisionHistoryLimit"] = history
    return {
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": "d-uid",
            "generation": generation,
            "annotations": annotations or {},
        },
        "spec": spec,
        "status": status or {},
    }


def rset(
    name: str,
    replicas: int,
    *,
    available: int | None = None,
    created: int = 0,
    image: str = "nginx:1",
    revision: int | None = None,
    desired: int | None = None,
    max_replicas: int | None = None,
    status_replicas: int | None = None,
    generation: int = 1,
    observed: int = 1,
) -> Obj:
    ann: dict[str, str] = {}
    if revision is not None:
        ann[drs.REVISION] = str(revision)
    if desired is not None:
        ann[drs.DESIRED_REPLICAS] = str(desired)
    if max_replicas is not None:
        ann[drs.MAX_REPLICAS] = str(max_replicas)
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "generation": generation,
            "creationTimestamp": f"2024-01-01T00:00:{created:02d}Z",
            "annotations": ann,
        },
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": {"app": "web", drs.DEFAULT_UNIQUE_LABEL: name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
        "status": {
            "replicas": replicas if status_replicas is None else status_replicas,
            "availableReplicas": replicas if available is None else available,
            "readyReplicas": replicas if available is None else available,
            "observedGeneration": observed,
        },
    }


def sizes(plan: list[scaling.Scale]) -> dict[str, int]:
    return {s.rs["metadata"]["name"]: s.to for s in plan}


# ---------------------------------------------------------------------- fenceposts


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        pytest.param("25%", "25%", 10, (3, 2), id="percent-rounds-surge-up-unavailable-down"),
        pytest.param("39%", "39%", 10, (4, 3), id="39-percent"),
        pytest.param("25%", "25%", 1, (1, 0), id="one-replica"),
        pytest.param(0, 0, 1, (0, 1), id="zero-zero-allows-one-unavailable"),
        pytest.param("0%", "0%", 10, (0, 1), id="zero-percent-both"),
        pytest.param("1%", "1%", 10, (1, 0), id="tiny-percent"),
        pytest.param(None, "39%", 10, (0, 3), id="no-surge"),
        pytest.param("39%", None, 10, (4, 0), id="no-unavailable"),
        pytest.param(None, None, 10, (0, 1), id="neither"),
        pytest.param(2, 3, 10, (2, 3), id="ints"),
        pytest.param("100%", "100%", 3, (3, 3), id="all"),
    ],
)
def test_resolve_fenceposts(
    surge: int | str | None, unavailable: int | str | None, desired: int, expected: tuple[int, int]
) -> None:
    assert drs.resolve_fenceposts(surge, unavailable, desired) == expected


def test_bad_percentages_are_errors() -> None:
    with pytest.raises(ValueError):
        drs.resolve_fenceposts("oops", "25%", 10)


@pytest.mark.parametrize(
    ("d", "surge", "unavailable"),
    [
        pytest.param(deploy(10), 3, 2, id="defaults"),
        pytest.param(deploy(2, unavailable=5), 1, 2, id="unavailable-capped-at-replicas"),
        pytest.param(deploy(0), 0, 0, id="zero-replicas"),
        pytest.param(deploy(10, strategy="Recreate"), 0, 0, id="recreate"),
    ],
)
def test_max_surge_and_unavailable(d: Obj, surge: int, unavailable: int) -> None:
    assert (drs.max_surge(d), drs.max_unavailable(d)) == (surge, unavailable)


# ---------------------------------------------------------------------- hash & finding


def test_compute_hash_is_stable_and_safe() -> None:
    template = deploy()["spec"]["template"]
    h = drs.compute_hash(template)
    assert h == drs.compute_hash(dict(reversed(list(template.items()))))
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(h) <= 10
    assert drs.compute_hash(template, 1) != h
    assert drs.compute_hash(deploy(image="nginx:2")["spec"]["template"]) != h


def test_safe_encode_maps_each_character() -> None:
    # '0' is byte 48 → 48 % 27 = 21 → '4'; '1' → 49 % 27 = 22 → '5'
    assert drs.safe_encode("01") == "45"


def test_equal_ignore_hash() -> None:
    a = {"metadata": {"labels": {"app": "web", drs.DEFAULT_UNIQUE_LABEL: "abc"}}, "spec": {"x": 1}}
    b = {"metadata": {"labels": {"app": "web"}, "annotations": {}}, "spec": {"x": 1, "y": []}}
    assert drs.equal_ignore_hash(a, b)
    assert not drs.equal_ignore_hash(a, {**b, "spec": {"x": 2}})


def test_new_replicaset_is_named_after_the_template_hash() -> None:
    d = deploy(
        10, annotations={"kubernetes.io/change-cause": "kubectl set image", drs.LAST_APPLIED: "{}"}
    )
    body = drs.new_replicaset(d, [rset("old", 10, revision=4)])
    h = drs.compute_hash(d["spec"]["template"])
    assert body["metadata"]["name"] == f"web-{h}"
    assert body["metadata"]["labels"] == {"app": "web", drs.DEFAULT_UNIQUE_LABEL: h}
    assert body["spec"]["selector"]["matchLabels"] == {"app": "web", drs.DEFAULT_UNIQUE_LABEL: h}
    assert body["spec"]["template"]["metadata"]["labels"][drs.DEFAULT_UNIQUE_LABEL] == h
    assert body["spec"]["replicas"] == 3  # 10 + 3 surge - 10 already running
    assert body["metadata"]["annotations"] == {
        "kubernetes.io/change-cause": "kubectl set image",
        drs.REVISION: "5",
        drs.DESIRED_REPLICAS: "10",
        drs.MAX_REPLICAS: "13",
    }
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": "d-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]


def test_find_new_and_old_replicasets() -> None:
    d = deploy(image="nginx:2")
    new_twin_older = rset("a", 1, image="nginx:2", created=1)
    new_twin_newer = rset("b", 1, image="nginx:2", created=2)
    old_active = rset("c", 3, image="nginx:1", created=0)
    old_idle = rset("d", 0, image="nginx:0", created=0)
    rss = [new_twin_newer, old_active, new_twin_older, old_idle]
    assert drs.find_new_replicaset(d, rss) is new_twin_older
    required, every = drs.find_old_replicasets(d, rss)
    assert required == [new_twin_newer, old_active]
    assert every == [new_twin_newer, old_active, old_idle]


# ---------------------------------------------------------------------- annotations


@pytest.mark.parametrize(
    ("existing", "new_revision", "expected", "changed"),
    [
        pytest.param({}, 1, {drs.REVISION: "1"}, True, id="first-revision"),
        pytest.param({drs.REVISION: "3"}, 3, {drs.REVISION: "3"}, False, id="up-to-date"),
        pytest.param({drs.REVISION: "5"}, 3, {drs.REVISION: "5"}, False, id="ahead-stays"),
        pytest.param(
            {drs.REVISION: "1"},
            3,
            {drs.REVISION: "3", drs.REVISION_HISTORY: "1"},
            True,
            id="rollback",
        ),
        pytest.param(
            {drs.REVISION: "2", drs.REVISION_HISTORY: "1"},
            4,
            {drs.REVISION: "4", drs.REVISION_HISTORY: "1,2"},
            True,
            id="history-grows",
        ),
        pytest.param(
            {drs.REVISION: "10"}, 9, {drs.REVISION: "10"}, False, id="numeric-not-string-compare"
        ),
    ],
)
def test_set_new_rs_annotations(
    existing: dict[str, str], new_revision: int, expected: dict[str, str], changed: bool
) -> None:
    out, did = drs.set_new_rs_annotations(deploy(), existing, new_revision, exists=True)
    assert (out, did) == (expected, changed)


def test_deployment_annotations_are_copied_except_the_skipped_ones() -> None:
    d = deploy(
        annotations={
            "kubernetes.io/change-cause": "v2",
            drs.LAST_APPLIED: "{}",
            drs.REVISION: "7",
            "team": "a",
        }
    )
    out, changed = drs.set_new_rs_annotations(d, {drs.REVISION: "2", "team": "a"}, 2, exists=True)
    assert changed
    assert out == {drs.REVISION: "2", "team": "a", "kubernetes.io/change-cause": "v2"}


def test_revision_history_is_capped_in_length() -> None:
    history = ",".join(str(i) for i in range(1, 600))  # > 2000 characters
    out, _ = drs.set_new_rs_annotations(
        deploy(), {drs.REVISION: "600", drs.REVISION_HISTORY: history}, 700, exists=True
    )
    assert len(out[drs.REVISION_HISTORY]) <= 2000
    assert out[drs.REVISION_HISTORY].endswith(",599,600")


# ---------------------------------------------------------------------- sizing


@pytest.mark.parametrize(
    ("d", "rss", "new_size"),
    [
        pytest.param(deploy(10, surge=0), [rset("old", 10), rset("new", 0)], 0, id="no-surge-room"),
        pytest.param(deploy(10, surge=2), [rset("old", 10), rset("new", 0)], 2, id="surge-2"),
        pytest.param(
            deploy(10, surge="25%"), [rset("old", 10), rset("new", 0)], 3, id="surge-25pct-up"
        ),
        pytest.param(
            deploy(10, surge=5), [rset("old", 2), rset("new", 7)], 10, id="capped-at-replicas"
        ),
        pytest.param(
            deploy(10, strategy="Recreate"), [rset("old", 10), rset("new", 0)], 10, id="recreate"
        ),
    ],
)
def test_new_rs_new_replicas(d: Obj, rss: list[Obj], new_size: int) -> None:
    assert drs.new_rs_new_replicas(d, rss, rss[-1]) == new_size


@pytest.mark.parametrize(
    ("rs", "saturated"),
    [
        pytest.param(rset("n", 10, desired=10), True, id="saturated"),
        pytest.param(rset("n", 10, desired=8), False, id="annotation-behind"),
        pytest.param(rset("n", 10, desired=10, available=9), False, id="not-all-available"),
        pytest.param(rset("n", 10), False, id="no-annotation"),
    ],
)
def test_is_saturated(rs: Obj, saturated: bool) -> None:
    assert drs.is_saturated(deploy(10), rs) is saturated


# ---------------------------------------------------------------------- proportional scaling


@pytest.mark.parametrize(
    ("d", "new", "old", "expected"),
    [
        pytest.param(
            deploy(12, surge=0, unavailable=0),
            rset("new", 10, desired=10, max_replicas=10),
            [],
            {"new": 12},
            id="single-active-10-to-12",
        ),
        pytest.param(
            deploy(5, surge=0, unavailable=0),
            rset("new", 10, desired=10, max_replicas=10),
            [],
            {"new": 5},
            id="single-active-10-to-5",
        ),
        pytest.param(
            deploy(10, surge=0, unavailable=0),
            rset("new", 2, desired=5, max_replicas=5, created=2),
            [rset("old", 3, desired=5, max_replicas=5, created=1)],
            {"old": 6, "new": 4},
            id="proportional-5-to-10",
        ),
        pytest.param(
            deploy(3, surge=0, unavailable=0),
            rset("new", 2, desired=5, max_replicas=5, created=2),
            [rset("old", 3, desired=5, max_replicas=5, created=1)],
            {"old": 2, "new": 1},
            id="proportional-5-to-3",
        ),
        pytest.param(
            deploy(4, surge=0, unavailable=0),
            rset("new", 8, desired=9, max_replicas=9, created=2),
            [rset("old", 1, desired=9, max_replicas=9, created=1)],
            {"new": 4, "old": 0},
            id="proportional-9-to-4",
        ),
        pytest.param(
            deploy(10, surge=0, unavailable=0),
            rset("new", 2, desired=7, max_replicas=7, created=3),
            [
                rset("older", 3, desired=7, max_replicas=7, created=1),
                rset("old", 2, desired=7, max_replicas=7, created=2),
            ],
            {"older": 4, "new": 3, "old": 3},
            id="proportional-7-to-10-newer-first-on-ties",
        ),
        pytest.param(
            deploy(8, surge=0, unavailable=0),
            rset("new", 2, desired=13, max_replicas=13, created=3),
            [
                rset("older", 8, desired=13, max_replicas=13, created=1),
                rset("old", 3, desired=13, max_replicas=13, created=2),
            ],
            {"older": 5, "old": 2, "new": 1},
            id="proportional-13-to-8",
        ),
        pytest.param(
            deploy(10, surge=0, unavailable=0),
            rset("new", 10, desired=10, max_replicas=10, created=2),
            [rset("old", 2, desired=10, max_replicas=10, created=1)],
            {"old": 0},
            id="saturated-new-scales-old-to-zero",
        ),
        pytest.param(
            deploy(20, surge=3, unavailable=0),
            rset("new", 3, desired=10, max_replicas=13, created=2),
            [rset("old", 10, desired=10, max_replicas=13, created=1)],
            {"old": 18, "new": 5},
            id="scale-up-mid-rollout-with-surge",
        ),
    ],
)
def test_proportional_scale(d: Obj, new: Obj, old: list[Obj], expected: dict[str, int]) -> None:
    plan = scaling.proportional_scale(d, new, old)
    assert {k: v for k, v in sizes(plan).items() if k in expected} == expected
    total = sum(s.to for s in plan)
    if len(plan) > 1:
        assert total == d["spec"]["replicas"] + drs.max_surge(d)


def test_scaling_event_is_seen_from_the_desired_annotation() -> None:
    rss = [rset("a", 3, desired=3), rset("b", 0, desired=1)]
    assert not scaling.is_scaling_event(deploy(3), rss)
    assert scaling.is_scaling_event(deploy(5), rss)


# ---------------------------------------------------------------------- rolling update


@pytest.mark.parametrize(
    ("replicas", "surge", "old", "new", "expected"),
    [
        pytest.param(10, 0, 10, 0, None, id="no-room-to-surge"),
        pytest.param(10, 2, 10, 0, 2, id="surge-2"),
        pytest.param(10, "25%", 10, 0, 3, id="surge-25pct"),
        pytest.param(10, 0, 0, 20, 10, id="too-big-scales-down"),
        pytest.param(10, 0, 0, 10, None, id="done"),
    ],
)
def test_plan_new_rs(
    replicas: int, surge: int | str, old: int, new: int, expected: int | None
) -> None:
    d = deploy(replicas, surge=surge, unavailable=1)
    rss = [rset("old", old, created=1), rset("new", new, created=2)]
    step = scaling.plan_new_rs(d, rss, rss[1])
    assert (step.to if step else None) == expected


@pytest.mark.parametrize(
    ("unavailable", "old", "old_ready", "new", "new_ready", "expected"),
    [
        pytest.param(0, 10, 10, 0, 0, None, id="no-unavailability-allowed"),
        pytest.param(2, 10, 10, 0, 0, 8, id="scale-down-by-max-unavailable"),
        pytest.param(2, 10, 8, 0, 0, 8, id="unhealthy-cleaned-first"),
        pytest.param(2, 10, 9, 0, 0, 8, id="one-unhealthy-one-healthy"),
        pytest.param(2, 8, 8, 2, 0, None, id="new-unavailable-blocks-further-scale-down"),
        pytest.param(2, 8, 8, 2, 2, 6, id="new-ready-allows-more"),
    ],
)
def test_plan_old_scale_down(
    unavailable: int, old: int, old_ready: int, new: int, new_ready: int, expected: int | None
) -> None:
    d = deploy(10, surge=1, unavailable=unavailable)
    old_rs = rset("old", old, available=old_ready, created=1)
    new_rs = rset("new", new, available=new_ready, created=2)
    plan = scaling.plan_old_scale_down(d, [old_rs, new_rs], [old_rs], new_rs)
    assert sizes(plan).get("old") == expected


def test_rollover_scales_the_intermediate_replicaset_down_first() -> None:
    """v1 → v2 (stuck, never ready) → v3: the unhealthy v2 replicas go first, as far as
    the surge allows (4 pods, at least 3 available → 1 may go); no v1 pod goes."""
    d = deploy(3, surge=1, unavailable=0, image="nginx:3")
    v1 = rset("v1", 2, created=1, image="nginx:1")
    v2 = rset("v2", 2, available=0, created=2, image="nginx:2")
    v3 = rset("v3", 0, created=3, image="nginx:3")
    rss = [v1, v2, v3]
    assert drs.find_new_replicaset(d, rss) is v3
    _, old = drs.find_old_replicasets(d, rss)
    assert scaling.plan_new_rs(d, rss, v3) is None  # 4 pods already: no surge room
    plan = scaling.plan_old_scale_down(d, rss, scaling.filter_active(old), v3)
    assert sizes(plan) == {"v2": 1}
    # the next round: v3 got the freed slot; v2's last unhealthy replica goes next
    v2 = rset("v2", 1, available=0, created=2, image="nginx:2")
    v3 = rset("v3", 1, available=0, created=3, image="nginx:3")
    plan = scaling.plan_old_scale_down(d, [v1, v2, v3], [v1, v2], v3)
    assert sizes(plan) == {}  # v3's unavailable pod blocks any further scale-down
    v3 = rset("v3", 1, available=1, created=3, image="nginx:3")
    plan = scaling.plan_old_scale_down(d, [v1, v2, v3], [v1, v2], v3)
    assert sizes(plan) == {"v2": 0}


def test_recreate_waits_for_old_pods() -> None:
    new = rset("new", 0)
    old = [rset("old", 0, status_replicas=0)]
    running = {"uid-old": [{"status": {"phase": "Running"}}]}
    finished = {"uid-old": [{"status": {"phase": "Succeeded"}}], "uid-new": [{"status": {}}]}
    assert scaling.old_pods_running(new, old, running)
    assert not scaling.old_pods_running(new, old, finished)
    assert scaling.old_pods_running(new, [rset("old", 0, status_replicas=1)], {})


def test_history_cleanup_removes_the_oldest_idle_revisions() -> None:
    d = deploy(3, history=1)
    old = [
        rset("r1", 0, revision=1, created=1),
        rset("r3", 0, revision=3, created=3),
        rset("r2", 0, revision=2, created=2, status_replicas=1),  # pods still going away
        rset("r4", 0, revision=4, created=4, generation=2, observed=1),  # not observed yet
    ]
    names = [rs["metadata"]["name"] for rs in scaling.replicasets_to_clean_up(d, old)]
    assert names == ["r1", "r3"]  # the three oldest, minus r2 whose pods are not gone
    assert scaling.replicasets_to_clean_up(deploy(3, history=None), old) == []
    assert scaling.replicasets_to_clean_up(deploy(3, history=2**31 - 1), old) == []


# ---------------------------------------------------------------------- status


def test_calculate_status() -> None:
    d = deploy(3, generation=4)
    new = rset("new", 2, available=1)
    old = rset("old", 2, available=2)
    status = dstatus.calculate_status([old, new], new, d, NOW)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 4,
        "replicas": 4,
        "updatedReplicas": 2,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "unavailableReplicas": 1,
    }
    assert status["conditions"] == [
        {
            "type": "Available",
            "status": "True",
            "lastUpdateTime": "2024-05-01T12:00:00Z",
            "lastTransitionTime": "2024-05-01T12:00:00Z",
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
        }
    ]


def test_unavailable_condition() -> None:
    d = deploy(4, surge=0, unavailable=1)
    status = dstatus.calculate_status([rset("new", 4, available=2)], None, d, NOW)
    cond = status["conditions"][0]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
    )


def progressing(reason: str, status: str = "True", updated_ago: float = 0) -> Obj:
    t = (NOW - timedelta(seconds=updated_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "Progressing",
        "status": status,
        "reason": reason,
        "message": "",
        "lastUpdateTime": t,
        "lastTransitionTime": t,
    }


@pytest.mark.parametrize(
    ("prior", "new_available", "reason", "status"),
    [
        pytest.param(
            {"replicas": 3, "updatedReplicas": 3, "conditions": [progressing("ReplicaSetUpdated")]},
            3,
            "NewReplicaSetAvailable",
            "True",
            id="complete",
        ),
        pytest.param(
            {
                "replicas": 3,
                "updatedReplicas": 1,
                "availableReplicas": 0,
                "conditions": [progressing("NewReplicaSetCreated", updated_ago=5)],
            },
            1,
            "ReplicaSetUpdated",
            "True",
            id="progress",
        ),
        pytest.param(
            {
                "replicas": 3,
                "updatedReplicas": 3,
                "availableReplicas": 0,
                "readyReplicas": 0,
                "conditions": [progressing("ReplicaSetUpdated", updated_ago=700)],
            },
            0,
            "ProgressDeadlineExceeded",
            "False",
            id="deadline-exceeded",
        ),
        pytest.param(
            {
                "replicas": 3,
                "updatedReplicas": 3,
                "availableReplicas": 0,
                "readyReplicas": 0,
                "conditions": [progressing("ReplicaSetUpdated", updated_ago=100)],
            },
            0,
            "ReplicaSetUpdated",
            "True",
            id="within-deadline",
        ),
    ],
)
def test_rollout_status_progress(prior: Obj, new_available: int, reason: str, status: str) -> None:
    d = deploy(3, status=prior)
    new = rset("web-abc", 3, available=new_available)
    got = dstatus.rollout_status([new], new, d, NOW)
    cond = next(c for c in got["conditions"] if c["type"] == "Progressing")
    assert (cond["reason"], cond["status"]) == (reason, status)
    subject = 'ReplicaSet "web-abc"'
    messages = {
        "NewReplicaSetAvailable": f"{subject} has successfully progressed.",
        "ReplicaSetUpdated": f"{subject} is progressing.",
        "ProgressDeadlineExceeded": f"{subject} has timed out progressing.",
    }
    if cond["lastUpdateTime"] == "2024-05-01T12:00:00Z":
        assert cond["message"] == messages[reason]


def test_progress_keeps_its_transition_time() -> None:
    prior = {
        "replicas": 3,
        "updatedReplicas": 1,
        "conditions": [progressing("NewReplicaSetCreated", updated_ago=50)],
    }
    d = deploy(3, status=prior)
    got = dstatus.rollout_status([rset("n", 3, available=1)], rset("n", 3, available=1), d, NOW)
    cond = got["conditions"][-1]
    assert cond["lastUpdateTime"] == "2024-05-01T12:00:00Z"
    assert cond["lastTransitionTime"] == "2024-05-01T11:59:10Z"


def test_no_progressing_condition_without_deadline() -> None:
    d = deploy(3, progress_deadline=None, status={"conditions": [progressing("ReplicaSetUpdated")]})
    got = dstatus.rollout_status([rset("n", 3)], rset("n", 3), d, NOW)
    assert [c["type"] for c in got["conditions"]] == ["Available"]


def test_replica_failure_is_promoted() -> None:
    new = rset("n", 3, available=0)
    new["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": "quota",
            "lastTransitionTime": "2024-05-01T11:00:00Z",
        }
    ]
    got = dstatus.rollout_status([new], new, deploy(3), NOW)
    failure = next(c for c in got["conditions"] if c["type"] == "ReplicaFailure")
    assert (failure["reason"], failure["message"]) == ("FailedCreate", "quota")


@pytest.mark.parametrize(
    ("paused", "current", "expected_reason"),
    [
        pytest.param(True, None, "DeploymentPaused", id="pause"),
        pytest.param(True, progressing("DeploymentPaused", "Unknown"), None, id="already-paused"),
        pytest.param(
            False, progressing("DeploymentPaused", "Unknown"), "DeploymentResumed", id="resume"
        ),
        pytest.param(
            True, progressing("ProgressDeadlineExceeded", "False"), None, id="timed-out-stays"
        ),
        pytest.param(False, None, None, id="running"),
    ],
)
def test_paused_condition(paused: bool, current: Obj | None, expected_reason: str | None) -> None:
    d = deploy(3, status={"conditions": [current]} if current else {})
    d["spec"]["paused"] = paused
    got = dstatus.paused_condition(d, NOW)
    if expected_reason is None:
        assert got is None
    else:
        assert got is not None
        cond = got["conditions"][-1]
        assert (cond["reason"], cond["status"]) == (expected_reason, "Unknown")
        assert (
            cond["message"]
            == {
                "DeploymentPaused": "Deployment is paused",
                "DeploymentResumed": "Deployment is resumed",
            }[expected_reason]
        )


@pytest.mark.parametrize(
    ("updated_ago", "expected"),
    [
        pytest.param(0, 601.0, id="full-deadline"),
        pytest.param(300, 301.0, id="half-way"),
        pytest.param(599.5, 0.0, id="due-now"),
    ],
)
def test_progress_check_after(updated_ago: float, expected: float) -> None:
    d = deploy(
        3, status={"conditions": [progressing("ReplicaSetUpdated", updated_ago=updated_ago)]}
    )
    got = dstatus.progress_check_after(d, {"replicas": 3, "updatedReplicas": 1}, NOW)
    assert got == pytest.approx(expected, abs=1.0)


def test_status_equality_ignores_absent_zero_counts() -> None:
    assert dstatus.status_equal({"replicas": 0, "conditions": []}, {})
    assert not dstatus.status_equal({"replicas": 1}, {})
