"""HTTP API of supervision orders (督办单): operators and leaders issue them on a case, the department
answers on its workbench, leaders list the late ones."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from schemas.access import Permission
from schemas.identity import Principal
from services.access.filters import case_condition
from services.console.access import check_case
from services.http.errors import Conflict, Invalid, NotFound
from services.identity.dependencies import require
from services.ledger.service import lock_case
from services.sla.clocks import TimeBase
from services.supervision import service

router = APIRouter(prefix="/api/v1", tags=["supervision"])

ISSUER_OF_ROLE = {"operator": "command_centre", "leader": "district", "admin": "command_centre"}


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=1000, description="督办事由")
    reply_within: str | None = Field(
        default=None, pattern=r"^\s*\d+(\.\d+)?\s*(m|h|wh|wd)\s*$", description="回复时限，默认 1wd"
    )


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reply: str = Field(min_length=2, max_length=2000, description="办理情况回复")


@router.post("/cases/{case_id}/supervision-orders", status_code=201, summary="下发督办单（指挥中心、领导）")
async def issue_order(
    request: Request,
    case_id: uuid.UUID,
    body: OrderIn,
    principal: Annotated[Principal, require(Permission.CASE_SUPERVISE)],
) -> dict[str, Any]:
    tb: TimeBase = request.app.state.timebase
    catalog = await request.app.state.catalogs.get()
    limit = body.reply_within or request.app.state.settings.supervision_reply_limit
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await check_case(conn, principal, Permission.CASE_READ, case_id)
        await check_case(conn, principal, Permission.CASE_SUPERVISE, case_id)
        case = await lock_case(conn, case_id)
        if case.row["department_code"] is None or case.row["status"] in (
            "closed",
            "rejected",
            "duplicate",
            "reported",
            "triage",
        ):
            raise Conflict("只能对已派遣、正在办理的案件下发督办单")
        minutes, working = tb.limit(limit)
        due = tb.add(case.now, minutes, working)[0]
        department = catalog.departments.get(case.row["department_code"])
        order_id, _ = await service.issue(
            conn,
            case=case,
            issuer_level=ISSUER_OF_ROLE.get(principal.role.value, "command_centre"),
            issuer_label=principal.unit,
            actor=principal.actor,
            reason=body.reason,
            reply_due_at=due,
            department_name=department.name if department else None,
        )
    return {"order_id": order_id, "reply_due_at": due}


@router.post("/supervision-orders/{order_id}/reply", summary="回复督办单（承办部门）")
async def reply_order(
    request: Request,
    order_id: int,
    body: ReplyIn,
    principal: Annotated[Principal, require(Permission.CASE_REPLY_SUPERVISION)],
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval("SELECT case_id FROM supervision_orders WHERE id = $1", order_id)
        if found is None:
            raise NotFound(f"督办单 {order_id} 不存在", error="order_not_found")
        await check_case(conn, principal, Permission.CASE_READ, found)
        await check_case(conn, principal, Permission.CASE_REPLY_SUPERVISION, found)
        case = await lock_case(conn, found)  # the case first, then the order: the order scheduler's way
        order = await service.open_order(conn, order_id)
        if order is None or order["status"] != "open":
            raise Conflict("该督办单已回复")
        await service.reply(conn, case=case, order=order, actor=principal.actor, text=body.reply)
    return {"order_id": order_id, "status": "replied"}


@router.get("/supervision-orders", summary="督办单列表（本人可见范围；可只看超期未回复）")
async def list_orders(
    request: Request,
    principal: Annotated[Principal, require(Permission.CASE_READ)],
    status: Annotated[str | None, Query(description="open | replied | overdue（超期未回复）")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    if status not in (None, "open", "replied", "overdue"):
        raise Invalid("status", "应为 open、replied 或 overdue")
    params: list[Any] = []
    visible = case_condition(principal, Permission.CASE_READ, params)
    where = [f"o.case_id IN (SELECT id FROM cases WHERE {visible})"]
    if status == "overdue":
        where.append("o.status = 'open' AND o.reply_due_at < clock_timestamp()")
    elif status:
        params.append(status)
        where.append(f"o.status = ${len(params)}")
    params.append(limit)
    rows = await request.app.state.pool.fetch(
        "SELECT o.id, o.case_id, c.case_no, o.issuer_level, o.issuer_label, o.issued_by_label, o.department_code, "
        "o.reason, o.reply_due_at, o.status, o.reply, o.replied_at, o.overdue_at, o.created_at "
        f"FROM supervision_orders o JOIN cases c ON c.id = o.case_id WHERE {' AND '.join(where)} "
        f"ORDER BY o.reply_due_at LIMIT ${len(params)}",
        *params,
    )
    return [dict(r) for r in rows]
