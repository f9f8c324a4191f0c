"""How repeated wrong passwords slow an account down and then lock it (pure: no I/O).

Wrong passwords in a row are counted per account. After ``throttle_after`` of them every further
attempt must wait (1 s, 2 s, 4 s … capped at 60 s) and an attempt made too early is refused without
checking the password; it still counts. At ``lock_after`` the account is locked for ``lock_for``. A
right password resets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class LockoutRules:
    throttle_after: int = 3
    lock_after: int = 10
    lock_for: timedelta = timedelta(minutes=15)
    max_wait: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class AfterFailure:
    failed_logins: int
    throttled_until: datetime | None
    locked_until: datetime | None


def after_failure(rules: LockoutRules, failed_before: int, now: datetime) -> AfterFailure:
    failed = failed_before + 1
    if failed >= rules.lock_after:
        return AfterFailure(failed, None, now + rules.lock_for)
    if failed >= rules.throttle_after:
        wait = min(timedelta(seconds=2 ** (failed - rules.throttle_after)), rules.max_wait)
        return AfterFailure(failed, now + wait, None)
    return AfterFailure(failed, None, None)


def seconds_until(until: datetime | None, now: datetime) -> int:
    """Whole seconds to wait (at least 1 while ``until`` is in the future, else 0)."""
    if until is None or until <= now:
        return 0
    return max(1, int((until - now).total_seconds() + 0.999))
