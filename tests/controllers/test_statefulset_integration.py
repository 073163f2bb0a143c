"""StatefulSet controller against a real apiserver: ordered creation (pod-1 only after
pod-0 is Running and Ready), reverse-order scale-down, claims and revisions."""

from __future__ import annotations

from typing import Any

import ctlharness
import podstatus

from cluster import Cluster
from pyk8s.client import events
from pyk8s.controllers import statefulset
from pyk8s.controllers.workload_pods import CONTROLLER_REVISIONS, PODS, PVCS, STATEFULSETS

Obj = dict[str, Any]
EVENTS = events.EVENTS


def web(namespace: str, replicas: int, **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "serviceName": "web",
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
            **spec,
        },
    }


def pod_names(h: ctlharness.Harness, ns: str) -> list[str]:
    return sorted(
        p["metadata"]["name"]
        for p in h.cache(PODS).list(ns)
        if not p["metadata"].get("deletionTimestamp")
    )


async def test_ordered_ready_creates_in_order_and_scales_down_in_reverse(
    cluster: Cluster, namespace: str
) -> None:
    async with ctlharness.running(cluster, statefulset.new, watch=(PODS, STATEFULSETS)) as h:
        await h.client.create(STATEFULSETS, web(namespace, 3))
        await h.wait(lambda: pod_names(h, namespace) == ["web-0"])
        pod0 = h.get(PODS, namespace, "web-0")
        assert pod0 is not None
        assert pod0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
        assert pod0["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
        assert pod0["spec"]["hostname"] == "web-0"
        assert pod0["spec"]["subdomain"] == "web"
        revision = pod0["metadata"]["labels"]["controller-revision-hash"]
        assert revision.startswith("web-")
        await h.wait(lambda: h.get(CONTROLLER_REVISIONS, namespace, revision) is not None)
        # web-1 waits for web-0: running but not ready is not enough
        await podstatus.running(h.client, namespace, "web-0", ready=False)
        await h.wait(
            lambda: (
                (h.get(PODS, namespace, "web-0") or {}).get("status", {}).get("phase") == "Running"
            )
        )
        await h.wait(
            lambda: (
                (h.get(STATEFULSETS, namespace, "web") or {}).get("status", {}).get("replicas") == 1
            )
        )
        assert pod_names(h, namespace) == ["web-0"]
        await podstatus.running(h.client, namespace, "web-0")
        await h.wait(lambda: pod_names(h, namespace) == ["web-0", "web-1"])
        await podstatus.running(h.client, namespace, "web-1")
        await h.wait(lambda: pod_names(h, namespace) == ["web-0", "web-1", "web-2"])
        await podstatus.running(h.client, namespace, "web-2")

        def status() -> Obj:
            return (h.get(STATEFULSETS, namespace, "web") or {}).get("status") or {}

        await h.wait(lambda: status().get("readyReplicas") == 3)
        st = status()
        assert st["replicas"] == 3
        assert st["currentReplicas"] == 3
        assert st["updatedReplicas"] == 3
        assert st["availableReplicas"] == 3
        assert st["currentRevision"] == st["updateRevision"] == revision
        assert st["observedGeneration"] == 1

        # scale down to 1: web-2 goes first, web-1 only after web-2 is gone
        await h.client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, namespace=namespace)
        await h.wait(lambda: pod_names(h, namespace) == ["web-0"])
        await h.wait(lambda: status().get("replicas") == 1)

        def messages() -> set[str]:
            return {e["message"] for e in h.cache(EVENTS).list(namespace)}

        await h.recorder.flush()
        await h.wait(lambda: "create Pod web-0 in StatefulSet web successful" in messages())
        await h.wait(lambda: "delete Pod web-2 in StatefulSet web successful" in messages())


async def bind(h: ctlharness.Harness, ns: str, name: str, node: str) -> None:
    """Bind a pod to a node (no scheduler runs here): deleting it is then graceful, so
    it lingers as terminating until its kubelet — here, the test — finishes it."""
    await h.client.subresource(
        "POST",
        PODS,
        name,
        "binding",
        namespace=ns,
        body={
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name},
            "target": {"kind": "Node", "name": node},
        },
    )


def set_status(h: ctlharness.Harness, ns: str) -> Obj:
    return (h.get(STATEFULSETS, ns, "web") or {}).get("status") or {}


