"""PV binding decisions (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.controllers.persistentvolume import match_volume


def pv(
    name: str,
    size: str,
    *,
    cls: str = "",
    modes: tuple[str, ...] = ("ReadWriteOnce",),
    labels: dict[str, str] | None = None,
    phase: str = "Available",
    bound: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "capacity": {"storage": size},
        "accessModes": list(modes),
        "storageClassName": cls,
    }
    if bound:
        spec["claimRef"] = {"name": "other"}
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
        "status": {"phase": phase},
    }


def pvc(
    size: str,
    *,
    cls: str = "",
    modes: tuple[str, ...] = ("ReadWriteOnce",),
    selector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resources": {"requests": {"storage": size}},
        "accessModes": list(modes),
        "storageClassName": cls,
    }
    if selector:
        spec["selector"] = selector
    return {"metadata": {"name": "c", "namespace": "n"}, "spec": spec}


@pytest.mark.parametrize(
    ("claim", "volumes", "expected"),
    [
        pytest.param(
            pvc("1Gi"),
            [pv("big", "10Gi"), pv("fit", "2Gi"), pv("small", "500Mi")],
            "fit",
            id="smallest-that-fits",
        ),
        pytest.param(
            pvc("1Gi", cls="fast"),
            [pv("a", "2Gi"), pv("b", "2Gi", cls="fast")],
            "b",
            id="same-class-only",
        ),
        pytest.param(
            pvc("1Gi", modes=("ReadWriteMany",)),
            [pv("a", "2Gi")],
            None,
            id="access-modes-must-be-offered",
        ),
        pytest.param(
            pvc("1Gi"),
            [pv("a", "2Gi", bound=True), pv("b", "2Gi", phase="Released")],
            None,
            id="only-available-unclaimed",
        ),
        pytest.param(
            pvc("1Gi", selector={"matchLabels": {"disk": "ssd"}}),
            [pv("a", "2Gi"), pv("b", "5Gi", labels={"disk": "ssd"})],
            "b",
            id="selector",
        ),
        pytest.param(pvc("3Gi"), [pv("a", "2Gi")], None, id="too-small"),
    ],
)
def test_match_volume(
    claim: dict[str, Any], volumes: list[dict[str, Any]], expected: str | None
) -> None:
    got = match_volume(claim, volumes)
    assert (got or {}).get("metadata", {}).get("name") == expected
