"""The 12345 hotline contract (CONTRACT.md): feeds and their secrets, the HMAC signature over
``timestamp + "." + body``, and the work order a CTI system sends, as the case it becomes.

Pure code: no HTTP, no database. The route (endpoints.py) and the file import (importer.py, commands.py)
both go through :class:`WorkOrder` and :func:`new_case`, so a row of a file and a pushed order are
checked and stored the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.api import FieldError, Location, Urgency
from schemas.identity import Actor
from services.geo.coords import to_wgs84
from services.http.errors import ApiError, Invalid, Unauthenticated, field_errors
from services.ledger.service import NewCase

CHANNEL = "hotline"
DEFAULT_FEED = "default"  # the feed of GRIDCASE_HOTLINE_SECRET, and of requests naming none
LABEL = "12345热线"

TIMESTAMP_HEADER = "X-Gridcase-Timestamp"
SIGNATURE_HEADER = "X-Gridcase-Signature"
FEED_HEADER = "X-Gridcase-Feed"

FEED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
PHONE = r"^\+?[0-9][0-9\- ]{4,19}$"  # the same rule as a JSON report's reporter.phone


class HotlineNotConfigured(ApiError):
    """No secret is configured (or the configuration is malformed): nobody can be verified."""

    status, error = 503, "hotline_not_configured"


class OrderInvalid(ApiError):
    """422 naming every field that is wrong."""

    status, error = 422, "validation_error"


# ---------------------------------------------------------------------------------------------------
# Feeds and signatures


def feed_secrets(hotline_secret: str | None, hotline_secrets: str | None) -> dict[str, tuple[str, ...]]:
    """Feed name → its secrets. ``hotline_secrets`` is ``name=secret,name=secret``; a name given twice
    has two secrets, both accepted (rotating a feed's secret without a gap). Raises
    :class:`HotlineNotConfigured` for a malformed entry (named by position: the text holds secrets)."""
    feeds: dict[str, list[str]] = {}
    if hotline_secret and hotline_secret.strip():
        feeds.setdefault(DEFAULT_FEED, []).append(hotline_secret.strip())
    for n, entry in enumerate((hotline_secrets or "").split(","), start=1):
        if not entry.strip():
            continue
        name, sep, secret = entry.partition("=")
        name, secret = name.strip(), secret.strip()
        if not sep or not secret or not FEED_NAME.match(name):
            raise HotlineNotConfigured(
                f"热线接入配置有误：GRIDCASE_HOTLINE_SECRETS 第{n}项应为“名称=密钥”",
                details={"setting": "GRIDCASE_HOTLINE_SECRETS", "entry": n},
            )
        feeds.setdefault(name, []).append(secret)
    return {name: tuple(secrets) for name, secrets in feeds.items()}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a sender puts in X-Gridcase-Signature."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _refused(error: str, message: str, **details: Any) -> Unauthenticated:
    return Unauthenticated(message, error=error, details=details)


def verify(
    body: bytes,
    *,
    timestamp: str | None,
    signature_header: str | None,
    feed: str | None,
    secrets: Mapping[str, Sequence[str]],
    window_s: int,
    now: float | None = None,
) -> str:
    """Check a request's feed, timestamp and signature; return the verified feed's name.

    Raises :class:`HotlineNotConfigured` (503) when no secret is configured at all, and
    ``Unauthenticated`` (401) with a machine code and a Chinese message naming the problem otherwise.
    """
    if not secrets:
        raise HotlineNotConfigured("未配置12345热线接入密钥，暂不能接收工单")
    name = (feed or "").strip() or DEFAULT_FEED
    if name not in secrets:
        if feed is None or not feed.strip():
            raise _refused(
                "unknown_feed",
                f"未指定来源（请求头 {FEED_HEADER}），且未配置默认来源的密钥",
                header=FEED_HEADER,
            )
        raise _refused(
            "unknown_feed", f"未知的热线来源“{name[:64]}”（请求头 {FEED_HEADER}）", header=FEED_HEADER
        )

    if timestamp is None or not timestamp.strip():
        raise _refused(
            "timestamp_missing",
            f"缺少请求头 {TIMESTAMP_HEADER}（Unix时间戳，单位秒）",
            header=TIMESTAMP_HEADER,
        )
    ts_text = timestamp.strip()
    if not _TIMESTAMP.match(ts_text):
        # A 13-digit number is a Java/JavaScript millisecond clock: the usual mistake, so say so.
        hint = "（这像是毫秒，请除以1000）" if ts_text.isdigit() and len(ts_text) == 13 else ""
        raise _refused(
            "timestamp_invalid",
            f"请求头 {TIMESTAMP_HEADER} 应为整数秒的Unix时间戳，收到“{ts_text[:40]}”{hint}",
            header=TIMESTAMP_HEADER,
        )
    current = time.time() if now is None else now
    skew = int(ts_text) - int(current)  # > 0: the sender's clock is ahead
    if abs(skew) > window_s:
        side = f"晚于服务器时间{skew}秒" if skew > 0 else f"早于服务器时间{-skew}秒"
        raise _refused(
            "timestamp_out_of_window",
            f"请求时间戳{side}，超出允许误差（±{window_s}秒）{abs(skew) - window_s}秒；"
            "请校准发送方时钟，并用当前时间重新签名",
            header=TIMESTAMP_HEADER,
            skew_s=skew,
            window_s=window_s,
            server_time=int(current),
        )

    if signature_header is None or not signature_header.strip():
        raise _refused("signature_missing", f"缺少请求头 {SIGNATURE_HEADER}", header=SIGNATURE_HEADER)
    match = _SIGNATURE.match(signature_header.strip())
    if match is None:
        raise _refused(
            "signature_malformed",
            f"请求头 {SIGNATURE_HEADER} 格式应为“sha256=<64位十六进制HMAC-SHA256>”",
            header=SIGNATURE_HEADER,
        )
    given = match.group(1).lower()
    # Every secret of the feed is compared, in constant time: no early exit tells which one was close.
    matched = False
    for secret in secrets[name]:
        expected = signature(secret, ts_text, body).removeprefix("sha256=")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise _refused(
            "signature_mismatch",
            f"签名不匹配：应以来源“{name}”的密钥对“时间戳.请求体原文”计算HMAC-SHA256",
            header=SIGNATURE_HEADER,
            feed=name,
        )
    return name


# ---------------------------------------------------------------------------------------------------
# The work order


class WorkOrder(BaseModel):
    """A 12345 work order (工单), pushed as JSON or read from a row of a file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    call_id: str = Field(min_length=1, max_length=128, description="工单编号：幂等键，同一工单只立一案")
    caller_number: str | None = Field(default=None, pattern=PHONE, description="来电号码（个人信息）")
    called_at: AwareDatetime = Field(description="来电时间，带时区")
    summary: str = Field(min_length=2, max_length=4000, description="诉求内容：话务员摘要或通话转写")
    address: str | None = Field(default=None, max_length=300, description="地址")
    category_code: str | None = Field(default=None, pattern=r"^[0-9]{4}$", description="类别编码（4位）")
    urgency: Urgency | None = Field(default=None, description="紧急程度")
    callback_wanted: bool = Field(default=False, description="需要回访")
    location: Location | None = None

    @field_validator("caller_number", "address", "category_code", "urgency", mode="before")
    @classmethod
    def _blank_is_absent(cls, v: object) -> object:
        # CTI exports send "" for what they don't have.
        return None if isinstance(v, str) and not v.strip() else v


# Reasons in Chinese an operator can act on; what is not here falls back to the shared table
# (services/http/errors.py), which keeps pydantic's English after its Chinese.
_DATETIME = "应为ISO 8601时间，如 2026-11-25T09:30:00+08:00"
_TYPES = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "timezone_aware": "须带时区，如 2026-11-25T09:30:00+08:00",
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_type": _DATETIME,
    "bool_type": "应为布尔值（true/false）",
    "bool_parsing": "应为布尔值（true/false）",
    "string_type": "应为字符串",
    "enum": "应为 normal、urgent 或 emergency",
    "model_type": "应为对象",
    "dict_type": "应为对象",
}
_PATTERNS = {
    "caller_number": "应为电话号码（数字，可含+、-和空格）",
    "category_code": "应为4位数字，如 0101",
}


