"""Root CA certificate publisher (upstream's pkg/controller/certificates/rootcacertpublisher).

Contract: when ``Options.root_ca_pem`` is not empty, every namespace that is not
terminating has a ConfigMap ``kube-root-ca.crt`` whose ``data`` is exactly
``{"ca.crt": root_ca_pem}`` and which carries upstream's ``kubernetes.io/description``
annotation. Namespaces are queued when they appear or change, and when their
``kube-root-ca.crt`` is changed or deleted, so edits are reverted and deletions undone.
Other ConfigMaps are never touched; other labels and annotations are kept. With an empty
``root_ca_pem`` the controller does nothing. ``desired_configmap`` / ``configmap_update``
are the pure part; ``sync(namespace)`` writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pyk8s.client import clock as clock_mod
from pyk8s.client import errors, events, informer, paths, rest, workqueue
from pyk8s.client.store import ObjectKey
from pyk8s.controllers.context import Controller, ControllerContext
from pyk8s.controllers.serviceaccount import NAMESPACES, is_terminating
from pyk8s.controllers.workload_pods import meta

__all__ = [
    "CONFIGMAPS",
    "CONFIGMAP_NAME",
    "DATA_KEY",
    "DESCRIPTION",
    "DESCRIPTION_ANNOTATION",
    "RootCACertPublisher",
    "configmap_update",
    "desired_configmap",
    "new",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CONFIGMAPS = paths.resource_for("", "v1", "configmaps", kind="ConfigMap")
CONFIGMAP_NAME = "kube-root-ca.crt"
DATA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using "
    "internal endpoints such as the internal service IP or kubernetes.default.svc. No "
    "other usage is guaranteed across distributions of Kubernetes clusters."
)


def new(ctx: ControllerContext) -> Controller:
    return RootCACertPublisher(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        root_ca_pem=ctx.options.root_ca_pem,
        workers=ctx.options.concurrent_syncs,
    )


def desired_configmap(namespace: str, pem: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP_NAME,
            "namespace": namespace,
            "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
        },
        "data": {DATA_KEY: pem},
    }


def configmap_update(current: Mapping[str, Any], pem: str) -> Obj | None:
    """The full object to PUT so ``current`` matches the contract, or None if it does."""
    annotations = dict(meta(current).get("annotations") or {})
    data_ok = dict(current.get("data") or {}) == {DATA_KEY: pem}
    if data_ok and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION:
        return None
    annotations[DESCRIPTION_ANNOTATION] = DESCRIPTION
    body = {
        **current,
        "metadata": {**meta(current), "annotations": annotations},
        "data": {DATA_KEY: pem},
    }
    body.pop("binaryData", None)
    return body


class RootCACertPublisher:
    name = "root-ca-certificate-publisher-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        root_ca_pem: str = "",
        workers: int = 5,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.pem = root_ca_pem
        self.workers = workers
        self.queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(name=self.name, clock=clock)
        self.namespaces = informers.informer(NAMESPACES)
        self.configmaps = informers.informer(CONFIGMAPS)
        if not self.pem:
            return
        self.namespaces.add_handler(
            on_add=lambda ns: self.queue.add(str(meta(ns).get("name") or "")),
            on_update=lambda _old, ns: self.queue.add(str(meta(ns).get("name") or "")),
        )
        self.configmaps.on_change(self._configmap_changed)

    def _configmap_changed(self, cm: Obj) -> None:
        if meta(cm).get("name") == CONFIGMAP_NAME:
            self.queue.add(str(meta(cm).get("namespace") or ""))

    async def run(self, stop: asyncio.Event) -> None:
        if not self.pem:
            log.info("root-ca-certificate-publisher: no root CA configured, idle")
            await stop.wait()
            return
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        await self.namespaces.wait_synced()
        await self.configmaps.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(ObjectKey("", namespace))
        if ns is None or is_terminating(ns):
            return
        current = self.configmaps.get(ObjectKey(namespace, CONFIGMAP_NAME))
        try:
            if current is None:
                await self.client.create(CONFIGMAPS, desired_configmap(namespace, self.pem))
                return
            update = configmap_update(current, self.pem)
            if update is not None:
                await self.client.update(CONFIGMAPS, update)  # Conflict: retried
        except (errors.AlreadyExists, errors.NotFound):
            # the cache is behind; the informer event that follows re-queues
            return
        except errors.Forbidden:
            return  # the namespace began terminating
