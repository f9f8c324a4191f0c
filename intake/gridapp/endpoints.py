"""HTTP routes of the grid worker's app: reports from the street with GPS and photos, 零上报 check-ins,
and the grids that have sent neither today (for the command centre and leaders)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from intake.decoding import Undecodable, check_text, decode_json
from intake.gridapp.service import CheckedPhoto, check_in, grid_activity, report_with_photos
from intake.service import Outcome, RawRequest, check_channel, kept_headers, record_outcome, store_raw
from schemas.access import Permission
from schemas.api import URGENCY_RANK, Channel, ReportAccepted
from schemas.gridapp import ActivityOut, AppReportIn, CheckinIn, CheckinOut, GridActivity
from schemas.identity import Principal
from schemas.workflow import MAX_PHOTOS
from services.casework import photos
from services.geo.coords import to_wgs84
from services.http.errors import FieldsInvalid, Forbidden, Invalid, field_errors
from services.identity.dependencies import require
from services.ledger.service import NewCase

router = APIRouter(prefix="/api/v1/app", tags=["gridapp"])

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHOTO_FIELDS = ("photos", "files")


@router.post(
    "/reports", status_code=202, response_model=ReportAccepted, summary="网格员上报（GPS定位与现场照片）"
)
async def post_report(
    request: Request, principal: Annotated[Principal, require(Permission.GRID_APP)]
) -> JSONResponse:
    pool = request.app.state.pool
    body = await request.body()  # kept raw first; the form is parsed from the same bytes
    raw_id = await store_raw(
        pool,
        RawRequest(
            body=body,
            channel="app",
            content_type=request.headers.get("content-type"),
            submitted_by=principal.subject,
            headers=kept_headers(request.headers),
            path=request.url.path,
            remote_addr=request.client.host if request.client else None,
        ),
    )
    try:
        return await _take_report(request, principal, raw_id)
    except (Invalid, FieldsInvalid, Forbidden) as exc:
        await record_outcome(
            pool, raw_id, Outcome.REJECTED, error={"error": exc.error, "message": exc.message}, channel="app"
        )
        raise


async def _take_report(request: Request, principal: Principal, raw_id: int) -> JSONResponse:
    settings = request.app.state.settings
    refusal = check_channel(principal, Channel.APP)
    if refusal:
        raise Forbidden(refusal, error="channel_forbidden")
    fields, uploads = await _fields_and_photos(request)
    try:
        report = AppReportIn.model_validate(fields)
    except ValidationError as exc:
        raise FieldsInvalid(field_errors(list(exc.errors())), "上报内容有误，请检查以下字段") from None
    if len(uploads) > MAX_PHOTOS:
        raise Invalid("photos", f"最多附{MAX_PHOTOS}张照片")
    checked = []
    for upload in uploads:
        data = await upload.read(settings.photo_max_bytes + 1)
        try:
            content_type, ext = photos.check(
                data, max_bytes=settings.photo_max_bytes, name=(upload.filename or "")[:60]
            )
        except photos.BadPhoto as exc:
            raise Invalid("photos", exc.reason) from None
        checked.append(CheckedPhoto(data, content_type, ext))
    catalog = await request.app.state.catalogs.get()
    if report.grid_code is not None:
        if report.grid_code not in catalog.areas or catalog.areas[report.grid_code].level != "grid":
            raise Invalid("grid_code", f"网格“{report.grid_code}”不存在")
        if principal.grid_codes is not None and report.grid_code not in principal.grid_codes:
            raise Forbidden(
                f"网格“{catalog.area_name(report.grid_code)}”不在您的负责范围（{principal.area_label}）"
            )
    category = catalog.categories.get(report.category_code or "")
    if report.category_code and category is None:
        raise Invalid("category_code", f"案件类别“{report.category_code}”不存在")
    if (report.lat is None) != (report.lon is None):
        raise Invalid("lat", "经纬度须同时提供")
    lat = lon = None
    if report.lat is not None and report.lon is not None:
        try:
            lon, lat = to_wgs84(report.lon, report.lat, report.crs)
        except ValueError as exc:
            raise Invalid("lat", f"坐标无效：{exc}") from None
    urgency = report.urgency.value if report.urgency else "normal"
    details: dict[str, Any] = {}
    if report.accuracy_m is not None:
        details["gps_accuracy_m"] = round(report.accuracy_m, 1)
    if category is not None and category.must_report:
        # 四必报: urgent at least, and never closed without an on-site check with photos.
        details["must_report"] = True
        urgency = max(urgency, "urgent", key=lambda u: URGENCY_RANK[u])
    new = NewCase(
        channel=Channel.APP.value,
        description=report.description,
        external_id=report.external_id,
        category_code=report.category_code,
        grid_code=report.grid_code,
        urgency=urgency,
        lat=lat,
        lon=lon,
        address=report.address,
        submitted_by=principal.subject,
        intake_details=details or None,
    )
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        created = await report_with_photos(
            conn,
            raw_id=raw_id,
            new=new,
            principal=principal,
            checked=checked,
            media_dir=Path(settings.media_path),
        )
    accepted = ReportAccepted(
        case_id=created.case_id, case_no=created.case_no, duplicate_of_request=not created.created
    )
    return JSONResponse(
        status_code=202,
        content=accepted.model_dump(mode="json") | {"photos": len(checked) if created.created else 0},
        headers={"Location": f"/api/v1/cases/{created.case_id}"},
    )


async def _fields_and_photos(request: Request) -> tuple[dict[str, Any], list[UploadFile]]:
    """Multipart (fields and photos) as the app sends it; JSON (fields only) for other clients."""
    if (request.headers.get("content-type") or "").startswith("application/json"):
        try:
            decoded = decode_json(await request.body())
        except Undecodable as exc:
            raise Invalid(exc.field, exc.reason) from None
        if not isinstance(decoded, dict):
            raise Invalid("body", "请求体须为JSON对象")
        return decoded, []
    try:
        form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=40)
    except Exception:  # a malformed multipart body is the sender's fault
        raise Invalid("body", "请求须为 multipart/form-data 表单（照片放在 photos 字段）") from None
    fields = {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile) and v != ""}
    try:
        check_text(fields)
    except Undecodable as exc:
        raise Invalid(exc.field, exc.reason) from None
    uploads = [v for k, v in form.multi_items() if isinstance(v, UploadFile) and k in PHOTO_FIELDS]
    return fields, uploads


def _today() -> date:
    return datetime.now(SHANGHAI).date()


@router.post(
    "/checkins",
    status_code=201,
    response_model=CheckinOut,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": CheckinIn.model_json_schema()}}}
    },
    summary="零上报：今日本网格无事项可报",
)
async def post_checkin(
    request: Request, principal: Annotated[Principal, require(Permission.GRID_APP)]
) -> CheckinOut:
    pool = request.app.state.pool
    raw_id = await store_raw(pool, _raw(request, await request.body(), principal))
    try:
        out = await _check_in(request, principal)
    except (Invalid, FieldsInvalid, Forbidden) as exc:
        await record_outcome(
            pool, raw_id, Outcome.REJECTED, error={"error": exc.error, "message": exc.message}, channel="app"
        )
        raise
    await record_outcome(pool, raw_id, Outcome.REPLIED, channel="app")
    return out


async def _check_in(request: Request, principal: Principal) -> CheckinOut:
    try:
        decoded = decode_json(await request.body())
    except Undecodable as exc:
        raise Invalid(exc.field, exc.reason) from None
    try:
        body = CheckinIn.model_validate(decoded)
    except ValidationError as exc:
        raise FieldsInvalid(field_errors(list(exc.errors()))) from None
    if check_channel(principal, Channel.APP):
        raise Forbidden("只有网格员可以零上报")
    catalog = await request.app.state.catalogs.get()
    grid = body.grid_code
    if grid is None:
        own = sorted(principal.grid_codes or ())
        if len(own) != 1:
            raise Invalid("grid_code", "您负责多个网格，请指定网格编码")
        grid = own[0]
    if grid not in catalog.areas or catalog.areas[grid].level != "grid":
        raise Invalid("grid_code", f"网格“{grid}”不存在")
    if principal.grid_codes is not None and grid not in principal.grid_codes:
        raise Forbidden(f"网格“{catalog.area_name(grid)}”不在您的负责范围（{principal.area_label}）")
    day = _today()
    async with request.app.state.pool.acquire() as conn:
        recorded = await check_in(conn, grid_code=grid, day=day, principal=principal, note=body.note)
    return CheckinOut(grid_code=grid, grid_name=catalog.area_name(grid), day=day, recorded=recorded)


def _raw(request: Request, body: bytes, principal: Principal) -> RawRequest:
    return RawRequest(
        body=body,
        channel="app",
        content_type=request.headers.get("content-type"),
        submitted_by=principal.subject,
        headers=kept_headers(request.headers),
        path=request.url.path,
        remote_addr=request.client.host if request.client else None,
    )


@router.get("/activity", summary="各网格今日上报与零上报情况（未上报也未零上报的网格）")
async def activity(
    request: Request,
    principal: Annotated[Principal, require(Permission.CASE_READ)],
    day: Annotated[date | None, Query(description="YYYY-MM-DD，北京时间，默认今天")] = None,
    silent_only: Annotated[bool, Query(description="只看未上报也未零上报的网格")] = False,
) -> ActivityOut:
    catalog = await request.app.state.catalogs.get()
    grids = sorted(
        code
        for code, area in catalog.areas.items()
        if area.level == "grid" and (principal.grid_codes is None or code in principal.grid_codes)
    )
    the_day = day or _today()
    async with request.app.state.pool.acquire() as conn:
        counts = await grid_activity(conn, grids=grids, day=the_day)
    rows = [
        GridActivity(
            grid_code=code,
            grid_name=catalog.areas[code].name,
            worker=catalog.areas[code].worker,
            reports=counts[code]["reports"],
            checkins=counts[code]["checkins"],
            silent=not (counts[code]["reports"] or counts[code]["checkins"]),
        )
        for code in grids
    ]
    shown = [r for r in rows if r.silent] if silent_only else rows
    return ActivityOut(day=the_day, grids=shown, silent=sum(r.silent for r in rows))
