"""Leader election: the acquire/renew decision (pure, table-driven), then real electors
racing for one Lease on a real apiserver with short durations."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from cluster import Cluster
from pyk8s.client import config, leaderelection, rest, testing
from pyk8s.client.leaderelection import LeaderElectionRecord as Rec

NOW = "2026-01-01T00:00:10.000000Z"
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.mark.parametrize(
    ("current", "other_valid", "expected"),
    [
        pytest.param(None, False, Rec("me", 15, NOW, NOW, 0), id="no-lease-create"),
        pytest.param(
            Rec("other", 15, "T1", "T2", 3), True, None, id="held-by-other-and-valid-back-off"
        ),
        pytest.param(
            Rec("other", 15, "T1", "T2", 3),
            False,
            Rec("me", 15, NOW, NOW, 4),
            id="expired-takeover-increments-transitions",
        ),
        pytest.param(
            Rec("", 1, "T1", "T1", 3),
            False,
            Rec("me", 15, NOW, NOW, 4),
            id="released-takeover-increments-transitions",
        ),
        pytest.param(
            Rec("me", 15, "T1", "T2", 3),
            False,
            Rec("me", 15, "T1", NOW, 3),
            id="renew-keeps-acquire-time-and-count",
        ),
    ],
)
def test_next_record(current: Rec | None, other_valid: bool, expected: Rec | None) -> None:
    got = leaderelection.next_record(
        current, identity="me", lease_duration=15, now_wall=NOW, held_by_other_and_valid=other_valid
    )
    assert got == expected


def test_micro_time_round_trip() -> None:
    t = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    s = leaderelection.format_micro_time(t)
    assert s == "2026-03-04T05:06:07.890123Z"
    assert leaderelection.parse_micro_time(s) == t


def test_record_spec_round_trip() -> None:
    rec = Rec("me", 15, NOW, NOW, 2)
    assert rec.to_spec() == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "leaseTransitions": 2,
        "acquireTime": NOW,
        "renewTime": NOW,
    }
    assert Rec.from_spec(rec.to_spec()) == rec


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"lease_duration": 10.0, "renew_deadline": 10.0},
            "lease_duration",
            id="lease-not-longer-than-deadline",
        ),
        pytest.param(
            {"renew_deadline": 2.0, "retry_period": 2.0},
            "renew_deadline",
            id="deadline-too-short-for-retries",
        ),
        pytest.param({"identity": ""}, "identity", id="empty-identity"),
    ],
)
def test_parameters_are_checked(kwargs: dict[str, object], message: str) -> None:
    client = rest.RESTClient(config.Config(server="https://127.0.0.1:1"))
    args: dict[str, object] = {"name": "l", "namespace": "ns", "identity": "me", **kwargs}
    with pytest.raises(ValueError, match=message):
        leaderelection.LeaderElector(client, **args)  # type: ignore[arg-type]


# --------------------------------------------------------------------- real apiserver


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[rest.RESTClient]:
    async with rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig)) as c:
        yield c


class Candidate:
    def __init__(self, client: rest.RESTClient, namespace: str, identity: str) -> None:
        self.log: list[str] = []
        self.leaders: list[str] = []
        self.stop = asyncio.Event()
        self.elector = leaderelection.LeaderElector(
            client,
            name="lock",
            namespace=namespace,
            identity=identity,
            lease_duration=2.0,
            renew_deadline=1.5,
            retry_period=0.2,
            on_started_leading=self.work,
            on_stopped_leading=lambda: self.log.append("stopped"),
            on_new_leader=self.leaders.append,
        )
        self.task = asyncio.ensure_future(self.elector.run(self.stop))

    async def work(self) -> None:
        self.log.append("started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.log.append("work cancelled")
            raise


async def lease(client: rest.RESTClient, namespace: str) -> dict[str, object]:
    got = await client.get(leaderelection.LEASES, "lock", namespace=namespace)
    spec: dict[str, object] = got["spec"]
    return spec


async def test_two_electors_take_over_on_release_and_on_expiry(
    client: rest.RESTClient, namespace: str
) -> None:
    loop = asyncio.get_running_loop()
    a = Candidate(client, namespace, "a")
    await testing.wait_until(lambda: a.elector.is_leader, timeout=10)
    b = Candidate(client, namespace, "b")
    await testing.wait_until(lambda: b.elector.leader == "a", timeout=10)
    assert not b.elector.is_leader and a.log == ["started"]

    spec = await lease(client, namespace)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == (
        "a",
        2,
        0,
    )
    assert MICRO.match(str(spec["acquireTime"])) and MICRO.match(str(spec["renewTime"]))
    first_renew = spec["renewTime"]
    deadline = loop.time() + 5
    while (renewed := await lease(client, namespace))["renewTime"] == first_renew:
        assert loop.time() < deadline, "the leader never renewed"
        await asyncio.sleep(0.05)
    assert renewed["acquireTime"] == spec["acquireTime"], "renewals keep acquireTime"

    # a stops gracefully: it releases (holderIdentity cleared), so b may take over at once
    a.stop.set()
    await asyncio.wait_for(a.task, 5)
    assert a.log == ["started", "work cancelled", "stopped"]
    await testing.wait_until(lambda: b.elector.is_leader, timeout=10)
    spec = await lease(client, namespace)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert b.log == ["started"] and b.leaders == ["a", "b"]

    # b stops renewing without releasing (a crash): c waits out the lease, then takes over
    b.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b.task
    c = Candidate(client, namespace, "c")
    t1 = loop.time()
    await testing.wait_until(lambda: c.elector.leader == "b", timeout=5)
    await testing.wait_until(lambda: c.elector.is_leader, timeout=10)
    assert loop.time() - t1 >= 1.9, "the lease must be observed unchanged for its duration"
    spec = await lease(client, namespace)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("c", 2)
    c.stop.set()
    await asyncio.wait_for(c.task, 5)
    assert (await lease(client, namespace))["holderIdentity"] == ""


async def test_leader_that_cannot_renew_steps_down(client: rest.RESTClient, namespace: str) -> None:
    a = Candidate(client, namespace, "a")
    await testing.wait_until(lambda: a.elector.is_leader, timeout=10)
    # someone else overwrites the lease: every renewal now finds it validly held by them
    current = await client.get(leaderelection.LEASES, "lock", namespace=namespace)
    current["spec"]["holderIdentity"] = "intruder"
    current["spec"]["leaseDurationSeconds"] = 30
    await client.update(leaderelection.LEASES, current)
    await asyncio.wait_for(a.task, 10)  # run() returns once leadership is lost
    assert a.log == ["started", "work cancelled", "stopped"]
    assert not a.elector.is_leader and a.elector.leader == "intruder"
    assert (await lease(client, namespace))["holderIdentity"] == "intruder", "no release when lost"
