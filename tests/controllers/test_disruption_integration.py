"""PodDisruptionBudgets against a real apiserver: the disruption controller keeps the
budget's status, and the eviction subresource takes a disruption per eviction and
answers 429 (TooManyRequests, upstream's message and cause) when the budget forbids."""

from __future__ import annotations

from typing import Any

import ctlharness
import podstatus
import pytest

from cluster import Cluster
from pyk8s.client import errors, paths
from pyk8s.controllers import disruption as dc

Obj = dict[str, Any]


async def make_pods(client: Any, namespace: str, names: list[str], app: str) -> None:
    for name in names:
        await client.create(
            dc.PODS,
            {
                "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}], "nodeName": "n1"},
            },
        )
        await podstatus.running(client, namespace, name)


async def evict(client: Any, namespace: str, name: str) -> Obj:
    path = paths.resource_path(dc.PODS, namespace=namespace, name=name) + "/eviction"
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    result: Obj = await client.request("POST", path, body=body)
    return result


async def test_budget_status_and_evictions(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, dc.new) as h:
        await make_pods(h.client, namespace, ["a", "b", "c"], "web")
        await h.client.create(
            dc.PDBS,
            {
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            },
        )

        def status() -> Obj:
            return (h.get(dc.PDBS, namespace, "web") or {}).get("status") or {}

        await h.wait(lambda: status().get("disruptionsAllowed") == 1, message="1 allowed")
        assert status()["currentHealthy"] == 3
        assert status()["desiredHealthy"] == 2
        assert status()["expectedPods"] == 3

        answer = await evict(h.client, namespace, "a")
        assert answer["status"] == "Success"
        # the eviction itself took the disruption: a second one is refused at once
        with pytest.raises(errors.ApiError) as refused:
            await evict(h.client, namespace, "b")
        assert refused.value.code == 429
        assert refused.value.reason == "TooManyRequests"
        assert refused.value.message == (
            "Cannot evict pod as it would violate the pod's disruption budget."
        )
        causes = refused.value.details["causes"]
        assert causes[0]["reason"] == "DisruptionBudget"
        assert "needs 2 healthy pods" in causes[0]["message"]
        pod_b = await h.client.get(dc.PODS, "b", namespace=namespace)
        assert not pod_b["metadata"].get("deletionTimestamp")

        # a replacement becomes ready: the budget allows one again
        await make_pods(h.client, namespace, ["d"], "web")
        await h.wait(lambda: status().get("disruptionsAllowed") == 1, message="allowed again")
        await evict(h.client, namespace, "b")


async def test_pending_pods_ignore_budgets_and_two_budgets_are_an_error(
    cluster: Cluster, namespace: str
) -> None:
    async with ctlharness.running(cluster, dc.new) as h:
        for name in ("p1", "p2"):
            await h.client.create(
                dc.PDBS,
                {
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"maxUnavailable": 0, "selector": {}},
                },
            )
        await make_pods(h.client, namespace, ["running"], "x")
        await h.client.create(
            dc.PODS,
            {
                "metadata": {"name": "pending", "namespace": namespace},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        )
        await evict(h.client, namespace, "pending")
        with pytest.raises(errors.ApiError) as two:
            await evict(h.client, namespace, "running")
        assert two.value.code == 500
        assert "more than one PodDisruptionBudget" in two.value.message
