"""Rate limits and back-off: the arithmetic behind REST QPS limits, work-queue retries and
reflector reconnects. Pure except for reading a ``Clock`` (and sleeping on it in
``TokenBucket.wait``).

- ``TokenBucket(qps, burst)``: golang.org/x/time/rate semantics. The bucket starts full;
  ``reserve()`` takes a token and returns how long the caller must wait for it (0 while
  tokens remain), so concurrent callers queue up in order without a lock. ``qps <= 0``
  means unlimited.
- ``ItemExponentialBackoff(base, cap)``: client-go's ItemExponentialFailureRateLimiter:
  the n-th failure of an item (counting from 0) waits ``base * 2**n`` seconds, capped;
  ``forget(item)`` resets the count. Defaults 5 ms → 1000 s, as upstream's controllers.
- ``BucketRateLimiter``: an overall token bucket in the same interface, and
  ``MaxOfRateLimiter`` to combine them; ``default_controller_rate_limiter()`` is
  upstream's DefaultControllerRateLimiter (max of 5 ms → 1000 s per item and 10 qps /
  100 burst overall).
- ``Backoff``: reconnect delays for one long-lived activity (a reflector's list/watch):
  exponential from ``initial`` to ``cap`` with up to ``jitter`` extra, reset by
  ``reset()`` after a success; like client-go's reflector back-off manager (0.8 s → 30 s).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from pyk8s.client import clock as clock_mod

__all__ = [
    "Backoff",
    "BucketRateLimiter",
    "ItemExponentialBackoff",
    "MaxOfRateLimiter",
    "RateLimiter",
    "TokenBucket",
    "default_controller_rate_limiter",
]

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class TokenBucket:
    def __init__(
        self, qps: float, burst: int, *, clock: clock_mod.Clock = clock_mod.REAL_CLOCK
    ) -> None:
        if burst < 1 and qps > 0:
            raise ValueError("burst must be at least 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.now()

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now

    def reserve(self) -> float:
        """Take one token; seconds until it is really ours (0 = go now)."""
        if self.qps <= 0:
            return 0.0
        now = self._clock.now()
        self._refill(now)
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await self._clock.sleep(delay)

    @property
    def tokens(self) -> float:
        self._refill(self._clock.now())
        return self._tokens


class RateLimiter(Protocol[K_contra]):
    def when(self, item: K_contra) -> float:
        """Seconds to wait before retrying ``item`` (counts one more failure)."""
        ...

    def forget(self, item: K_contra) -> None: ...

    def num_requeues(self, item: K_contra) -> int: ...


class ItemExponentialBackoff(Generic[K]):
    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, item: K) -> float:
        n = self._failures.get(item, 0)
        self._failures[item] = n + 1
        if n >= 64:  # 2**64 * base overflows any sane cap
            return self.cap
        return min(self.cap, self.base * float(2**n))

    def forget(self, item: K) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: K) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[K]):
    """An overall limit shared by all items (counts nothing per item)."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    def when(self, item: K) -> float:
        return self.bucket.reserve()

    def forget(self, item: K) -> None:
        pass

    def num_requeues(self, item: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    def __init__(self, *limiters: RateLimiter[K]) -> None:
        self.limiters = limiters

    def when(self, item: K) -> float:
        return max((lim.when(item) for lim in self.limiters), default=0.0)

    def forget(self, item: K) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: K) -> int:
        return max((lim.num_requeues(item) for lim in self.limiters), default=0)


def default_controller_rate_limiter(
    *, clock: clock_mod.Clock = clock_mod.REAL_CLOCK
) -> MaxOfRateLimiter[Hashable]:
    return MaxOfRateLimiter(
        ItemExponentialBackoff(0.005, 1000.0),
        BucketRateLimiter(TokenBucket(10.0, 100, clock=clock)),
    )


class Backoff:
    def __init__(
        self,
        *,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.1,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self._rand = rand
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the following one."""
        base = min(self.cap, self.initial * (self.factor**self._attempt))
        if base < self.cap:
            self._attempt += 1
        return base * (1.0 + self.jitter * self._rand())

    def reset(self) -> None:
        self._attempt = 0
