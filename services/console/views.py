"""Console HTTP API (thin: parsing, the route's permission and status codes here; work in
queries/commands). Every route names its permission; typed errors become answers in one handler."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, File, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from schemas.access import Permission, Scope, decide, scope_of
from schemas.accounts import RevealIn
from schemas.api import ActionIn
from schemas.identity import Principal
from schemas.workflow import MAX_PHOTOS
from services.audit.service import list_entries
from services.audit.service import record as audit
from services.casework import photos
from services.console import listing, queries
from services.console.access import case_facts, check_case
from services.console.commands import act
from services.http.errors import Invalid, NotFound
from services.identity.dependencies import require
from services.messaging.deadletter import list_dead_letters, replay_dead_letter
from services.sla.timelimits import BadTimeLimit, TimeLimit
from services.sla.worktime import BadOfficeHours, OfficeHours

router = APIRouter(prefix="/api/v1", tags=["console"])
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/cases", summary="案件列表（仅本人可见范围；筛选、搜索、翻页）")
async def list_cases(
    request: Request,
    principal: Annotated[Principal, require(Permission.CASE_READ)],
    limit: Annotated[str | None, Query(description="每页条数，1–500，默认 100")] = None,
    cursor: Annotated[str | None, Query(description="上一页返回的 next_cursor")] = None,
    status: Annotated[
        list[str] | None, Query(description="案件状态，可重复或用逗号分隔：status=dispatched,signed")
    ] = None,
    overdue: Annotated[str | None, Query(description="true：只看已超时（计时中且已过期限）")] = None,
    due_soon: Annotated[
        str | None,
        Query(
            description="true：只看即将到期（计时中，due_within_h 小时内到期）；与 overdue 同用：超时或即将到期"
        ),
    ] = None,
    due_within_h: Annotated[str | None, Query(description="“即将到期”的小时数，默认 4")] = None,
    category_code: Annotated[str | None, Query(description="案件类别编码")] = None,
    grid_code: Annotated[str | None, Query(description="网格编码，或街道、社区编码（其下所有网格）")] = None,
    department_code: Annotated[str | None, Query(description="主办部门编码")] = None,
    channel: Annotated[
        str | None, Query(description="来源渠道：app、wechat、hotline、operator、open311")
    ] = None,
    date_from: Annotated[
        str | None, Query(alias="from", description="上报日期起（含），YYYY-MM-DD，北京时间")
    ] = None,
    date_to: Annotated[
        str | None, Query(alias="to", description="上报日期止（含），YYYY-MM-DD，北京时间")
    ] = None,
    q: Annotated[
        str | None,
        Query(description="搜索：全数字为案件编号（14位或其开头），否则搜描述和地址（须有权查看描述）"),
    ] = None,
    bounced: Annotated[
        str | None, Query(description="true：只看推诿预警案件（退回两次或派至第三个部门）")
    ] = None,
) -> dict[str, Any]:
    catalog = await request.app.state.catalogs.get()
    page_size = listing.parse_limit(limit)
    filters = listing.parse_filters(
        catalog,
        principal,
        status=status,
        overdue=overdue,
        due_soon=due_soon,
        due_within_h=due_within_h,
        category_code=category_code,
        grid_code=grid_code,
        department_code=department_code,
        channel=channel,
        date_from=date_from,
        date_to=date_to,
        q=q,
        bounced=bounced,
    )
    after = listing.Cursor.decode(cursor) if cursor else None
    async with request.app.state.pool.acquire() as conn:
        return await queries.list_cases(
            conn, catalog, principal, limit=page_size, filters=filters, cursor=after
        )


@router.get("/cases/{case_id}", summary="案件详情与处置时间线")
async def get_case(
    request: Request, case_id: uuid.UUID, principal: Annotated[Principal, require(Permission.CASE_READ)]
) -> Any:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn:
        await check_case(conn, principal, Permission.CASE_READ, case_id)
        return await queries.case_detail(
            conn,
            catalog,
            principal,
            case_id,
            tb=request.app.state.timebase,
            warn_ratio=request.app.state.settings.deadline_warn_ratio,
            red_ratio=request.app.state.settings.deadline_red_ratio,
        )


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


@router.post(
    "/photos", status_code=201, summary="上传现场照片（JPEG/PNG/WebP，最多9张；由办结、核查等操作引用）"
)
async def upload_photos(
    request: Request,
    case_id: Annotated[uuid.UUID, Query(description="The case the photos show")],
    files: Annotated[list[UploadFile], File(description="1–9 photos")],
    principal: Annotated[Principal, require(Permission.CASE_UPLOAD_PHOTOS)],
) -> dict[str, Any]:
    settings = request.app.state.settings
    if not 1 <= len(files) <= MAX_PHOTOS:
        raise Invalid("files", f"一次上传1到{MAX_PHOTOS}张照片")
    checked = []
    for upload in files:
        data = await upload.read(settings.photo_max_bytes + 1)
        try:
            content_type, ext = photos.check(
                data, max_bytes=settings.photo_max_bytes, name=(upload.filename or "")[:60]
            )
        except photos.BadPhoto as exc:
            raise Invalid("files", exc.reason) from None
        checked.append((data, content_type, ext))
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await check_case(conn, principal, Permission.CASE_READ, case_id)
        await check_case(conn, principal, Permission.CASE_UPLOAD_PHOTOS, case_id)
        stored = [
            await photos.store(
                conn,
                media_dir=Path(settings.media_path),
                case_id=case_id,
                data=data,
                content_type=content_type,
                ext=ext,
                uploader=principal.actor,
            )
            for data, content_type, ext in checked
        ]
    return {
        "photos": [
            {
                "photo_id": str(p.photo_id),
                "url": f"/api/v1/photos/{p.photo_id}",
                "content_type": p.content_type,
                "size": p.size,
            }
            for p in stored
        ]
    }


@router.get("/photos/{photo_id}", summary="查看照片（仅限可查看该案件详情的人员）")
async def get_photo(
    request: Request, photo_id: uuid.UUID, principal: Annotated[Principal, require(Permission.CASE_READ)]
) -> FileResponse:
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT case_id, path, content_type FROM case_photos WHERE id = $1", photo_id
        )
        if row is None:
            raise NotFound("照片不存在或无权查看", error="photo_not_found")
        await check_case(conn, principal, Permission.CASE_READ, row["case_id"])
        facts = await case_facts(conn, row["case_id"])
    if not decide(principal, Permission.CASE_READ_DETAILS, facts):
        raise NotFound("照片不存在或无权查看", error="photo_not_found")
    path = Path(request.app.state.settings.media_path) / row["path"]
    if not path.is_file():
        raise NotFound("照片文件已不存在", error="photo_missing")
    return FileResponse(
        path, media_type=row["content_type"], headers={"Cache-Control": "private, max-age=3600"}
    )


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
    request.app.state.catalogs.invalidate()  # this process routes with the new limits at once
    return dict(row)


@router.get("/departments", summary="职能部门")
async def departments(
    request: Request, _: Annotated[Principal, require(Permission.REFERENCE_READ)]
) -> list[dict[str, Any]]:
    rows = await request.app.state.pool.fetch(
        "SELECT code, name, name_en, level, office_hours FROM departments ORDER BY code"
    )
    default = str(request.app.state.timebase.hours)
    return [dict(r) | {"office_hours_in_effect": r["office_hours"] or default} for r in rows]


class DepartmentHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office_hours: str | None  # "08:00-12:00,14:00-18:00"; null: the deployment's default


@router.patch("/departments/{code}", summary="调整部门办公时间（影响此后开始计时的时限）")
async def patch_department(
    request: Request,
    code: str,
    body: Annotated[DepartmentHours, Body()],
    principal: Annotated[Principal, require(Permission.REFERENCE_WRITE)],
) -> dict[str, Any]:
    hours = (body.office_hours or "").strip() or None
    if hours is not None:
        try:
            hours = str(OfficeHours.parse(hours))
        except BadOfficeHours as exc:
            raise Invalid(
                "office_hours", f"办公时间格式不正确（应如 08:30-12:00,13:30-17:30）：{exc}"
            ) from None
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow("SELECT office_hours FROM departments WHERE code = $1 FOR UPDATE", code)
        if before is None:
            raise NotFound(f"部门 {code} 不存在", error="department_not_found")
        await conn.execute("UPDATE departments SET office_hours = $2 WHERE code = $1", code, hours)
        await audit(
            conn,
            actor=principal,
            action="department.update",
            target=code,
            details={"office_hours": {"from": before["office_hours"], "to": hours}},
            client_ip=_client_ip(request),
        )
    request.app.state.catalogs.invalidate()
    return {"code": code, "office_hours": hours}


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


@router.get("/calendar/status", summary="工作日历：哪些年份的法定节假日安排已确认")
async def calendar_status(
    request: Request, _: Annotated[Principal, require(Permission.REFERENCE_READ)]
) -> dict[str, Any]:
    """Deadlines reaching into a year without a confirmed holiday schedule are provisional: the console
    warns until the year is loaded (`gridcase calendar import FILE`)."""
    tb = request.app.state.timebase
    today = datetime.now(SHANGHAI).date()
    years = [today.year, today.year + 1]
    missing = [y for y in years if not tb.calendar.is_confirmed(y)]
    return {
        "confirmed_years": sorted(tb.calendar.confirmed_years()),
        "office_hours": str(tb.hours),
        "missing_years": missing,
        "warning": (
            f"{'、'.join(str(y) for y in missing)}年的法定节假日安排尚未导入：涉及这些年份的办理时限按周末和固定节日暂估，"
            "请管理员导入国务院办公厅公布的安排（gridcase calendar import）"
            if missing
            else None
        ),
    }
