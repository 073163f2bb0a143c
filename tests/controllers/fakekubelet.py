"""A stand-in for nodes in controller tests, until the simulated node runtime lands.

``FakeKubelet(client).run(stop)`` watches pods (all namespaces, or one) and plays one node,
``fake-node`` (registered as a Ready Node object):

- a pod without ``spec.nodeName`` is bound to the node (POST ``pods/<name>/binding``);
- a bound pod is reported Running and Ready (conditions PodScheduled, Initialized,
  ContainersReady, Ready with the current time, one ready ``containerStatuses`` entry per
  container) — unless ``hold(pod)`` says otherwise, in which case it is left Pending
  with its containers waiting in ``ErrImagePull`` (a rollout that never becomes ready);
- a pod with a ``deletionTimestamp`` is deleted for good (grace period 0), as a kubelet
  does once its containers have stopped.

It is level-triggered like a controller (informer → work queue → ``sync``), so it never
needs sleeps. Used only by tests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pyk8s.client import errors, informer, paths, reflector, rest, workqueue
from pyk8s.client.store import ObjectKey

Obj = dict[str, Any]
PODS = paths.resource_for("", "v1", "pods", kind="Pod")
NODES = paths.resource_for("", "v1", "nodes", kind="Node")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _never(_: Mapping[str, Any]) -> bool:
    return False


def image_is_bad(pod: Mapping[str, Any]) -> bool:
    """Hold pods whose image tag is ``bad`` (e.g. ``nginx:bad``), as a failed pull would."""
    containers = (pod.get("spec") or {}).get("containers") or ()
    return any(str(c.get("image", "")).endswith(":bad") for c in containers)


class FakeKubelet:
    def __init__(
        self,
        client: rest.RESTClient,
        *,
        node: str = "fake-node",
        namespace: str | None = None,
        hold: Callable[[Mapping[str, Any]], bool] = image_is_bad,
        workers: int = 16,
    ) -> None:
        self.client = client
        self.node = node
        self.hold = hold
        self.workers = workers
        self.pods: informer.SharedInformer[Obj] = informer.SharedInformer(
            reflector.ResourceListerWatcher(client, PODS, namespace=namespace),
            name="fake-kubelet pods",
        )
        self.queue: workqueue.WorkQueue[ObjectKey] = workqueue.WorkQueue(name="fake-kubelet")
        self.pods.on_change(lambda p: self.queue.add(ObjectKey.of(p)))
        self._ips = itertools.count(2)
        self.started = asyncio.Event()

    async def register_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node}},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "fake kubelet is posting ready status",
                        "lastHeartbeatTime": _now(),
                        "lastTransitionTime": _now(),
                    }
                ],
            },
        }
        try:
            await self.client.create(NODES, node)
        except errors.AlreadyExists:
            pass

    async def run(self, stop: asyncio.Event) -> None:
        await self.register_node()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pods.run(stop))
            await self.pods.wait_synced()
            self.started.set()
            tg.create_task(workqueue.run_workers(self.queue, self.sync, self.workers))
            await stop.wait()
            self.queue.shutdown()

    async def sync(self, key: ObjectKey) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        try:
            if meta.get("deletionTimestamp"):
                if spec.get("nodeName"):
                    await self.client.delete(
                        PODS,
                        key.name,
                        namespace=key.namespace,
                        grace_period_seconds=0,
                        preconditions=paths.Preconditions(uid=meta.get("uid")),
                    )
                return
            if not spec.get("nodeName"):
                await self.client.subresource(
                    "POST",
                    PODS,
                    key.name,
                    "binding",
                    namespace=key.namespace,
                    body={
                        "apiVersion": "v1",
                        "kind": "Binding",
                        "metadata": {"name": key.name, "uid": meta.get("uid")},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": self.node},
                    },
                )
                return
            if spec.get("nodeName") != self.node:
                return
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                return
            want = self._held_status(pod) if self.hold(pod) else self._running_status(pod)
            if self._already(pod, want):
                return
            await self.client.patch(
                PODS, key.name, {"status": want}, namespace=key.namespace, subresource="status"
            )
        except (errors.NotFound, errors.Conflict):
            return

    @staticmethod
    def _already(pod: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
        status = pod.get("status") or {}
        if status.get("phase") != want.get("phase"):
            return False
        ready = [c for c in status.get("conditions") or () if c.get("type") == "Ready"]
        want_ready = [c for c in want.get("conditions") or () if c.get("type") == "Ready"]
        return bool(ready) and ready[0].get("status") == want_ready[0].get("status")

    def _conditions(self, ready: bool) -> list[Obj]:
        now = _now()
        value = "True" if ready else "False"
        return [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": value, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": value, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ]

    def _running_status(self, pod: Mapping[str, Any]) -> Obj:
        now = _now()
        n = next(self._ips)
        ip = f"10.244.{n // 250}.{n % 250 + 2}"
        statuses = [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "imageID": f"fake://{c.get('image')}",
                "containerID": f"fake://{pod['metadata'].get('uid')}/{c.get('name')}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in (pod.get("spec") or {}).get("containers") or ()
        ]
        return {
            "phase": "Running",
            "conditions": self._conditions(True),
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "containerStatuses": statuses,
        }

    def _held_status(self, pod: Mapping[str, Any]) -> Obj:
        statuses = [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {
                    "waiting": {
                        "reason": "ErrImagePull",
                        "message": f'failed to pull image "{c.get("image")}"',
                    }
                },
            }
            for c in (pod.get("spec") or {}).get("containers") or ()
        ]
        return {
            "phase": "Pending",
            "conditions": self._conditions(False),
            "hostIP": "127.0.0.1",
            "startTime": _now(),
            "containerStatuses": statuses,
        }
