"""One error shape for every HTTP API: a clear 4xx with the field and the reason, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.api import ErrorBody, FieldError
from schemas.states import IllegalTransition
from schemas.workflow import MissingValue, WorkflowRefused
from services.ledger.service import CaseNotFound

log = logging.getLogger(__name__)

_REASONS_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_too_short": "内容太短",
    "string_too_long": "内容太长",
    "string_pattern_mismatch": "格式不正确",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "float_parsing": "应为数字",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_parsing": "应为布尔值",
    "uuid_parsing": "应为UUID",
    "float_type": "应为数字",
    "string_type": "应为字符串",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "不是合法的JSON",
    "value_error": "取值无效",
    "bool_type": "应为布尔值",
    "datetime_type": "应为日期时间",
    "datetime_parsing": "日期时间格式不正确（应为 ISO 8601，如 2026-11-25T09:30:00+08:00）",
    "datetime_from_date_parsing": "日期时间格式不正确（应为 ISO 8601，如 2026-11-25T09:30:00+08:00）",
    "timezone_aware": "日期时间须带时区（如 +08:00）",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "too_long": "数量太多",
}


def field_errors(errors: list[Any], *, skip_prefix: tuple[str, ...] = ("body",)) -> list[FieldError]:
    """Pydantic's errors as fields and Chinese reasons (people read them; the English stays out)."""
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        while loc and loc[0] in skip_prefix:
            loc = loc[1:]
        out.append(FieldError(field=".".join(loc) or "body", reason=_reason(e)))
    return out


def _reason(e: dict[str, Any]) -> str:
    kind = e.get("type", "")
    if kind == "value_error":  # our validators raise Chinese messages
        return str(e.get("msg", "")).removeprefix("Value error, ") or "取值无效"
    reason = _REASONS_ZH.get(kind, "取值无效")
    ctx = e.get("ctx") or {}
    if "min_length" in ctx:
        reason += (
            f"（至少{ctx['min_length']}个字）"
            if kind.startswith("string")
            else f"（至少{ctx['min_length']}项）"
        )
    elif "max_length" in ctx:
        reason += (
            f"（最多{ctx['max_length']}个字）"
            if kind.startswith("string")
            else f"（最多{ctx['max_length']}项）"
        )
    elif "ge" in ctx:
        reason += f"（不小于{ctx['ge']}）"
    elif "le" in ctx:
        reason += f"（不大于{ctx['le']}）"
    elif "expected" in ctx:
        reason += f"（可选：{ctx['expected']}）"
    return reason


def error_response(
    http_status: int,
    error: str,
    message: str,
    *,
    fields: list[FieldError] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=error, message=message, fields=fields or [], details=details or {})
    return JSONResponse(status_code=http_status, content=body.model_dump(mode="json"))


class ApiError(Exception):
    """A typed refusal: raised anywhere below a route, answered by the one handler below."""

    status: int = 400
    error: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        fields: list[FieldError] | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error = error or self.error
        self.fields = fields or []
        self.details = details or {}
        self.headers = headers or {}


class Unauthenticated(ApiError):
    status, error = 401, "unauthenticated"


class Forbidden(ApiError):
    status, error = 403, "forbidden"


class NotFound(ApiError):
    status, error = 404, "not_found"


class Conflict(ApiError):
    status, error = 409, "conflict"


class ServiceUnavailable(ApiError):
    status, error = 503, "unavailable"


class Invalid(ApiError):
    """422 for one field: ``Invalid(field, reason)``."""

    status, error = 422, "validation_error"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason, fields=[FieldError(field=field, reason=reason)])


class FieldsInvalid(ApiError):
    """422 naming every field that is wrong (a form or body checked as a whole)."""

    status, error = 422, "validation_error"

    def __init__(self, fields: list[FieldError], message: str = "提交内容有误，请检查以下字段") -> None:
        super().__init__(message, fields=fields)


def validation_response(exc: ValidationError | RequestValidationError) -> JSONResponse:
    return error_response(
        422, "validation_error", "请求内容有误，请检查以下字段", fields=field_errors(list(exc.errors()))
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = error_response(exc.status, exc.error, exc.message, fields=exc.fields, details=exc.details)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(IllegalTransition)
    async def _illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
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

    @app.exception_handler(WorkflowRefused)
    async def _workflow(_: Request, exc: WorkflowRefused) -> JSONResponse:
        return error_response(409, "workflow_refused", exc.message)

    @app.exception_handler(MissingValue)
    async def _missing(_: Request, exc: MissingValue) -> JSONResponse:
        return error_response(
            422, "validation_error", exc.reason, fields=[FieldError(field=exc.field, reason=exc.reason)]
        )

    @app.exception_handler(CaseNotFound)
    async def _case_not_found(_: Request, exc: CaseNotFound) -> JSONResponse:
        return error_response(404, "case_not_found", "案件不存在或无权查看")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "资源不存在", 405: "不支持该请求方法", 413: "请求内容过大"}
        codes = {413: "payload_too_large", 415: "unsupported_media_type"}
        detail = exc.detail if isinstance(exc.detail, str) else None
        return error_response(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            detail or messages.get(exc.status_code, "请求有误"),
        )

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        # The database is unreachable: nothing was stored, so the sender must retry (WeChat and CTI do).
        log.warning("dependency unavailable: %s", type(exc).__name__)
        response = error_response(503, "unavailable", "系统暂时不可用，请稍后重试")
        response.headers["Retry-After"] = "5"
        return response

    async def _unstorable(_: Request, exc: Exception) -> JSONResponse:
        # Text PostgreSQL can't hold (NUL, a lone surrogate) or a value out of its range: the sender's.
        log.warning("refused unstorable input: %s", type(exc).__name__)
        return error_response(422, "unstorable_value", "提交的内容含有无法保存的字符或超出范围的数值")

    async def _too_deep(_: Request, exc: Exception) -> JSONResponse:
        return error_response(400, "too_deep", "请求内容嵌套层级过深")

    app.add_exception_handler(asyncpg.DataError, _unstorable)
    app.add_exception_handler(RecursionError, _too_deep)

    for unavailable in (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
    ):
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", type(exc).__name__)
        return error_response(500, "internal_error", "系统内部错误，请稍后重试；请求原文已保存")
