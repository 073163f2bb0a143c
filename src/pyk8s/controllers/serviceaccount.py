"""ServiceAccounts controller (upstream's pkg/controller/serviceaccount, the part that
ensures default accounts).

Contract: every namespace that is not terminating (``status.phase`` Terminating or a
``deletionTimestamp``) has a ServiceAccount named ``default``. Namespaces are queued when
they appear or change, and again when their ``default`` account is deleted, so a deleted
account is recreated. A create that finds the account already there is fine; existing
accounts are never modified. ``wants_default`` is the pure part; ``sync(namespace)``
creates what is missing.
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
from pyk8s.controllers.workload_pods import meta

__all__ = [
    "DEFAULT_ACCOUNTS",
    "NAMESPACES",
    "SERVICEACCOUNTS",
    "ServiceAccountsController",
    "is_terminating",
    "missing_accounts",
    "new",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACES = paths.resource_for("", "v1", "namespaces", namespaced=False, kind="Namespace")
SERVICEACCOUNTS = paths.resource_for("", "v1", "serviceaccounts", kind="ServiceAccount")
DEFAULT_ACCOUNTS = ("default",)


def new(ctx: ControllerContext) -> Controller:
    return ServiceAccountsController(
        client=ctx.client,
        informers=ctx.informers,
        recorder=ctx.recorder,
        clock=ctx.clock,
        workers=ctx.options.concurrent_syncs,
    )


def is_terminating(namespace: Mapping[str, Any]) -> bool:
    status = namespace.get("status") or {}
    return bool(meta(namespace).get("deletionTimestamp")) or status.get("phase") == "Terminating"


def missing_accounts(
    namespace: Mapping[str, Any] | None, existing: set[str], wanted: tuple[str, ...]
) -> list[str]:
    """The accounts to create in ``namespace`` (none if it is gone or terminating)."""
    if namespace is None or is_terminating(namespace):
        return []
    return [name for name in wanted if name not in existing]


class ServiceAccountsController:
    name = "serviceaccount-controller"

    def __init__(
        self,
        *,
        client: rest.RESTClient,
        informers: informer.SharedInformerFactory,
        recorder: events.EventRecorder,
        clock: clock_mod.Clock = clock_mod.REAL_CLOCK,
        workers: int = 5,
        accounts: tuple[str, ...] = DEFAULT_ACCOUNTS,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.workers = workers
        self.accounts = accounts
        self.namespaces = informers.informer(NAMESPACES)
        self.serviceaccounts = informers.informer(SERVICEACCOUNTS)
        self.queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(name=self.name, clock=clock)
        self.namespaces.add_handler(
            on_add=self._namespace_changed,
            on_update=lambda _old, new: self._namespace_changed(new),
        )
        self.serviceaccounts.add_handler(on_delete=self._account_deleted)

    def _namespace_changed(self, ns: Obj) -> None:
        self.queue.add(str(meta(ns).get("name") or ""))

    def _account_deleted(self, sa: Obj) -> None:
        if meta(sa).get("name") in self.accounts:
            self.queue.add(str(meta(sa).get("namespace") or ""))

    async def run(self, stop: asyncio.Event) -> None:
        await clock_mod.run_until_stopped(self._run(), stop)
        self.queue.shutdown()

    async def _run(self) -> None:
        await self.namespaces.wait_synced()
        await self.serviceaccounts.wait_synced()
        await workqueue.run_workers(self.queue, self.sync, self.workers)

    async def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(ObjectKey("", namespace))
        existing = {
            name
            for name in self.accounts
            if self.serviceaccounts.get(ObjectKey(namespace, name)) is not None
        }
        for name in missing_accounts(ns, existing, self.accounts):
            try:
                await self.client.create(
                    SERVICEACCOUNTS,
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace},
                    },
                )
            except errors.AlreadyExists:
                continue
            except errors.Forbidden:
                continue  # the namespace began terminating since the cache saw it
            log.info("serviceaccount: created %s/%s", namespace, name)
