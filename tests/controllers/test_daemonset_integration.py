"""DaemonSet controller against a real apiserver: one pod per eligible node (a tainted
node is skipped until tolerated), pods pinned by node affinity, default tolerations,
status, and a rolling update."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ctlharness
import podstatus
import pytest

from cluster import Cluster
from pyk8s.client import config, errors, rest
from pyk8s.controllers import daemonset
from pyk8s.controllers import daemonset_nodes as dn
from pyk8s.controllers.workload_pods import CONTROLLER_REVISIONS, DAEMONSETS, NODES, PODS

Obj = dict[str, Any]


@pytest.fixture
async def three_nodes(cluster: Cluster, namespace: str) -> AsyncIterator[list[str]]:
    names = [f"{namespace}-n{i}"[:63] for i in range(3)]
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    async with rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig)) as client:
        await client.create(NODES, podstatus.node(names[0], labels={"disk": "ssd"}))
        await client.create(NODES, podstatus.node(names[1]))
        await client.create(NODES, podstatus.node(names[2], taints=[taint]))
        try:
            yield names
        finally:
            for name in names:
                try:
                    await client.delete(NODES, name)
                except errors.NotFound:
                    pass


def ds(namespace: str, **spec: Any) -> Obj:
    template_spec = spec.pop("template_spec", {})
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}], **template_spec},
            },
            **spec,
        },
    }


def live_pods(h: ctlharness.Harness, ns: str) -> list[Obj]:
    return [p for p in h.cache(PODS).list(ns) if not p["metadata"].get("deletionTimestamp")]


def nodes_of(h: ctlharness.Harness, ns: str) -> list[str]:
    return sorted(dn.target_node(p) or "" for p in live_pods(h, ns))


def status(h: ctlharness.Harness, ns: str) -> Obj:
    return (h.get(DAEMONSETS, ns, "agent") or {}).get("status") or {}


async def test_one_pod_per_eligible_node_and_taints(
    cluster: Cluster, namespace: str, three_nodes: list[str]
) -> None:
    async with ctlharness.running(
        cluster, daemonset.new, watch=(PODS, DAEMONSETS, CONTROLLER_REVISIONS)
    ) as h:
        await h.client.create(DAEMONSETS, ds(namespace))
        await h.wait(lambda: nodes_of(h, namespace) == sorted(three_nodes[:2]))
        pod = live_pods(h, namespace)[0]
        assert "nodeName" not in pod["spec"]
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]["nodeSelectorTerms"]
        assert terms[0]["matchFields"][0]["key"] == "metadata.name"
        assert {t["key"] for t in pod["spec"]["tolerations"]} == {
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
            "node.kubernetes.io/disk-pressure",
            "node.kubernetes.io/memory-pressure",
            "node.kubernetes.io/pid-pressure",
            "node.kubernetes.io/unschedulable",
        }
        hash_ = pod["metadata"]["labels"]["controller-revision-hash"]
        assert h.get(CONTROLLER_REVISIONS, namespace, f"agent-{hash_}") is not None
        assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
        for p in live_pods(h, namespace):
            await podstatus.running(h.client, namespace, p["metadata"]["name"])
        await h.wait(lambda: status(h, namespace).get("numberReady") == 2)
        st = status(h, namespace)
        # other tests' nodes may exist in the shared cluster: count only what we know
        assert st["currentNumberScheduled"] == 2
        assert st["numberAvailable"] == 2
        assert st["updatedNumberScheduled"] == 2
        assert st["numberMisscheduled"] == 0
        assert st["observedGeneration"] == 1

        # tolerating the taint brings the third node in
        await h.client.patch(
            DAEMONSETS,
            "agent",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "tolerations": [
                                {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
                            ]
                        }
                    }
                }
            },
            namespace=namespace,
        )
        await h.wait(lambda: three_nodes[2] in nodes_of(h, namespace))


async def test_node_selector_follows_node_labels(
    cluster: Cluster, namespace: str, three_nodes: list[str]
) -> None:
    async with ctlharness.running(cluster, daemonset.new, watch=(PODS, DAEMONSETS)) as h:
        await h.client.create(
            DAEMONSETS, ds(namespace, template_spec={"nodeSelector": {"disk": "ssd"}})
        )
        await h.wait(lambda: nodes_of(h, namespace) == [three_nodes[0]])
        # labelling a node brings it in; unlabelling the first sends its pod away
        await h.client.patch(NODES, three_nodes[1], {"metadata": {"labels": {"disk": "ssd"}}})
        await h.wait(lambda: nodes_of(h, namespace) == sorted(three_nodes[:2]))
        await h.client.patch(NODES, three_nodes[0], {"metadata": {"labels": {"disk": None}}})
        await h.wait(lambda: nodes_of(h, namespace) == [three_nodes[1]])


async def test_rolling_update_one_node_at_a_time(
    cluster: Cluster, namespace: str, three_nodes: list[str]
) -> None:
    async with ctlharness.running(cluster, daemonset.new, watch=(PODS, DAEMONSETS)) as h:
        created = await h.client.create(DAEMONSETS, ds(namespace))
        await h.wait(lambda: nodes_of(h, namespace) == sorted(three_nodes[:2]))
        for p in live_pods(h, namespace):
            await podstatus.running(h.client, namespace, p["metadata"]["name"])
        await h.wait(lambda: status(h, namespace).get("numberAvailable") == 2)
        (old_hash,) = {
            p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(h, namespace)
        }

        def by_hash() -> tuple[list[Obj], list[Obj]]:
            pods = live_pods(h, namespace)
            old = [
                p for p in pods if p["metadata"]["labels"]["controller-revision-hash"] == old_hash
            ]
            return old, [p for p in pods if p not in old]

        await h.client.patch(
            DAEMONSETS,
            "agent",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}},
            namespace=namespace,
        )
        # maxUnavailable 1: one old pod goes, its replacement comes, the other old one stays
        await h.wait(lambda: len(by_hash()[1]) == 1)
        old, new_pods = by_hash()
        assert len(old) == 1
        await podstatus.running(h.client, namespace, new_pods[0]["metadata"]["name"])
        await h.wait(lambda: len(by_hash()[1]) == 2 and not by_hash()[0])
        for p in by_hash()[1]:
            if (p.get("status") or {}).get("phase") != "Running":
                await podstatus.running(h.client, namespace, p["metadata"]["name"])
        await h.wait(lambda: status(h, namespace).get("updatedNumberScheduled") == 2)
        await h.wait(lambda: status(h, namespace).get("numberAvailable") == 2)
        assert status(h, namespace)["observedGeneration"] == created["metadata"]["generation"] + 1
