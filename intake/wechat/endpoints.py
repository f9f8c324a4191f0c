"""HTTP routes of the WeChat channel: the official account's callback (GET: URL verification, POST:
pushed messages in plaintext, compatibility or safe mode, answered in the same mode).

Every request is kept raw first (the query's signature, timestamp, nonce and openid with it: no
secret travels there), then checked and answered; its outcome is recorded whatever happens. Logs carry
raw ids and outcomes only, never an openid or what a resident wrote.
"""

from __future__ import annotations

import logging
import secrets
import time
import traceback
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from intake.service import Outcome, RawRequest, kept_headers, record_outcome, store_raw
from intake.wechat import replies
from intake.wechat.protocol import (
    MAX_XML_BYTES,
    BadMessage,
    BadXml,
    Cipher,
    ProtocolError,
    parse_message,
    parse_xml,
    signature_ok,
    text_reply_xml,
    timestamp_ok,
)
from intake.wechat.service import CHANNEL, Policy, Replayed, handle
from services.http.errors import error_response
from services.http.ratelimit import RateLimiter
from services.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/channels/wechat", tags=["wechat"])

# The query parameters WeChat sends; only these are kept with the raw request (none is a secret).
KEPT_PARAMS = ("signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature", "echostr")
RESIDENT_BURST = 5
LOGGED_TYPES = frozenset(
    {"text", "image", "voice", "location", "event", "video", "shortvideo", "link", "file"}
)
XML_TYPE = "application/xml; charset=utf-8"


@dataclass
class _Limits:
    """Per-process rate limits of this channel, made once per app from its settings."""

    resident: RateLimiter
    address: RateLimiter


def _limits(request: Request, settings: Settings) -> _Limits:
    limits: _Limits | None = getattr(request.app.state, "wechat_limits", None)
    if limits is None:
        limits = _Limits(
            resident=RateLimiter(settings.rate_resident_per_min / 60, RESIDENT_BURST),
            address=RateLimiter(settings.rate_address_per_s, max(1.0, settings.rate_address_per_s)),
        )
        request.app.state.wechat_limits = limits
    return limits


class _Refused(Exception):
    """Answered with an HTTP error; the raw request's outcome is ``outcome``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        outcome: str = Outcome.REJECTED,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.outcome = outcome
        self.headers = headers or {}

    @classmethod
    def of(cls, exc: ProtocolError) -> _Refused:
        return cls(exc.status, exc.error, exc.reason)


async def _keep_raw(request: Request, body: bytes) -> int:
    params = [(k, request.query_params[k][:200]) for k in KEPT_PARAMS if k in request.query_params]
    query = urlencode(params)
    return await store_raw(
        request.app.state.pool,
        RawRequest(
            body=body,
            channel=CHANNEL,
            content_type=request.headers.get("content-type"),
            headers=kept_headers(request.headers),
            path=request.url.path + ("?" + query if query else ""),
            remote_addr=request.client.host if request.client else None,
        ),
    )


def _check_address(request: Request, settings: Settings) -> None:
    address = request.client.host if request.client else "unknown"
    wait = _limits(request, settings).address.wait_s(address)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        raise _Refused(
            429, "rate_limited", f"请求过于频繁，请{seconds}秒后再试", headers={"Retry-After": str(seconds)}
        )


def _token(settings: Settings) -> str:
    if settings.wechat_token is None:
        # Never accept unsigned: without the token nothing can be checked.
        raise _Refused(
            503,
            "wechat_not_configured",
            "未配置微信公众号Token（GRIDCASE_WECHAT_TOKEN），暂不能接收消息",
            outcome=Outcome.FAILED,
        )
    return settings.wechat_token.get_secret_value()


def _check_signed(request: Request, settings: Settings) -> tuple[str, str, str]:
    """The URL's signature and timestamp: (token, timestamp, nonce) once they hold."""
    token = _token(settings)
    q = request.query_params
    signature, timestamp, nonce = q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
    if not (signature and timestamp and nonce):
        raise _Refused(403, "bad_signature", "缺少签名参数（signature、timestamp、nonce）")
    if len(nonce) > 64 or len(timestamp) > 20:
        raise _Refused(403, "bad_signature", "签名参数格式错误")
    if not signature_ok(token, signature, timestamp, nonce):
        raise _Refused(403, "bad_signature", "签名校验失败")
    if not timestamp_ok(timestamp, settings.signature_window_s):
        raise _Refused(403, "stale_timestamp", f"时间戳与服务器时间相差超过{settings.signature_window_s}秒")
    return token, timestamp, nonce


async def _record_refusal(request: Request, raw_id: int, refused: _Refused) -> Response:
    error = {"error": refused.error, "message": refused.message, "status": refused.status}
    await record_outcome(request.app.state.pool, raw_id, refused.outcome, error=error, channel=CHANNEL)
    log.info("wechat raw=%s outcome=%s error=%s", raw_id, refused.outcome, refused.error)
    response = error_response(refused.status, refused.error, refused.message, details={"raw_id": raw_id})
    response.headers.update(refused.headers)
    return response


