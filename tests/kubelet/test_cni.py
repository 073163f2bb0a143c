"""The node's CNI config and the cleanup of what the CNI plugins leave behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyk8s.kubelet import cni


def test_conflist_for_a_node_pod_cidr() -> None:
    conf = cni.render_conflist("10.244.3.0/24", ipam_data_dir=Path("/d/networks"))
    assert conf == {
        "cniVersion": "1.0.0",
        "name": "pyk8s",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": "10.244.3.0/24"}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": "/d/networks",
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def test_conflist_options() -> None:
    conf = cni.render_conflist(
        "10.244.7.0/24", bridge="pkbr1", routes=["10.244.0.0/16", "10.96.0.0/12"], mtu=1400
    )
    bridge: dict[str, Any] = conf["plugins"][0]
    assert (bridge["bridge"], bridge["mtu"]) == ("pkbr1", 1400)
    assert bridge["ipam"]["routes"] == [{"dst": "10.244.0.0/16"}, {"dst": "10.96.0.0/12"}]
    assert "dataDir" not in bridge["ipam"]


@pytest.mark.parametrize(
    ("cidr", "kwargs"),
    [
        pytest.param("10.244.3.1/24", {}, id="host-bits-set"),
        pytest.param("fd00::/64", {}, id="ipv6"),
        pytest.param("not-a-cidr", {}, id="garbage"),
        pytest.param("10.244.3.0/24", {"bridge": "a-bridge-name-too-long"}, id="long-bridge"),
    ],
)
def test_conflist_rejects(cidr: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        cni.render_conflist(cidr, **kwargs)


def test_write_conflist_replaces_the_file(tmp_path: Path) -> None:
    conf_dir = tmp_path / "net.d"
    first = cni.write_conflist(conf_dir, cni.render_conflist("10.244.1.0/24"))
    second = cni.write_conflist(conf_dir, cni.render_conflist("10.244.2.0/24"))
    assert first == second == conf_dir / "10-pyk8s.conflist"
    assert [p.name for p in conf_dir.iterdir()] == ["10-pyk8s.conflist"]
    ranges = json.loads(second.read_text())["plugins"][0]["ipam"]["ranges"]
    assert ranges == [[{"subnet": "10.244.2.0/24"}]]


_IDLE = """-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
-N CNI-HOSTPORT-DNAT
-N CNI-HOSTPORT-MASQ
-N CNI-HOSTPORT-SETMARK
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
"""
_IN_USE = (
    _IDLE
    + """-N CNI-DN-1a2b3c
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: pyk8s" -m multiport --dports 8080 -j CNI-DN-1a2b3c
"""
)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param(
            _IDLE,
            [
                [
                    "-D",
                    "PREROUTING",
                    "-m",
                    "addrtype",
                    "--dst-type",
                    "LOCAL",
                    "-j",
                    "CNI-HOSTPORT-DNAT",
                ],
                [
                    "-D",
                    "OUTPUT",
                    "-m",
                    "addrtype",
                    "--dst-type",
                    "LOCAL",
                    "-j",
                    "CNI-HOSTPORT-DNAT",
                ],
                [
                    "-D",
                    "POSTROUTING",
                    "-m",
                    "comment",
                    "--comment",
                    "CNI portfwd requiring masquerade",
                    "-j",
                    "CNI-HOSTPORT-MASQ",
                ],
                ["-F", "CNI-HOSTPORT-DNAT"],
                ["-F", "CNI-HOSTPORT-SETMARK"],
                ["-F", "CNI-HOSTPORT-MASQ"],
                ["-X", "CNI-HOSTPORT-DNAT"],
                ["-X", "CNI-HOSTPORT-SETMARK"],
                ["-X", "CNI-HOSTPORT-MASQ"],
            ],
            id="idle-chains-removed",
        ),
        pytest.param(_IN_USE, [], id="a-pod-still-has-a-hostport"),
        pytest.param("-P PREROUTING ACCEPT\n", [], id="no-chains"),
    ],
)
def test_hostport_chain_cleanup(rules: str, expected: list[list[str]]) -> None:
    assert cni.hostport_chain_cleanup(rules) == expected


@pytest.mark.parametrize(
    ("rules", "empty"),
    [
        pytest.param("-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n", True, id="policies-only"),
        pytest.param("", True, id="nothing"),
        pytest.param(_IDLE, False, id="chains"),
    ],
)
def test_nat_table_is_empty(rules: str, empty: bool) -> None:
    assert cni.nat_table_is_empty(rules) is empty
