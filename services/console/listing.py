"""What the case list is asked for: filters, search and the keyset cursor, parsed and checked.

Every parameter arrives as text and is checked here, so a bad value is a 422 naming the parameter
with a reason in Chinese (``Invalid(field, reason)``), the same shape as every other refusal.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from schemas.access import Permission, scope_of
from schemas.api import Channel
from schemas.identity import Principal
from schemas.states import CaseStatus
from services.http.errors import Invalid
from services.reference.catalog import Catalog

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
DEFAULT_DUE_WITHIN_H = 4.0
MAX_DUE_WITHIN_H = 720.0
MAX_Q = 100
CASE_NO_DIGITS = 14
# Days are the command centre's days. China has kept UTC+8 without daylight saving since 1991, so
# a fixed offset is exact and needs no time-zone database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: the last item's (updated_at, id), in ORDER BY updated_at DESC, id DESC."""

    updated_at: datetime
    case_id: uuid.UUID

    def encode(self) -> str:
        micros = (self.updated_at - _EPOCH) // timedelta(microseconds=1)
        raw = f"{micros}.{self.case_id.hex}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor a previous page gave; anything else is a 422 on ``cursor``."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            micros, _, hex_id = raw.partition(".")
            if not re.fullmatch(r"-?[0-9]{1,19}", micros) or not re.fullmatch(r"[0-9a-f]{32}", hex_id):
                raise ValueError(raw)
            return cls(_EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id))
        except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
            raise Invalid("cursor", "翻页游标无效，请从第一页重新查询") from None


@dataclass(frozen=True, slots=True)
class Search:
    """``q``: a case number (all digits: the whole number, or how it begins) or a piece of text."""

    text: str
    case_no_from: str | None = None  # case-number search: case_no BETWEEN these two
    case_no_to: str | None = None

    @property
    def by_case_no(self) -> bool:
        return self.case_no_from is not None


@dataclass(frozen=True, slots=True)
class CaseFilters:
    statuses: tuple[str, ...] = ()
    overdue: bool = False  # clock running, deadline passed
    due_within_h: float | None = None  # due soon: clock running, due within this many hours (both: either)
    category_code: str | None = None
    grid_codes: frozenset[str] | None = None  # a grid, or the grids under an area
    department_code: str | None = None
    channel: str | None = None
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive (the day after `to`, 00:00 Asia/Shanghai)
    search: Search | None = None
    bounced: bool = False  # flagged for bouncing between departments (踢皮球)


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,6}", value.strip()):
        raise Invalid("limit", "应为整数")
    limit = int(value)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"每页条数应在 1 到 {MAX_LIMIT} 之间")
    return limit


def parse_bool(field: str, value: str | None) -> bool:
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid(field, "应为 true 或 false")


def parse_date(field: str, value: str | None) -> date | None:
    if value is None or value.strip() == "":
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(field, "日期格式应为 YYYY-MM-DD，如 2026-11-25") from None


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...]:
    """``status`` repeated, or one comma-separated list, or both."""
    out: list[str] = []
    for value in values or ():
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                status = CaseStatus(part).value
            except ValueError:
                allowed = "、".join(s.value for s in CaseStatus)
                raise Invalid("status", f"未知的案件状态“{part}”，可选：{allowed}") from None
            if status not in out:
                out.append(status)
    return tuple(out)


def parse_search(principal: Principal, value: str | None) -> Search | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_Q:
        raise Invalid("q", f"搜索内容不能超过 {MAX_Q} 个字")
    if text.isascii() and text.isdigit():
        # Digits are a case number (whole or its beginning), never text: numbers inside descriptions
        # are phone and ID numbers, masked on screen, and must not be found by guessing them.
        if len(text) > CASE_NO_DIGITS:
            raise Invalid("q", f"案件编号为 {CASE_NO_DIGITS} 位数字")
        return Search(text, text, text + "9" * (CASE_NO_DIGITS - len(text)))
    if scope_of(principal.role, Permission.CASE_READ_DETAILS) is None:
        # Matching descriptions would tell someone who may not read them what they say.
        raise Invalid("q", "您的角色只能按案件编号搜索（14位数字，或编号的开头部分）")
    if len(text) < 2:
        raise Invalid("q", "搜索内容至少 2 个字")
    return Search(text)


def shanghai_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def parse_filters(
    catalog: Catalog,
    principal: Principal,
    *,
    status: Sequence[str] | None = None,
    overdue: str | None = None,
    due_soon: str | None = None,
    due_within_h: str | None = None,
    category_code: str | None = None,
    grid_code: str | None = None,
    department_code: str | None = None,
    channel: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    q: str | None = None,
    bounced: str | None = None,
) -> CaseFilters:
    """The list's query parameters as filters; a value that names nothing is a 422, not an empty page."""
    is_overdue = parse_bool("overdue", overdue)
    within: float | None = None
    if due_within_h is not None and due_within_h.strip() != "":
        try:
            within = float(due_within_h)
        except ValueError:
            raise Invalid("due_within_h", "应为小时数，如 4 或 0.5") from None
        if not 0 < within <= MAX_DUE_WITHIN_H:
            raise Invalid("due_within_h", f"应大于 0 且不超过 {MAX_DUE_WITHIN_H:g} 小时")
    if parse_bool("due_soon", due_soon) or within is not None:
        within = within or DEFAULT_DUE_WITHIN_H
    category = (category_code or "").strip() or None
    if category is not None and category not in catalog.categories:
        raise Invalid("category_code", f"未知的案件类别“{category}”")
    grids: frozenset[str] | None = None
    area = (grid_code or "").strip() or None
    if area is not None:
        if area not in catalog.areas:
            raise Invalid("grid_code", f"未知的网格或区域编码“{area}”")
        grids = catalog.grids_under([area])
    department = (department_code or "").strip() or None
    if department is not None and department not in catalog.departments:
        raise Invalid("department_code", f"未知的部门编码“{department}”")
    source = (channel or "").strip() or None
    if source is not None:
        try:
            source = Channel(source).value
        except ValueError:
            allowed = "、".join(c.value for c in Channel)
            raise Invalid("channel", f"未知的来源渠道“{source}”，可选：{allowed}") from None
    first, last = parse_date("from", date_from), parse_date("to", date_to)
    if first is not None and last is not None and last < first:
        raise Invalid("to", "结束日期不能早于开始日期")
    return CaseFilters(
        statuses=parse_statuses(status),
        overdue=is_overdue,
        due_within_h=within,
        category_code=category,
        grid_codes=grids,
        department_code=department,
        channel=source,
        created_from=shanghai_midnight(first) if first else None,
        created_before=shanghai_midnight(last + timedelta(days=1)) if last else None,
        search=parse_search(principal, q),
        bounced=parse_bool("bounced", bounced),
    )
