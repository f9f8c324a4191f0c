"""What an Open311 client sends, read and checked (pure: no I/O): the fields of POST requests (form
encoded per the spec, or JSON), and the filters of GET requests.

"Optional" means what the spec says: an empty parameter is the same as one not sent. Every problem
found is named (Open311 errors are a list), in Chinese with the parameter's own name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from intake.decoding import Undecodable, check_text, decode_json
from intake.open311.formats import Open311Error
from intake.open311.mapping import CST
from services.geo.coords import SUPPORTED_CRS, to_wgs84

DESCRIPTION_MIN, DESCRIPTION_MAX = 2, 4000  # 4000: the spec's limit
ADDRESS_MAX = 300
NAME_MAX = 50
SHORT_MAX = 100  # address_id, device_id, account_id
URL_MAX = 2000
IDEMPOTENCY_KEY_MAX = 80
MAX_FIELDS = 200
MAX_IDS = 1000
MAX_CODES = 100
RESULTS_MAX = 1000  # the spec's default volume: 90 days or 1000 requests, whichever is smaller
SPAN_MAX = timedelta(days=90)
_PHONE_CHARS = re.compile(r"[\s()\-.]")
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``multipart/form-data; boundary=x`` → (``multipart/form-data``, {"boundary": "x"})."""
    main, *rest = (content_type or "").split(";")
    params: dict[str, str] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), params


def is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def form_fields(body: bytes, charset: str = "utf-8") -> dict[str, str]:
    """A form-encoded body (the spec's format) as fields; the first value of a repeated name wins.
    ``ValueError`` (UnicodeDecodeError included) when it isn't one."""
    text = body.decode(charset)
    pairs = parse_qsl(
        text, keep_blank_values=True, encoding=charset, errors="strict", max_num_fields=MAX_FIELDS
    )
    fields = first_values(pairs)
    check_text(fields)  # NUL or a lone surrogate: ValueError (Undecodable), the caller's 400
    return fields


