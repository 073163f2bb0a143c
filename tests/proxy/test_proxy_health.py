"""metrics.Health (/healthz) and the CLI's flags → ProxyConfig."""

from __future__ import annotations

import argparse

import orjson
import pytest

from pyk8s.cli import proxy_cmd
from pyk8s.client.testing import FakeClock
from pyk8s.proxy import metrics, sysctl
from pyk8s.proxy.config import ProxyConfig


async def test_health_turns_unhealthy_when_a_change_waits_too_long() -> None:
    clock = FakeClock()
    h = metrics.Health(60.0, clock=clock)
    assert h.healthy  # starting up
    await clock.advance(61)
    assert not h.healthy  # never synced
    h.updated()
    assert h.healthy
    h.queued()
    await clock.advance(30)
    assert h.healthy
    pending = h.take_pending()  # a sync starts
    await clock.advance(40)
    h.restore_pending(pending)  # ... and fails: the change has waited 70 s
    assert not h.healthy
    h.take_pending()
    h.updated()
    assert h.healthy
    assert orjson.loads(h.body())["nodeEligible"] is True


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    proxy_cmd.add_parser(sub)
    return parser.parse_args(["proxy", *argv])


def test_flags_make_a_config() -> None:
    args = parse(
        "--hostname-override",
        "node-a",
        "--lb-pool",
        "192.0.2.10, 192.0.2.16/28",
        "--nodeport-addresses",
        "192.0.2.0/24",
        "--localhost-nodeports",
        "false",
        "--leader-elect=false",
        "--metrics-bind",
        "127.0.0.1:0",
    )
    cfg = proxy_cmd.proxy_config(args)
    assert cfg == ProxyConfig(
        lb_pool=("192.0.2.10", "192.0.2.16/28"),
        node_port_addresses=("192.0.2.0/24",),
        localhost_nodeports=False,
        leader_elect=False,
    )
    assert args.node_name == "node-a"
    assert args.metrics_bind == "127.0.0.1:0"


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError):
        proxy_cmd.proxy_config(parse("--cluster-cidr", "not-a-cidr"))
    with pytest.raises(ValueError):
        ProxyConfig(family="inet")


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        pytest.param(ProxyConfig(), {"net/ipv4/conf/all/route_localnet": "1"}, id="default"),
        pytest.param(ProxyConfig(localhost_nodeports=False), {}, id="no-localhost-nodeports"),
        pytest.param(ProxyConfig(manage_sysctls=False), {}, id="unmanaged"),
    ],
)
def test_sysctls(cfg: ProxyConfig, expected: dict[str, str]) -> None:
    assert sysctl.desired(cfg) == expected


def test_sysctl_ensure_writes_only_differences(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "net/ipv4/conf/all").mkdir(parents=True)
    (root / "net/ipv4/conf/all/route_localnet").write_text("0\n")
    assert sysctl.ensure({"net/ipv4/conf/all/route_localnet": "1"}, root=root) == {
        "net/ipv4/conf/all/route_localnet": "0"
    }
    assert sysctl.ensure({"net/ipv4/conf/all/route_localnet": "1"}, root=root) == {}
