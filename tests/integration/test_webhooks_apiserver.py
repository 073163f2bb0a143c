"""Admission webhooks through the real apiserver: a real HTTPS webhook server started by
the test mutates and denies what clients write."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from cluster import Cluster

sys.path.insert(0, str(Path(__file__).parents[1] / "apiserver" / "admission"))

from test_webhooks import WebhookServer, certs, server  # noqa: F401


def _configuration(
    kind: str, name: str, url: str, ca_bundle: str, resources: list[str]
) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.example.com",
                "clientConfig": {"url": url, "caBundle": ca_bundle},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": resources,
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "namespaceSelector": {"matchLabels": {"webhooks": "on"}},
            }
        ],
    }


async def test_webhooks_mutate_and_deny(
    cluster: Cluster,
    namespace: str,
    server: WebhookServer,  # noqa: F811 (the fixture imported above)
    certs: Any,  # noqa: F811
) -> None:
    req = cluster.request
    status, _, _ = await asyncio.to_thread(
        req,
        "PATCH",
        f"/api/v1/namespaces/{namespace}",
        {"metadata": {"labels": {"webhooks": "on"}}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    for kind, plural, name, path in (
        (
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            f"m-{namespace}",
            "/mutate",
        ),
        (
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            f"v-{namespace}",
            "/deny",
        ),
    ):
        body = _configuration(kind, name, server.url(path), certs.ca_bundle, ["configmaps"])
        status, created, _ = await asyncio.to_thread(
            req, "POST", f"/apis/admissionregistration.k8s.io/v1/{plural}", body
        )
        assert status == 201, created
        assert created["webhooks"][0]["failurePolicy"] == "Fail"
        assert created["webhooks"][0]["timeoutSeconds"] == 10
    try:
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        status, cm, _ = await asyncio.to_thread(req, "POST", path, {"metadata": {"name": "ok"}})
        assert status == 201, cm
        assert cm["metadata"]["labels"] == {"mutated": "true"}
        status, denied, _ = await asyncio.to_thread(
            req, "POST", path, {"metadata": {"name": "no", "labels": {"forbidden": "true"}}}
        )
        assert status == 403
        assert (
            denied["message"]
            == 'admission webhook "v-'
            + namespace
            + '.example.com" denied the request: label forbidden'
        )
        # other namespaces are not selected
        status, _, _ = await asyncio.to_thread(
            req,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": f"free-{namespace}", "labels": {"forbidden": "true"}}},
        )
        assert status == 201
    finally:
        await asyncio.to_thread(
            req,
            "DELETE",
            f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/m-{namespace}",
        )
        await asyncio.to_thread(
            req,
            "DELETE",
            f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/v-{namespace}",
        )
        await asyncio.to_thread(
            req, "DELETE", f"/api/v1/namespaces/default/configmaps/free-{namespace}"
        )
