"""Job controller against a real apiserver: completions with parallelism (pods made
Succeeded by the test), backoffLimit, Indexed Jobs, suspend, and the tracking finalizer."""

from __future__ import annotations

from typing import Any

import ctlharness
import podstatus

from cluster import Cluster
from pyk8s.client import events
from pyk8s.client.store import ObjectKey
from pyk8s.controllers import job
from pyk8s.controllers.context import ControllerContext
from pyk8s.controllers.workload_pods import JOBS, PODS

Obj = dict[str, Any]
EVENTS = events.EVENTS


def fast(ctx: ControllerContext) -> job.JobController:
    """The controller as ``job.new`` builds it, with a short pod-event batch period."""
    controller = job.new(ctx)
    assert isinstance(controller, job.JobController)
    controller.batch_period = 0.05
    return controller


def a_job(namespace: str, name: str = "work", **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox"}],
                }
            },
            **spec,
        },
    }


def pods_of(h: ctlharness.Harness, ns: str, *, phase: str | None = None) -> list[Obj]:
    return [
        p
        for p in h.cache(PODS).list(ns)
        if not p["metadata"].get("deletionTimestamp")
        and (phase is None or (p.get("status") or {}).get("phase") == phase)
    ]


def pending(h: ctlharness.Harness, ns: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods_of(h, ns, phase="Pending"))


def job_status(h: ctlharness.Harness, ns: str, name: str = "work") -> Obj:
    return (h.get(JOBS, ns, name) or {}).get("status") or {}


def condition_types(h: ctlharness.Harness, ns: str, name: str = "work") -> list[str]:
    return [c["type"] for c in job_status(h, ns, name).get("conditions") or ()]


async def test_completions_with_parallelism(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS, EVENTS)) as h:
        await h.client.create(JOBS, a_job(namespace, completions=5, parallelism=2))
        await h.wait(lambda: len(pending(h, namespace)) == 2)
        first = pods_of(h, namespace)[0]
        assert "batch.kubernetes.io/job-tracking" in first["metadata"]["finalizers"]
        assert first["metadata"]["generateName"] == "work-"
        await h.wait(lambda: job_status(h, namespace).get("active") == 2)
        assert job_status(h, namespace)["startTime"]
        assert job_status(h, namespace)["ready"] == 0
        succeeded = 0
        while succeeded < 5:
            await h.wait(lambda: len(pending(h, namespace)) >= 1)
            name = pending(h, namespace)[0]
            await podstatus.succeeded(h.client, namespace, name)
            succeeded += 1
            await h.wait(
                lambda n=succeeded: job_status(h, namespace).get("succeeded", 0) == n,
                message=f"succeeded={succeeded}",
            )
            # never more than parallelism, never more than the completions left
            assert len(pending(h, namespace)) <= min(2, 5 - succeeded)
        await h.wait(lambda: "Complete" in condition_types(h, namespace))
        st = job_status(h, namespace)
        assert condition_types(h, namespace) == ["SuccessCriteriaMet", "Complete"]
        complete = st["conditions"][1]
        assert complete["reason"] == "CompletionsReached"
        assert complete["message"] == "Reached expected number of succeeded pods"
        assert st["completionTime"]
        assert st["uncountedTerminatedPods"] == {}
        assert st.get("failed", 0) == 0
        assert "active" not in st
        # every pod's finalizer is gone once counted
        await h.wait(
            lambda: all(
                "batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or ())
                for p in h.cache(PODS).list(namespace)
            )
        )

        def reasons() -> list[str]:
            return [
                e["reason"]
                for e in h.cache(EVENTS).list(namespace)
                if e["involvedObject"].get("name") == "work"
            ]

        await h.recorder.flush()
        await h.wait(lambda: "Completed" in reasons() and "SuccessfulCreate" in reasons())


async def test_backoff_limit_fails_the_job(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS)) as h:
        await h.client.create(JOBS, a_job(namespace, backoffLimit=0))
        await h.wait(lambda: len(pending(h, namespace)) == 1)
        await podstatus.failed(h.client, namespace, pending(h, namespace)[0])
        await h.wait(lambda: "Failed" in condition_types(h, namespace))
        st = job_status(h, namespace)
        assert condition_types(h, namespace) == ["FailureTarget", "Failed"]
        failed = st["conditions"][1]
        assert failed["reason"] == "BackoffLimitExceeded"
        assert failed["message"] == "Job has reached the specified backoff limit"
        assert st["failed"] == 1
        assert "completionTime" not in st
        assert pending(h, namespace) == []


