"""The kubelet core as its HTTPS server sees it: ``streaming.StreamingBackend`` over the
kubelet's pods (API pods bound to the node and static pods) and the PLEG's view of the
runtime.

Lookups answer with upstream's messages: ``pod "x" not found`` (404),
``container x is not valid for pod y`` (400), ``container "c" in pod "p" is waiting to
start: <reason>`` (400; ``image can't be pulled`` / ``trying and failing to pull image``
for the two pull failures). A container's log is its newest instance's CRI log file; the
previous log is that of the newest exited instance before it (``logs --previous``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyk8s.api import errors
from pyk8s.kubelet.cri.client import CRIClient
from pyk8s.kubelet.cri_streaming import CRIStreamingRuntime
from pyk8s.kubelet.pleg import PLEG
from pyk8s.kubelet.streaming import ContainerRef, StreamingRuntime

__all__ = ["KubeletBackend"]

Obj = dict[str, Any]


class KubeletBackend:
    def __init__(
        self,
        cri: CRIClient,
        pleg: PLEG,
        *,
        find_pod: Callable[[str, str], Obj | None],
        all_pods: Callable[[], list[Obj]],
        reasons: Callable[[str], dict[str, tuple[str, str]]],
    ) -> None:
        self._runtime = CRIStreamingRuntime(cri)
        self.pleg = pleg
        self.find_pod = find_pod
        self.all_pods = all_pods
        self.reasons = reasons

    @property
    def runtime(self) -> StreamingRuntime:
        return self._runtime

    def pods(self) -> list[Obj]:
        return self.all_pods()

    def _pod(self, namespace: str, name: str) -> Obj:
        pod = self.find_pod(namespace, name)
        if pod is None:
            raise errors.not_found("", "pods", name)
        return pod

    async def find_container(self, namespace: str, pod: str, container: str) -> ContainerRef:
        obj = self._pod(namespace, pod)
        spec = obj.get("spec") or {}
        names = [
            c.get("name")
            for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []
        ]
        if container not in names:
            raise errors.bad_request(f"container {container} is not valid for pod {pod}")
        uid = obj["metadata"]["uid"]
        state = self.pleg.cached(uid) or await self.pleg.pod_state(uid)
        latest = state.latest(container)
        if latest is None:
            reason = self.reasons(uid).get(container, ("ContainerCreating", ""))[0]
            if reason == "ErrImagePull":
                why = "image can't be pulled"
            elif reason == "ImagePullBackOff":
                why = "trying and failing to pull image"
            else:
                why = reason
            raise errors.bad_request(
                f'container "{container}" in pod "{pod}" is waiting to start: {why}'
            )
        previous = None
        for c in state.containers:
            if c.name == container and c.id != latest.id and c.exited and c.log_path:
                previous = c.log_path
                break
        return ContainerRef(
            container_id=latest.id,
            log_path=latest.log_path,
            previous_log_path=previous,
            running=latest.running,
        )

    async def find_sandbox(self, namespace: str, pod: str) -> str:
        obj = self._pod(namespace, pod)
        uid = obj["metadata"]["uid"]
        state = self.pleg.cached(uid) or await self.pleg.pod_state(uid)
        for sb in state.sandboxes:
            if sb.ready:
                return sb.id
        raise errors.bad_request(f'pod "{pod}" has no running sandbox')
