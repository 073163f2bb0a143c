"""Back-off and rate-limit arithmetic, on virtual time."""

from __future__ import annotations

import asyncio

import pytest

from pyk8s.client import ratelimit, testing


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        pytest.param(0, 0.005, id="first-retry-5ms"),
        pytest.param(1, 0.010, id="second-10ms"),
        pytest.param(5, 0.160, id="sixth-160ms"),
        pytest.param(17, 655.36, id="eighteenth-655s"),
        pytest.param(18, 1000.0, id="capped-at-1000s"),
        pytest.param(200, 1000.0, id="no-overflow"),
    ],
)
def test_item_exponential_backoff(failures: int, expected: float) -> None:
    lim: ratelimit.ItemExponentialBackoff[str] = ratelimit.ItemExponentialBackoff()
    for _ in range(failures):
        lim.when("k")
    assert lim.when("k") == pytest.approx(expected)
    assert lim.num_requeues("k") == failures + 1


def test_item_backoff_is_per_item_and_forget_resets() -> None:
    lim: ratelimit.ItemExponentialBackoff[str] = ratelimit.ItemExponentialBackoff(0.1, 10)
    assert [lim.when("a") for _ in range(3)] == pytest.approx([0.1, 0.2, 0.4])
    assert lim.when("b") == pytest.approx(0.1)
    lim.forget("a")
    assert lim.num_requeues("a") == 0
    assert lim.when("a") == pytest.approx(0.1)


async def test_token_bucket_burst_then_qps() -> None:
    clock = testing.FakeClock()
    bucket = ratelimit.TokenBucket(10.0, 3, clock=clock)
    # the burst goes at once; the next callers queue up 100 ms apart
    assert [bucket.reserve() for _ in range(5)] == pytest.approx([0, 0, 0, 0.1, 0.2])
    await clock.advance(1.0)
    # 1 s refilled 10 tokens, minus the 2 borrowed, capped at the burst of 3
    assert bucket.tokens == pytest.approx(3.0)


async def test_token_bucket_wait_sleeps_on_the_clock() -> None:
    clock = testing.FakeClock()
    bucket = ratelimit.TokenBucket(2.0, 1, clock=clock)
    await bucket.wait()  # the burst token
    waiter = asyncio.ensure_future(bucket.wait())
    await clock.wait_for_sleepers(1)
    assert not waiter.done()
    await clock.advance(0.49)
    assert not waiter.done()
    await clock.advance(0.01)
    assert waiter.done()


def test_unlimited_bucket() -> None:
    bucket = ratelimit.TokenBucket(0, 0)
    assert all(bucket.reserve() == 0 for _ in range(1000))


def test_max_of_rate_limiter() -> None:
    clock = testing.FakeClock()
    lim = ratelimit.MaxOfRateLimiter[str](
        ratelimit.ItemExponentialBackoff(1.0, 100.0),
        ratelimit.BucketRateLimiter(ratelimit.TokenBucket(1.0, 1, clock=clock)),
    )
    assert lim.when("a") == pytest.approx(1.0)  # item: 1 s, bucket: 0
    assert lim.when("b") == pytest.approx(1.0)  # item: 1 s, bucket: 1 s
    assert lim.when("c") == pytest.approx(2.0)  # the bucket dominates
    assert lim.num_requeues("a") == 1
    lim.forget("a")
    assert lim.num_requeues("a") == 0


@pytest.mark.parametrize(
    ("rand", "expected"),
    [
        pytest.param(0.0, [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0], id="no-jitter-capped"),
        pytest.param(1.0, [0.88, 1.76, 3.52, 7.04, 14.08, 28.16, 33.0, 33.0], id="full-jitter"),
    ],
)
def test_backoff_sequence(rand: float, expected: list[float]) -> None:
    b = ratelimit.Backoff(initial=0.8, cap=30.0, jitter=0.1, rand=lambda: rand)
    assert [b.next_delay() for _ in expected] == pytest.approx(expected)
    b.reset()
    assert b.next_delay() == pytest.approx(expected[0])
