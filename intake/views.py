"""Intake HTTP API: POST /api/v1/reports (JSON from any channel), and the raw store for admins."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from intake.decoding import Undecodable, decode_json
from intake.inbound import list_raw, read_raw
from intake.service import (
    Outcome,
    RawRequest,
    check_channel,
    kept_headers,
    mark_rejected,
    open_case,
    record_outcome,
    store_raw,
)
from schemas.access import Permission
from schemas.api import ReportAccepted, ReportIn
from schemas.identity import Principal
from services.audit.service import record as audit
from services.http.errors import NotFound, error_response, field_errors
from services.http.ratelimit import limiter_for
from services.identity.dependencies import require

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["intake"])


@router.post(
    "/reports",
    status_code=202,
    response_model=ReportAccepted,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": ReportIn.model_json_schema()}}}
    },
    summary="上报案件 Take in a report",
)
async def post_report(
    request: Request, principal: Annotated[Principal, require(Permission.CASE_REPORT)]
) -> JSONResponse:
    pool = request.app.state.pool
    s = request.app.state.settings
    limiter_for(request.app.state, "reports", rate=s.rate_source_per_s, burst=s.rate_source_burst).check(
        principal.subject, what="上报"
    )
    body = await request.body()  # the size limit is enforced while reading (services/http/guards.py)
    channel_hint = None
    problem: Undecodable | None = None
    try:
        decoded = decode_json(body)
        hint = decoded.get("channel") if isinstance(decoded, dict) else None
        if isinstance(hint, str) and hint.isascii() and hint.isalnum():
            channel_hint = hint[:20]
    except Undecodable as exc:
        decoded, problem = None, exc
    raw_id = await store_raw(
        pool,
        RawRequest(
            body=body,
            channel=channel_hint,
            content_type=request.headers.get("content-type"),
            submitted_by=principal.subject,
            headers=kept_headers(request.headers),
            path=request.url.path,
            remote_addr=request.client.host if request.client else None,
        ),
    )
    if problem is not None:
        await mark_rejected(pool, raw_id=raw_id, error={"error": "invalid_json", "reason": problem.reason})
        return error_response(
            400, "invalid_json", problem.reason, details={"raw_id": raw_id, "field": problem.field}
        )
    try:
        report = ReportIn.model_validate(decoded)
    except ValidationError as exc:
        fields = field_errors(list(exc.errors()))
        await mark_rejected(pool, raw_id=raw_id, error={"fields": [f.model_dump() for f in fields]})
        return error_response(
            422, "validation_error", "上报内容有误，请检查以下字段", fields=fields, details={"raw_id": raw_id}
        )
    refusal = check_channel(principal, report.channel)
    if refusal:
        await mark_rejected(pool, raw_id=raw_id, error={"error": "channel_forbidden"})
        return error_response(403, "channel_forbidden", refusal, details={"raw_id": raw_id})
    try:
        created = await open_case(pool, raw_id=raw_id, report=report, principal=principal)
    except ValueError as exc:  # a point that has no place in WGS-84 (e.g. a BD-09 pole)
        await mark_rejected(
            pool, raw_id=raw_id, error={"error": "invalid_location", "reason": str(exc)[:200]}
        )
        return error_response(
            422, "invalid_location", "坐标无效，无法换算为WGS-84", details={"raw_id": raw_id}
        )
    except (asyncpg.PostgresError, OSError) as exc:
        # Ours, not the sender's: kept as failed, `gridcase intake replay` takes it in once fixed.
        log.exception("report %s failed", raw_id)
        await record_outcome(pool, raw_id, Outcome.FAILED, error={"error": type(exc).__name__})
        return error_response(
            503, "intake_failed", "暂时无法受理，请求已保存，将在故障排除后处理", details={"raw_id": raw_id}
        )
    accepted = ReportAccepted(
        case_id=created.case_id, case_no=created.case_no, duplicate_of_request=not created.created
    )
    return JSONResponse(
        status_code=202,
        content=accepted.model_dump(mode="json"),
        headers={"Location": f"/api/v1/cases/{created.case_id}"},
    )


@router.get("/intake/raw", summary="原始上报请求（仅管理员；不含请求体）")
async def raw_requests(
    request: Request,
    _: Annotated[Principal, require(Permission.RAW_INBOUND_READ)],
    outcome: Annotated[str | None, Query(max_length=20)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    async with request.app.state.pool.acquire() as conn:
        return await list_raw(conn, outcome=outcome, channel=channel, since=since, limit=limit)


@router.get("/intake/raw/{raw_id}", summary="一条原始上报请求（含请求体，记入审计日志）")
async def raw_request(
    request: Request, raw_id: int, principal: Annotated[Principal, require(Permission.RAW_INBOUND_READ)]
) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        found = await read_raw(conn, raw_id)
        if found is None:
            raise NotFound(f"原始请求 {raw_id} 不存在（可能已过保存期限被删除）", error="raw_not_found")
        # Residents' personal data in clear: who read it is recorded.
        await audit(
            conn,
            actor=principal,
            action="raw_inbound.read",
            case_id=found["case_id"],
            target=str(raw_id),
            client_ip=request.client.host if request.client else None,
        )
    return found
