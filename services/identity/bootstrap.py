"""The first accounts: `admin` (from GRIDCASE_ADMIN_PASSWORD, or generated once for the embedded
default) and, with the demo district, one demo account per role."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from schemas.identity import Role
from services.identity.accounts import upsert_account

ADMIN = "admin"
BOOTSTRAP = "system:bootstrap"
ADMIN_PASSWORD_FILE = "admin-password"

# Shown in the README: a newcomer signs in with these to try every view. Only `--demo` creates them.
DEMO_PASSWORD = "Demo@2026"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    department_code: str | None = None
    area_codes: tuple[str, ...] = ()
    channel: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount("demo-operator", "王敏", Role.OPERATOR),
    DemoAccount("demo-department", "李强", Role.DEPARTMENT, department_code="CG-SZ"),
    DemoAccount("demo-gridworker", "赵丽", Role.GRID_WORKER, area_codes=("10100133019900100101",)),
    # Community staff work as grid workers whose area is the community (柳塘社区): they take the cases
    # the matrix gives the community first (小事不出网格).
    DemoAccount("demo-community", "孙燕", Role.GRID_WORKER, area_codes=("10100133019900100100",)),
    DemoAccount("demo-leader", "陈刚", Role.LEADER, area_codes=("10100133019900100000",)),
    DemoAccount("demo-feed", "12345热线接入", Role.FEED, channel="hotline"),
)


async def ensure_admin(conn: asyncpg.Connection, password: str) -> bool:
    """Create `admin` or set its password (GRIDCASE_ADMIN_PASSWORD). True if created."""
    async with conn.transaction():
        return await upsert_account(
            conn,
            username=ADMIN,
            password=password,
            display_name="系统管理员",
            role=Role.ADMIN,
            actor=BOOTSTRAP,
        )


async def ensure_generated_admin(conn: asyncpg.Connection, home: Path) -> str | None:
    """Embedded default without GRIDCASE_ADMIN_PASSWORD: if there is no `admin` yet, generate a
    password, keep it in ``home/admin-password`` (owner-only) and return it to be printed once."""
    if await conn.fetchval("SELECT 1 FROM users WHERE username = $1", ADMIN):
        return None
    path = home / ADMIN_PASSWORD_FILE
    password = "gc-" + secrets.token_urlsafe(12)
    await ensure_admin(conn, password)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    os.chmod(path, 0o600)  # also when the file was there before with wider bits
    return password


async def seed_demo_accounts(conn: asyncpg.Connection) -> int:
    """Create the demo accounts that don't exist yet (an existing one keeps its password)."""
    created = 0
    async with conn.transaction():
        for account in DEMO_ACCOUNTS:
            if await conn.fetchval("SELECT 1 FROM users WHERE username = $1", account.username):
                continue
            created += 1
            await upsert_account(
                conn,
                username=account.username,
                password=DEMO_PASSWORD,
                display_name=account.display_name,
                role=account.role,
                department_code=account.department_code,
                area_codes=list(account.area_codes),
                channel=account.channel,
                actor=BOOTSTRAP,
            )
    return created