async def test_scale_down_waits_for_terminating_pod(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, statefulset.new, watch=(PODS, STATEFULSETS)) as h:
        await h.client.create(STATEFULSETS, web(namespace, 2))
        for name in ("web-0", "web-1"):
            await h.wait(lambda n=name: n in pod_names(h, namespace))
            await bind(h, namespace, name, "node-a")
            await podstatus.running(h.client, namespace, name)
        await h.wait(lambda: set_status(h, namespace).get("readyReplicas") == 2)
        await h.client.patch(STATEFULSETS, "web", {"spec": {"replicas": 0}}, namespace=namespace)

        def terminating() -> list[str]:
            return sorted(
                p["metadata"]["name"]
                for p in h.cache(PODS).list(namespace)
                if p["metadata"].get("deletionTimestamp")
            )

        await h.wait(lambda: terminating() == ["web-1"])
        await h.wait(lambda: set_status(h, namespace).get("observedGeneration") == 2)
        assert pod_names(h, namespace) == ["web-0"]  # waits while web-1 terminates
        await h.client.delete(PODS, "web-1", namespace=namespace, grace_period_seconds=0)
        await h.wait(lambda: terminating() == ["web-0"])


async def test_rolling_update_highest_ordinal_first(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, statefulset.new, watch=(PODS, STATEFULSETS)) as h:
        await h.client.create(STATEFULSETS, web(namespace, 3))
        for i in range(3):
            await h.wait(lambda i=i: f"web-{i}" in pod_names(h, namespace))
            await podstatus.running(h.client, namespace, f"web-{i}")
        await h.wait(lambda: set_status(h, namespace).get("readyReplicas") == 3)
        old = set_status(h, namespace)["currentRevision"]

        def revision(name: str) -> str:
            pod = h.get(PODS, namespace, name) or {}
            return str(
                (pod.get("metadata") or {}).get("labels", {}).get("controller-revision-hash")
            )

        await h.client.patch(
            STATEFULSETS,
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}},
            namespace=namespace,
        )
        await h.wait(lambda: set_status(h, namespace).get("updateRevision", old) != old)
        new = set_status(h, namespace)["updateRevision"]
        for i in (2, 1, 0):
            name = f"web-{i}"
            await h.wait(lambda n=name: revision(n) == new)
            # the lower ordinals are still at the old revision
            assert all(revision(f"web-{j}") == old for j in range(i))
            await podstatus.running(h.client, namespace, name)
        await h.wait(lambda: set_status(h, namespace).get("currentRevision") == new)
        st = set_status(h, namespace)
        assert (st["updatedReplicas"], st["currentReplicas"], st["readyReplicas"]) == (3, 3, 3)


async def test_volume_claim_templates_and_retention(cluster: Cluster, namespace: str) -> None:
    sts = web(
        namespace,
        2,
        podManagementPolicy="Parallel",
        volumeClaimTemplates=[
            {
                "metadata": {"name": "www", "labels": {"tier": "data"}},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"},
    )
    async with ctlharness.running(cluster, statefulset.new, watch=(PODS, STATEFULSETS, PVCS)) as h:
        created = await h.client.create(STATEFULSETS, sts)
        # Parallel: both pods at once, without waiting for readiness
        await h.wait(lambda: pod_names(h, namespace) == ["web-0", "web-1"])
        await h.wait(lambda: h.get(PVCS, namespace, "www-web-1") is not None)
        claim = h.get(PVCS, namespace, "www-web-0")
        assert claim is not None
        assert claim["metadata"]["labels"] == {"tier": "data", "app": "web"}
        assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == [
            created["metadata"]["uid"]
        ]
        pod = h.get(PODS, namespace, "web-0")
        assert pod is not None
        assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}} in pod["spec"][
            "volumes"
        ]
        for name in ("web-0", "web-1"):
            await podstatus.running(h.client, namespace, name)
        await h.client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, namespace=namespace)
        await h.wait(lambda: pod_names(h, namespace) == ["web-0"])

        # the scaled-down pod's claim is handed to the pod (then the GC deletes it)
        def claim_owner_kinds() -> list[str]:
            c = h.get(PVCS, namespace, "www-web-1") or {}
            return [r["kind"] for r in c.get("metadata", {}).get("ownerReferences") or ()]

        await h.wait(lambda: claim_owner_kinds() == ["Pod"])
