"""Passwords, tokens and the lockout rules (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity.lockout import LockoutRules, after_failure, seconds_until
from services.identity.passwords import WeakPassword, check_rules, hash_password, verify_password
from services.identity.tokens import API_TOKEN_PREFIX, SESSION_PREFIX, new_token, token_hash

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_password_hash_is_argon2_and_verifies() -> None:
    hashed = hash_password("Right-Pass-1")
    assert hashed.startswith("$argon2id$") and "Right-Pass-1" not in hashed
    assert verify_password(hashed, "Right-Pass-1")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")  # unknown user: spends the time, says no
    assert not verify_password("not-a-hash", "x")


@pytest.mark.parametrize(
    ("password", "reason"), [("short1!", "至少"), ("abcdefghij", "两类"), ("x" * 200, "超过")]
)
def test_weak_passwords_are_refused_in_chinese(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as err:
        check_rules(password)
    assert reason in err.value.reason


def test_tokens_are_random_prefixed_and_stored_as_sha256() -> None:
    a, b = new_token(SESSION_PREFIX), new_token(API_TOKEN_PREFIX)
    assert a.startswith("gcs_") and b.startswith("gct_") and len(a) > 40
    assert token_hash(a) != token_hash(new_token(SESSION_PREFIX))
    assert len(token_hash(a)) == 64 and a not in token_hash(a)


def test_failures_slow_down_then_lock() -> None:
    rules = LockoutRules(throttle_after=3, lock_after=10, lock_for=timedelta(minutes=15))
    failed, waits = 0, []
    for _ in range(9):
        state = after_failure(rules, failed, NOW)
        failed = state.failed_logins
        assert state.locked_until is None
        waits.append(seconds_until(state.throttled_until, NOW))
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60]
    locked = after_failure(rules, failed, NOW)
    assert locked.failed_logins == 10 and locked.locked_until == NOW + timedelta(minutes=15)
