"""Creating and deleting a controller's pods, with the events upstream records
(pkg/controller RealPodControl), and the slow-start batching replica controllers use.

``pod_from_template`` is pure: labels, annotations and finalizers from the template,
``generateName: <owner>-`` (the apiserver appends five random characters), the controller
ref, the template's spec. ``RESTPodControl`` is the I/O seam (``PodControl`` protocol):

- create: ``SuccessfulCreate`` "Created pod: <name>" on success; ``FailedCreate``
  "Error creating: <message>" on failure — except when the namespace is terminating,
  which is expected and not worth an event.
- delete: ``SuccessfulDelete`` "Deleted pod: <name>"; ``FailedDelete`` "Error deleting:
  <message>"; NotFound is re-raised without an event (the pod is already gone).

Both return the object the server answered with, so callers can note its
resourceVersion (see ``replicaset.py`` on why).

``slow_start_batch(count, fn)`` calls ``fn`` ``count`` times in concurrent batches of 1, 2,
4, …; a batch with a failure ends the run after the batch completes (upstream's
slowStartBatch): a quota error costs one request, not hundreds.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from pyk8s.client import errors, events, paths, rest
from pyk8s.controllers import meta

__all__ = [
    "PODS",
    "PodControl",
    "RESTPodControl",
    "is_namespace_terminating",
    "pod_from_template",
    "slow_start_batch",
]

Obj = dict[str, Any]

PODS = paths.resource_for("", "v1", "pods", kind="Pod")

SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"


def pod_from_template(
    template: Mapping[str, Any], *, owner: Mapping[str, Any], ref: Mapping[str, Any] | None
) -> Obj:
    tmeta = template.get("metadata") or {}
    metadata: Obj = {"generateName": f"{meta.name(owner)}-"}
    if meta.namespace(owner):
        metadata["namespace"] = meta.namespace(owner)
    for field in ("labels", "annotations"):
        if tmeta.get(field):
            metadata[field] = dict(tmeta[field])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    if ref is not None:
        metadata["ownerReferences"] = [dict(ref)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def is_namespace_terminating(exc: BaseException) -> bool:
    if not isinstance(exc, errors.ApiError):
        return False
    causes = exc.details.get("causes") or ()
    return any(isinstance(c, Mapping) and c.get("reason") == "NamespaceTerminating" for c in causes)


class PodControl(Protocol):
    async def create_pod(
        self, template: Mapping[str, Any], *, owner: Mapping[str, Any], ref: Mapping[str, Any]
    ) -> Obj: ...

    async def delete_pod(self, namespace: str, name: str, *, owner: Mapping[str, Any]) -> Obj: ...


class RESTPodControl:
    def __init__(self, client: rest.RESTClient, recorder: events.EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create_pod(
        self, template: Mapping[str, Any], *, owner: Mapping[str, Any], ref: Mapping[str, Any]
    ) -> Obj:
        pod = pod_from_template(template, owner=owner, ref=ref)
        if not pod["metadata"].get("labels"):
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, namespace=meta.namespace(owner))
        except (errors.ApiError, errors.TransportError) as exc:
            if not is_namespace_terminating(exc):
                message = exc.message if isinstance(exc, errors.ApiError) else str(exc)
                self.recorder.record(
                    owner,
                    reason=FAILED_CREATE,
                    message=f"Error creating: {message}",
                    event_type=events.EventType.WARNING,
                )
            raise
        self.recorder.record(
            owner, reason=SUCCESSFUL_CREATE, message=f"Created pod: {meta.name(created)}"
        )
        return created

    async def delete_pod(self, namespace: str, name: str, *, owner: Mapping[str, Any]) -> Obj:
        try:
            answer = await self.client.delete(PODS, name, namespace=namespace)
        except errors.NotFound:
            raise
        except (errors.ApiError, errors.TransportError) as exc:
            message = exc.message if isinstance(exc, errors.ApiError) else str(exc)
            self.recorder.record(
                owner,
                reason=FAILED_DELETE,
                message=f"Error deleting: {message}",
                event_type=events.EventType.WARNING,
            )
            raise
        self.recorder.record(owner, reason=SUCCESSFUL_DELETE, message=f"Deleted pod: {name}")
        return answer


async def slow_start_batch(
    count: int, fn: Callable[[], Awaitable[None]], *, initial: int = 1
) -> tuple[int, BaseException | None]:
    """(successful calls, the first error or None)."""
    remaining = count
    successes = 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for r in failures:
            if isinstance(r, asyncio.CancelledError):
                raise r
        successes += batch - len(failures)
        if failures:
            return successes, failures[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None
