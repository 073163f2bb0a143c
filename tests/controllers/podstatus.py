"""Test helper: move pods through their lifecycle by writing their status through the API,
as a kubelet would (Running/Ready, Succeeded, Failed with exit codes and conditions).

Every helper PATCHes ``pods/<name>/status`` with a strategic merge patch, so conditions
merge by type; timestamps are the current UTC time in metav1.Time form.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyk8s.client import paths, rest

PODS = paths.resource_for("", "v1", "pods", kind="Pod")
NODES = paths.resource_for("", "v1", "nodes", namespaced=False, kind="Node")

Obj = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _patch(client: rest.RESTClient, namespace: str, name: str, status: Obj) -> Obj:
    return await client.patch(
        PODS,
        name,
        {"status": status},
        namespace=namespace,
        subresource="status",
        patch_type=rest.PatchType.STRATEGIC,
    )


def _container_names(pod: Obj) -> list[str]:
    return [c["name"] for c in (pod.get("spec") or {}).get("containers") or ()]


async def running(client: rest.RESTClient, namespace: str, name: str, *, ready: bool = True) -> Obj:
    """Running, with the Ready condition True (or False when ``ready=False``)."""
    pod = await client.get(PODS, name, namespace=namespace)
    ts = now()
    status = "True" if ready else "False"
    return await _patch(
        client,
        namespace,
        name,
        {
            "phase": "Running",
            "startTime": ts,
            "conditions": [
                {"type": "Ready", "status": status, "lastTransitionTime": ts},
                {"type": "ContainersReady", "status": status, "lastTransitionTime": ts},
            ],
            "containerStatuses": [
                {
                    "name": c,
                    "ready": ready,
                    "restartCount": 0,
                    "image": "busybox",
                    "imageID": "",
                    "state": {"running": {"startedAt": ts}},
                }
                for c in _container_names(pod)
            ],
        },
    )


async def finished(
    client: rest.RESTClient,
    namespace: str,
    name: str,
    *,
    succeeded: bool = True,
    exit_code: int | None = None,
    conditions: Sequence[Obj] = (),
) -> Obj:
    """Succeeded (exit code 0) or Failed (exit code 1 unless given), Ready False."""
    pod = await client.get(PODS, name, namespace=namespace)
    ts = now()
    code = exit_code if exit_code is not None else (0 if succeeded else 1)
    return await _patch(
        client,
        namespace,
        name,
        {
            "phase": "Succeeded" if succeeded else "Failed",
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": ts},
                *conditions,
            ],
            "containerStatuses": [
                {
                    "name": c,
                    "ready": False,
                    "restartCount": 0,
                    "image": "busybox",
                    "imageID": "",
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": "Completed" if code == 0 else "Error",
                            "startedAt": ts,
                            "finishedAt": ts,
                        }
                    },
                }
                for c in _container_names(pod)
            ],
        },
    )


async def succeeded(client: rest.RESTClient, namespace: str, name: str) -> Obj:
    return await finished(client, namespace, name, succeeded=True)


async def failed(client: rest.RESTClient, namespace: str, name: str, *, exit_code: int = 1) -> Obj:
    return await finished(client, namespace, name, succeeded=False, exit_code=exit_code)


def node(name: str, *, labels: dict[str, str] | None = None, taints: Sequence[Obj] = ()) -> Obj:
    """A Ready Node object (nothing runs it; controllers only read it)."""
    spec: Obj = {"taints": list(taints)} if taints else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
    }
