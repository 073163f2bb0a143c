"""EndpointSlice controller against a real apiserver: slices follow pods coming, becoming
ready and going; services without selectors are left alone."""

from __future__ import annotations

from typing import Any

import ctlharness

from cluster import Cluster
from pyk8s.client import rest
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import endpointslice as es
from pyk8s.controllers.workload_pods import PODS

Obj = dict[str, Any]


def service(namespace: str, name: str, selector: dict[str, str] | None) -> Obj:
    spec: Obj = {"ports": [{"name": "http", "port": 80, "targetPort": "web"}]}
    if selector is not None:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def a_pod(namespace: str, name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
        "spec": {
            "nodeName": "es-node",
            "containers": [
                {"name": "c", "image": "nginx", "ports": [{"name": "web", "containerPort": 8080}]}
            ],
        },
    }


async def set_status(
    client: rest.RESTClient, namespace: str, name: str, ip: str, ready: bool
) -> None:
    status = "True" if ready else "False"
    await client.patch(
        PODS,
        name,
        {
            "status": {
                "phase": "Running",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "conditions": [{"type": "Ready", "status": status}],
            }
        },
        namespace=namespace,
        subresource="status",
        patch_type=rest.PatchType.STRATEGIC,
    )


def slices(h: ctlharness.Harness, namespace: str, svc: str) -> list[Obj]:
    return [
        s
        for s in h.cache(es.ENDPOINTSLICES).list(namespace)
        if s["metadata"].get("labels", {}).get(es.SERVICE_NAME_LABEL) == svc
    ]


def endpoints(h: ctlharness.Harness, namespace: str, svc: str) -> dict[str, tuple[str, bool]]:
    return {
        e["targetRef"]["name"]: (e["addresses"][0], e["conditions"]["ready"])
        for s in slices(h, namespace, svc)
        for e in s.get("endpoints") or ()
    }


async def test_slices_follow_pods(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, es.new) as h:
        svc = await h.client.create(es.SERVICES, service(namespace, "web", {"app": "web"}))
        await h.client.create(es.SERVICES, service(namespace, "manual", None))
        await h.wait(lambda: len(slices(h, namespace, "web")) == 1, message="placeholder slice")
        (placeholder,) = slices(h, namespace, "web")
        assert placeholder["metadata"]["name"].startswith("web-")
        assert placeholder["metadata"]["labels"][es.MANAGED_BY_LABEL] == es.MANAGED_BY
        assert placeholder["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
        assert placeholder["addressType"] == "IPv4"

        for i, name in enumerate(("a", "b")):
            await h.client.create(PODS, a_pod(namespace, name))
            await set_status(h.client, namespace, name, f"10.9.0.{i + 1}", ready=(name == "a"))
        await h.wait(
            lambda: (
                endpoints(h, namespace, "web")
                == {"a": ("10.9.0.1", True), "b": ("10.9.0.2", False)}
            ),
            message="both pods in the slice",
        )
        (full,) = slices(h, namespace, "web")
        assert full["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        assert full["metadata"]["name"] == placeholder["metadata"]["name"]  # updated in place

        await set_status(h.client, namespace, "b", "10.9.0.2", ready=True)
        await h.wait(lambda: endpoints(h, namespace, "web").get("b") == ("10.9.0.2", True))
        await h.client.delete(PODS, "a", namespace=namespace, grace_period_seconds=0)
        await h.wait(lambda: set(endpoints(h, namespace, "web")) == {"b"}, message="a gone")
        assert len(slices(h, namespace, "web")) == 1
        assert slices(h, namespace, "manual") == []
        ctl = h.controller
        assert isinstance(ctl, es.EndpointSliceController)
        await h.wait(lambda: ctl.queue.waiting == 0 and not ctl.queue.processing)
        rv = slices(h, namespace, "web")[0]["metadata"]["resourceVersion"]
        ctl.queue.add(ObjectKey(namespace, "web"))  # a no-op sync writes nothing
        await h.wait(lambda: ctl.queue.waiting == 0 and not ctl.queue.processing)
        assert slices(h, namespace, "web")[0]["metadata"]["resourceVersion"] == rv
        assert not ctl._pending
