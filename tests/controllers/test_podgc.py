"""Pod GC planning: pure, tables."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers import podgc

Obj = dict[str, Any]


def pod(
    name: str,
    phase: str = "Running",
    *,
    node: str = "",
    created: str = "2026-01-01T00:00:00Z",
    deleting: bool = False,
    reason: str = "",
) -> Obj:
    p: Obj = {
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase, **({"reason": reason} if reason else {})},
    }
    if deleting:
        p["metadata"]["deletionTimestamp"] = created
    return p


def node(name: str, *, ready: bool = True, out_of_service: bool = False) -> Obj:
    taints = [{"key": podgc.OUT_OF_SERVICE_TAINT, "effect": "NoExecute"}] if out_of_service else []
    return {
        "metadata": {"name": name},
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize(
    ("pods", "threshold", "expected"),
    [
        pytest.param([pod("a", "Succeeded"), pod("b", "Failed")], 2, [], id="at-threshold"),
        pytest.param(
            [
                pod("new", "Succeeded", created="2026-01-03T00:00:00Z"),
                pod("old", "Failed", created="2026-01-01T00:00:00Z"),
                pod("mid", "Succeeded", created="2026-01-02T00:00:00Z"),
                pod("run", "Running", created="2025-01-01T00:00:00Z"),
            ],
            1,
            ["old", "mid"],
            id="oldest-first",
        ),
        pytest.param(
            [
                pod("old", "Succeeded", created="2025-01-01T00:00:00Z"),
                pod("ev", "Failed", created="2026-01-01T00:00:00Z", reason="Evicted"),
            ],
            1,
            ["ev"],
            id="evicted-first",
        ),
        pytest.param(
            [pod("x", ""), pod("y", "Succeeded")], 1, ["x"], id="no-phase-counts-as-terminated"
        ),
        pytest.param(
            [pod("a", "Succeeded"), pod("b", "Succeeded")], 0, [], id="threshold-0-disables"
        ),
    ],
)
def test_terminated_above_threshold(pods: list[Obj], threshold: int, expected: list[str]) -> None:
    assert names(podgc.plan(pods, [], threshold=threshold).terminated) == expected


def test_orphans_out_of_service_and_unscheduled_terminating() -> None:
    pods = [
        pod("on-gone", node="gone"),
        pod("on-ok", node="ok"),
        pod("oos", node="down", deleting=True),
        pod("oos-not-deleting", node="down"),
        pod("ready-but-tainted", node="tainted-ready", deleting=True),
        pod("unscheduled", deleting=True),
        pod("pending"),
    ]
    nodes = [
        node("ok"),
        node("down", ready=False, out_of_service=True),
        node("tainted-ready", out_of_service=True),
    ]
    p = podgc.plan(pods, nodes, threshold=100)
    assert p.missing_nodes == {"gone"}
    assert names(p.out_of_service) == ["oos"]
    assert names(p.unscheduled_terminating) == ["unscheduled"]
    assert p.terminated == []
