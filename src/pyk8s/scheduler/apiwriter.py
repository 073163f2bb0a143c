"""The scheduler's writes to the API: bindings, pod status (PodScheduled condition and
nominatedNodeName), preemption deletes and volume-binding patches — the
``ClusterWriter`` the plugins use, over a ``RESTClient``."""

from __future__ import annotations

from typing import Any

from pyk8s.api import resources
from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, paths, rest
from pyk8s.scheduler.podinfo import PodInfo

__all__ = ["ApiWriter", "scheduled_condition_patch"]

Obj = dict[str, Any]


def _res(group: str, version: str, plural: str) -> resources.Resource:
    r = resources.find(group, version, plural)
    assert r is not None, plural
    return r


PODS = _res("", "v1", "pods")
_BY_PLURAL = {
    "persistentvolumes": _res("", "v1", "persistentvolumes"),
    "persistentvolumeclaims": _res("", "v1", "persistentvolumeclaims"),
    "pods": PODS,
}


def scheduled_condition_patch(
    pod: Obj, *, reason: str, message: str, nominated_node: str | None, now: str
) -> Obj | None:
    """The status patch that records a failed attempt, or None when the pod already
    says exactly that (so repeated failures do not rewrite the pod)."""
    status = pod.get("status") or {}
    current = next(
        (c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None
    )
    patch: Obj = {}
    same = (
        current is not None
        and current.get("status") == "False"
        and current.get("reason") == reason
        and current.get("message") == message
    )
    if not same:
        transition = (
            current.get("lastTransitionTime")
            if current is not None and current.get("status") == "False"
            else now
        )
        patch["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": reason,
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": transition,
            }
        ]
    if nominated_node is not None and (status.get("nominatedNodeName") or "") != nominated_node:
        patch["nominatedNodeName"] = nominated_node or None
    return {"status": patch} if patch else None


class ApiWriter:
    def __init__(
        self, client: rest.RESTClient, *, wall: clock_mod.Wall = clock_mod.utc_now
    ) -> None:
        self.client = client
        self.wall = wall

    async def bind(self, pod: PodInfo, node_name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        await self.client.subresource(
            "POST", PODS, pod.name, "binding", namespace=pod.namespace, body=body
        )

    async def patch(self, resource: str, namespace: str, name: str, patch: Obj) -> None:
        await self.client.patch(_BY_PLURAL[resource], name, patch, namespace=namespace or None)

    async def delete_pod(self, pod: PodInfo) -> None:
        try:
            await self.client.delete(
                PODS,
                pod.name,
                namespace=pod.namespace,
                preconditions=paths.Preconditions(uid=pod.uid),
            )
        except errors.ApiError as e:
            if not errors.is_not_found(e):
                raise

    async def record_failure(
        self, pod: Obj, *, reason: str, message: str, nominated_node: str | None
    ) -> None:
        now = self.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = scheduled_condition_patch(
            pod, reason=reason, message=message, nominated_node=nominated_node, now=now
        )
        if patch is None:
            return
        meta = pod.get("metadata") or {}
        try:
            await self.client.patch(
                PODS,
                str(meta.get("name")),
                patch,
                namespace=str(meta.get("namespace")),
                patch_type=rest.PatchType.STRATEGIC,
                subresource="status",
            )
        except errors.ApiError as e:
            if not errors.is_not_found(e):
                raise
