"""HTTP routes of the 12345 hotline channel: the CTI system pushes signed JSON work orders to
``POST /channels/hotline`` (the contract: CONTRACT.md next to this file)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from intake.decoding import Undecodable, decode_json
from intake.hotline.orders import FEED_PREFIX, check_category, take_order
from intake.hotline.protocol import (
    CHANNEL,
    FEED_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WorkOrder,
    feed_secrets,
    parse_order,
    verify,
)
from intake.service import Outcome, RawRequest, kept_headers, record_outcome, store_raw
from schemas.api import ErrorBody, ReportAccepted
from services.http.errors import ApiError
from services.http.ratelimit import RateLimiter

log = logging.getLogger(__name__)

router = APIRouter(prefix="/channels/hotline", tags=["hotline"])


class UnsupportedMediaType(ApiError):
    status, error = 415, "unsupported_media_type"


def _header(name: str, description: str, required: bool = True) -> dict[str, object]:
    return {"name": name, "in": "header", "required": required, "description": description}


@router.post(
    "",
    status_code=202,
    response_model=ReportAccepted,
    responses={
        400: {"model": ErrorBody, "description": "请求体不是合法的JSON"},
        401: {"model": ErrorBody, "description": "来源、时间戳或签名不对（error 说明是哪一项）"},
        415: {"model": ErrorBody, "description": "Content-Type 须为 application/json"},
        422: {"model": ErrorBody, "description": "字段有误（fields 逐项说明）"},
        429: {"model": ErrorBody, "description": "推送过于频繁（见 Retry-After）"},
        503: {"model": ErrorBody, "description": "未配置接入密钥"},
    },
    openapi_extra={
        "parameters": [
            _header(TIMESTAMP_HEADER, "Unix时间戳（秒）"),
            _header(SIGNATURE_HEADER, 'sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>'),
            _header(FEED_HEADER, "来源名称（多个CTI系统时），缺省为 default", required=False),
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": WorkOrder.model_json_schema()}},
        },
    },
    summary="12345热线工单推送（HMAC-SHA256签名） Signed 12345 work orders",
)
async def receive_order(request: Request) -> JSONResponse:
    pool = request.app.state.pool
    body = await request.body()  # the size limit is enforced while reading (services/http/guards.py)
    # Kept before anything is checked: a refused or garbled order can still be looked at and replayed.
    raw_id = await store_raw(
        pool,
        RawRequest(
            body=body,
            channel=CHANNEL,
            content_type=request.headers.get("content-type"),
            headers=kept_headers(request.headers),
            path=request.url.path,
            remote_addr=request.client.host if request.client else None,
        ),
    )
    try:
        return await _take(request, raw_id, body)
    except ApiError as exc:
        exc.details = {**exc.details, "raw_id": raw_id}
        # 503 (not configured) is ours to fix; every other refusal is the sender's.
        outcome = Outcome.FAILED if exc.status >= 500 else Outcome.REJECTED
        error: dict[str, object] = {"error": exc.error, "message": exc.message}
        if exc.fields:
            error["fields"] = [f.model_dump() for f in exc.fields]
        await record_outcome(pool, raw_id, outcome, error=error, channel=CHANNEL)
        log.info("hotline request %s refused: %s", raw_id, exc.error)
        raise


async def _take(request: Request, raw_id: int, body: bytes) -> JSONResponse:
    settings, pool = request.app.state.settings, request.app.state.pool
    secret = settings.hotline_secret.get_secret_value() if settings.hotline_secret else None
    secrets = settings.hotline_secrets.get_secret_value() if settings.hotline_secrets else None
    feed = verify(
        body,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature_header=request.headers.get(SIGNATURE_HEADER),
        feed=request.headers.get(FEED_HEADER),
        secrets=feed_secrets(secret, secrets),
        window_s=settings.signature_window_s,
    )
    # Named as the sender once verified: `gridcase intake replay` takes in only what was.
    await pool.execute(
        "UPDATE raw_inbound SET submitted_by = $2 WHERE id = $1", raw_id, f"{FEED_PREFIX}{feed}"
    )
    _limiter(request).check(feed, what="热线工单推送")

    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        raise UnsupportedMediaType(
            f"工单须以 application/json 推送，收到“{media[:60] or '未声明'}”",
            details={"content_type": media[:60]},
        )
    try:
        decoded = decode_json(body)
    except Undecodable as exc:
        raise ApiError(exc.reason, error="invalid_json", details={"field": exc.field}) from None
    order = parse_order(decoded)
    await check_category(pool, order, getattr(request.app.state, "catalogs", None))
    created = await take_order(pool, raw_id=raw_id, order=order, feed=feed)
    # The call id and case number only: the caller's number never reaches a log line.
    log.info(
        "hotline order %s from feed %s: case %s%s",
        order.call_id[:128],
        feed,
        created.case_no,
        "" if created.created else " (again)",
    )
    accepted = ReportAccepted(
        case_id=created.case_id, case_no=created.case_no, duplicate_of_request=not created.created
    )
    return JSONResponse(
        status_code=202,
        content=accepted.model_dump(mode="json"),
        headers={"Location": f"/api/v1/cases/{created.case_id}"},
    )


def _limiter(request: Request) -> RateLimiter:
    """One bucket per feed, per app (the intake service and the console each keep theirs)."""
    limiter: RateLimiter | None = getattr(request.app.state, "hotline_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = RateLimiter(rate=settings.rate_source_per_s, burst=settings.rate_source_burst)
        request.app.state.hotline_limiter = limiter
    return limiter
