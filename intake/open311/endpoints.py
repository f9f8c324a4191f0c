"""HTTP routes of Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) under /open311/v2/.

- ``GET services.{json|xml}``, ``GET services/{code}.{fmt}``: our categories; open to anyone.
- ``POST requests.{fmt}``: a resident's report, with the ``api_key`` of a Gridcase feed token of
  channel open311 (form encoded per the spec; JSON and multipart are read too). Kept raw first (the
  api_key replaced by ``***``), then checked; every outcome is recorded on the raw row.
- ``GET requests.{fmt}``, ``GET requests/{id}.{fmt}``: cases, without personal data; with an api_key
  unless ``GRIDCASE_OPEN311_PUBLIC`` is true.
- ``GET tokens/{token}.{fmt}``: we never answer with a token (type realtime), so always 404.
- ``GET discovery.{fmt}``: the service discovery document.

Every answer is Open311's: arrays at the top level, errors as ``[{"code", "description"}]`` in the
resource's format with the HTTP status; nothing under the prefix answers in another shape.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from intake.decoding import Undecodable, check_text
from intake.open311 import mapping
from intake.open311.formats import (
    FORMATS,
    MEDIA_TYPES,
    Open311Error,
    error_response,
    format_of,
    format_of_path,
    render,
)
from intake.open311.params import (
    MAX_FIELDS,
    first_values,
    form_fields,
    idempotency_key,
    is_json,
    json_fields,
    media_type,
    parse_request_query,
    parse_submission,
)
from intake.open311.redaction import redact_body
from intake.open311.service import (
    CHANNEL,
    find_requests,
    get_category,
    get_request,
    list_categories,
    open_request,
)
from intake.service import Outcome, RawRequest, kept_headers, record_outcome, store_raw
from schemas.identity import Principal, Role
from services.http.guards import BodyRejected
from services.http.ratelimit import limiter_for

log = logging.getLogger(__name__)

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-01-01T00:00:00+08:00"  # when this endpoint's behaviour last changed (service discovery)
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


class Open311Route(APIRoute):
    """Whatever goes wrong under the prefix is answered in Open311's shape and the resource's format
    (never FastAPI's validation body, never a bare 500)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            fmt = format_of_path(request.url.path)
            try:
                if request.method == "GET":  # a POST is kept raw first, then refused by its own checks
                    check_text(dict(request.query_params))  # NUL or a lone surrogate in a read's query
                return await handler(request)
            except Open311Error as exc:
                return error_response(exc, fmt)
            except (Undecodable, asyncpg.DataError) as exc:
                log.warning("open311: refused unstorable input: %s", type(exc).__name__)
                return error_response(
                    Open311Error(400, "请求含有无法处理的字符或超出范围的数值", reason="invalid_request"), fmt
                )
            except HTTPException as exc:  # a body over the size limit (BodyRejected) and the like
                reason = exc.error if isinstance(exc, BodyRejected) else "http_error"
                return error_response(Open311Error(exc.status_code, str(exc.detail), reason=reason), fmt)
            except RequestValidationError:
                return error_response(Open311Error(400, "请求参数有误", reason="invalid_request"), fmt)
            except UNAVAILABLE as exc:
                log.warning("open311: dependency unavailable: %s", type(exc).__name__)
                error = Open311Error(
                    503, "系统暂时不可用，请稍后重试", reason="unavailable", headers={"Retry-After": "5"}
                )
                return error_response(error, fmt)
            except Exception as exc:  # the spec's "general service error" (400): the client tells us
                log.exception("open311: unhandled error: %s", type(exc).__name__)
                error = Open311Error(
                    400,
                    "系统处理出错（请求原文已保存），请稍后重试或联系区网格化管理指挥中心",
                    reason="internal",
                )
                return error_response(error, fmt)

        return guarded


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


# --- who is asking --------------------------------------------------------------------------------


def _api_key(request: Request, fields: dict[str, str] | None = None) -> str | None:
    """The spec's ``api_key`` (the form, then the query string); a bearer header is accepted too."""
    key = (fields or {}).get("api_key") or request.query_params.get("api_key")
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token if scheme.lower() == "bearer" else None
    return key.strip() if key and key.strip() else None


async def _verify(request: Request, key: str | None) -> Principal | None:
    if key is None:
        return None
    principal: Principal | None = await request.app.state.verifier.verify(key)
    return principal


def _refusal(key: str | None, principal: Principal | None) -> Open311Error | None:
    """403 unless the key is a live feed token of channel open311."""
    if key is None:
        return Open311Error(
            403, "缺少 api_key：请使用区网格化管理指挥中心发放的 Open311 接入令牌", reason="api_key_missing"
        )
    if principal is None:
        return Open311Error(403, "api_key 无效、已过期或已吊销", reason="api_key_invalid")
    if principal.role is not Role.FEED or principal.channel != CHANNEL:
        return Open311Error(
            403, "此 api_key 不是 Open311 接入令牌，不能用于本接口", reason="api_key_not_open311"
        )
    return None


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or, when the peer is our own proxy (loopback or a private
    network: the console forwarding to a separate intake service), the one it forwarded."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        with contextlib.suppress(ValueError):
            ip = ipaddress.ip_address(peer)
            if ip.is_loopback or ip.is_private:
                return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


def _limit(request: Request, client: Principal | None) -> None:
    """Per client token (the feeds' rate), or per address for anyone else; 429 with Retry-After."""
    s = request.app.state.settings
    if client is not None:
        limiter = limiter_for(
            request.app.state, "open311", rate=s.rate_source_per_s, burst=s.rate_source_burst
        )
        key = client.subject
    else:
        rate = s.rate_address_per_s
        limiter = limiter_for(request.app.state, "open311_address", rate=rate, burst=max(rate, 1.0))
        key = client_address(request)
    wait = limiter.wait_s(key)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise Open311Error(
            429,
            f"请求过于频繁，请{seconds}秒后再试",
            reason="rate_limited",
            headers={"Retry-After": str(seconds)},
        )


async def _reader(request: Request, *, private: bool) -> None:
    """Reads: services are public (the spec asks no key); requests need a key unless Open311 is
    configured public. A key that is sent must be valid either way."""
    key = _api_key(request)
    principal = await _verify(request, key)
    needed = key is not None or (private and not request.app.state.settings.open311_public)
    refusal = _refusal(key, principal) if needed else None
    _limit(request, principal if needed and refusal is None else None)
    if refusal is not None:
        raise refusal


# --- services -------------------------------------------------------------------------------------


@router.get("/services.{suffix}", summary="Open311: service list")
async def services(request: Request, suffix: str) -> Response:
    fmt = format_of(suffix)
    await _reader(request, private=False)
    rows = await list_categories(request.app.state.pool)
    return render([mapping.service_of(r.code, r.name, r.kind) for r in rows], fmt, root="services")


@router.get("/services/{service_code}.{suffix}", summary="Open311: service definition")
async def service_definition(request: Request, service_code: str, suffix: str) -> Response:
    fmt = format_of(suffix)
    await _reader(request, private=False)
    category = await get_category(request.app.state.pool, service_code[:32])
    if category is None:
        raise Open311Error(404, _unknown_service(service_code), reason="service_code_not_found")
    return render(mapping.service_definition_of(category.code), fmt, root="service_definition")


def _unknown_service(code: str) -> str:
    return f"service_code“{code[:32]}”不存在：可用的服务类型见 services.json"


# --- requests -------------------------------------------------------------------------------------


async def _read_fields(
    request: Request, body: bytes, content_type: str | None
) -> tuple[dict[str, str], bool]:
    """The POST's fields and whether the body could be read at all."""
    media, params = media_type(content_type)
    try:
        if is_json(media):
            return json_fields(body), True
        if media == "multipart/form-data":
            form = await request.form(max_files=10, max_fields=MAX_FIELDS)
            try:
                fields = first_values(form.multi_items())
                check_text(fields)
                return fields, True
            finally:
                await form.close()
        return form_fields(body, params.get("charset") or "utf-8"), True
    except BodyRejected:
        raise
    except Exception:  # malformed JSON, multipart, percent-encoding or charset: the client's problem
        return {}, False


@router.post("/requests.{suffix}", summary="Open311: create a service request")
async def post_request(request: Request, suffix: str) -> Response:
    fmt = format_of(suffix)
    pool = request.app.state.pool
    body = await request.body()  # the size limit is enforced while reading (services/http/guards.py)
    content_type = request.headers.get("content-type")
    fields, readable = await _read_fields(request, body, content_type)
    key = _api_key(request, fields)
    principal = await _verify(request, key)
    refusal = _refusal(key, principal)
    # Refused for its rate before it is kept: the client keeps it and sends it again after Retry-After.
    _limit(request, principal if refusal is None else None)
    headers = kept_headers(request.headers)
    idempotency_header = request.headers.get("idempotency-key")
    if idempotency_header is not None:
        headers["idempotency-key"] = idempotency_header[:300]
    raw_id = await store_raw(
        pool,
        RawRequest(
            body=redact_body(body, content_type, [key]),
            channel=CHANNEL,
            content_type=content_type,
            submitted_by=principal.subject if principal else None,
            headers=headers,
            path=request.url.path,
            remote_addr=request.client.host if request.client else None,
        ),
    )
    try:
        if not readable:  # said first: the api_key may be in what couldn't be read
            raise Open311Error(
                400,
                "请求内容无法解析：请按 application/x-www-form-urlencoded（UTF-8）提交",
                reason="unreadable_body",
            )
        if refusal is not None:
            raise refusal
        submission = parse_submission(fields)
        idempotency = idempotency_key(idempotency_header)
        category = await get_category(pool, submission.service_code)
        if category is None:
            raise Open311Error(
                404, _unknown_service(submission.service_code), reason="service_code_not_found"
            )
    except Open311Error as exc:
        await record_outcome(pool, raw_id, Outcome.REJECTED, error=exc.record(), channel=CHANNEL)
        raise
    assert principal is not None  # no refusal: a verified open311 feed
    try:
        created = await open_request(
            pool, raw_id=raw_id, submission=submission, principal=principal, idempotency_key=idempotency
        )
    except Exception as exc:
        with contextlib.suppress(Exception):  # the database may be what failed
            await record_outcome(
                pool, raw_id, Outcome.FAILED, error={"error": type(exc).__name__}, channel=CHANNEL
            )
        raise
    log.info(
        "open311 request raw %s from %s: case %s%s",
        raw_id,
        principal.subject,
        created.case_no,
        "" if created.created else " (same Idempotency-Key again)",
    )
    return render([mapping.created_of(created.case_no, category.name)], fmt, root="service_requests")


@router.get("/requests.{suffix}", summary="Open311: service requests")
async def requests(request: Request, suffix: str) -> Response:
    fmt = format_of(suffix)
    await _reader(request, private=True)
    query = parse_request_query(request.query_params.multi_items(), datetime.now(UTC))
    rows = await find_requests(request.app.state.pool, query)
    return render([mapping.request_of(r) for r in rows], fmt, root="service_requests")


@router.get("/requests/{service_request_id}.{suffix}", summary="Open311: one service request")
async def one_request(request: Request, service_request_id: str, suffix: str) -> Response:
    fmt = format_of(suffix)
    await _reader(request, private=True)
    case = await get_request(request.app.state.pool, service_request_id[:64])
    if case is None:
        raise Open311Error(
            404, f"service_request_id“{service_request_id[:64]}”不存在", reason="request_not_found"
        )
    return render([mapping.request_of(case)], fmt, root="service_requests")


@router.get("/tokens/{token}.{suffix}", summary="Open311: service_request_id from a token")
async def token(request: Request, token: str, suffix: str) -> Response:
    format_of(suffix)
    await _reader(request, private=False)
    raise Open311Error(
        404,
        f"token“{token[:64]}”不存在：本系统提交后直接返回 service_request_id（type realtime），不发放 token",
        reason="token_not_found",
    )


@router.get("/discovery.{suffix}", summary="Open311: service discovery")
async def discovery(request: Request, suffix: str) -> Response:
    fmt = format_of(suffix)
    await _reader(request, private=False)
    base = str(request.base_url).rstrip("/") + router.prefix
    document = {
        "changeset": CHANGESET,
        "contact": "区网格化管理指挥中心",
        "key_service": "api_key 由区网格化管理指挥中心发放（Open311 接入令牌）",
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": [MEDIA_TYPES["xml"].split(";")[0], MEDIA_TYPES["json"].split(";")[0]],
            }
        ],
    }
    return render(document, fmt, root="discovery")


