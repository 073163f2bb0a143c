"""controller-manager wiring without a server: ``--controllers`` selection with upstream's
syntax and aliases, event sources, Go durations on the command line."""

from __future__ import annotations

import argparse

import pytest

from pyk8s.cli import controller_manager_cmd as cmd
from pyk8s.controllers import ALL, manager

KNOWN = [
    "deployment-controller",
    "replicaset-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "bootstrap-signer-controller",
]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        pytest.param(["*"], KNOWN[:4], id="star-is-all-on-by-default"),
        pytest.param(["*", "-deployment"], KNOWN[1:4], id="star-minus-alias"),
        pytest.param(["*", "-deployment-controller"], KNOWN[1:4], id="star-minus-canonical"),
        pytest.param(["replicaset"], ["replicaset-controller"], id="only-one"),
        pytest.param(["*", "bootstrapsigner"], KNOWN, id="enable-off-by-default"),
        pytest.param(["deployment", "-deployment"], [], id="disable-wins"),
        pytest.param([], [], id="nothing"),
    ],
)
def test_select_controllers(flag: list[str], expected: list[str]) -> None:
    assert manager.select_controllers(flag, KNOWN) == expected


def test_unknown_controller_is_an_error() -> None:
    with pytest.raises(
        manager.UnknownController, match='"nope" is not in the list of known controllers'
    ):
        manager.select_controllers(["*", "-nope"], KNOWN)


def test_legacy_keys_in_the_registry_match_canonical_flags() -> None:
    assert manager.select_controllers(["-statefulset-controller", "*"], ["statefulset", "job"]) == [
        "job"
    ]


def test_event_components_are_upstreams() -> None:
    assert manager.event_component("deployment") == "deployment-controller"
    assert manager.event_component("replicaset-controller") == "replicaset-controller"
    assert manager.event_component("replicationcontroller") == "replication-controller"
    assert manager.event_component("garbagecollector") == "garbage-collector-controller"


def test_registry_has_this_issues_controllers() -> None:
    for name in (
        "deployment-controller",
        "replicaset-controller",
        "replicationcontroller-controller",
        "garbage-collector-controller",
        "namespace-controller",
    ):
        assert name in ALL


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("2", 2.0), ("1h", 3600.0), ("0.25s", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert cmd.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "s", "1s2"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cmd.parse_duration(text)


def test_flags() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd.add_parser(sub)
    args = parser.parse_args(
        [
            "controller-manager",
            "--kubeconfig",
            "/k",
            "--leader-elect=false",
            "--controllers=*,-namespace",
        ]
    )
    assert args.leader_elect is False
    assert args.controllers == "*,-namespace"
    assert args.leader_elect_lease_duration == 15.0
    assert args.func is cmd.run
    assert parser.parse_args(["controller-manager", "--leader-elect"]).leader_elect is True
