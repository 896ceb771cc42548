"""The reference's API client limit, as client-go's token bucket (--kube-api-qps, --kube-api-burst)."""

from __future__ import annotations

import pytest

from receiver_conformance.reference.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_at_once_then_requests_are_spaced_by_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(qps=50, burst=300, clock=clock)
    assert [bucket.delay() for _ in range(300)] == [0.0] * 300
    assert [bucket.delay() for _ in range(3)] == pytest.approx([0.02, 0.04, 0.06])


def test_idle_time_refills_the_bucket_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(qps=10, burst=5, clock=clock)
    for _ in range(5):
        bucket.delay()
    clock.now += 0.3  # three tokens back
    assert [bucket.delay() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])
    clock.now += 3600  # never more than the burst
    assert [bucket.delay() for _ in range(6)] == pytest.approx([0.0] * 5 + [0.1])


@pytest.mark.parametrize(("qps", "burst", "rate", "size"), [
    (0, 0, 5.0, 10),  # client-go's defaults when no QPS is set
    (0, 7, 5.0, 7),
    (2.5, 0, 2.5, 1),  # a burst below one still lets one request through
])
def test_client_go_defaults(qps: float, burst: int, rate: float, size: int) -> None:
    bucket = TokenBucket(qps, burst, clock=Clock())
    assert (bucket.qps, bucket.burst) == (rate, size)


@pytest.mark.asyncio
async def test_a_negative_qps_is_no_limit() -> None:
    bucket = TokenBucket(-1, 0, clock=Clock())
    assert bucket.unlimited
    for _ in range(1000):
        await bucket.acquire()
