"""Load what the policy needs to know about one case, and check it."""

from __future__ import annotations

import uuid

import asyncpg

from schemas.access import CaseFacts, Permission
from schemas.identity import Principal
from services.http.errors import NotFound
from services.identity.dependencies import authorize_case

FACT_COLUMNS = (
    "grid_code, department_code, assist_department_codes, submitted_by, handler_level, handler_area_codes"
)


def facts_of(row: asyncpg.Record) -> CaseFacts:
    return CaseFacts(
        grid_code=row["grid_code"],
        department_code=row["department_code"],
        assist_department_codes=tuple(row["assist_department_codes"] or ()),
        submitted_by=row["submitted_by"],
        handler_level=row["handler_level"],
        handler_area_codes=tuple(row["handler_area_codes"] or ()),
    )


async def case_facts(conn: asyncpg.Connection, case_id: uuid.UUID) -> CaseFacts:
    row = await conn.fetchrow(f"SELECT {FACT_COLUMNS} FROM cases WHERE id = $1", case_id)
    if row is None:
        raise NotFound("案件不存在或无权查看", error="case_not_found")
    return facts_of(row)


async def check_case(
    conn: asyncpg.Connection, principal: Principal, permission: Permission, case_id: uuid.UUID
) -> CaseFacts:
    """Reading a case one may not see is a 404 (its existence stays hidden); acting on it is a 403."""
    facts = await case_facts(conn, case_id)
    authorize_case(principal, permission, facts, hide=permission is Permission.CASE_READ)
    return facts
