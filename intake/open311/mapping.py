"""Gridcase's categories, statuses and cases as Open311 GeoReport v2 records (pure: no I/O).

Field names and value sets are the spec's, exactly, so existing clients work unchanged. What a request
read shows is public (Open311 is public-facing): never the reporter's name, phone or email; the
description with phone and ID numbers masked; the address cut to its area part; the point rounded to
4 decimals (about 10 m), so that a report can't be traced to a door.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from schemas.states import STATUS_LABELS, CaseStatus
from services.privacy.masking import mask_address, mask_free_text

# The district's clock: China Standard Time has no daylight saving, so a fixed offset is exact.
CST = timezone(timedelta(hours=8), "CST")
# Spec: realtime services answer the service_request_id at once (we have the case number synchronously).
SERVICE_TYPE = "realtime"
# Decimal places of lat/long in request reads: 4 ≈ 11 m north-south, ≈ 9.5 m east-west at 30°N.
COORD_DECIMALS = 4
CLOSED_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.DUPLICATE})
KIND_LABELS = {"component": "部件", "event": "事件"}
OTHER_GROUP = "其他"
# The group comments of categories.yaml: "  # 01 市政公用设施 municipal facilities".
_GROUP_LINE = re.compile(r"^\s*#\s*(\d{2})\s+(\S+)", re.MULTILINE)
_KEYWORD_SPLIT = re.compile(r"[或与、，,/]")


@lru_cache(maxsize=1)
def category_groups() -> dict[str, str]:
    """Group names by the first two digits of a category code, from the comments of the reference
    category list (one source for both). A deployment's own codes outside these groups fall in 其他."""
    try:
        text = (resources.files("services.reference") / "data" / "categories.yaml").read_text("utf-8")
    except OSError:
        return {}
    return {m.group(1): m.group(2) for m in _GROUP_LINE.finditer(text)}


def group_of(code: str) -> str:
    return category_groups().get(code[:2], OTHER_GROUP)


def keywords_of(name: str, group: str, kind: str) -> str:
    """Synonyms to help people find the service: the name, its parts (路灯损坏 / 井盖缺失, 破损),
    the group and the kind; comma separated as the spec asks."""
    words = [name, *(part.strip() for part in _KEYWORD_SPLIT.split(name)), group, KIND_LABELS.get(kind, "")]
    seen: dict[str, None] = {}
    for word in words:
        if word and len(word) >= 2:
            seen.setdefault(word, None)
    return ", ".join(seen)


def service_of(code: str, name: str, kind: str) -> dict[str, Any]:
    """One category as an Open311 service (GET services)."""
    group = group_of(code)
    kind_label = KIND_LABELS.get(kind)
    return {
        "service_code": code,
        "service_name": name,
        "description": f"{name}（{group}·{kind_label}类）" if kind_label else f"{name}（{group}）",
        "metadata": False,  # no attributes: nothing beyond the standard fields is asked
        "type": SERVICE_TYPE,
        "keywords": keywords_of(name, group, kind),
        "group": group,
    }


def service_definition_of(code: str) -> dict[str, Any]:
    """GET services/{code}: our services ask for no attributes (metadata false)."""
    return {"service_code": code, "attributes": []}


def open311_status(status: str) -> str:
    """Open311 knows two statuses: closed = 已结案, 不予受理 and 重复件 (all terminal); anything else is
    still open for the resident (reported, triage, dispatched, signed, returned, suspended, resolved)."""
    try:
        return "closed" if CaseStatus(status) in CLOSED_STATUSES else "open"
    except ValueError:  # a status this code doesn't know yet: not terminal as far as we know
        return "open"


def statuses_for(open311: str) -> frozenset[str]:
    """Our statuses behind one Open311 status (for the ``status`` filter)."""
    closed = {s.value for s in CLOSED_STATUSES}
    return frozenset(closed if open311 == "closed" else {s.value for s in CaseStatus} - closed)


def status_notes(status: str, duplicate_of_no: str | None = None) -> str:
    """Our status as residents read it (the console's label); a merged duplicate names its original."""
    if status == CaseStatus.DUPLICATE and duplicate_of_no:
        return f"已并入案件{duplicate_of_no}"
    try:
        return STATUS_LABELS[CaseStatus(status)]
    except ValueError:
        return status


def w3_datetime(value: datetime | None) -> str | None:
    """ISO 8601 (the spec's w3 subset) with the district's offset, to the second:
    2026-01-05T09:30:00+08:00. A naive value is taken as UTC (the database's timestamps never are)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CST).replace(microsecond=0).isoformat()


def rounded(value: float | None) -> float | None:
    """A coordinate rounded to about 10 m: precise enough to find the pothole, not the household."""
    return None if value is None else round(float(value), COORD_DECIMALS)


@dataclass(frozen=True, slots=True)
class CaseRow:
    """What a request read needs of a case (service.py fills it from the database)."""

    case_no: str
    status: str
    category_code: str | None
    category_name: str | None
    description: str
    department_name: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    address: str | None
    lat: float | None
    lon: float | None
    intake_details: Mapping[str, Any] | None = None
    duplicate_of_no: str | None = None


def _detail(details: Mapping[str, Any] | None, key: str) -> str | None:
    value = (details or {}).get(key)
    return value if isinstance(value, str) and value else None


def request_of(case: CaseRow) -> dict[str, Any]:
    """A case as an Open311 service request (GET requests), with no personal data: no reporter name,
    phone or email; phone and ID numbers in the description masked; the address cut to its area part;
    the point rounded (:data:`COORD_DECIMALS`)."""
    return {
        "service_request_id": case.case_no,
        "status": open311_status(case.status),
        "status_notes": status_notes(case.status, case.duplicate_of_no),
        "service_name": case.category_name,
        "service_code": case.category_code,
        "description": mask_free_text(case.description),
        "agency_responsible": case.department_name,
        "service_notice": None,
        "requested_datetime": w3_datetime(case.created_at),
        "updated_datetime": w3_datetime(case.updated_at),
        "expected_datetime": w3_datetime(case.due_at),
        "address": mask_address(case.address),
        "address_id": _detail(case.intake_details, "address_id"),
        "zipcode": None,
        "lat": rounded(case.lat),
        "long": rounded(case.lon),
        "media_url": _detail(case.intake_details, "media_url"),
    }


def service_notice(case_no: str, service_name: str | None) -> str:
    """What the resident is told when the request is taken in (POST requests)."""
    what = f"（{service_name}）" if service_name else ""
    return f"您的诉求{what}已受理，案件编号{case_no}。我们将尽快派遣责任单位处置，可凭案件编号查询办理进度。"


def created_of(case_no: str, service_name: str | None) -> dict[str, Any]:
    """The answer to POST requests: the case number at once (type realtime), never a token."""
    return {
        "service_request_id": case_no,
        "service_notice": service_notice(case_no, service_name),
        "account_id": None,
    }