def json_fields(body: bytes) -> dict[str, str]:
    """A JSON object's scalar members as fields (numbers as written: ``"lat": 31.2`` → ``"31.2"``).
    ``ValueError`` when the body isn't a JSON object."""
    try:
        decoded = decode_json(body)
    except Undecodable as exc:
        raise ValueError(exc.reason) from None
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    fields: dict[str, str] = {}
    for key, value in list(decoded.items())[:MAX_FIELDS]:
        if isinstance(value, bool):
            fields[str(key)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            fields[str(key)] = str(value)
    return fields


def first_values(pairs: Iterable[tuple[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in pairs:
        if isinstance(value, str) and key not in fields:
            fields[key] = value
    return fields


def _opt(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Submission:
    """A service request as we take it in: the point in WGS-84 whatever datum it came in."""

    service_code: str
    description: str
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    address_id: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    media_url: str | None = None
    crs: str | None = None  # non-standard: the datum the point came in, when not WGS-84


def _coordinate(raw: str | None, name: str, limit: float, problems: list[str]) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -limit <= value <= limit:
        problems.append(f"{name} 须为 -{limit:g} 到 {limit:g} 之间的十进制度数（收到“{raw[:30]}”）")
        return None
    return value


def reporter_name(first: str | None, last: str | None) -> str | None:
    """张 + 三 → 张三 (Chinese: family name first, no space); John + Smith → John Smith."""
    if not first and not last:
        return None
    if first and last:
        name = f"{last}{first}" if _CJK.search(first + last) else f"{first} {last}"
    else:
        name = first or last or ""
    return name[:NAME_MAX]


def normal_phone(raw: str) -> str | None:
    """+86 138-0013-8000 / (555) 123-4567 → digits (a leading + kept); None when it isn't a number."""
    phone = _PHONE_CHARS.sub("", raw)
    return phone if _PHONE.match(phone) else None


def parse_submission(fields: Mapping[str, str]) -> Submission:
    """Check a POST's fields; :class:`Open311Error` 400 naming every problem found."""
    problems: list[str] = []
    service_code = _opt(fields, "service_code")
    if service_code is None:
        problems.append("缺少必填参数 service_code（服务类型编码，见 services.json）")
    elif len(service_code) > 32:
        problems.append("service_code 过长")
    description = _opt(fields, "description")
    if description is None:
        problems.append("缺少必填参数 description（问题描述）")
    elif len(description) < DESCRIPTION_MIN:
        problems.append(f"description 太短：至少{DESCRIPTION_MIN}个字")
    elif len(description) > DESCRIPTION_MAX:
        problems.append(f"description 过长：最多{DESCRIPTION_MAX}个字")

    lat_raw, lon_raw = _opt(fields, "lat"), _opt(fields, "long")
    lat = _coordinate(lat_raw, "lat", 90, problems)
    lon = _coordinate(lon_raw, "long", 180, problems)
    if (lat_raw is None) != (lon_raw is None):
        problems.append("lat 和 long 须同时提供")
    crs = _opt(fields, "crs")
    if crs is not None and crs.lower() not in SUPPORTED_CRS:
        problems.append(f"crs 只能是 {'、'.join(SUPPORTED_CRS)}（默认 wgs84）")
        crs = None
    if lat is not None and lon is not None:
        try:
            lon, lat = to_wgs84(lon, lat, crs or "wgs84")
        except ValueError:
            problems.append("坐标无效：lat/long 超出范围")
            lat = lon = None
    address = _opt(fields, "address_string")
    address_id = _opt(fields, "address_id")
    if lat_raw is None and lon_raw is None and address is None and address_id is None:
        problems.append("须提供位置：lat 和 long、address_string 或 address_id 三者之一")

    phone_raw = _opt(fields, "phone")
    phone = normal_phone(phone_raw) if phone_raw else None
    if phone_raw and phone is None:
        problems.append("phone 格式不正确：应为5到20位数字的电话号码")
    media_url = _opt(fields, "media_url")
    if media_url is not None:
        parts = urlsplit(media_url) if len(media_url) <= URL_MAX else None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            problems.append(f"media_url 须为 http 或 https 地址（不超过{URL_MAX}个字符）")
            media_url = None
    short = {name: _opt(fields, name) for name in ("address_id", "device_id", "account_id")}
    for name, value in short.items():
        if value is not None and len(value) > SHORT_MAX:
            problems.append(f"{name} 过长：最多{SHORT_MAX}个字符")
    if problems:
        raise Open311Error(400, problems, reason="invalid_request")
    assert service_code is not None and description is not None  # problems named them otherwise
    return Submission(
        service_code=service_code,
        description=description,
        lat=lat,
        lon=lon,
        address=address[:ADDRESS_MAX] if address else None,
        address_id=address_id,
        reporter_name=reporter_name(_opt(fields, "first_name"), _opt(fields, "last_name")),
        reporter_phone=phone,
        email=(_opt(fields, "email") or "")[:254] or None,
        device_id=short["device_id"],
        account_id=short["account_id"],
        media_url=media_url,
        crs=crs.lower() if crs and crs.lower() != "wgs84" else None,
    )


def idempotency_key(value: str | None) -> str | None:
    """The optional ``Idempotency-Key`` header: the same key from the same client answers the same
    request instead of opening a second case."""
    if value is None or not value.strip():
        return None
    key = value.strip()
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise Open311Error(
            400,
            f"Idempotency-Key 须为不超过{IDEMPOTENCY_KEY_MAX}个可打印字符",
            reason="invalid_idempotency_key",
        )
    return key


# --- GET requests ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """The filters of GET requests. ``ids`` overrides all the others (the spec's rule)."""

    ids: tuple[str, ...] | None = None
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset()  # "open" / "closed"; empty: both
    limit: int = RESULTS_MAX


def _values(pairs: Iterable[tuple[str, str]], name: str) -> list[str]:
    """A parameter declared several times and/or comma delimited, as one list."""
    out: list[str] = []
    for key, value in pairs:
        if key == name:
            out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def parse_datetime(raw: str, name: str) -> datetime:
    """w3 / ISO 8601: 2010-01-01T00:00:00Z, …+08:00, or a date; without an offset, the district's time."""
    text = raw.strip()
    if "T" in text:  # an unencoded "+08:00" in a query string arrives as " 08:00"
        text = text.replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Open311Error(
            400,
            f"{name} 格式不正确：应为 ISO 8601 时间，如 2026-01-01T00:00:00+08:00 或 2026-01-01T00:00:00Z",
            reason="invalid_date",
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=CST)


def parse_request_query(pairs: Iterable[tuple[str, str]], now: datetime) -> RequestQuery:
    """GET requests' filters; :class:`Open311Error` 400 when one is malformed."""
    items = list(pairs)
    ids = _values(items, "service_request_id")
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"service_request_id 一次最多{MAX_IDS}个", reason="too_many_ids")
        return RequestQuery(ids=tuple(dict.fromkeys(i[:64] for i in ids)))
    codes = _values(items, "service_code")
    if len(codes) > MAX_CODES:
        raise Open311Error(400, f"service_code 一次最多{MAX_CODES}个", reason="too_many_codes")
    statuses = {s.lower() for s in _values(items, "status")}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status 只能是 open 或 closed（可用逗号分隔）", reason="invalid_status")
    start_raw = next((v for k, v in items if k == "start_date" and v.strip()), None)
    end_raw = next((v for k, v in items if k == "end_date" and v.strip()), None)
    start = parse_datetime(start_raw, "start_date") if start_raw else None
    end = parse_datetime(end_raw, "end_date") if end_raw else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - SPAN_MAX
    if end is None:
        end = start + SPAN_MAX
    if end < start:
        raise Open311Error(400, "end_date 不能早于 start_date", reason="invalid_date_range")
    if end - start > SPAN_MAX:
        raise Open311Error(400, "start_date 与 end_date 相隔不能超过90天", reason="date_range_too_long")
    return RequestQuery(
        service_codes=tuple(dict.fromkeys(codes)), start=start, end=end, statuses=frozenset(statuses)
    )
