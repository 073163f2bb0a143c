"""TTL-after-finished against a real apiserver, on virtual time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ctlharness

from cluster import Cluster
from pyk8s.client import testing
from pyk8s.controllers import ttlafterfinished
from pyk8s.controllers.workload_pods import JOBS

Obj = dict[str, Any]


def finished_job(namespace: str, name: str, ttl: int | None) -> Obj:
    spec: Obj = {
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
        }
    }
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def finish(h: ctlharness.Harness, namespace: str, name: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    await h.client.patch(
        JOBS,
        name,
        {
            "status": {
                "startTime": now,
                "completionTime": now,
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
                    {"type": "Complete", "status": "True", "lastTransitionTime": now},
                ],
            }
        },
        namespace=namespace,
        subresource="status",
    )


def deleted(h: ctlharness.Harness, namespace: str, name: str) -> bool:
    job = h.get(JOBS, namespace, name)
    return job is None or bool(job["metadata"].get("deletionTimestamp"))


async def test_finished_jobs_are_deleted_after_their_ttl(cluster: Cluster, namespace: str) -> None:
    clock = testing.FakeClock()
    async with ctlharness.running(cluster, ttlafterfinished.new, clock=clock, watch=(JOBS,)) as h:
        for name, ttl in (("now", 0), ("later", 100), ("never", None), ("running", 0)):
            await h.client.create(JOBS, finished_job(namespace, name, ttl))
        for name in ("now", "later", "never"):
            await finish(h, namespace, name)
        await h.wait(lambda: deleted(h, namespace, "now"))
        now_job = h.get(JOBS, namespace, "now")
        if now_job is not None:  # foreground deletion waits for the garbage collector
            assert "foregroundDeletion" in now_job["metadata"]["finalizers"]
        controller = h.controller
        assert isinstance(controller, ttlafterfinished.TTLAfterFinishedController)
        await h.wait(lambda: controller.queue.waiting >= 1)
        assert not deleted(h, namespace, "later")
        await clock.advance(101)
        await h.wait(lambda: deleted(h, namespace, "later"))
        assert not deleted(h, namespace, "never")
        assert not deleted(h, namespace, "running")
