"""The Deployment controller against a real apiserver, with the ReplicaSet, garbage
collector and namespace controllers and the fake kubelet: rolling updates within surge
and unavailability, Recreate, rollover, progress deadlines, pause/resume, proportional
scaling, history cleanup, annotations and events."""

from __future__ import annotations

from typing import Any

import harness
import pytest
from harness import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    deployment,
    events_for,
    eventually,
    list_pods,
    list_rs,
    observing,
    running,
)

from pyk8s.client import rest

api, client, ns = harness.api, harness.client, harness.ns  # fixtures

Obj = dict[str, Any]
HASH = "pod-template-hash"


async def complete(
    client: rest.RESTClient, ns: str, name: str, replicas: int, timeout: float = 30
) -> Obj:
    """Wait for kubectl rollout status's "successfully rolled out" state."""

    async def check() -> Obj | None:
        d = await client.get(DEPLOYMENTS, name, namespace=ns)
        st = d.get("status") or {}
        done = (
            st.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and st.get("updatedReplicas", 0) == replicas
            and st.get("replicas", 0) == replicas
            and st.get("availableReplicas", 0) == replicas
        )
        return d if done else None

    return await eventually(check, timeout=timeout, message=f"deployment {name} complete")


async def set_image(client: rest.RESTClient, ns: str, name: str, image: str) -> None:
    await client.patch(
        DEPLOYMENTS,
        name,
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}},
        namespace=ns,
        patch_type=rest.PatchType.STRATEGIC,
    )


def rs_by_image(rss: list[Obj]) -> dict[str, Obj]:
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in rss}


def scaling_messages(events: list[Obj]) -> list[str]:
    return [e["message"] for e in events if e["reason"] == "ScalingReplicaSet"]


async def test_rolling_update_stays_within_surge_and_unavailability(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api):
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        await client.create(
            DEPLOYMENTS, deployment("web", replicas=4, strategy=strategy), namespace=ns
        )
        d = await complete(client, ns, "web", 4)
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        conds = {c["type"]: c for c in d["status"]["conditions"]}
        assert (conds["Available"]["status"], conds["Available"]["reason"]) == (
            "True",
            "MinimumReplicasAvailable",
        )
        assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
        (first,) = await list_rs(client, ns)
        async with (
            observing(client, REPLICASETS, ns) as rs_log,
            observing(client, DEPLOYMENTS, ns) as d_log,
        ):
            await set_image(client, ns, "web", "nginx:1.16.1")
            await complete(client, ns, "web", 4)
        totals: dict[str, int] = {}
        worst_total = 0
        for _, rs in rs_log:
            totals[rs["metadata"]["name"]] = rs["spec"]["replicas"]
            worst_total = max(worst_total, sum(totals.values()))
        assert worst_total <= 5  # replicas + maxSurge
        available = [
            (o.get("status") or {}).get("availableReplicas", 0) for _, o in d_log if o.get("status")
        ]
        assert min(available) >= 4  # maxUnavailable 0

        rss = rs_by_image(await list_rs(client, ns))
        old, new = rss["nginx:1.14.2"], rss["nginx:1.16.1"]
        assert old["metadata"]["uid"] == first["metadata"]["uid"]
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
        pod_hash = new["metadata"]["labels"][HASH]
        assert new["metadata"]["name"] == f"web-{pod_hash}"
        assert new["spec"]["selector"]["matchLabels"] == {"app": "web", HASH: pod_hash}
        assert old["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert new["metadata"]["annotations"] == {
            "deployment.kubernetes.io/revision": "2",
            "deployment.kubernetes.io/desired-replicas": "4",
            "deployment.kubernetes.io/max-replicas": "5",
        }
        d = await client.get(DEPLOYMENTS, "web", namespace=ns)
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        pods = await list_pods(client, ns)
        assert len(pods) == 4 and all(p["metadata"]["labels"][HASH] == pod_hash for p in pods)
        messages = scaling_messages(await events_for(client, ns, "web"))
        o, n = old["metadata"]["name"], new["metadata"]["name"]
        assert messages == [
            f"Scaled up replica set {o} from 0 to 4",
            f"Scaled up replica set {n} from 0 to 1",
            f"Scaled down replica set {o} from 4 to 3",
            f"Scaled up replica set {n} from 1 to 2",
            f"Scaled down replica set {o} from 3 to 2",
            f"Scaled up replica set {n} from 2 to 3",
            f"Scaled down replica set {o} from 2 to 1",
            f"Scaled up replica set {n} from 3 to 4",
            f"Scaled down replica set {o} from 1 to 0",
        ]
        rs_events = await events_for(client, ns, n)
        created = [e for e in rs_events if e["reason"] == "SuccessfulCreate"]
        assert len(created) == 4
        assert all(e["source"]["component"] == "replicaset-controller" for e in created)
        assert all(e["message"].startswith(f"Created pod: {n}-") for e in created)


