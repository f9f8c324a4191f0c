"""Signing in and out: password check with slow-down and lock, sessions that expire and can be revoked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.http.errors import ApiError, Forbidden, Unauthenticated
from services.identity.lockout import LockoutRules, after_failure, seconds_until
from services.identity.passwords import hash_password, needs_rehash, verify_password
from services.identity.tokens import SESSION_PREFIX, new_csrf_token, new_token, token_hash


class LoginThrottled(ApiError):
    status, error = 429, "login_throttled"


class AccountLocked(ApiError):
    status, error = 423, "account_locked"


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str
    session_id: uuid.UUID
    csrf_token: str | None
    expires_at: datetime
    username: str


def _wait(error: type[ApiError], message: str, seconds: int) -> ApiError:
    return error(message, details={"retry_after_s": seconds}, headers={"Retry-After": str(seconds)})


async def login(
    conn: asyncpg.Connection,
    *,
    username: str,
    password: str,
    kind: str,
    rules: LockoutRules,
    ttl: timedelta,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> IssuedSession:
    """Check the password and open a session; raises a typed refusal (after recording the failure).

    Runs its own transaction: a failure must be counted even though the answer is an error.
    """
    refusal: ApiError | None = None
    async with conn.transaction():
        user = await conn.fetchrow(
            "SELECT *, clock_timestamp() AS now FROM users WHERE username = $1 FOR UPDATE", username.lower()
        )
        if user is None:
            verify_password(None, password)  # same time as a real check: no probing for usernames
            raise Unauthenticated("用户名或密码错误", error="invalid_credentials")
        now: datetime = user["now"]
        if user["locked_until"] and user["locked_until"] > now:
            minutes = max(1, seconds_until(user["locked_until"], now) // 60)
            raise _wait(
                AccountLocked,
                f"连续多次密码错误，账户已锁定，请{minutes}分钟后再试或联系管理员重置密码",
                seconds_until(user["locked_until"], now),
            )
        early = bool(user["throttled_until"] and user["throttled_until"] > now)
        # Too early after a failure: refused without looking at the password, and it counts.
        if early or not verify_password(user["password_hash"], password):
            state = after_failure(rules, user["failed_logins"], now)
            await conn.execute(
                "UPDATE users SET failed_logins = $2, throttled_until = $3, locked_until = $4, "
                "updated_at = $5 WHERE id = $1",
                user["id"],
                state.failed_logins,
                state.throttled_until,
                state.locked_until,
                now,
            )
            if state.locked_until is not None:
                refusal = _wait(
                    AccountLocked,
                    f"连续{state.failed_logins}次密码错误，账户已锁定"
                    f"{int(rules.lock_for.total_seconds() // 60)}分钟，请稍后再试或联系管理员重置密码",
                    seconds_until(state.locked_until, now),
                )
            elif state.throttled_until is not None:
                wait = seconds_until(state.throttled_until, now)
                left = rules.lock_after - state.failed_logins
                refusal = _wait(
                    LoginThrottled,
                    f"{'登录过于频繁' if early else '用户名或密码错误'}：已连续失败{state.failed_logins}次，"
                    f"请{wait}秒后再试；再失败{left}次账户将被锁定",
                    wait,
                )
            else:
                refusal = Unauthenticated("用户名或密码错误", error="invalid_credentials")
        elif user["disabled_at"] is not None:
            refusal = Forbidden("账户已停用，请联系管理员", error="account_disabled")
        else:
            if needs_rehash(user["password_hash"]):
                await conn.execute(
                    "UPDATE users SET password_hash = $2 WHERE id = $1", user["id"], hash_password(password)
                )
            await conn.execute(
                "UPDATE users SET failed_logins = 0, throttled_until = NULL, locked_until = NULL, "
                "last_login_at = $2 WHERE id = $1",
                user["id"],
                now,
            )
            token = new_token(SESSION_PREFIX)
            csrf = new_csrf_token() if kind == "cookie" else None
            session_id = uuid.uuid4()
            expires_at = now + ttl
            await conn.execute(
                "INSERT INTO sessions (id, user_id, token_hash, kind, csrf_token, created_at, expires_at, "
                "client_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                session_id,
                user["id"],
                token_hash(token),
                kind,
                csrf,
                now,
                expires_at,
                client_ip,
                (user_agent or "")[:300] or None,
            )
            return IssuedSession(token, session_id, csrf, expires_at, user["username"])
    raise refusal


async def revoke_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> str | None:
    """Revoke one session; returns its token hash (to drop it from this process's cache)."""
    revoked: str | None = await conn.fetchval(
        "UPDATE sessions SET revoked_at = clock_timestamp() WHERE id = $1 AND revoked_at IS NULL "
        "RETURNING token_hash",
        session_id,
    )
    return revoked


async def revoke_user_sessions(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    result: str = await conn.execute(
        "UPDATE sessions SET revoked_at = clock_timestamp() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    return int(result.split()[-1])
