"""Console HTTP API (thin: parsing, the route's permission and status codes here; work in
queries/commands). Every route names its permission; typed errors become answers in one handler."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from schemas.access import Permission, Scope, scope_of
from schemas.accounts import RevealIn
from schemas.api import ActionIn
from schemas.identity import Principal
from schemas.states import CaseStatus
from services.audit.service import list_entries
from services.audit.service import record as audit
from services.console import queries
from services.console.access import check_case
from services.console.commands import act
from services.http.errors import Invalid, NotFound, error_response
from services.identity.dependencies import require
from services.messaging.deadletter import list_dead_letters, replay_dead_letter
from services.sla.timelimits import BadTimeLimit, TimeLimit

router = APIRouter(prefix="/api/v1", tags=["console"])


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/cases", summary="案件列表（仅本人可见范围）")
async def list_cases(
    request: Request,
    principal: Annotated[Principal, require(Permission.CASE_READ)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    status: CaseStatus | None = None,
) -> dict[str, Any]:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn:
        return await queries.list_cases(
            conn, catalog, principal, limit=limit, status=status.value if status else None
        )


@router.get("/cases/{case_id}", summary="案件详情与处置时间线")
async def get_case(
    request: Request, case_id: uuid.UUID, principal: Annotated[Principal, require(Permission.CASE_READ)]
) -> Any:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn:
        await check_case(conn, principal, Permission.CASE_READ, case_id)
        return await queries.case_detail(conn, catalog, principal, case_id)


@router.post("/cases/{case_id}/actions", summary="对案件执行操作（签收、退回、办结…）")
async def post_action(
    request: Request,
    case_id: uuid.UUID,
    command: ActionIn,
    principal: Annotated[Principal, require(Permission.CASE_ACT)],
) -> Any:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        event = await act(conn, catalog, principal, case_id=case_id, command=command)
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "status": event.status.value,
        "seq": event.seq,
    }


@router.post("/cases/{case_id}/reveal", summary="查看居民联系方式（须填写原因，记入审计日志）")
async def reveal_contact(
    request: Request,
    case_id: uuid.UUID,
    body: RevealIn,
    principal: Annotated[Principal, require(Permission.CASE_REVEAL)],
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await check_case(conn, principal, Permission.CASE_READ, case_id)
        await check_case(conn, principal, Permission.CASE_REVEAL, case_id)
        clear, grid_code = await queries.reveal(conn, case_id)
        await audit(
            conn,
            actor=principal,
            action="case.reveal",
            case_id=case_id,
            grid_code=grid_code,
            reason=body.reason,
            details={"fields": ["reporter.name", "reporter.phone", "reporter.id_number", "address"]},
            client_ip=_client_ip(request),
        )
    return clear


@router.get("/audit", summary="审计日志（个人信息查看、账号与基础数据变更）")
async def audit_log(
    request: Request,
    principal: Annotated[Principal, require(Permission.AUDIT_READ)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    case_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    async with request.app.state.pool.acquire() as conn:
        return await list_entries(
            conn,
            principal,
            limit=limit,
            case_id=case_id,
            action=action,
            unrestricted=scope_of(principal.role, Permission.AUDIT_READ) is Scope.GLOBAL
            and principal.grid_codes is None,
        )


@router.get("/grids", summary="网格（GeoJSON）")
async def grids(request: Request, _: Annotated[Principal, require(Permission.REFERENCE_READ)]) -> Response:
    async with request.app.state.pool.acquire() as conn:
        data = await queries.grids_geojson(conn)
    return JSONResponse(data, media_type="application/geo+json")


@router.get("/categories", summary="案件类别与责任矩阵")
async def categories(
    request: Request, _: Annotated[Principal, require(Permission.REFERENCE_READ)]
) -> list[dict[str, Any]]:
    rows = await request.app.state.pool.fetch(
        "SELECT c.*, d.name AS department_name FROM categories c JOIN departments d ON d.code = c.department_code "
        "ORDER BY c.code"
    )
    return [dict(r) for r in rows]


class CategoryLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sign_limit: str | None = None
    handle_limit: str | None = None


@router.patch("/categories/{code}", summary="调整类别处置时限")
async def patch_category(
    request: Request,
    code: str,
    limits: Annotated[CategoryLimits, Body()],
    principal: Annotated[Principal, require(Permission.REFERENCE_WRITE)],
) -> Any:
    changes = {k: v for k, v in limits.model_dump().items() if v is not None}
    for field, value in changes.items():
        try:
            TimeLimit.parse(value)
        except BadTimeLimit:
            raise Invalid(field, f"时限“{value}”格式不正确，应如 30m、2h、4wh、1wd") from None
    if not changes:
        raise Invalid("body", "没有需要修改的字段")
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow("SELECT * FROM categories WHERE code = $1 FOR UPDATE", code)
        if before is None:
            raise NotFound(f"类别 {code} 不存在", error="category_not_found")
        row = await conn.fetchrow(
            f"UPDATE categories SET {sets} WHERE code = $1 RETURNING *", code, *changes.values()
        )
        await audit(
            conn,
            actor=principal,
            action="category.update",
            target=code,
            details={k: {"from": before[k], "to": v} for k, v in changes.items()},
            client_ip=_client_ip(request),
        )
    return dict(row)


@router.get("/departments", summary="职能部门")
async def departments(
    request: Request, _: Annotated[Principal, require(Permission.REFERENCE_READ)]
) -> list[dict[str, Any]]:
    rows = await request.app.state.pool.fetch(
        "SELECT code, name, name_en, level FROM departments ORDER BY code"
    )
    return [dict(r) for r in rows]


@router.get("/dead-letters", summary="死信（无法处理的消息）")
async def dead_letters(
    request: Request,
    _: Annotated[Principal, require(Permission.DEAD_LETTERS_MANAGE)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    async with request.app.state.pool.acquire() as conn:
        return await list_dead_letters(conn, limit=limit)


@router.post("/dead-letters/{dead_letter_id}/replay", summary="重放死信")
async def replay(
    request: Request,
    dead_letter_id: int,
    principal: Annotated[Principal, require(Permission.DEAD_LETTERS_MANAGE)],
) -> Any:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        ok = await replay_dead_letter(conn, dead_letter_id=dead_letter_id)
        if ok:
            await audit(conn, actor=principal, action="dead_letter.replay", target=str(dead_letter_id))
    if not ok:
        raise NotFound(f"死信 {dead_letter_id} 不存在", error="dead_letter_not_found")
    return {"replayed": dead_letter_id}


@router.get("/stream", summary="案件实时事件（SSE，仅本人可见范围）")
async def stream(
    request: Request, principal: Annotated[Principal, require(Permission.LIVE_FEED)]
) -> StreamingResponse:
    return StreamingResponse(
        request.app.state.feed.subscribe(principal),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# Mounted instead of intake's own router when GRIDCASE_INTAKE_URL names a separate intake service.
proxy_router = APIRouter(prefix="/api/v1", tags=["intake"])


@proxy_router.post("/reports", status_code=202, summary="上报案件（转发至受理服务）")
async def forward_report(
    request: Request, _: Annotated[Principal, require(Permission.CASE_REPORT)]
) -> Response:
    """The public port forwards reports to the intake service, which owns them and checks the
    caller's credentials again (forwarded unchanged)."""
    client: httpx.AsyncClient | None = request.app.state.intake
    if client is None:
        return error_response(503, "intake_unavailable", "未配置受理服务地址（GRIDCASE_INTAKE_URL）")
    headers = {"content-type": request.headers.get("content-type", "application/json")}
    if "authorization" in request.headers:
        headers["authorization"] = request.headers["authorization"]
    if "cookie" in request.headers:
        headers["cookie"] = request.headers["cookie"]
        headers["x-csrf-token"] = request.headers.get("x-csrf-token", "")
    try:
        upstream = await client.post("/api/v1/reports", content=await request.body(), headers=headers)
    except httpx.HTTPError:
        return error_response(503, "intake_unavailable", "受理服务暂不可用，请稍后重试")
    out = {k: v for k, v in upstream.headers.items() if k.lower() in ("location", "content-type")}
    return Response(content=upstream.content, status_code=upstream.status_code, headers=out)
