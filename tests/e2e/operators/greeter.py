"""A small kopf operator used by the e2e suite: for each Greeting it creates a ConfigMap
(owned by the Greeting), reports in status, and on deletion (behind kopf's finalizer)
records the goodbye in a second ConfigMap before letting the Greeting go."""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = True
    settings.watching.server_timeout = 30


@kopf.on.create("example.com", "v1", "greetings")
def create_fn(
    spec: dict[str, Any], name: str, namespace: str, body: Any, **_: Any
) -> dict[str, Any]:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-greeting"},
        "data": {"message": f"Hello, {spec.get('who', 'world')}!"},
    }
    kopf.adopt(cm, owner=body)
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, cm)
    return {"configmap": cm["metadata"]["name"]}


@kopf.on.delete("example.com", "v1", "greetings")
def delete_fn(name: str, namespace: str, **_: Any) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-goodbye"},
        "data": {"bye": name},
    }
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, cm)
