"""DaemonSet node eligibility, pod pinning, manage/rolling-update planning and status:
pure functions, tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.controllers import daemonset_nodes as dn
from pyk8s.controllers import daemonset_plan as dp

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
AGO = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    name: str, *, labels: dict[str, str] | None = None, taints: list[Obj] | None = None
) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def ds(
    *,
    surge: int | str = 0,
    unavailable: int | str = 1,
    strategy: str = "RollingUpdate",
    **tspec: Any,
) -> Obj:
    return {
        "metadata": {
            "name": "agent",
            "namespace": "ns",
            "uid": "ds-uid",
            "generation": 3,
            "annotations": {dn.GENERATION_ANNOTATION: "3"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [], **tspec},
            },
            "updateStrategy": {
                "type": strategy,
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
        },
        "status": {},
    }


def taint(key: str, effect: str, value: str = "") -> Obj:
    return {"key": key, "value": value, "effect": effect}


@pytest.mark.parametrize(
    ("template_spec", "the_node", "expected"),
    [
        pytest.param({}, node("a"), (True, True), id="plain"),
        pytest.param(
            {"nodeSelector": {"disk": "ssd"}}, node("a"), (False, False), id="selector-miss"
        ),
        pytest.param(
            {"nodeSelector": {"disk": "ssd"}},
            node("a", labels={"disk": "ssd"}),
            (True, True),
            id="selector-hit",
        ),
        pytest.param({"nodeName": "b"}, node("a"), (False, False), id="pinned-elsewhere"),
        pytest.param(
            {},
            node("a", taints=[taint("x", "NoSchedule")]),
            (False, True),
            id="noschedule-keeps-running",
        ),
        pytest.param(
            {}, node("a", taints=[taint("x", "NoExecute")]), (False, False), id="noexecute-evicts"
        ),
        pytest.param(
            {},
            node("a", taints=[taint("x", "PreferNoSchedule")]),
            (True, True),
            id="prefer-ignored",
        ),
        pytest.param(
            {
                "tolerations": [
                    {"key": "x", "operator": "Equal", "value": "1", "effect": "NoSchedule"}
                ]
            },
            node("a", taints=[taint("x", "NoSchedule", "1")]),
            (True, True),
            id="tolerated",
        ),
        pytest.param(
            {"tolerations": [{"key": "x", "operator": "Equal", "value": "2"}]},
            node("a", taints=[taint("x", "NoSchedule", "1")]),
            (False, True),
            id="wrong-value",
        ),
        pytest.param(
            {"tolerations": [{"operator": "Exists"}]},
            node("a", taints=[taint("x", "NoExecute")]),
            (True, True),
            id="tolerate-everything",
        ),
        pytest.param(
            {},
            node("a", taints=[taint("node.kubernetes.io/not-ready", "NoExecute")]),
            (True, True),
            id="default-not-ready",
        ),
        pytest.param(
            {},
            node("a", taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule")]),
            (True, True),
            id="default-unschedulable",
        ),
        pytest.param(
            {},
            node("a", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
            (False, True),
            id="network-unavailable-needs-hostnetwork",
        ),
        pytest.param(
            {"hostNetwork": True},
            node("a", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
            (True, True),
            id="network-unavailable-hostnetwork",
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "zone", "operator": "In", "values": ["z1"]}
                                    ]
                                },
                                {
                                    "matchFields": [
                                        {"key": "metadata.name", "operator": "In", "values": ["b"]}
                                    ]
                                },
                            ]
                        }
                    }
                }
            },
            node("b"),
            (True, True),
            id="affinity-terms-ored",
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "cpu", "operator": "Gt", "values": ["4"]},
                                        {"key": "gpu", "operator": "DoesNotExist"},
                                    ]
                                },
                            ]
                        }
                    }
                }
            },
            node("a", labels={"cpu": "8"}),
            (True, True),
            id="affinity-gt-and-does-not-exist",
        ),
        pytest.param(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{}]
                        }
                    }
                }
            },
            node("a"),
            (False, False),
            id="empty-term-matches-nothing",
        ),
    ],
)
def test_should_run(template_spec: Obj, the_node: Obj, expected: tuple[bool, bool]) -> None:
    assert dn.should_run(the_node, ds(**template_spec)) == expected


def test_default_tolerations_replace_matching_ones() -> None:
    spec: Obj = {
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {"key": "mine", "operator": "Exists"},
        ]
    }
    dn.add_default_tolerations(spec)
    keys = [(t["key"], t.get("tolerationSeconds")) for t in spec["tolerations"]]
    assert keys == [
        ("node.kubernetes.io/not-ready", None),
        ("mine", None),
        ("node.kubernetes.io/unreachable", None),
        ("node.kubernetes.io/disk-pressure", None),
        ("node.kubernetes.io/memory-pressure", None),
        ("node.kubernetes.io/pid-pressure", None),
        ("node.kubernetes.io/unschedulable", None),
    ]
    again = list(spec["tolerations"])
    dn.add_default_tolerations(spec)
    assert spec["tolerations"] == again


def test_pod_for_node_replaces_required_affinity_and_labels() -> None:
    d = ds(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "a", "operator": "Exists"}]}
                    ]
                }
            }
        }
    )
    pod = dn.pod_for_node(d, "n1", "h1")
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {
        "app": "agent",
        "pod-template-generation": "3",
        "controller-revision-hash": "h1",
    }
    assert pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ] == {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
        ]
    }
    assert "nodeName" not in pod["spec"]
    assert dn.target_node(pod) == "n1"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"


counter = iter(range(10_000))


def pod(
    node_name: str,
    *,
    hash_: str = "new",
    phase: str = "Running",
    ready: bool = True,
    age: int = 0,
    deleting: bool = False,
) -> Obj:
    p = dn.pod_for_node(ds(), node_name, hash_)
    p["metadata"]["name"] = f"agent-{next(counter)}"
    p["metadata"]["uid"] = p["metadata"]["name"]
    p["metadata"]["labels"].pop("pod-template-generation")
    p["metadata"]["creationTimestamp"] = (NOW - timedelta(minutes=100 - age)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    p["status"] = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": AGO}
        ],
    }
    if deleting:
        p["metadata"]["deletionTimestamp"] = AGO
    return p


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_manage_creates_and_deletes() -> None:
    nodes = [
        node("a"),
        node("b"),
        node("c", taints=[taint("x", "NoExecute")]),
        node("d", taints=[taint("x", "NoSchedule")]),
    ]
    on_c, on_d = pod("c"), pod("d")
    gone = pod("zz")
    gone_bound = pod("zz2")
    gone_bound["spec"]["nodeName"] = "zz2"
    by_node = dp.pods_by_node([on_c, on_d, gone, gone_bound])
    m = dp.manage(ds(), nodes, by_node, hash_="new", now=NOW, backoff={})
    assert m.create_on == ["a", "b"]
    # c: NoExecute evicts; d: NoSchedule keeps running; an unscheduled pod for a missing node goes
    assert names(m.delete) == [on_c["metadata"]["name"], gone["metadata"]["name"]]


def test_manage_failed_pods_with_backoff() -> None:
    failed = pod("a", phase="Failed")
    by_node = dp.pods_by_node([failed])
    m = dp.manage(ds(), [node("a")], by_node, hash_="new", now=NOW, backoff={})
    assert names(m.delete) == [failed["metadata"]["name"]]
    assert m.failed == [("a", failed)]
    waiting = dp.manage(ds(), [node("a")], by_node, hash_="new", now=NOW, backoff={"a": 4.0})
    assert waiting.delete == [] and waiting.create_on == [] and waiting.retry_after == 4.0


def test_manage_duplicates_keep_oldest() -> None:
    old, young = pod("a", age=0), pod("a", age=10)
    m = dp.manage(
        ds(), [node("a")], dp.pods_by_node([young, old]), hash_="new", now=NOW, backoff={}
    )
    assert names(m.delete) == [young["metadata"]["name"]]


@pytest.mark.parametrize(
    ("old_ready", "new_ready", "expect_old_deleted"),
    [
        pytest.param(True, False, False, id="keep-old-while-new-not-ready"),
        pytest.param(True, True, True, id="new-available-old-goes"),
        pytest.param(False, False, True, id="old-not-ready-goes"),
    ],
)
def test_manage_with_surge_pairs(
    old_ready: bool, new_ready: bool, expect_old_deleted: bool
) -> None:
    old = pod("a", hash_="old", ready=old_ready, age=0)
    new = pod("a", hash_="new", ready=new_ready, age=5)
    m = dp.manage(
        ds(surge=1, unavailable=0),
        [node("a")],
        dp.pods_by_node([old, new]),
        hash_="new",
        now=NOW,
        backoff={},
    )
    assert names(m.delete) == ([old["metadata"]["name"]] if expect_old_deleted else [])


def cluster_of(n: int, **kw: Any) -> tuple[list[Obj], list[Obj]]:
    nodes = [node(f"n{i}") for i in range(n)]
    return nodes, [pod(f"n{i}", **kw) for i in range(n)]


@pytest.mark.parametrize(
    ("unavailable", "n", "expected_deletions"),
    [
        pytest.param(1, 4, 1, id="one-at-a-time"),
        pytest.param(2, 4, 2, id="two"),
        pytest.param("50%", 4, 2, id="percent"),
        pytest.param("30%", 4, 2, id="percent-rounds-up"),
        pytest.param(0, 4, 0, id="zero-zero-means-one-but-surge"),
    ],
)
def test_rolling_update_max_unavailable(
    unavailable: int | str, n: int, expected_deletions: int
) -> None:
    nodes, pods = cluster_of(n, hash_="old")
    d = ds(unavailable=unavailable, surge=1 if unavailable == 0 else 0)
    delete, create_on = dp.rolling_update(d, nodes, dp.pods_by_node(pods), hash_="new", now=NOW)
    assert len(delete) == expected_deletions
    assert create_on == ([] if unavailable != 0 else ["n0"])


def test_rolling_update_counts_unavailable_new_pods() -> None:
    nodes, pods = cluster_of(3, hash_="old")
    pods[0] = pod("n0", hash_="new", ready=False)
    delete, _ = dp.rolling_update(
        ds(unavailable=1), nodes, dp.pods_by_node(pods), hash_="new", now=NOW
    )
    assert delete == []
    pods[0] = pod("n0", hash_="new")
    delete, _ = dp.rolling_update(
        ds(unavailable=1), nodes, dp.pods_by_node(pods), hash_="new", now=NOW
    )
    assert [dn.target_node(p) for p in delete] == ["n1"]


def test_rolling_update_replaces_unavailable_old_pods_first() -> None:
    nodes, pods = cluster_of(3, hash_="old")
    pods[2] = pod("n2", hash_="old", ready=False)
    delete, _ = dp.rolling_update(
        ds(unavailable=1), nodes, dp.pods_by_node(pods), hash_="new", now=NOW
    )
    assert [dn.target_node(p) for p in delete] == ["n2"]


def test_rolling_update_surge_deletes_old_when_new_available() -> None:
    nodes, pods = cluster_of(3, hash_="old")
    pods.append(pod("n0", hash_="new"))
    pods.append(pod("n1", hash_="new", ready=False))
    delete, create_on = dp.rolling_update(
        ds(surge=2, unavailable=0), nodes, dp.pods_by_node(pods), hash_="new", now=NOW
    )
    assert [dn.target_node(p) for p in delete] == ["n0"]
    # one surge slot is used by n1's unready new pod; n2 may take the other
    assert create_on == ["n2"]


def test_status_counts() -> None:
    nodes = [node("a"), node("b"), node("c"), node("d", taints=[taint("x", "NoSchedule")])]
    pods = [pod("a"), pod("b", ready=False), pod("d", hash_="old")]
    st = dp.status(
        ds(), nodes, dp.pods_by_node(pods), hash_="new", now=NOW, observe_generation=True
    )
    assert st == {
        "currentNumberScheduled": 2,
        "numberMisscheduled": 1,
        "desiredNumberScheduled": 3,
        "numberReady": 1,
        "observedGeneration": 3,
        "updatedNumberScheduled": 2,
        "numberAvailable": 1,
        "numberUnavailable": 2,
    }
