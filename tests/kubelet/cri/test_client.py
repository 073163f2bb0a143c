"""CRIClient without a runtime: targets, error mapping, waiting for a socket that never comes."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from pyk8s.kubelet.cri.client import CRIClient, CRIError, channel_target


@pytest.mark.parametrize(
    ("socket", "target"),
    [
        pytest.param("/run/c.sock", "unix:///run/c.sock", id="absolute"),
        pytest.param(Path("/run/c.sock"), "unix:///run/c.sock", id="path"),
        pytest.param("unix:///run/c.sock", "unix:///run/c.sock", id="already-a-target"),
    ],
)
def test_channel_target(socket: str | Path, target: str) -> None:
    assert channel_target(socket) == target


def test_relative_socket_is_made_absolute() -> None:
    assert channel_target("c.sock") == "unix://" + str(Path("c.sock").absolute())


@pytest.mark.parametrize(
    ("code", "not_found", "unavailable"),
    [
        pytest.param(grpc.StatusCode.NOT_FOUND, True, False, id="not-found"),
        pytest.param(grpc.StatusCode.UNAVAILABLE, False, True, id="unavailable"),
        pytest.param(grpc.StatusCode.DEADLINE_EXCEEDED, False, True, id="deadline"),
        pytest.param(grpc.StatusCode.UNKNOWN, False, False, id="unknown"),
    ],
)
def test_error_kinds(code: grpc.StatusCode, not_found: bool, unavailable: bool) -> None:
    err = CRIError(code, "boom", method="StartContainer")
    assert (err.not_found, err.unavailable) == (not_found, unavailable)
    assert str(err) == f"StartContainer: {code.name}: boom"


async def test_wait_ready_gives_up_on_a_missing_socket(tmp_path: Path) -> None:
    async with CRIClient(tmp_path / "absent.sock") as cri:
        with pytest.raises(CRIError) as err:
            await cri.wait_ready(0.3)
    assert err.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.value.method == "Version"
