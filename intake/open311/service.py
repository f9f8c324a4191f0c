"""Open311's reads and its one write, against the ledger: categories as services, cases as requests,
a submission opened as a case through intake's transactional core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from intake.open311.mapping import CaseRow, statuses_for
from intake.open311.params import RequestQuery, Submission
from intake.service import take_in
from schemas.api import Channel
from schemas.identity import Principal
from services.ledger.service import CreatedCase, NewCase

CHANNEL = Channel.OPEN311.value


@dataclass(frozen=True, slots=True)
class CategoryRow:
    code: str
    name: str
    kind: str


async def list_categories(db: asyncpg.Pool | asyncpg.Connection) -> list[CategoryRow]:
    rows = await db.fetch("SELECT code, name, kind FROM categories ORDER BY code")
    return [CategoryRow(r["code"], r["name"], r["kind"]) for r in rows]


async def get_category(db: asyncpg.Pool | asyncpg.Connection, code: str) -> CategoryRow | None:
    row = await db.fetchrow("SELECT code, name, kind FROM categories WHERE code = $1", code)
    return CategoryRow(row["code"], row["name"], row["kind"]) if row else None


_CASES = """
SELECT c.case_no, c.status, c.category_code, cat.name AS category_name, c.description,
       d.name AS department_name, c.created_at, c.updated_at, c.due_at, c.address, c.lat, c.lon,
       c.intake_details, o.case_no AS duplicate_of_no
FROM cases c
LEFT JOIN categories cat ON cat.code = c.category_code
LEFT JOIN departments d ON d.code = c.department_code
LEFT JOIN cases o ON o.id = c.duplicate_of
"""


def _case(row: asyncpg.Record) -> CaseRow:
    details = row["intake_details"]
    return CaseRow(
        case_no=row["case_no"],
        status=row["status"],
        category_code=row["category_code"],
        category_name=row["category_name"],
        description=row["description"],
        department_name=row["department_name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        due_at=row["due_at"],
        address=row["address"],
        lat=row["lat"],
        lon=row["lon"],
        intake_details=details if isinstance(details, dict) else None,
        duplicate_of_no=row["duplicate_of_no"],
    )


def requests_sql(query: RequestQuery) -> tuple[str, list[Any]]:
    """The statement for GET requests: by numbers (they override everything else), or by the
    requested_datetime range with the code and status filters; newest first, at most ``limit``."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if query.ids is not None:
        where.append(f"c.case_no = ANY({arg(list(query.ids))}::text[])")
    else:
        where.append(f"c.created_at >= {arg(query.start)}")
        where.append(f"c.created_at <= {arg(query.end)}")
        if query.service_codes:
            where.append(f"c.category_code = ANY({arg(list(query.service_codes))}::text[])")
        if query.statuses and query.statuses != {"open", "closed"}:
            ours = sorted(set().union(*(statuses_for(s) for s in query.statuses)))
            where.append(f"c.status = ANY({arg(ours)}::text[])")
    sql = f"{_CASES} WHERE {' AND '.join(where)} ORDER BY c.created_at DESC, c.case_no DESC LIMIT {arg(query.limit)}"
    return sql, args


async def find_requests(db: asyncpg.Pool | asyncpg.Connection, query: RequestQuery) -> list[CaseRow]:
    sql, args = requests_sql(query)
    return [_case(r) for r in await db.fetch(sql, *args)]


async def get_request(db: asyncpg.Pool | asyncpg.Connection, case_no: str) -> CaseRow | None:
    row = await db.fetchrow(f"{_CASES} WHERE c.case_no = $1", case_no)
    return _case(row) if row else None


def new_case_of(sub: Submission, principal: Principal, *, idempotency_key: str | None = None) -> NewCase:
    """The submission as a case. The reporter's name and phone go where every channel puts them (the
    console masks them); the client's details in ``intake_details`` hold no personal data; the email
    is not kept on the case (the raw request has it, for the raw retention period)."""
    details = {
        "media_url": sub.media_url,
        "device_id": sub.device_id,
        "address_id": sub.address_id,
        "crs": sub.crs,  # the datum the point came in, when it wasn't WGS-84
    }
    return NewCase(
        channel=CHANNEL,
        description=sub.description,
        # One client's key (a token's id, then its Idempotency-Key): clients can't collide.
        external_id=f"{principal.credential_id}:{idempotency_key}" if idempotency_key else None,
        category_code=sub.service_code,
        lat=sub.lat,
        lon=sub.lon,
        address=sub.address,
        reporter_name=sub.reporter_name,
        reporter_phone=sub.reporter_phone,
        submitted_by=principal.subject,
        reporter_ref=f"{principal.subject}/{sub.account_id}" if sub.account_id else None,
        intake_details={k: v for k, v in details.items() if v is not None} or None,
    )


async def open_request(
    pool: asyncpg.Pool,
    *,
    raw_id: int,
    submission: Submission,
    principal: Principal,
    idempotency_key: str | None = None,
) -> CreatedCase:
    """Open the case and record the raw request's outcome (accepted, or duplicate for a repeated
    Idempotency-Key) in one transaction."""
    new = new_case_of(submission, principal, idempotency_key=idempotency_key)
    return await take_in(pool, raw_id=raw_id, new=new, actor=principal.actor)
