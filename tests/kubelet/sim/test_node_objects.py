"""What a simulated node shows on the API, and the writes that keep it current."""

from __future__ import annotations

import pytest

from pyk8s.kubelet.sim import config, node_objects

T0 = 1_700_000_000.0


def test_node_object_looks_like_a_kubelets() -> None:
    template = config.NodeTemplate(
        count=3,
        region="r1",
        labels={"pool": "a"},
        taints=config.parse_taints("dedicated=sim:NoSchedule"),
        extra_capacity={"nvidia.com/gpu": "8"},
    )
    node = node_objects.node_object(template, 4, T0, boot_id="b")
    meta, spec, status = node["metadata"], node["spec"], node["status"]
    assert meta["name"] == "sim-node-4"
    assert meta["labels"] == {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "sim-node-4",
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "pyk8s-sim",
        "topology.kubernetes.io/zone": "zone-b",  # 4 % 3
        "topology.kubernetes.io/region": "r1",
        "pool": "a",
    }
    assert spec == {"taints": [{"key": "dedicated", "value": "sim", "effect": "NoSchedule"}]}
    assert status["capacity"] == {
        "cpu": "32",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "256Gi",
        "pods": "110",
        "nvidia.com/gpu": "8",
    }
    assert status["allocatable"] == status["capacity"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    assert status["conditions"][-1]["message"] == "kubelet is posting ready status"
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "10.255.0.5"},
        {"type": "Hostname", "address": "sim-node-4"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.33.0-sim"
    assert status["nodeInfo"]["operatingSystem"] == "linux"


def test_conditions_keep_transition_times_and_move_heartbeats() -> None:
    first = node_objects.node_conditions(T0)
    later = node_objects.node_conditions(T0 + 10, first)
    assert all(c["lastTransitionTime"] == "2023-11-14T22:13:20Z" for c in later)
    assert all(c["lastHeartbeatTime"] == "2023-11-14T22:13:30Z" for c in later)
    unknown = [dict(c, status="Unknown") if c["type"] == "Ready" else c for c in later]
    back = node_objects.node_conditions(T0 + 20, unknown)
    assert back[-1]["lastTransitionTime"] == "2023-11-14T22:13:40Z"


def test_status_changes_only_count_without_heartbeats() -> None:
    static = node_objects.static_status(config.NodeTemplate(), 0, boot_id="b")
    current = node_objects.node_status(static, T0)
    desired = node_objects.node_status(static, T0 + 10, previous=current)
    assert not node_objects.status_changed(current, desired)
    assert node_objects.status_patch(current, desired) == {
        "status": {"conditions": desired["conditions"]}
    }
    controller_says_unknown = dict(current)
    controller_says_unknown["conditions"] = [
        dict(c, status="Unknown", reason="NodeStatusUnknown") if c["type"] == "Ready" else c
        for c in current["conditions"]
    ]
    assert node_objects.status_changed(controller_says_unknown, desired)
    assert node_objects.status_changed({}, desired)
    patch = node_objects.status_patch({}, desired)["status"]
    assert set(patch) == {"capacity", "allocatable", "conditions", "addresses",
                          "daemonEndpoints", "nodeInfo"}  # fmt: skip


def test_leases() -> None:
    lease = node_objects.lease_object("n", "uid-1", T0 + 0.25, duration=40)
    assert lease["metadata"] == {
        "name": "n",
        "namespace": "kube-node-lease",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "uid-1"}],
    }
    assert lease["spec"] == {
        "holderIdentity": "n",
        "leaseDurationSeconds": 40,
        "renewTime": "2023-11-14T22:13:20.250000Z",
    }
    stored = {**lease, "metadata": {**lease["metadata"], "resourceVersion": "7",
                                    "managedFields": [{}]}}  # fmt: skip
    renewed = node_objects.renewed_lease(stored, T0 + 10, duration=40)
    assert renewed["metadata"]["resourceVersion"] == "7"
    assert "managedFields" not in renewed["metadata"]
    assert renewed["spec"]["renewTime"] == "2023-11-14T22:13:30.000000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=b:NoSchedule", ({"key": "a", "value": "b", "effect": "NoSchedule"},)),
        ("a:NoExecute,c=d:PreferNoSchedule",
         ({"key": "a", "effect": "NoExecute"},
          {"key": "c", "value": "d", "effect": "PreferNoSchedule"})),
        ("", ()),
    ],
)  # fmt: skip
def test_parse_taints(text: str, expected: tuple[dict[str, str], ...]) -> None:
    assert config.parse_taints(text) == expected


@pytest.mark.parametrize("bad", ["a=b", "a=b:Sometimes", "=b:NoSchedule"])
def test_parse_taints_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        config.parse_taints(bad)


def test_templates_must_fit_their_ranges() -> None:
    with pytest.raises(ValueError, match="holds 256 /24 node CIDRs"):
        config.NodeTemplate(count=300)
    assert config.NodeTemplate(count=5000, cluster_cidr="10.64.0.0/11").count == 5000
    with pytest.raises(ValueError, match="overlaps"):
        config.NodeTemplate(node_ip_range="10.244.9.0/24")
