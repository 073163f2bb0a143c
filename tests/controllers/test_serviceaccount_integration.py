"""ServiceAccounts controller against a real apiserver: a new namespace gets ``default``,
and a deleted ``default`` comes back."""

from __future__ import annotations

import ctlharness

from cluster import Cluster
from pyk8s.controllers import serviceaccount as sa


def default_uid(h: ctlharness.Harness, namespace: str) -> str | None:
    obj = h.get(sa.SERVICEACCOUNTS, namespace, "default")
    return None if obj is None else str(obj["metadata"]["uid"])


async def test_default_account_created_and_recreated(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, sa.new) as h:
        await h.wait(lambda: default_uid(h, namespace) is not None, message="default account")
        await h.client.create(sa.NAMESPACES, {"metadata": {"name": f"{namespace}-2"}})
        await h.wait(lambda: default_uid(h, f"{namespace}-2") is not None, message="new ns")

        old = default_uid(h, namespace)
        await h.client.delete(sa.SERVICEACCOUNTS, "default", namespace=namespace)
        await h.wait(
            lambda: default_uid(h, namespace) not in (None, old), message="default recreated"
        )
        await h.client.delete(sa.NAMESPACES, f"{namespace}-2")
