"""The API client's rate limit, as client-go's: a token bucket of `burst` tokens refilled at
`qps` per second, one token per request (a watch takes one when it starts).

Flux's controllers set it with `--kube-api-qps` (50) and `--kube-api-burst` (300); client-go
uses 5 per second and a burst of 10 when the QPS is 0, and no limit when it is negative.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEFAULT_QPS = 5.0
DEFAULT_BURST = 10


class TokenBucket:
    """Each request reserves the next token and waits until it is due, in the order asked."""

    def __init__(self, qps: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if qps == 0:
            qps, burst = DEFAULT_QPS, burst or DEFAULT_BURST
        self.qps = qps
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()

    @property
    def unlimited(self) -> bool:
        return self.qps < 0

    def delay(self) -> float:
        """Take a token; how long the caller must wait before it may use it."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        if self.unlimited:
            return
        wait = self.delay()
        if wait > 0:
            await asyncio.sleep(wait)