async def test_recreate_stops_old_pods_before_starting_new_ones(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api):
        await client.create(
            DEPLOYMENTS, deployment("rec", replicas=3, strategy={"type": "Recreate"}), namespace=ns
        )
        await complete(client, ns, "rec", 3)
        async with observing(client, PODS, ns) as pod_log:
            await set_image(client, ns, "rec", "nginx:2")
            await complete(client, ns, "rec", 3)
        old_gone = [i for i, (t, p) in enumerate(pod_log) if t == "DELETED"]
        new_born = [
            i
            for i, (t, p) in enumerate(pod_log)
            if t == "ADDED" and p["spec"]["containers"][0]["image"] == "nginx:2"
        ]
        assert len(old_gone) == 3 and len(new_born) == 3
        assert max(old_gone) < min(new_born)
        rss = rs_by_image(await list_rs(client, ns))
        messages = scaling_messages(await events_for(client, ns, "rec"))
        assert messages[-2:] == [
            f"Scaled down replica set {rss['nginx:1.14.2']['metadata']['name']} from 3 to 0",
            f"Scaled up replica set {rss['nginx:2']['metadata']['name']} from 0 to 3",
        ]


async def test_rollover_abandons_an_unfinished_rollout(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api):
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        await client.create(
            DEPLOYMENTS, deployment("ro", replicas=3, strategy=strategy), namespace=ns
        )
        await complete(client, ns, "ro", 3)
        await set_image(client, ns, "ro", "nginx:bad")  # its pods never become ready

        async def stuck() -> bool:
            rss = rs_by_image(await list_rs(client, ns))
            return "nginx:bad" in rss and rss["nginx:bad"]["spec"]["replicas"] == 1

        await eventually(stuck, message="the bad revision surging")
        await set_image(client, ns, "ro", "nginx:3")
        await complete(client, ns, "ro", 3)
        rss = rs_by_image(await list_rs(client, ns))
        assert {img: rs["spec"]["replicas"] for img, rs in rss.items()} == {
            "nginx:1.14.2": 0,
            "nginx:bad": 0,
            "nginx:3": 3,
        }
        assert {
            img: rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            for img, rs in rss.items()
        } == {"nginx:1.14.2": "1", "nginx:bad": "2", "nginx:3": "3"}
        pods = await list_pods(client, ns)
        assert sorted(p["spec"]["containers"][0]["image"] for p in pods) == ["nginx:3"] * 3


