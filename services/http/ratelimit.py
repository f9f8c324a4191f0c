"""Per-source rate limits: a token bucket per key (a feed token, a resident, a remote address), in the
memory of one process. Several instances behind a balancer each allow the rate: size it per instance.

A refusal is a 429 with ``Retry-After`` and a Chinese message; the request was already kept raw.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from services.http.errors import ApiError


class RateLimited(ApiError):
    status, error = 429, "rate_limited"


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``rate`` requests per second sustained, ``burst`` at once, per key; at most ``max_keys`` keys
    are remembered (the least recently seen are forgotten: they start again with a full bucket)."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait_s(self, key: str, *, now: float | None = None) -> float:
        """Take one token for ``key``: 0 when allowed, else the seconds until one is free."""
        t = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, t)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (t - bucket.at) * self.rate)
            bucket.at = t
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def check(self, key: str, *, what: str = "请求") -> None:
        """Raise :class:`RateLimited` when ``key`` is over its rate."""
        wait = self.wait_s(key)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                f"{what}过于频繁，请{seconds}秒后再试",
                headers={"Retry-After": str(seconds)},
                details={"retry_after_s": seconds},
            )


def limiter_for(state: object, name: str, *, rate: float, burst: float) -> RateLimiter:
    """The app's limiter called ``name`` (created on first use, kept on ``app.state``)."""
    limiters: dict[str, RateLimiter] | None = getattr(state, "rate_limiters", None)
    if limiters is None:
        limiters = {}
        setattr(state, "rate_limiters", limiters)  # noqa: B010 - app.state is a plain attribute bag
    if name not in limiters:
        limiters[name] = RateLimiter(rate, burst)
    return limiters[name]
