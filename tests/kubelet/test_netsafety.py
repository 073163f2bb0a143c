"""The safety routes: which `ip` commands are missing, and installing them for real."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyk8s.kubelet import netsafety

SERVICE_LOCAL = {"type": "local", "dst": "10.96.0.0/12", "dev": "lo", "scope": "host"}
CLUSTER_BLACKHOLE = {"type": "blackhole", "dst": "10.244.0.0/16"}
DEFAULT = {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"}
ADD_LOCAL = ["ip", "route", "replace", "local", "10.96.0.0/12", "dev", "lo", "table", "local"]
ADD_BLACKHOLE = ["ip", "route", "replace", "blackhole", "10.244.0.0/16", "metric", "4242"]


def j(routes: list[dict[str, Any]]) -> str:
    return json.dumps(routes)


@pytest.mark.parametrize(
    ("main", "local", "expected"),
    [
        pytest.param(j([DEFAULT]), j([]), [ADD_LOCAL, ADD_BLACKHOLE], id="fresh-machine"),
        pytest.param(j([DEFAULT, CLUSTER_BLACKHOLE]), j([SERVICE_LOCAL]), [], id="all-present"),
        pytest.param(
            j([DEFAULT, {"dst": "10.244.0.0/16", "dev": "cni0"}]),
            j([SERVICE_LOCAL]),
            [ADD_BLACKHOLE],
            id="unicast-route-is-not-a-blackhole",
        ),
        pytest.param(
            j([CLUSTER_BLACKHOLE]),
            j([{"type": "local", "dst": "10.96.0.1", "dev": "lo"}]),
            [ADD_LOCAL],
            id="single-service-ip-is-not-the-range",
        ),
        pytest.param("", "", [ADD_LOCAL, ADD_BLACKHOLE], id="empty-output"),
    ],
)
def test_route_commands(main: str, local: str, expected: list[list[str]]) -> None:
    assert netsafety.route_commands(main, local) == expected


def test_route_commands_for_other_cidrs() -> None:
    assert netsafety.route_commands(
        "[]", "[]", service_cidr="10.100.0.0/16", cluster_cidr="10.200.0.0/16"
    ) == [
        ["ip", "route", "replace", "local", "10.100.0.0/16", "dev", "lo", "table", "local"],
        ["ip", "route", "replace", "blackhole", "10.200.0.0/16", "metric", "4242"],
    ]


def test_ranges_inside_existing_routes_need_nothing() -> None:
    """A test cluster's /24s inside the default ranges: covered already."""
    assert (
        netsafety.route_commands(
            j([CLUSTER_BLACKHOLE]),
            j([SERVICE_LOCAL]),
            service_cidr="10.100.7.0/24",
            cluster_cidr="10.244.107.0/24",
        )
        == []
    )


async def test_ensure_routes_is_idempotent() -> None:
    # The safety routes stay installed: other tests rely on them, and they only keep
    # traffic on this machine.
    await netsafety.ensure_routes()
    assert await netsafety.ensure_routes() == []
    assert netsafety.ensure_routes_blocking() == []