def _reason_zh(error: Mapping[str, Any]) -> str | None:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    field = str((error.get("loc") or ("",))[0])
    if kind == "string_too_short":
        return "不能为空" if ctx.get("min_length") == 1 else f"至少{ctx.get('min_length')}个字"
    if kind == "string_too_long":
        return f"最多{ctx.get('max_length')}个字"
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(field)
    return _TYPES.get(kind)


def order_errors(exc: ValidationError) -> list[FieldError]:
    """One field error per problem, with a Chinese reason."""
    out = []
    for error, shaped in zip(exc.errors(), field_errors(list(exc.errors())), strict=True):
        mine = _reason_zh(error)
        out.append(FieldError(field=shaped.field, reason=mine) if mine else shaped)
    return out


def parse_order(decoded: object) -> WorkOrder:
    """The JSON object as a work order, or :class:`OrderInvalid` naming each field."""
    try:
        return WorkOrder.model_validate(decoded)
    except ValidationError as exc:
        raise OrderInvalid("工单内容有误，请检查以下字段", fields=order_errors(exc)) from None


def unknown_category(code: str) -> str:
    return f"类别编码“{code}”不在事项目录中"


def feed_actor(feed: str) -> Actor:
    return Actor(f"feed:{CHANNEL}:{feed}", LABEL, LABEL)


def new_case(order: WorkOrder, *, feed: str, submitted_by: str) -> NewCase:
    """The work order as a case: the point in WGS-84, the caller's number as the reporter's phone, and
    what the timeline shows but holds no personal data in ``intake_details``."""
    lat = lon = None
    if order.location is not None:
        try:
            lon, lat = to_wgs84(order.location.lon, order.location.lat, order.location.crs)
        except ValueError as exc:
            raise Invalid("location", f"坐标无效：{exc}") from None
    return NewCase(
        channel=CHANNEL,
        description=order.summary,
        external_id=order.call_id,
        category_code=order.category_code,
        urgency=order.urgency.value if order.urgency else "normal",
        lat=lat,
        lon=lon,
        address=order.address,
        reporter_phone=order.caller_number,
        submitted_by=submitted_by,
        intake_details={
            "called_at": order.called_at.isoformat(),
            "callback_wanted": order.callback_wanted,
            "feed": feed,
        },
    )
