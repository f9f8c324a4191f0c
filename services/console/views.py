"""Console HTTP API (thin: parsing and status codes here, work in queries/commands)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from schemas.api import ActionIn, FieldError
from schemas.states import CaseStatus, IllegalTransition
from services.console import queries
from services.console.commands import BadCommand, act
from services.http.errors import error_response
from services.ledger.service import CaseNotFound
from services.messaging.deadletter import list_dead_letters, replay_dead_letter
from services.sla.timelimits import BadTimeLimit, TimeLimit

router = APIRouter(prefix="/api/v1", tags=["console"])


def _not_found(case_id: uuid.UUID) -> JSONResponse:
    return error_response(404, "case_not_found", f"案件 {case_id} 不存在")


@router.get("/cases", summary="案件列表")
async def list_cases(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    status: CaseStatus | None = None,
) -> dict[str, Any]:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn:
        return await queries.list_cases(conn, catalog, limit=limit, status=status.value if status else None)


@router.get("/cases/{case_id}", summary="案件详情与处置时间线")
async def get_case(request: Request, case_id: uuid.UUID) -> Any:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn:
        detail = await queries.case_detail(conn, catalog, case_id)
    return detail if detail is not None else _not_found(case_id)


@router.post("/cases/{case_id}/actions", summary="对案件执行操作（签收、退回、办结…）")
async def post_action(request: Request, case_id: uuid.UUID, command: ActionIn) -> Any:
    catalog = await request.app.state.catalogs.get()
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            event = await act(conn, catalog, case_id=case_id, command=command)
    except CaseNotFound:
        return _not_found(case_id)
    except BadCommand as exc:
        return error_response(
            422, "validation_error", exc.reason, fields=[FieldError(field=exc.field, reason=exc.reason)]
        )
    except IllegalTransition as exc:
        return error_response(
            409,
            "illegal_transition",
            exc.message,
            details={
                "status": exc.status.value,
                "action": exc.action.value,
                "allowed_actions": [a.value for a in exc.allowed],
            },
        )
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "status": event.status.value,
        "seq": event.seq,
    }


@router.get("/grids", summary="网格（GeoJSON）")
async def grids(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        data = await queries.grids_geojson(conn)
    return JSONResponse(data, media_type="application/geo+json")


@router.get("/categories", summary="案件类别与责任矩阵")
async def categories(request: Request) -> list[dict[str, Any]]:
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
async def patch_category(request: Request, code: str, limits: Annotated[CategoryLimits, Body()]) -> Any:
    changes = {k: v for k, v in limits.model_dump().items() if v is not None}
    for field, value in changes.items():
        try:
            TimeLimit.parse(value)
        except BadTimeLimit:
            reason = f"时限“{value}”格式不正确，应如 30m、2h、4wh、1wd"
            return error_response(
                422, "validation_error", reason, fields=[FieldError(field=field, reason=reason)]
            )
    if not changes:
        return error_response(422, "validation_error", "没有需要修改的字段")
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
    row = await request.app.state.pool.fetchrow(
        f"UPDATE categories SET {sets} WHERE code = $1 RETURNING *", code, *changes.values()
    )
    if row is None:
        return error_response(404, "category_not_found", f"类别 {code} 不存在")
    return dict(row)


@router.get("/departments", summary="职能部门")
async def departments(request: Request) -> list[dict[str, Any]]:
    rows = await request.app.state.pool.fetch(
        "SELECT code, name, name_en, level FROM departments ORDER BY code"
    )
    return [dict(r) for r in rows]


@router.get("/dead-letters", summary="死信（无法处理的消息）")
async def dead_letters(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    async with request.app.state.pool.acquire() as conn:
        return await list_dead_letters(conn, limit=limit)


@router.post("/dead-letters/{dead_letter_id}/replay", summary="重放死信")
async def replay(request: Request, dead_letter_id: int) -> Any:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        ok = await replay_dead_letter(conn, dead_letter_id=dead_letter_id)
    if not ok:
        return error_response(404, "dead_letter_not_found", f"死信 {dead_letter_id} 不存在")
    return {"replayed": dead_letter_id}


@router.get("/stream", summary="案件实时事件（SSE）")
async def stream(request: Request) -> StreamingResponse:
    return StreamingResponse(
        request.app.state.feed.subscribe(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# Mounted instead of intake's own router when GRIDCASE_INTAKE_URL names a separate intake service.
proxy_router = APIRouter(prefix="/api/v1", tags=["intake"])


@proxy_router.post("/reports", status_code=202, summary="上报案件（转发至受理服务）")
async def forward_report(request: Request) -> Response:
    """The public port forwards reports to the intake service, which owns them."""
    client: httpx.AsyncClient | None = request.app.state.intake
    if client is None:
        return error_response(503, "intake_unavailable", "未配置受理服务地址（GRIDCASE_INTAKE_URL）")
    try:
        upstream = await client.post(
            "/api/v1/reports",
            content=await request.body(),
            headers={"content-type": request.headers.get("content-type", "application/json")},
        )
    except httpx.HTTPError:
        return error_response(503, "intake_unavailable", "受理服务暂不可用，请稍后重试")
    headers = {k: v for k, v in upstream.headers.items() if k.lower() in ("location", "content-type")}
    return Response(content=upstream.content, status_code=upstream.status_code, headers=headers)