async def test_progress_deadline_exceeded(api: Any, client: rest.RESTClient, ns: str) -> None:
    async with running(api):
        await client.create(
            DEPLOYMENTS,
            deployment("slow", replicas=2, image="nginx:bad", progressDeadlineSeconds=2),
            namespace=ns,
        )

        async def timed_out() -> Obj | None:
            d = await client.get(DEPLOYMENTS, "slow", namespace=ns)
            for c in (d.get("status") or {}).get("conditions") or ():
                if c["type"] == "Progressing" and c["reason"] == "ProgressDeadlineExceeded":
                    return c
            return None

        cond = await eventually(timed_out, timeout=20, message="ProgressDeadlineExceeded")
        (rs,) = await list_rs(client, ns)
        assert cond["status"] == "False"
        assert (
            cond["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
        )
        d = await client.get(DEPLOYMENTS, "slow", namespace=ns)
        available = next(c for c in d["status"]["conditions"] if c["type"] == "Available")
        assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")


async def test_pause_holds_the_rollout_until_resume(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api):
        await client.create(DEPLOYMENTS, deployment("p", replicas=2), namespace=ns)
        await complete(client, ns, "p", 2)
        await client.patch(DEPLOYMENTS, "p", {"spec": {"paused": True}}, namespace=ns)
        await set_image(client, ns, "p", "nginx:2")

        async def observed_while_paused() -> Obj | None:
            d = await client.get(DEPLOYMENTS, "p", namespace=ns)
            st = d.get("status") or {}
            cond = next((c for c in st.get("conditions") or () if c["type"] == "Progressing"), {})
            ok = st.get("observedGeneration") == d["metadata"]["generation"]
            return d if ok and cond.get("reason") == "DeploymentPaused" else None

        d = await eventually(observed_while_paused, message="the paused spec observed")
        cond = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
        assert (cond["status"], cond["message"]) == ("Unknown", "Deployment is paused")
        assert len(await list_rs(client, ns)) == 1  # no rollout while paused

        await client.patch(DEPLOYMENTS, "p", {"spec": {"paused": False}}, namespace=ns)
        d = await complete(client, ns, "p", 2)
        rss = rs_by_image(await list_rs(client, ns))
        assert rss["nginx:2"]["spec"]["replicas"] == 2
        assert rss["nginx:1.14.2"]["spec"]["replicas"] == 0


async def test_scaling_mid_rollout_is_proportional(
    api: Any, client: rest.RESTClient, ns: str
) -> None:
    async with running(api):
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
        await client.create(
            DEPLOYMENTS, deployment("prop", replicas=10, strategy=strategy), namespace=ns
        )
        await complete(client, ns, "prop", 10)
        await set_image(client, ns, "prop", "nginx:bad")

        last: dict[str, int] = {}

        async def sizes(want: dict[str, int]) -> bool:
            nonlocal last
            rss = rs_by_image(await list_rs(client, ns))
            last = {img: rs["spec"]["replicas"] for img, rs in rss.items()}
            return last == want

        try:
            # surge 3: new 3; old 10 → 8 (2 unavailable allowed); new 5 (13 in all). Stuck:
            # the new pods never become ready
            await eventually(lambda: sizes({"nginx:1.14.2": 8, "nginx:bad": 5}))
        except AssertionError:
            raise AssertionError(f"not stuck where expected: {last}") from None
        await client.patch(DEPLOYMENTS, "prop", {"spec": {"replicas": 20}}, namespace=ns)
        # 23 allowed (20 + 3 surge) from 13, each in proportion to the 13 it was sized
        # for: old 8 → round(8 * 23 / 13) = 14, new 5 → round(5 * 23 / 13) = 9
        try:
            await eventually(lambda: sizes({"nginx:1.14.2": 14, "nginx:bad": 9}))
        except AssertionError:
            msgs = scaling_messages(await events_for(client, ns, "prop"))
            raise AssertionError(f"not proportional: {last} {msgs}") from None
        rss = rs_by_image(await list_rs(client, ns))
        for rs in rss.values():
            assert (
                rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "20"
            )
            assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "23"


async def test_history_limit_and_change_cause(api: Any, client: rest.RESTClient, ns: str) -> None:
    async with running(api):
        body = deployment("h", replicas=1, revisionHistoryLimit=1)
        body["metadata"]["annotations"] = {"kubernetes.io/change-cause": "first"}
        await client.create(DEPLOYMENTS, body, namespace=ns)
        await complete(client, ns, "h", 1)
        for i, image in enumerate(["nginx:2", "nginx:3"], start=2):
            # one write, as `kubectl apply` or `set image --record` makes it: an annotation
            # changed on its own is copied to the current ReplicaSet (upstream does too)
            await client.patch(
                DEPLOYMENTS,
                "h",
                {
                    "metadata": {"annotations": {"kubernetes.io/change-cause": f"rev {i}"}},
                    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
                },
                namespace=ns,
                patch_type=rest.PatchType.STRATEGIC,
            )
            await complete(client, ns, "h", 1)

        async def cleaned() -> list[Obj] | None:
            rss = await list_rs(client, ns)
            return rss if len(rss) == 2 else None

        rss = rs_by_image(await eventually(cleaned, message="history cleanup"))
        assert set(rss) == {"nginx:2", "nginx:3"}
        assert rss["nginx:3"]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "rev 3"
        assert rss["nginx:2"]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "rev 2"


@pytest.mark.parametrize("replicas", [0, 5])
async def test_scale_only_keeps_one_replicaset(
    api: Any, client: rest.RESTClient, ns: str, replicas: int
) -> None:
    async with running(api):
        await client.create(DEPLOYMENTS, deployment("s", replicas=2), namespace=ns)
        await complete(client, ns, "s", 2)
        await client.patch(DEPLOYMENTS, "s", {"spec": {"replicas": replicas}}, namespace=ns)
        await complete(client, ns, "s", replicas)
        (rs,) = await list_rs(client, ns)
        assert rs["spec"]["replicas"] == replicas
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == str(
            replicas
        )
        messages = scaling_messages(await events_for(client, ns, "s"))
        op = "up" if replicas > 2 else "down"
        assert (
            messages[-1] == f"Scaled {op} replica set {rs['metadata']['name']} from 2 to {replicas}"
        )
