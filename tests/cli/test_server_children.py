"""What ``pyk8s server`` runs beside the apiserver, and the flags it passes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyk8s.cli.main import _children, build_parser


def children(*argv: str) -> dict[str, list[str]]:
    args = build_parser().parse_args(["server", "--data-dir", "/tmp/d", *argv])
    return {c.name: c.argv for c in _children(args, Path("/tmp/d/admin.kubeconfig"))}


def test_all_in_one_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    got = children(
        "--kube-controller-manager-arg=node-monitor-grace-period=5s",
        "--kubelet-arg=node-name=n1",
        "--ingress-http-port=8080",
    )
    assert set(got) == {"controller-manager", "scheduler", "agent", "ingress-controller"}
    assert "--node-monitor-grace-period=5s" in got["controller-manager"]
    assert got["agent"][got["agent"].index("--runtime") + 1] == "cri"
    assert "--node-name=n1" in got["agent"]
    http = got["ingress-controller"]
    assert http[http.index("--http-port") + 1] == "8080"


def test_no_local_node_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert set(children()) == {"controller-manager", "scheduler"}


def test_disabling_components() -> None:
    got = children("--disable-agent", "--disable-scheduler")
    assert set(got) == {"controller-manager"}
