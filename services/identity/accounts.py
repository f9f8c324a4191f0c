"""Accounts and API tokens: create, list, disable, reset, revoke. Every change is audited in the
same transaction. Callers own the transaction."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from schemas.accounts import TokenCreated, TokenIn, TokenRecord, UserIn, UserRecord
from schemas.identity import ROLE_LABELS, Principal, Role
from services.audit.service import record as audit
from services.http.errors import Conflict, Invalid, NotFound
from services.identity.passwords import WeakPassword, check_rules, hash_password
from services.identity.sessions import revoke_user_sessions
from services.identity.tokens import API_TOKEN_PREFIX, display_prefix, new_token, token_hash
from services.reference.catalog import Catalog

Actor = Principal | str  # a signed-in admin, or "cli:<os user>" / "system:bootstrap"


def check_scope_fields(
    catalog: Catalog,
    *,
    role: Role,
    department_code: str | None,
    area_codes: list[str],
    channel: str | None,
) -> None:
    """What each role needs to be complete: refused with the field and a Chinese reason."""
    if role is Role.DEPARTMENT and not department_code:
        raise Invalid("department_code", "部门工作人员必须指定所属部门")
    if department_code and department_code not in catalog.departments:
        raise Invalid("department_code", f"部门“{department_code}”不存在")
    if department_code and role is not Role.DEPARTMENT:
        raise Invalid("department_code", "只有部门工作人员可以指定所属部门")
    if role is Role.FEED and not channel:
        raise Invalid("channel", "接入系统必须指定上报渠道")
    if channel and role is not Role.FEED:
        raise Invalid("channel", "只有接入系统可以指定上报渠道")
    unknown = [c for c in area_codes if c not in catalog.areas]
    if unknown:
        raise Invalid("area_codes", f"区域编码不存在：{'、'.join(unknown[:5])}")
    if role is Role.GRID_WORKER and not area_codes:
        raise Invalid("area_codes", "网格员必须指定负责的网格")


def _password_hash(password: str) -> str:
    try:
        check_rules(password)
    except WeakPassword as exc:
        raise Invalid("password", exc.reason) from None
    return hash_password(password)


def _user_record(row: asyncpg.Record) -> UserRecord:
    return UserRecord(
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        role_label=ROLE_LABELS[Role(row["role"])],
        department_code=row["department_code"],
        area_codes=list(row["area_codes"]),
        channel=row["channel"],
        disabled=row["disabled_at"] is not None,
        locked_until=row["locked_until"],
        failed_logins=row["failed_logins"],
        last_login_at=row["last_login_at"],
        created_at=row["created_at"],
    )


async def create_user(conn: asyncpg.Connection, catalog: Catalog, new: UserIn, *, actor: Actor) -> UserRecord:
    check_scope_fields(
        catalog,
        role=new.role,
        department_code=new.department_code,
        area_codes=new.area_codes,
        channel=new.channel.value if new.channel else None,
    )
    row = await conn.fetchrow(
        "INSERT INTO users (id, username, display_name, password_hash, role, department_code, area_codes, "
        "channel) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username) DO NOTHING RETURNING *",
        uuid.uuid4(),
        new.username.lower(),
        new.display_name,
        _password_hash(new.password.get_secret_value()),
        new.role.value,
        new.department_code,
        new.area_codes,
        new.channel.value if new.channel else None,
    )
    if row is None:
        raise Conflict(f"用户名“{new.username}”已存在", error="username_taken")
    await audit(
        conn,
        actor=actor,
        action="user.create",
        target=row["username"],
        details={
            "role": new.role.value,
            "department_code": new.department_code,
            "area_codes": new.area_codes,
        },
    )
    return _user_record(row)


async def list_users(conn: asyncpg.Connection) -> list[UserRecord]:
    return [_user_record(r) for r in await conn.fetch("SELECT * FROM users ORDER BY username")]


async def _user(conn: asyncpg.Connection, username: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM users WHERE username = $1 FOR UPDATE", username.lower())
    if row is None:
        raise NotFound(f"用户“{username}”不存在", error="user_not_found")
    return row


async def set_disabled(
    conn: asyncpg.Connection, username: str, *, disabled: bool, actor: Actor
) -> UserRecord:
    user = await _user(conn, username)
    row = await conn.fetchrow(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, clock_timestamp()) END, "
        "updated_at = clock_timestamp() WHERE id = $1 RETURNING *",
        user["id"],
        disabled,
    )
    if disabled:
        await revoke_user_sessions(conn, user["id"])
    await audit(
        conn, actor=actor, action="user.disable" if disabled else "user.enable", target=user["username"]
    )
    return _user_record(row)


async def reset_password(
    conn: asyncpg.Connection, username: str, password: str, *, actor: Actor
) -> UserRecord:
    """New password; unlocks the account and signs it out everywhere."""
    user = await _user(conn, username)
    row = await conn.fetchrow(
        "UPDATE users SET password_hash = $2, failed_logins = 0, throttled_until = NULL, locked_until = NULL, "
        "password_changed_at = clock_timestamp(), updated_at = clock_timestamp() WHERE id = $1 RETURNING *",
        user["id"],
        _password_hash(password),
    )
    await revoke_user_sessions(conn, user["id"])
    await audit(conn, actor=actor, action="user.reset_password", target=user["username"])
    return _user_record(row)


async def upsert_account(
    conn: asyncpg.Connection,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    department_code: str | None = None,
    area_codes: list[str] | None = None,
    channel: str | None = None,
    actor: Actor,
) -> bool:
    """Create the account or set its password and role (bootstrap and demo accounts). True if created."""
    created: bool = await conn.fetchval(
        "INSERT INTO users (id, username, display_name, password_hash, role, department_code, area_codes, "
        "channel) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username) DO UPDATE SET "
        "password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, display_name = EXCLUDED.display_name, "
        "department_code = EXCLUDED.department_code, area_codes = EXCLUDED.area_codes, "
        "channel = EXCLUDED.channel, disabled_at = NULL, failed_logins = 0, throttled_until = NULL, "
        "locked_until = NULL, updated_at = clock_timestamp() RETURNING (xmax = 0)",
        uuid.uuid4(),
        username,
        display_name,
        _password_hash(password),
        role.value,
        department_code,
        area_codes or [],
        channel,
    )
    await audit(conn, actor=actor, action="user.create" if created else "user.update", target=username)
    return created


def _token_record(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "role": Role(row["role"]),
        "channel": row["channel"],
        "department_code": row["department_code"],
        "area_codes": list(row["area_codes"]),
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "revoked_at": row["revoked_at"],
    }


async def create_token(
    conn: asyncpg.Connection, catalog: Catalog, new: TokenIn, *, actor: Actor
) -> TokenCreated:
    channel = new.channel.value if new.channel else None
    check_scope_fields(
        catalog,
        role=new.role,
        department_code=new.department_code,
        area_codes=new.area_codes,
        channel=channel,
    )
    token = new_token(API_TOKEN_PREFIX)
    created_by = actor.subject if isinstance(actor, Principal) else actor
    row = await conn.fetchrow(
        "INSERT INTO api_tokens (id, name, token_hash, prefix, role, channel, department_code, area_codes, "
        "created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        uuid.uuid4(),
        new.name,
        token_hash(token),
        display_prefix(token),
        new.role.value,
        channel,
        new.department_code,
        new.area_codes,
        created_by,
        new.expires_at,
    )
    await audit(
        conn,
        actor=actor,
        action="token.create",
        target=str(row["id"]),
        details={"name": new.name, "role": new.role.value, "channel": channel},
    )
    return TokenCreated(token=token, **_token_record(row))


async def list_tokens(conn: asyncpg.Connection) -> list[TokenRecord]:
    rows = await conn.fetch("SELECT * FROM api_tokens ORDER BY created_at DESC")
    return [TokenRecord(**_token_record(r)) for r in rows]


async def revoke_token(
    conn: asyncpg.Connection, token_id: uuid.UUID, *, actor: Actor
) -> tuple[TokenRecord, str]:
    """Returns the token and its hash (for the caller's cache)."""
    row = await conn.fetchrow(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, clock_timestamp()) WHERE id = $1 RETURNING *",
        token_id,
    )
    if row is None:
        raise NotFound(f"令牌 {token_id} 不存在", error="token_not_found")
    await audit(conn, actor=actor, action="token.revoke", target=str(token_id), details={"name": row["name"]})
    return TokenRecord(**_token_record(row)), row["token_hash"]
