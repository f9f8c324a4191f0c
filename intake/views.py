"""Intake HTTP API: POST /api/v1/reports."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from intake.service import (
    RawRequest,
    check_channel,
    kept_headers,
    mark_rejected,
    open_case,
    store_raw,
)
from schemas.access import Permission
from schemas.api import ReportAccepted, ReportIn
from schemas.identity import Principal
from services.http.errors import error_response, field_errors
from services.identity.dependencies import require

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
    body = await request.body()  # the size limit is enforced while reading (services/http/guards.py)
    channel_hint = None
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict) and isinstance(decoded.get("channel"), str):
            channel_hint = decoded["channel"][:20]
    except (ValueError, UnicodeDecodeError):
        decoded = None
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
    if decoded is None:
        await mark_rejected(pool, raw_id=raw_id, error={"error": "invalid_json"})
        return error_response(400, "invalid_json", "请求体不是合法的JSON", details={"raw_id": raw_id})
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
    created = await open_case(pool, raw_id=raw_id, report=report, principal=principal)
    accepted = ReportAccepted(
        case_id=created.case_id, case_no=created.case_no, duplicate_of_request=not created.created
    )
    return JSONResponse(
        status_code=202,
        content=accepted.model_dump(mode="json"),
        headers={"Location": f"/api/v1/cases/{created.case_id}"},
    )
