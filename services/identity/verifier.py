"""Check a bearer token or session cookie: SHA-256, then an in-memory cache, then PostgreSQL.

A request costs a hash and a dictionary lookup (never a password hash). A revoked session or token
stops working at once in the process that revoked it and within ``ttl_s`` everywhere else.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg
from cachetools import TTLCache

from schemas.identity import Principal
from services.identity.principals import build_principal
from services.identity.tokens import API_TOKEN_PREFIX, SESSION_PREFIX, token_hash
from services.reference.catalog import CatalogCache

_SESSION_SQL = """
SELECT s.id, s.expires_at, s.csrf_token, u.username, u.display_name, u.role, u.department_code,
       u.area_codes, u.channel
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > clock_timestamp()
  AND u.disabled_at IS NULL
"""

_TOKEN_SQL = """
SELECT id, name, role, channel, department_code, area_codes, expires_at FROM api_tokens
WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > clock_timestamp())
"""


class TokenVerifier:
    def __init__(self, pool: asyncpg.Pool, catalogs: CatalogCache, *, ttl_s: float = 5.0) -> None:
        self.pool = pool
        self.catalogs = catalogs
        # Unknown tokens are cached too (as None), so a flood of made-up ones doesn't reach the database.
        self._cache: TTLCache[str, Principal | None] = TTLCache(maxsize=50_000, ttl=max(ttl_s, 0.001))
        self._enabled = ttl_s > 0

    async def verify(self, token: str) -> Principal | None:
        if not token.startswith((SESSION_PREFIX, API_TOKEN_PREFIX)) or len(token) > 200:
            return None
        key = token_hash(token)
        if self._enabled and key in self._cache:
            principal = self._cache[key]
            if principal is None or principal.expires_at is None or principal.expires_at > _now():
                return principal
        principal = await self._load(token, key)
        if self._enabled:
            self._cache[key] = principal
        return principal

    def forget(self, token_hash_: str | None = None) -> None:
        """Drop one cached token (this process revoked it), or all (an account changed)."""
        if token_hash_ is None:
            self._cache.clear()
        else:
            self._cache.pop(token_hash_, None)

    async def _load(self, token: str, key: str) -> Principal | None:
        catalog = await self.catalogs.get()
        if token.startswith(SESSION_PREFIX):
            row = await self.pool.fetchrow(_SESSION_SQL, key)
            if row is None:
                return None
            return build_principal(
                catalog,
                subject=f"user:{row['username']}",
                kind="session",
                credential_id=str(row["id"]),
                display_name=row["display_name"],
                role=row["role"],
                username=row["username"],
                department_code=row["department_code"],
                area_codes=row["area_codes"],
                channel=row["channel"],
                expires_at=row["expires_at"],
                csrf_token=row["csrf_token"],
            )
        row = await self.pool.fetchrow(_TOKEN_SQL, key)
        if row is None:
            return None
        return build_principal(
            catalog,
            subject=f"token:{row['id']}",
            kind="token",
            credential_id=str(row["id"]),
            display_name=row["name"],
            role=row["role"],
            department_code=row["department_code"],
            area_codes=row["area_codes"],
            channel=row["channel"],
            expires_at=row["expires_at"],
        )


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)
