"""What the pod workers keep of a pod, and how they compare and patch its status."""

from __future__ import annotations

from typing import Any

from pyk8s.kubelet.sim import config, lifecycle, pods

FULL: dict[str, Any] = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u",
        "resourceVersion": "9",
        "labels": {"app": "web", config.NEVER_READY: "b"},
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{" + "x" * 5000 + "}",
            config.CRASH: "a",
        },
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "1"}],
        "managedFields": [{"manager": "kubectl"}],
        "deletionTimestamp": "2026-01-01T00:00:00Z",
        "deletionGracePeriodSeconds": 10,
    },
    "spec": {
        "nodeName": "n",
        "restartPolicy": "OnFailure",
        "terminationGracePeriodSeconds": 10,
        "readinessGates": [{"conditionType": "g"}],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "tolerations": [{"operator": "Exists"}],
        "initContainers": [
            {"name": "s", "image": "i", "restartPolicy": "Always", "env": [{"name": "A"}]}
        ],
        "containers": [
            {"name": "a", "image": "i", "readinessProbe": {"initialDelaySeconds": 3},
             "volumeMounts": [{"name": "v", "mountPath": "/v"}]},
            {"name": "b", "image": "j", "startupProbe": {"initialDelaySeconds": 2},
             "resources": {"requests": {"cpu": "1"}}},
        ],
    },
    "status": {"phase": "Running", "conditions": [{"type": "g", "status": "True"}]},
}  # fmt: skip


def test_slim_pod_keeps_what_the_lifecycle_reads() -> None:
    slim = pods.slim_pod(FULL)
    assert slim["metadata"]["annotations"] == {config.CRASH: "a"}
    assert slim["metadata"]["labels"] == {config.NEVER_READY: "b"}
    assert "managedFields" not in slim["metadata"]
    assert "volumes" not in slim["spec"] and "tolerations" not in slim["spec"]
    assert slim["spec"]["containers"][0] == {
        "name": "a",
        "image": "i",
        "readinessProbe": {"initialDelaySeconds": 3},
    }
    facts = lifecycle.PodFacts(seen_at=1000.0, host_ip="h", pod_ip="10.0.0.2")
    timings = config.PodTimings(time_scale=0.5)
    for now in (1000.0, 1001.0, 1002.5, 1004.0, 1010.0, 1100.0):
        assert lifecycle.plan(slim, facts, timings, now) == lifecycle.plan(
            FULL, facts, timings, now
        )


def test_pod_status_patch_and_match() -> None:
    desired = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t"}],
        "containerStatuses": [{"name": "c", "state": {"running": {}}}],
    }
    patch = pods.status_patch(desired)["status"]
    assert patch["conditions"] == [
        {"reason": None, "message": None, "type": "Ready", "status": "True",
         "lastTransitionTime": "t"},
    ]  # fmt: skip
    assert patch["containerStatuses"][0] == {"$patch": "replace"}
    current = {
        "phase": "Running",
        "qosClass": "BestEffort",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},  # someone else's: ignored
            {"type": "Ready", "status": "True", "lastTransitionTime": "t"},
        ],
        "containerStatuses": [{"name": "c", "state": {"running": {}}}],
    }
    assert pods.status_matches(current, desired)
    current["conditions"][1]["status"] = "False"
    assert not pods.status_matches(current, desired)
