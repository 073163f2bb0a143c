"""The containerd config the supervisor writes (parsed back as TOML)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pyk8s.kubelet import containerd


def test_layout_is_under_the_agent_dir() -> None:
    paths = containerd.layout(Path("/data"))
    assert paths.socket == Path("/data/agent/containerd/containerd.sock")
    assert paths.root == Path("/data/agent/containerd/root")
    assert paths.state == Path("/data/agent/containerd/state")
    assert paths.runc_root == Path("/data/agent/containerd/state/runc")
    assert paths.cni_conf_dir == Path("/data/agent/cni/net.d")


def test_config_has_what_this_machine_needs() -> None:
    paths = containerd.layout(Path("/data"))
    doc = tomllib.loads(containerd.render_config(paths))
    assert doc["version"] == 2
    assert (doc["root"], doc["state"]) == (str(paths.root), str(paths.state))
    assert doc["grpc"]["address"] == str(paths.socket)
    plugins = doc["plugins"]
    assert plugins["io.containerd.internal.v1.opt"]["path"] == str(paths.opt)
    cri = plugins["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "pyk8s.local/pause:3.10"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["containerd"]["snapshotter"] == "overlayfs"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"] == {"SystemdCgroup": False, "Root": str(paths.runc_root)}
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni"
    assert cri["cni"]["conf_dir"] == str(paths.cni_conf_dir)


def test_config_quotes_odd_paths() -> None:
    paths = containerd.layout(Path('/tmp/we"ird\\dir'))
    doc = tomllib.loads(containerd.render_config(paths, sandbox_image="r/p:1"))
    assert doc["root"] == str(paths.root)
    assert doc["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"] == "r/p:1"
