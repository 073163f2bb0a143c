"""This host's address toward the rest of the network, as a kubelet picks its node IP and
an apiserver its advertise address when none is given."""

from __future__ import annotations

import socket

__all__ = ["detect_host_ip"]


def detect_host_ip() -> str:
    """The IPv4 address this host would use toward the default route, else 127.0.0.1.

    No packet is sent: connecting a UDP socket only selects the route and source address.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("198.51.100.1", 9))
            addr = str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    return addr if addr and addr != "0.0.0.0" else "127.0.0.1"
