"""CronJob controller against a real apiserver, on virtual time: the controller's clock
is a FakeClock, so the test moves time to each schedule instead of waiting for it."""

from __future__ import annotations

from typing import Any

import ctlharness

from cluster import Cluster
from pyk8s.client import testing
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import cronjob
from pyk8s.controllers.workload_pods import CRONJOBS, JOBS

Obj = dict[str, Any]


def a_cronjob(namespace: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": namespace},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {
                "metadata": {"labels": {"team": "a"}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                },
            },
            **spec,
        },
    }


async def next_schedule(h: ctlharness.Harness, clock: testing.FakeClock) -> None:
    """Wait until the controller has parked the CronJob until its next schedule time,
    then move virtual time there."""
    controller = h.controller
    assert isinstance(controller, cronjob.CronJobController)
    await h.wait(lambda: controller.queue.waiting >= 1 and len(controller.queue) == 0)
    await h.wait(lambda: not controller.queue.processing)
    # the delayed add registers its sleep with the clock on its task's first turn
    await h.wait(lambda: clock.next_deadline() is not None)
    deadline = clock.next_deadline()
    assert deadline is not None
    await clock.advance(deadline - clock.now())


def jobs(h: ctlharness.Harness, ns: str) -> list[Obj]:
    return sorted(h.cache(JOBS).list(ns), key=lambda j: j["metadata"]["name"])


def status(h: ctlharness.Harness, ns: str) -> Obj:
    return (h.get(CRONJOBS, ns, "tick") or {}).get("status") or {}


async def complete(h: ctlharness.Harness, job: Obj) -> None:
    """Finish a Job the way the Job controller would (it is not running here)."""
    ts = "2026-01-01T00:00:00Z"
    await h.client.patch(
        JOBS,
        job["metadata"]["name"],
        {
            "status": {
                "startTime": ts,
                "completionTime": ts,
                "succeeded": 1,
                "conditions": [
                    {
                        "type": "SuccessCriteriaMet",
                        "status": "True",
                        "reason": "CompletionsReached",
                    },
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached"},
                ],
            }
        },
        namespace=job["metadata"]["namespace"],
        subresource="status",
    )


async def test_forbid_concurrency_on_virtual_time(cluster: Cluster, namespace: str) -> None:
    clock = testing.FakeClock()
    async with ctlharness.running(cluster, cronjob.new, clock=clock, watch=(JOBS, CRONJOBS)) as h:
        await h.client.create(CRONJOBS, a_cronjob(namespace, concurrencyPolicy="Forbid"))
        await next_schedule(h, clock)
        await h.wait(lambda: len(jobs(h, namespace)) == 1)
        first = jobs(h, namespace)[0]
        minutes = int(first["metadata"]["name"].rsplit("-", 1)[1])
        stamp = first["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        assert stamp.endswith(":00Z")
        assert first["metadata"]["labels"]["team"] == "a"
        assert first["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        await h.wait(
            lambda: (
                [a["name"] for a in status(h, namespace).get("active") or ()]
                == [first["metadata"]["name"]]
            )
        )
        assert status(h, namespace)["lastScheduleTime"] == stamp

        # a minute later the first Job still runs: Forbid skips this start
        await next_schedule(h, clock)
        await next_schedule(h, clock)
        assert len(jobs(h, namespace)) == 1

        # once it completes, the start Forbid skipped (the most recent unmet schedule
        # time, no startingDeadlineSeconds) happens at once, late
        await complete(h, first)
        await h.wait(lambda: len(jobs(h, namespace)) == 2)
        second = jobs(h, namespace)[1]
        assert int(second["metadata"]["name"].rsplit("-", 1)[1]) == minutes + 2
        await h.wait(
            lambda: (
                [a["name"] for a in status(h, namespace).get("active") or ()]
                == [second["metadata"]["name"]]
            )
        )
        assert status(h, namespace)["lastSuccessfulTime"] == "2026-01-01T00:00:00Z"
        await h.client.delete(CRONJOBS, "tick", namespace=namespace)


async def test_allow_replace_and_history_limit(cluster: Cluster, namespace: str) -> None:
    clock = testing.FakeClock()
    async with ctlharness.running(cluster, cronjob.new, clock=clock, watch=(JOBS, CRONJOBS)) as h:
        await h.client.create(
            CRONJOBS,
            a_cronjob(namespace, concurrencyPolicy="Replace", successfulJobsHistoryLimit=1),
        )
        await next_schedule(h, clock)
        await h.wait(lambda: len(jobs(h, namespace)) == 1)
        first = jobs(h, namespace)[0]["metadata"]["name"]
        # Replace: the running Job is deleted when the next one starts
        await next_schedule(h, clock)
        await h.wait(lambda: [j["metadata"]["name"] for j in jobs(h, namespace)] != [first])
        await h.wait(lambda: len(jobs(h, namespace)) == 1)
        second = jobs(h, namespace)[0]
        assert second["metadata"]["name"] != first
        # two completed Jobs, history limit 1: the older goes
        await complete(h, second)
        await h.wait(lambda: "active" not in status(h, namespace))  # seen as finished
        await next_schedule(h, clock)
        await h.wait(lambda: len(jobs(h, namespace)) == 2)
        await complete(h, jobs(h, namespace)[1])
        controller = h.controller
        assert isinstance(controller, cronjob.CronJobController)
        controller.queue.add(ObjectKey(namespace, "tick"))
        await h.wait(lambda: [j["metadata"]["name"] for j in jobs(h, namespace)] != [])
        await h.wait(
            lambda: (
                second["metadata"]["name"]
                not in [j["metadata"]["name"] for j in jobs(h, namespace)]
            )
        )


async def test_suspended_cronjob_starts_nothing(cluster: Cluster, namespace: str) -> None:
    clock = testing.FakeClock()
    async with ctlharness.running(cluster, cronjob.new, clock=clock, watch=(JOBS, CRONJOBS)) as h:
        await h.client.create(CRONJOBS, a_cronjob(namespace, suspend=True))
        controller = h.controller
        assert isinstance(controller, cronjob.CronJobController)
        await h.wait(lambda: h.get(CRONJOBS, namespace, "tick") is not None)

        def idle() -> bool:
            return not controller.queue.processing and len(controller.queue) == 0

        await h.wait(idle)
        await clock.advance(600)
        await h.wait(idle)
        assert jobs(h, namespace) == []
        assert status(h, namespace) == {}