# --- anything else under the prefix ---------------------------------------------------------------

_RESOURCES: dict[re.Pattern[str], str] = {
    re.compile(r"^/services(?:/[^/]+)?\.[^/]+$"): "GET",
    re.compile(r"^/requests\.[^/]+$"): "GET, POST",
    re.compile(r"^/requests/[^/]+\.[^/]+$"): "GET",
    re.compile(r"^/tokens/[^/]+\.[^/]+$"): "GET",
    re.compile(r"^/discovery\.[^/]+$"): "GET",
}


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def elsewhere(request: Request, rest: str) -> Response:
    """A resource we don't have (404; the ``.json`` suffix is required, as the spec's URLs have it)
    or a method it doesn't take (405)."""
    path = "/" + rest
    allowed = next((methods for pattern, methods in _RESOURCES.items() if pattern.match(path)), None)
    if allowed is not None:
        raise Open311Error(
            405,
            f"该资源不支持 {request.method} 请求",
            reason="method_not_allowed",
            headers={"Allow": allowed},
        )
    formats = "、".join(f".{f}" for f in FORMATS)
    raise Open311Error(
        404,
        f"资源不存在：{path[:80]}（Open311 资源须带格式后缀 {formats}，如 /open311/v2/services.json）",
        reason="not_found",
    )