async def test_failure_is_retried_after_backoff(cluster: Cluster, namespace: str) -> None:
    """One failure, backoffLimit 2: a replacement appears only after the 10 s back-off.
    Virtual time would need a fake apiserver clock too; here the back-off record is
    aged instead, which the sync reads from its wall clock."""
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS)) as h:
        await h.client.create(JOBS, a_job(namespace, backoffLimit=2))
        await h.wait(lambda: len(pending(h, namespace)) == 1)
        await podstatus.failed(h.client, namespace, pending(h, namespace)[0])
        await h.wait(lambda: job_status(h, namespace).get("failed") == 1)
        controller = h.controller
        assert isinstance(controller, job.JobController)
        key = ObjectKey(namespace, "work")
        record = controller.backoff[key]
        assert record.failures_after_last_success == 1
        assert pending(h, namespace) == []
        # pretend the back-off has passed
        assert record.last_failure is not None
        controller.backoff[key] = job.jp.BackoffRecord(1, record.last_failure.replace(year=2000))
        controller.queue.add(key)
        await h.wait(lambda: len(pending(h, namespace)) == 1)
        await podstatus.succeeded(h.client, namespace, pending(h, namespace)[0])
        await h.wait(lambda: "Complete" in condition_types(h, namespace))
        assert job_status(h, namespace)["failed"] == 1
        assert job_status(h, namespace)["succeeded"] == 1


async def test_indexed_job(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS)) as h:
        await h.client.create(
            JOBS, a_job(namespace, completions=3, parallelism=3, completionMode="Indexed")
        )
        await h.wait(lambda: len(pending(h, namespace)) == 3)
        by_index = {
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p
            for p in pods_of(h, namespace)
        }
        assert sorted(by_index) == ["0", "1", "2"]
        pod1 = by_index["1"]
        assert pod1["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "1"
        assert pod1["spec"]["hostname"] == "work-1"
        assert pod1["metadata"]["generateName"] == "work-1-"
        env = pod1["spec"]["containers"][0]["env"]
        assert env[0]["name"] == "JOB_COMPLETION_INDEX"
        await podstatus.succeeded(h.client, namespace, pod1["metadata"]["name"])
        await h.wait(lambda: job_status(h, namespace).get("completedIndexes") == "1")
        for index in ("0", "2"):
            await podstatus.succeeded(h.client, namespace, by_index[index]["metadata"]["name"])
        await h.wait(lambda: "Complete" in condition_types(h, namespace))
        assert job_status(h, namespace)["completedIndexes"] == "0-2"
        assert job_status(h, namespace)["succeeded"] == 3


async def test_suspend_deletes_active_pods_and_resume(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS)) as h:
        await h.client.create(JOBS, a_job(namespace, parallelism=2, completions=2))
        await h.wait(lambda: len(pending(h, namespace)) == 2)
        await h.client.patch(JOBS, "work", {"spec": {"suspend": True}}, namespace=namespace)
        await h.wait(lambda: pods_of(h, namespace) == [])
        await h.wait(lambda: "Suspended" in condition_types(h, namespace))
        cond = job_status(h, namespace)["conditions"][0]
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "True",
            "JobSuspended",
            "Job suspended",
        )
        await h.wait(lambda: "active" not in job_status(h, namespace))
        assert job_status(h, namespace).get("failed", 0) == 0
        await h.client.patch(JOBS, "work", {"spec": {"suspend": False}}, namespace=namespace)
        await h.wait(lambda: len(pending(h, namespace)) == 2)
        await h.wait(
            lambda: (
                [(c["status"], c["reason"]) for c in job_status(h, namespace)["conditions"]]
                == [("False", "JobResumed")]
            )
        )


async def test_active_deadline(cluster: Cluster, namespace: str) -> None:
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS)) as h:
        await h.client.create(JOBS, a_job(namespace, activeDeadlineSeconds=1))
        await h.wait(lambda: "Failed" in condition_types(h, namespace), timeout=20)
        failed = job_status(h, namespace)["conditions"][-1]
        assert failed["reason"] == "DeadlineExceeded"
        assert failed["message"] == "Job was active longer than specified deadline"
        await h.wait(lambda: pods_of(h, namespace) == [])


async def test_pod_failure_policy_fail_job(cluster: Cluster, namespace: str) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    async with ctlharness.running(cluster, fast, watch=(PODS, JOBS)) as h:
        await h.client.create(JOBS, a_job(namespace, backoffLimit=6, podFailurePolicy=policy))
        await h.wait(lambda: len(pending(h, namespace)) == 1)
        name = pending(h, namespace)[0]
        await podstatus.failed(h.client, namespace, name, exit_code=42)
        await h.wait(lambda: "Failed" in condition_types(h, namespace))
        failed = job_status(h, namespace)["conditions"][-1]
        assert failed["reason"] == "PodFailurePolicy"
        assert failed["message"] == (
            f"Container main for pod {namespace}/{name} failed with exit code 42 "
            "matching FailJob rule at index 0"
        )
