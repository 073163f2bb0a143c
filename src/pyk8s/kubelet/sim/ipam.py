"""Addresses for simulated nodes and their pods. Pure, no I/O.

- ``node_pod_cidr(cluster_cidr, mask, index)``: the index-th ``/mask`` subnet of the
  cluster CIDR — what a node takes when no node IPAM controller gave it one.
- ``node_internal_ip(ip_range, index)``: the node's made-up InternalIP (the range's
  ``index + 1``-th address). Nothing ever connects to it.
- ``PodIPs``: one node's pod addresses, handed out like CNI's host-local plugin: the
  network, gateway (first) and broadcast addresses are never used, addresses go round
  robin (a freed address is not reused before the others), and an owner keeps the address
  it was given until it releases it. ``reserve`` adopts an address a pod already shows
  (after an agent restart), so two pods never share one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable

__all__ = ["PodIPs", "node_internal_ip", "node_pod_cidr"]


def node_pod_cidr(cluster_cidr: str, mask_size: int, index: int) -> str:
    network = ipaddress.ip_network(cluster_cidr)
    count = 1 << (mask_size - network.prefixlen)
    if not 0 <= index < count:
        raise ValueError(f"{cluster_cidr} has no /{mask_size} number {index}")
    size = 1 << (network.max_prefixlen - mask_size)
    base = int(network.network_address) + index * size
    return str(ipaddress.ip_network((base, mask_size)))


def node_internal_ip(ip_range: str, index: int) -> str:
    network = ipaddress.ip_network(ip_range)
    if not 0 <= index < network.num_addresses - 2:
        raise ValueError(f"{ip_range} has no address for node {index}")
    return str(network.network_address + index + 1)


class PodIPs:
    def __init__(self, cidr: str) -> None:
        self.cidr = cidr
        network = ipaddress.ip_network(cidr)
        self._network = network
        self._first = int(network.network_address) + 2  # after the gateway
        self._last = int(network.broadcast_address) - 1
        if network.num_addresses <= 2:  # /31, /32: point-to-point, every address usable
            self._first, self._last = int(network.network_address), int(network[-1])
        self._next = self._first
        self._by_owner: dict[Hashable, int] = {}
        self._used: dict[int, Hashable] = {}

    def __len__(self) -> int:
        return len(self._used)

    @property
    def capacity(self) -> int:
        return max(0, self._last - self._first + 1)

    def get(self, owner: Hashable) -> str | None:
        n = self._by_owner.get(owner)
        return None if n is None else str(ipaddress.ip_address(n))

    def allocate(self, owner: Hashable) -> str | None:
        """The owner's address (a new one if it has none); None when the range is full."""
        n = self._by_owner.get(owner)
        if n is not None:
            return str(ipaddress.ip_address(n))
        size = self.capacity
        for _ in range(size):
            candidate = self._next
            self._next = self._first if candidate >= self._last else candidate + 1
            if candidate not in self._used:
                self._take(owner, candidate)
                return str(ipaddress.ip_address(candidate))
        return None

    def reserve(self, owner: Hashable, ip: str) -> bool:
        """Give ``owner`` this address if it is in range and free (or already its own)."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr not in self._network:
            return False
        n = int(addr)
        if not self._first <= n <= self._last:
            return False
        holder = self._used.get(n)
        if holder is not None:
            return holder == owner
        self.release(owner)
        self._take(owner, n)
        return True

    def release(self, owner: Hashable) -> None:
        n = self._by_owner.pop(owner, None)
        if n is not None:
            self._used.pop(n, None)

    def _take(self, owner: Hashable, n: int) -> None:
        self._by_owner[owner] = n
        self._used[n] = owner
