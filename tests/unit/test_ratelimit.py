"""The per-source token bucket."""

from __future__ import annotations

import pytest

from services.http.ratelimit import RateLimited, RateLimiter


def test_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.wait_s("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_s("a", now=0.0) == pytest.approx(0.5)
    assert limiter.wait_s("b", now=0.0) == 0.0  # another source has its own bucket
    assert limiter.wait_s("a", now=0.5) == 0.0  # one token back after half a second


def test_a_refusal_is_a_429_with_retry_after_in_chinese() -> None:
    limiter = RateLimiter(rate=0.1, burst=1)
    limiter.check("feed")
    with pytest.raises(RateLimited) as caught:
        limiter.check("feed", what="上报")
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "10"
    assert "上报过于频繁" in caught.value.message


def test_forgets_the_least_recent_sources() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.wait_s(key, now=0.0)
    assert limiter.wait_s("a", now=0.0) == 0.0  # forgotten: a full bucket again