@router.get("", summary="微信公众号服务器地址校验（echostr）", response_class=PlainTextResponse)
async def verify_url(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    raw_id = await _keep_raw(request, b"")
    try:
        _check_address(request, settings)
        _check_signed(request, settings)
        echostr = request.query_params.get("echostr", "")
        if not echostr:
            raise _Refused(400, "bad_request", "缺少echostr参数")
    except _Refused as refused:
        return await _record_refusal(request, raw_id, refused)
    await record_outcome(request.app.state.pool, raw_id, Outcome.REPLIED, channel=CHANNEL)
    log.info("wechat raw=%s outcome=replied url verification", raw_id)
    return PlainTextResponse(echostr)


@dataclass(frozen=True, slots=True)
class _Inbound:
    """The pushed message's XML fields, and the cipher when it came (and is answered) encrypted."""

    fields: dict[str, str]
    cipher: Cipher | None


def _open(
    request: Request, settings: Settings, body: bytes, token: str, timestamp: str, nonce: str
) -> _Inbound:
    """Plaintext: the body's fields. Safe mode (``encrypt_type=aes``, also compatibility mode's plaintext
    copy, which nothing signs): the decrypted ``Encrypt`` only."""
    outer = parse_xml(body)
    if request.query_params.get("encrypt_type", "raw").lower() != "aes":
        if "MsgType" not in outer:
            raise BadXml("明文消息缺少MsgType；加密消息须带encrypt_type=aes与msg_signature")
        return _Inbound(outer, None)
    if settings.wechat_aes_key is None or not settings.wechat_appid:
        raise _Refused(
            503,
            "wechat_not_configured",
            "未配置EncodingAESKey或AppID，不能接收加密消息",
            outcome=Outcome.FAILED,
        )
    msg_signature = request.query_params.get("msg_signature", "")
    if not msg_signature:
        raise _Refused(403, "bad_signature", "安全模式缺少msg_signature")
    encrypt = outer.get("Encrypt", "")
    if not encrypt:
        raise BadXml("安全模式消息缺少Encrypt")
    try:
        cipher = Cipher(token, settings.wechat_aes_key.get_secret_value(), settings.wechat_appid)
    except ValueError:
        raise _Refused(
            503, "wechat_not_configured", "EncodingAESKey配置有误（须为43位）", outcome=Outcome.FAILED
        ) from None
    inner = cipher.decrypt(encrypt, msg_signature=msg_signature, timestamp=timestamp, nonce=nonce)
    return _Inbound(parse_xml(inner), cipher)


def _reply(inbound: _Inbound, *, to_user: str, from_user: str, content: str) -> Response:
    if content == replies.NO_REPLY:
        return PlainTextResponse(replies.NO_REPLY)  # needs no encryption in any mode
    xml = text_reply_xml(to_user=to_user, from_user=from_user, content=content)
    if inbound.cipher is not None:
        xml = inbound.cipher.encrypt(xml, nonce=secrets.token_hex(8), timestamp=str(int(time.time())))
    return Response(content=xml, media_type=XML_TYPE)


@router.post("", summary="微信公众号消息推送（明文、兼容、安全模式）")
async def receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    body = await request.body()  # the request guard caps it while it is read
    raw_id = await _keep_raw(request, body)
    try:
        _check_address(request, settings)
        if len(body) > MAX_XML_BYTES:
            raise _Refused(413, "payload_too_large", f"请求内容超过{MAX_XML_BYTES // 1024}KB上限")
        token, timestamp, nonce = _check_signed(request, settings)
        try:
            inbound = _open(request, settings, body, token, timestamp, nonce)
            message = parse_message(inbound.fields)
        except ProtocolError as exc:
            raise _Refused.of(exc) from None
        openid = request.query_params.get("openid")
        if openid and openid != message.from_user:
            raise _Refused.of(BadMessage("openid与FromUserName不一致"))
        policy = Policy(
            window_s=settings.signature_window_s,
            session_minutes=settings.wechat_session_minutes,
            allow_resident=lambda resident: _limits(request, settings).resident.wait_s(resident) == 0,
        )
        try:
            handled = await handle(
                request.app.state.pool,
                raw_id=raw_id,
                message=message,
                nonce_key=f"{timestamp}:{nonce}",
                policy=policy,
            )
        except Replayed:
            raise _Refused(
                403, "replayed_nonce", "该请求的随机数（nonce）已用于另一条消息，疑似重放"
            ) from None
    except _Refused as refused:
        return await _record_refusal(request, raw_id, refused)
    except Exception as exc:
        # Ours, not the sender's: kept as failed (replayable); WeChat retries on a non-200.
        # The type and where, not the message: a database error's text may quote an openid.
        where = traceback.extract_tb(exc.__traceback__)[-3:]
        log.error(
            "wechat raw=%s failed: %s at %s",
            raw_id,
            type(exc).__name__,
            [f"{f.filename}:{f.lineno}" for f in where],
        )
        try:
            await record_outcome(
                request.app.state.pool,
                raw_id,
                Outcome.FAILED,
                error={"error": type(exc).__name__},
                channel=CHANNEL,
            )
        except Exception:
            log.warning("wechat raw=%s: outcome not recorded", raw_id)
        return error_response(503, "unavailable", "系统繁忙，请稍后重试", details={"raw_id": raw_id})
    log.info(
        "wechat raw=%s outcome=%s type=%s case=%s mode=%s",
        raw_id,
        handled.outcome,
        message.msg_type if message.msg_type in LOGGED_TYPES else "other",  # sender-chosen text otherwise
        handled.case_id,
        "aes" if inbound.cipher else "plain",
    )
    return _reply(inbound, to_user=message.from_user, from_user=message.to_user, content=handled.reply)
