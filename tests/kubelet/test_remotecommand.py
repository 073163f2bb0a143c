"""Pure parts of the exec/attach translation (pyk8s.kubelet.remotecommand), port lists
(portforward) and HTTP upgrade heads (upgrade)."""

from __future__ import annotations

import json

import pytest

from pyk8s.api import errors
from pyk8s.kubelet import portforward, remotecommand, upgrade
from pyk8s.kubelet.remotecommand import ExecOptions

V5, V4, V4B, V1, V1B = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            {"stdout": "true", "stderr": "true"},
            ExecOptions(("ls",), False, True, True, False),
            id="kubectl-style",
        ),
        pytest.param(
            {"stdin": "1", "stdout": "1"},
            ExecOptions(("ls",), True, True, False, False),
            id="upstream-apiserver-style",
        ),
        pytest.param(
            {"stdin": "true", "stdout": "true", "stderr": "true", "tty": "true"},
            ExecOptions(("ls",), True, True, False, True),
            id="tty-has-no-stderr",
        ),
    ],
)
def test_parse_exec_options(query: dict[str, str], expected: ExecOptions) -> None:
    assert remotecommand.parse_exec_options(query, ["ls"]) == expected


def test_exec_needs_a_stream() -> None:
    with pytest.raises(errors.StatusError) as info:
        remotecommand.parse_exec_options({"stdout": "false"}, ["ls"])
    assert info.value.message == "you must specify at least 1 of stdin, stdout, stderr"


@pytest.mark.parametrize(
    ("protocol", "channel", "data", "wire"),
    [
        pytest.param(V5, 1, b"out", b"\x01out", id="v5"),
        pytest.param(V4, 3, b"{}", b"\x03{}", id="v4"),
        pytest.param(V4B, 1, b"out", "1b3V0", id="v4-base64"),
        pytest.param(V1B, 2, b"", "2", id="base64-empty"),
    ],
)
def test_websocket_messages_round_trip(
    protocol: str, channel: int, data: bytes, wire: bytes | str
) -> None:
    assert remotecommand.encode_ws_message(protocol, channel, data) == wire
    assert remotecommand.decode_ws_message(protocol, wire) == (channel, data)


@pytest.mark.parametrize(
    ("protocol", "message", "expected"),
    [
        pytest.param(V5, b"\xff\x00", (255, b"\x00"), id="v5-close-stdin"),
        pytest.param(V5, b"\xff\x00\x00", None, id="v5-bad-close"),
        pytest.param(V4, b"\xff\x00", (255, b"\x00"), id="v4-has-no-close"),
        pytest.param(V5, b"", None, id="empty"),
        pytest.param(V5, "0abc", None, id="text-in-binary-protocol"),
        pytest.param(V1B, "0!!!", None, id="bad-base64"),
    ],
)
def test_decode_special_messages(
    protocol: str, message: bytes | str, expected: tuple[int, bytes] | None
) -> None:
    assert remotecommand.decode_ws_message(protocol, message) == expected


EXIT_3 = json.dumps(
    {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: exit status 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
).encode()


@pytest.mark.parametrize(
    ("protocol", "raw", "expected"),
    [
        pytest.param(V5, EXIT_3, EXIT_3, id="v5-verbatim"),
        pytest.param(V5, b"", b'{"metadata":{},"status":"Success"}', id="v5-success"),
        pytest.param(V4, b"", b'{"metadata":{},"status":"Success"}', id="v4-success"),
        pytest.param(
            V1, EXIT_3, b"command terminated with non-zero exit code: exit status 3", id="v1-text"
        ),
        pytest.param(V1, b"", None, id="v1-success-says-nothing"),
        pytest.param(V1, b'{"metadata":{},"status":"Success"}', None, id="v1-success-json"),
    ],
)
def test_status_for_channel(protocol: str, raw: bytes, expected: bytes | None) -> None:
    assert remotecommand.status_for_channel(protocol, raw) == expected


def test_status_for_channel_wraps_non_json() -> None:
    out = remotecommand.status_for_channel(V5, b"boom")
    assert out is not None
    status = json.loads(out)
    assert (status["reason"], status["message"]) == (
        "InternalError",
        "Internal error occurred: boom",
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], [], id="none"),
        pytest.param(["80"], [80], id="one"),
        pytest.param(["80,8080", "9090"], [80, 8080, 9090], id="list-and-repeat"),
    ],
)
def test_parse_ports(values: list[str], expected: list[int]) -> None:
    assert portforward.parse_ports(values) == expected


@pytest.mark.parametrize("value", ["0", "65536", "http"])
def test_parse_ports_refuses(value: str) -> None:
    with pytest.raises(errors.StatusError):
        portforward.parse_ports([value])


def test_response_head() -> None:
    head = (
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
        b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"
    )
    assert upgrade.parse_response_head(head) == (
        101,
        "Switching Protocols",
        [("Connection", "Upgrade"), ("X-Stream-Protocol-Version", "v4.channel.k8s.io")],
    )
    with pytest.raises(upgrade.UpgradeError):
        upgrade.parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n")


async def test_streaming_urls_off_loopback_are_never_dialled() -> None:
    with pytest.raises(upgrade.UpgradeError, match="not a loopback address"):
        await upgrade.dial_upgrade("http://192.0.2.1:1234/exec/x", [])
