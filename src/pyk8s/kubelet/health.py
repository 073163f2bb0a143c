"""Whether the node can run pods: the container runtime's own conditions (CRI
``Status``: RuntimeReady, NetworkReady — the latter false until a CNI config is in place)
and whether the PLEG's relists succeed. ``not_ready()`` is the node's Ready condition
message (None when Ready), in upstream's words (``container runtime network not ready:
NetworkReady=false reason:NetworkPluginNotReady message:…``, ``PLEG is not healthy``);
``network_not_ready`` holds back pods on the pod network. ``run(stop)`` checks every
5 s (every second while not ready) and calls ``on_change`` when a message changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from pyk8s.kubelet.cri import api_pb2
from pyk8s.kubelet.cri.client import CRIClient, CRIError
from pyk8s.kubelet.pleg import PLEG

__all__ = ["RuntimeHealth"]


class RuntimeHealth:
    def __init__(
        self, cri: CRIClient, pleg: PLEG, *, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self.cri = cri
        self.pleg = pleg
        self.on_change = on_change
        self.runtime_not_ready: str | None = (
            "container runtime status check may not have completed yet"
        )
        self.network_not_ready: str | None = "network plugin not initialized yet"

    def not_ready(self) -> str | None:
        if self.runtime_not_ready:
            return self.runtime_not_ready
        if not self.pleg.healthy:
            return "PLEG is not healthy: the container runtime does not answer relists"
        return self.network_not_ready

    async def check(self) -> None:
        before = (self.runtime_not_ready, self.network_not_ready)
        try:
            resp = await self.cri.call(self.cri.runtime.Status, api_pb2.StatusRequest(), timeout=10)
        except CRIError as exc:
            self.runtime_not_ready = f"container runtime is down: {exc.details}"
        else:
            conditions = {c.type: c for c in resp.status.conditions}
            runtime = conditions.get("RuntimeReady")
            network = conditions.get("NetworkReady")
            self.runtime_not_ready = None
            if runtime is not None and not runtime.status:
                self.runtime_not_ready = (
                    f"container runtime not ready: RuntimeReady=false reason:{runtime.reason} "
                    f"message:{runtime.message}"
                )
            self.network_not_ready = None
            if network is not None and not network.status:
                self.network_not_ready = (
                    "container runtime network not ready: NetworkReady=false "
                    f"reason:{network.reason} message:{network.message}"
                )
        if (self.runtime_not_ready, self.network_not_ready) != before:
            self.on_change()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check()
            period = 1.0 if self.network_not_ready or self.runtime_not_ready else 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
