"""The audit log: who looked at residents' personal data, and who changed accounts, tokens and
reference data. Written in the same transaction as what it records."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from schemas.identity import Principal
from services.access.filters import area_condition


async def record(
    conn: asyncpg.Connection,
    *,
    actor: Principal | str,
    action: str,
    case_id: uuid.UUID | None = None,
    grid_code: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    client_ip: str | None = None,
) -> int:
    """``actor`` is the signed-in principal, or ``system:<what>`` / ``cli:<user>`` for tools."""
    if isinstance(actor, Principal):
        who, name, role = actor.subject, actor.display_name, actor.role.value
    else:
        who, name, role = actor, None, None
    entry_id: int = await conn.fetchval(
        "INSERT INTO audit_log (actor, actor_name, actor_role, action, case_id, grid_code, target, reason, "
        "details, client_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        who,
        name,
        role,
        action,
        case_id,
        grid_code,
        target,
        reason,
        details or {},
        client_ip,
    )
    return entry_id


async def list_entries(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    limit: int,
    case_id: uuid.UUID | None = None,
    action: str | None = None,
    unrestricted: bool,
) -> list[dict[str, Any]]:
    """Newest first. ``unrestricted`` (admins) sees every entry; others only entries about cases in
    their area."""
    params: list[Any] = []
    where = ["TRUE"]
    if not unrestricted:
        where.append("a.case_id IS NOT NULL")
        where.append(area_condition(principal, params, column="a.grid_code"))
    if case_id is not None:
        params.append(case_id)
        where.append(f"a.case_id = ${len(params)}")
    if action:
        params.append(action)
        where.append(f"a.action = ${len(params)}")
    params.append(limit)
    rows = await conn.fetch(
        "SELECT a.id, a.at, a.actor, a.actor_name, a.actor_role, a.action, a.case_id, c.case_no, a.target, "
        "a.reason, a.details, a.client_ip FROM audit_log a LEFT JOIN cases c ON c.id = a.case_id "
        f"WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT ${len(params)}",
        *params,
    )
    return [dict(r) for r in rows]
