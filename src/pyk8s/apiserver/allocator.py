"""ClusterIP and NodePort allocation for Services (pure bookkeeping, no I/O).

The apiserver rebuilds the allocated sets from the stored Services at start, then
allocates on create and releases on delete, so an address or port is never handed out to
two Services. Allocation scans from a random offset (upstream's random allocator), which
keeps freshly released values from being reused at once.
"""

from __future__ import annotations

import ipaddress
import random

__all__ = ["Exhausted", "IPAllocator", "PortAllocator"]


class Exhausted(Exception):
    pass


class IPAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr)
        # the network address and the broadcast address are never handed out
        self._first = int(self.network.network_address) + 1
        self._size = self.network.num_addresses - 2
        self.used: set[int] = set()

    @property
    def first(self) -> str:
        return str(ipaddress.ip_address(self._first))

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def allocate(self, ip: str | None = None) -> str:
        if ip:
            n = int(ipaddress.ip_address(ip))
            if n in self.used:
                raise ValueError("provided IP is already allocated")
            self.used.add(n)
            return ip
        if len(self.used) >= self._size:
            raise Exhausted("range is full")
        start = random.randrange(self._size)
        for i in range(self._size):
            n = self._first + (start + i) % self._size
            # the first address belongs to the kubernetes Service
            if n == self._first or n in self.used:
                continue
            self.used.add(n)
            return str(ipaddress.ip_address(n))
        raise Exhausted("range is full")

    def release(self, ip: str) -> None:
        try:
            self.used.discard(int(ipaddress.ip_address(ip)))
        except ValueError:
            pass


class PortAllocator:
    def __init__(self, low: int = 30000, high: int = 32767) -> None:
        self.low = low
        self.high = high
        self.used: set[int] = set()

    def contains(self, port: int) -> bool:
        return self.low <= port <= self.high

    def allocate(self, port: int | None = None) -> int:
        if port:
            if port in self.used:
                raise ValueError("provided port is already allocated")
            self.used.add(port)
            return port
        size = self.high - self.low + 1
        start = random.randrange(size)
        for i in range(size):
            p = self.low + (start + i) % size
            if p not in self.used:
                self.used.add(p)
                return p
        raise Exhausted("range is full")

    def release(self, port: int) -> None:
        self.used.discard(port)
