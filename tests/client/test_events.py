"""Event recording: the event shape and the correlator's aggregation (pure), and one
recorder against a real apiserver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.client import events

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}


def ev(
    obj: dict[str, Any] = POD,
    *,
    reason: str = "Pulled",
    message: str = "pulled",
    at: datetime = T0,
    event_type: str = "Normal",
    component: str = "kubelet",
    host: str = "n1",
) -> dict[str, Any]:
    return events.make_event(
        events.reference(obj),
        event_type=event_type,
        reason=reason,
        message=message,
        component=component,
        host=host,
        now=at,
    )


def test_event_shape_follows_upstream() -> None:
    e = ev()
    nanos = 1767323045678901000
    assert e["metadata"] == {"name": f"web-0.{nanos:x}", "namespace": "shop"}
    assert e["involvedObject"] == {
        "kind": "Pod",
        "namespace": "shop",
        "name": "web-0",
        "uid": "u-1",
        "apiVersion": "v1",
        "resourceVersion": "42",
    }
    assert (e["firstTimestamp"], e["lastTimestamp"], e["count"]) == (
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05Z",
        1,
    )
    assert e["source"] == {"component": "kubelet", "host": "n1"}
    assert (e["reportingComponent"], e["reportingInstance"]) == ("kubelet", "n1")
    assert ev(NODE)["metadata"]["namespace"] == "default"


def written(e: dict[str, Any], rv: str = "100") -> dict[str, Any]:
    out = {**e, "metadata": {**e["metadata"], "resourceVersion": rv}}
    return out


@pytest.mark.parametrize(
    ("second", "delay", "repeat"),
    [
        pytest.param({}, timedelta(seconds=30), True, id="identical-within-window"),
        pytest.param({}, timedelta(minutes=10), True, id="identical-at-window-edge"),
        pytest.param({}, timedelta(minutes=10, seconds=1), False, id="identical-after-window"),
        pytest.param({"message": "other"}, timedelta(seconds=1), False, id="different-message"),
        pytest.param({"reason": "Failed"}, timedelta(seconds=1), False, id="different-reason"),
        pytest.param({"event_type": "Warning"}, timedelta(seconds=1), False, id="different-type"),
        pytest.param({"host": "n2"}, timedelta(seconds=1), False, id="different-source"),
        pytest.param(
            {"obj": {**POD, "metadata": {**POD["metadata"], "uid": "u-2"}}},
            timedelta(seconds=1),
            False,
            id="different-object-uid",
        ),
        pytest.param(
            {"obj": {**POD, "metadata": {**POD["metadata"], "resourceVersion": "43"}}},
            timedelta(seconds=1),
            True,
            id="object-rv-ignored",
        ),
    ],
)
def test_correlator_aggregates_identical_events(
    second: dict[str, Any], delay: timedelta, repeat: bool
) -> None:
    c = events.Correlator()
    first = ev()
    assert not c.correlate(first, T0).is_repeat
    c.update_state(written(first), T0)
    later = T0 + delay
    nxt = ev(at=later, **second)
    corr = c.correlate(nxt, later)
    assert corr.is_repeat is repeat
    if repeat:
        assert corr.patch == {
            "count": 2,
            "lastTimestamp": events.format_time(later),
            "message": "pulled",
        }
        assert corr.event["metadata"]["name"] == first["metadata"]["name"]
        assert corr.event["metadata"]["resourceVersion"] == "100"
        assert corr.event["firstTimestamp"] == first["firstTimestamp"]
    else:
        assert corr.event is nxt


def test_counts_accumulate_and_the_window_slides_with_the_last_occurrence() -> None:
    c = events.Correlator()
    e = ev()
    c.update_state(written(e), T0)
    at = T0
    for n in range(2, 6):
        at += timedelta(minutes=9)  # each repeat within 10 min of the previous one
        corr = c.correlate(ev(at=at), at)
        assert corr.patch is not None and corr.patch["count"] == n
        c.update_state({**corr.event, "count": n}, at)


def test_correlator_forgets_least_recently_used() -> None:
    c = events.Correlator(max_entries=2)
    for msg in ("a", "b", "c"):
        c.update_state(written(ev(message=msg)), T0)
    assert len(c) == 2
    assert not c.correlate(ev(message="a"), T0).is_repeat
    assert c.correlate(ev(message="c"), T0).is_repeat


# --------------------------------------------------------------------- real apiserver


async def test_recorder_aggregates_repeats_into_one_event(cluster: Any, namespace: str) -> None:
    import asyncio

    from pyk8s.client import config, paths, rest

    cms = paths.resource_for("", "v1", "configmaps")
    async with rest.RESTClient(config.from_kubeconfig(cluster.kubeconfig)) as client:
        obj = await client.create(cms, {"metadata": {"name": "subject"}}, namespace=namespace)
        clock = [T0]
        recorder = events.EventRecorder(
            client, component="test-controller", host="h1", wall=lambda: clock[0]
        )
        stop = asyncio.Event()
        runner = asyncio.ensure_future(recorder.run(stop))
        for i in range(3):
            clock[0] = T0 + timedelta(seconds=i)
            recorder.record(obj, reason="Synced", message="synced ok")
            await recorder.flush()
        recorder.record(obj, reason="Failed", message="boom", event_type=events.EventType.WARNING)
        await recorder.flush()

        async def listed() -> list[dict[str, Any]]:
            page = await client.list(
                events.EVENTS, namespace=namespace, field_selector="involvedObject.name=subject"
            )
            return sorted(page["items"], key=lambda e: e["reason"])

        failed, synced = await listed()
        assert synced["count"] == 3
        assert (synced["firstTimestamp"], synced["lastTimestamp"]) == (
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:07Z",
        )
        assert synced["involvedObject"]["uid"] == obj["metadata"]["uid"]
        assert synced["involvedObject"]["kind"] == "ConfigMap"
        assert synced["source"] == {"component": "test-controller", "host": "h1"}
        assert synced["metadata"]["name"].startswith("subject.")
        assert (failed["count"], failed["type"]) == (1, "Warning")

        # the event expires (or is deleted) meanwhile: the next repeat re-creates it
        await client.delete(events.EVENTS, synced["metadata"]["name"], namespace=namespace)
        clock[0] = T0 + timedelta(seconds=10)
        again = await recorder.emit(obj, reason="Synced", message="synced ok")
        assert again is not None and again["count"] == 4
        assert again["metadata"]["name"] == synced["metadata"]["name"]
        assert len(await listed()) == 2
        stop.set()
        await asyncio.wait_for(runner, 5)
