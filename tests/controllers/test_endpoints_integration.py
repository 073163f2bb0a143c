"""Endpoints controller against a real apiserver: Endpoints follow pods, are recreated
when deleted and go with their Service; selector-less services are left alone."""

from __future__ import annotations

from typing import Any

import ctlharness
from test_endpointslice_integration import a_pod, service, set_status

from cluster import Cluster
from pyk8s.controllers import endpoints as ep
from pyk8s.controllers.endpointslice import SERVICES
from pyk8s.controllers.workload_pods import PODS

Obj = dict[str, Any]


def addresses(h: ctlharness.Harness, namespace: str, name: str) -> tuple[list[str], list[str]]:
    obj = h.get(ep.ENDPOINTS, namespace, name)
    if obj is None:
        return [], []
    ready = [a["ip"] for s in obj.get("subsets") or () for a in s.get("addresses") or ()]
    not_ready = [
        a["ip"] for s in obj.get("subsets") or () for a in s.get("notReadyAddresses") or ()
    ]
    return ready, not_ready


async def test_endpoints_follow_pods(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, ep.new) as h:
        body = service(namespace, "web", {"app": "web"})
        body["metadata"]["labels"] = {"team": "a"}
        await h.client.create(SERVICES, body)
        await h.client.create(SERVICES, service(namespace, "manual", None))
        await h.wait(lambda: h.get(ep.ENDPOINTS, namespace, "web") is not None)
        endpoints = h.get(ep.ENDPOINTS, namespace, "web")
        assert endpoints is not None
        assert endpoints["metadata"]["labels"] == {"team": "a"}

        for i, name in enumerate(("a", "b")):
            await h.client.create(PODS, a_pod(namespace, name))
            await set_status(h.client, namespace, name, f"10.8.0.{i + 1}", ready=(name == "a"))
        await h.wait(
            lambda: addresses(h, namespace, "web") == (["10.8.0.1"], ["10.8.0.2"]),
            message="a ready, b not",
        )
        endpoints = h.get(ep.ENDPOINTS, namespace, "web")
        assert endpoints is not None
        assert endpoints["subsets"][0]["ports"] == [
            {"name": "http", "port": 8080, "protocol": "TCP"}
        ]

        old_uid = endpoints["metadata"]["uid"]
        await h.client.delete(ep.ENDPOINTS, "web", namespace=namespace)

        def recreated() -> bool:
            obj = h.get(ep.ENDPOINTS, namespace, "web")
            return obj is not None and obj["metadata"]["uid"] != old_uid

        await h.wait(recreated, message="recreated")
        assert addresses(h, namespace, "web") == (["10.8.0.1"], ["10.8.0.2"])
        await h.client.delete(PODS, "a", namespace=namespace, grace_period_seconds=0)
        await h.wait(lambda: addresses(h, namespace, "web") == ([], ["10.8.0.2"]))
        assert h.get(ep.ENDPOINTS, namespace, "manual") is None

        await h.client.delete(SERVICES, "web", namespace=namespace)
        await h.wait(lambda: h.get(ep.ENDPOINTS, namespace, "web") is None, message="deleted")
