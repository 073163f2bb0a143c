"""The NetworkPolicy controller loop: waits for its caches, coalesces bursts, ignores pod
changes the rules do not depend on, retries failed nft runs, resyncs — on virtual time,
with in-memory lister-watchers and a recording nft."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.client import informer, ratelimit, testing
from pyk8s.proxy import netpol

Obj = dict[str, Any]
NODE = "node-a"


def pod(name: str, ip: str, *, node: str = NODE, **labels: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "prod", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def deny_all(name: str = "deny") -> Obj:
    return {
        "metadata": {"name": name, "namespace": "prod"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


class RecordingNft:
    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.failures = 0

    async def apply(self, script: str) -> None:
        if self.failures:
            self.failures -= 1
            raise netpol.NftError("nft -f - exited 1: boom")
        self.scripts.append(script)


class Harness:
    def __init__(self) -> None:
        self.clock = testing.FakeClock()
        self.lws = {k: testing.FakeListerWatcher() for k in ("policies", "pods", "namespaces")}
        self.informers: dict[str, informer.SharedInformer[Obj]] = {
            k: informer.SharedInformer(lw, name=k) for k, lw in self.lws.items()
        }
        self.nft = RecordingNft()
        self.ctl = netpol.NetpolController(
            policies=self.informers["policies"],
            pods=self.informers["pods"],
            namespaces=self.informers["namespaces"],
            node_name=NODE,
            nft=self.nft,
            config=netpol.NetpolConfig(min_sync_interval=1.0, resync_period=60.0),
            clock=self.clock,
            backoff=ratelimit.Backoff(initial=0.5, cap=4.0, jitter=0.0),
        )
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, *names: str) -> None:
        for name in names:
            self.tasks.append(asyncio.ensure_future(self.informers[name].run(self.stop)))

    async def idle(self) -> None:
        """Wait until the loop sleeps out its interval and the resync timer sleeps too."""
        await self.clock.wait_for_sleepers(2)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    harness.tasks.append(asyncio.ensure_future(harness.ctl.run(harness.stop)))
    yield harness
    harness.stop.set()
    await asyncio.wait_for(asyncio.gather(*harness.tasks), 5)


async def test_nothing_is_applied_before_every_cache_has_listed(h: Harness) -> None:
    h.lws["policies"].put(deny_all())
    h.lws["pods"].put(pod("web", "10.244.1.10"))
    h.start("policies", "pods")
    await h.informers["pods"].wait_synced(5)
    await testing.settle()
    assert h.nft.scripts == []
    h.start("namespaces")
    await testing.wait_until(lambda: len(h.nft.scripts) == 1, timeout=5)
    assert "10.244.1.10 : jump ingress-10.244.1.10" in h.nft.scripts[0]


async def test_a_burst_of_changes_is_one_sync(h: Harness) -> None:
    h.start("policies", "pods", "namespaces")
    await testing.wait_until(lambda: len(h.nft.scripts) == 1, timeout=5)
    await h.idle()
    h.lws["policies"].put(deny_all())
    for i in range(5):
        h.lws["pods"].put(pod(f"p{i}", f"10.244.1.{10 + i}"))
    await testing.wait_until(lambda: len(h.informers["pods"].list()) == 5, timeout=5)
    await testing.settle()
    assert len(h.nft.scripts) == 1  # still within min_sync_interval
    await h.clock.advance(1.0)
    await testing.wait_until(lambda: len(h.nft.scripts) == 2, timeout=5)
    await h.idle()
    await h.clock.advance(1.0)
    await testing.settle()
    assert len(h.nft.scripts) == 2 and not h.ctl.dirty
    assert all(f"jump ingress-10.244.1.{10 + i}" in h.nft.scripts[1] for i in range(5))


async def test_pod_changes_the_rules_ignore_do_not_wake_the_loop(h: Harness) -> None:
    h.lws["pods"].put(pod("web", "10.244.1.10", app="web"))
    h.start("policies", "pods", "namespaces")
    await testing.wait_until(lambda: len(h.nft.scripts) == 1, timeout=5)
    await h.idle()
    seen: list[Obj] = []
    h.informers["pods"].add_handler(on_update=lambda _old, new: seen.append(new))

    ready = pod("web", "10.244.1.10", app="web")
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    h.lws["pods"].put(ready)
    await testing.wait_until(lambda: len(seen) == 1, timeout=5)
    assert not h.ctl.dirty

    h.lws["pods"].put(pod("web", "10.244.1.10", app="api"))  # a label change matters
    await testing.wait_until(lambda: len(seen) == 2, timeout=5)
    assert h.ctl.dirty
    h.lws["pods"].put(pod("elsewhere", "10.244.2.7", node="node-b"))  # a peer elsewhere too
    await testing.wait_until(lambda: len(h.informers["pods"].list()) == 2, timeout=5)
    await h.clock.advance(1.0)
    await h.idle()
    # a sync ran, but nothing is isolated, so the text is the same and nft is not run
    assert len(h.nft.scripts) == 1


async def test_a_failed_nft_run_is_retried_with_back_off(h: Harness) -> None:
    h.start("policies", "pods", "namespaces")
    await testing.wait_until(lambda: len(h.nft.scripts) == 1, timeout=5)
    await h.idle()
    h.nft.failures = 2
    h.lws["pods"].put(pod("web", "10.244.1.10"))
    h.lws["policies"].put(deny_all())
    await testing.wait_until(lambda: len(h.informers["policies"].list()) == 1, timeout=5)
    await h.clock.advance(1.0)
    await h.idle()  # first failure: back-off 0.5 s
    assert h.nft.failures == 1
    await h.clock.advance(0.5)
    await h.idle()  # second failure: back-off 1 s
    assert h.nft.failures == 0 and len(h.nft.scripts) == 1
    await h.clock.advance(0.5)
    await testing.settle()
    assert len(h.nft.scripts) == 1
    await h.clock.advance(0.5)
    await testing.wait_until(lambda: len(h.nft.scripts) == 2, timeout=5)
    assert "jump ingress-10.244.1.10" in h.nft.scripts[1]


async def test_resync_reapplies_an_unchanged_ruleset(h: Harness) -> None:
    h.start("policies", "pods", "namespaces")
    await testing.wait_until(lambda: len(h.nft.scripts) == 1, timeout=5)
    await h.idle()
    await h.clock.advance(60.0)
    await testing.wait_until(lambda: len(h.nft.scripts) == 2, timeout=5)
    assert h.nft.scripts[1] == h.nft.scripts[0]
