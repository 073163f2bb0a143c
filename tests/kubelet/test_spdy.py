"""SPDY/3.1 framing (pyk8s.kubelet.spdy)."""

from __future__ import annotations

import hashlib
import struct

import pytest

from pyk8s.kubelet import spdy


def test_dictionary_is_spdy3s() -> None:
    # length and digest of the dictionary in the SPDY/3 draft (§2.6.10.1)
    assert len(spdy.DICTIONARY) == 1423
    assert (
        hashlib.sha256(spdy.DICTIONARY).hexdigest()
        == "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    )


FRAMES: list[spdy.Frame] = [
    spdy.SynStream(1, {"streamtype": "error", "port": "80", "requestid": "0"}),
    spdy.SynStream(3, {"streamtype": "stdin"}, associated_id=0, priority=7, fin=True),
    spdy.SynStream(5, {"a": "x\x00y"}, unidirectional=True),
    spdy.SynReply(1, {}),
    spdy.SynReply(3, {"status": "200 OK"}, fin=True),
    spdy.Data(1, b"hello"),
    spdy.Data(3, b"", fin=True),
    spdy.Data(0x7FFFFFFF, bytes(range(256)) * 10),
    spdy.RstStream(5, spdy.RstStatus.CANCEL),
    spdy.Settings(((0, 7, 65536), (1, 4, 100)), clear=True),
    spdy.Ping(2),
    spdy.GoAway(7, 0),
    spdy.HeadersFrame(1, {"x-extra": "1"}, fin=True),
    spdy.WindowUpdate(1, 4096),
    spdy.UnknownControl(10, 0, b"\x00\x01"),
]


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param(1, id="byte-by-byte"),
        pytest.param(7, id="odd-pieces"),
        pytest.param(1 << 20, id="whole"),
    ],
)
def test_frames_round_trip_split_anywhere(chunk: int) -> None:
    encoder, decoder = spdy.FrameEncoder(), spdy.FrameDecoder()
    wire = b"".join(encoder.encode(f) for f in FRAMES)
    decoded: list[spdy.Frame] = []
    for i in range(0, len(wire), chunk):
        decoded += decoder.feed(wire[i : i + chunk])
    assert decoded == FRAMES


def test_header_blocks_share_one_compression_context() -> None:
    encoder, decoder = spdy.FrameEncoder(), spdy.FrameDecoder()
    first = encoder.encode(spdy.SynStream(1, {"streamtype": "stdout"}))
    second = encoder.encode(spdy.SynStream(3, {"streamtype": "stdout"}))
    # the repeated block compresses against the first one
    assert len(second) < len(first)
    assert decoder.feed(first + second) == [
        spdy.SynStream(1, {"streamtype": "stdout"}),
        spdy.SynStream(3, {"streamtype": "stdout"}),
    ]
    # a fresh decoder cannot read the second block alone
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameDecoder().feed(second)


def test_wire_layout_of_data_and_control_frames() -> None:
    encoder = spdy.FrameEncoder()
    assert encoder.encode(spdy.Data(3, b"ab", fin=True)) == b"\x00\x00\x00\x03\x01\x00\x00\x02ab"
    assert encoder.encode(spdy.Ping(1)) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
    assert encoder.encode(spdy.RstStream(1, 5)) == (
        b"\x80\x03\x00\x03\x00\x00\x00\x08" + struct.pack(">II", 1, 5)
    )


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", id="spdy2"),
        pytest.param(b"\x80\x03\x00\x03\x00\x00\x00\x02\x00\x00", id="truncated-rst"),
    ],
)
def test_malformed_frames_are_protocol_errors(wire: bytes) -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameDecoder().feed(wire)


def test_uppercase_header_names_are_refused() -> None:
    import zlib

    block = struct.pack(">I", 1) + struct.pack(">I", 4) + b"Name" + struct.pack(">I", 1) + b"v"
    z = zlib.compressobj(zdict=spdy.DICTIONARY)
    payload = struct.pack(">I", 1) + z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)
    wire = struct.pack(">HHI", 0x8003, 2, len(payload)) + payload
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameDecoder().feed(wire)
