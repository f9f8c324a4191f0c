"""Rows of the closed loop beside the case: requests and their answers, assisting parts, photos.
Functions take a connection inside the caller's transaction (the case is locked by then)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from schemas.identity import Actor
from schemas.workflow import CaseState, RequestKind, pending_kinds


def _label(actor: Actor) -> str:
    return f"{actor.name}（{actor.unit}）" if actor.name and actor.unit else (actor.name or actor.id)


async def case_state(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    *,
    due_at: datetime | None,
    lead: str | None,
    names: dict[str, str],
) -> CaseState:
    pending = await conn.fetch(
        "SELECT kind FROM case_requests WHERE case_id = $1 AND status = 'pending'", case_id
    )
    assists = await conn.fetch("SELECT department_code, status FROM case_assists WHERE case_id = $1", case_id)
    return CaseState(
        pending=pending_kinds([r["kind"] for r in pending]),
        due_at=due_at,
        lead_department=lead,
        assists_pending=tuple(sorted(r["department_code"] for r in assists if r["status"] == "pending")),
        assists_all=tuple(sorted(r["department_code"] for r in assists)),
        names=names,
    )


async def open_request(
    conn: asyncpg.Connection,
    *,
    case_id: uuid.UUID,
    kind: RequestKind,
    reason: str,
    due_at: datetime | None,
    actor: Actor,
    at: datetime,
    event_id: uuid.UUID,
) -> None:
    await conn.execute(
        "INSERT INTO case_requests (case_id, kind, reason, requested_due_at, requested_by, requested_by_label, "
        "requested_at, request_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        case_id,
        kind.value,
        reason,
        due_at,
        actor.id,
        _label(actor),
        at,
        event_id,
    )


async def pending_request(
    conn: asyncpg.Connection, case_id: uuid.UUID, kind: RequestKind
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM case_requests WHERE case_id = $1 AND kind = $2 AND status = 'pending' FOR UPDATE",
        case_id,
        kind.value,
    )
    return row


async def answer_request(
    conn: asyncpg.Connection,
    *,
    request_id: int,
    approved: bool,
    note: str | None,
    actor: Actor,
    at: datetime,
    event_id: uuid.UUID,
) -> None:
    await conn.execute(
        "UPDATE case_requests SET status = $2, answered_by = $3, answered_by_label = $4, answered_at = $5, "
        "answer_note = $6, answer_event_id = $7 WHERE id = $1",
        request_id,
        "approved" if approved else "refused",
        actor.id,
        _label(actor),
        at,
        note,
        event_id,
    )


async def close_pending_requests(
    conn: asyncpg.Connection, case_id: uuid.UUID, *, note: str, at: datetime
) -> None:
    """A case that moves on (returned, resolved, redispatched) leaves no request waiting."""
    await conn.execute(
        "UPDATE case_requests SET status = 'refused', answer_note = $2, answered_at = $3, "
        "answered_by = 'system:workflow', answered_by_label = '系统' WHERE case_id = $1 AND status = 'pending'",
        case_id,
        note,
        at,
    )


async def set_assists(conn: asyncpg.Connection, case_id: uuid.UUID, departments: Sequence[str]) -> None:
    """The assisting departments of a (re)dispatched case, each with its part still to report."""
    await conn.execute("DELETE FROM case_assists WHERE case_id = $1", case_id)
    if departments:
        await conn.executemany(
            "INSERT INTO case_assists (case_id, department_code) VALUES ($1, $2)",
            [(case_id, d) for d in departments],
        )


async def report_assist(
    conn: asyncpg.Connection,
    *,
    case_id: uuid.UUID,
    department_code: str,
    note: str,
    actor: Actor,
    at: datetime,
) -> None:
    await conn.execute(
        "UPDATE case_assists SET status = 'reported', note = $3, reported_by = $4, reported_by_label = $5, "
        "reported_at = $6 WHERE case_id = $1 AND department_code = $2",
        case_id,
        department_code,
        note,
        actor.id,
        _label(actor),
        at,
    )


async def attach_photos(
    conn: asyncpg.Connection,
    *,
    case_id: uuid.UUID,
    photo_ids: Sequence[uuid.UUID],
    kind: str,
    event_id: uuid.UUID,
    uploader: str,
) -> list[uuid.UUID]:
    """Attach photos this identity uploaded for this case and nobody attached yet; returns the ids
    that could not be (unknown, another case's, someone else's, already used)."""
    rows = await conn.fetch(
        "UPDATE case_photos SET kind = $3, event_id = $4 WHERE id = ANY($2::uuid[]) AND case_id = $1 "
        "AND uploaded_by = $5 AND event_id IS NULL RETURNING id",
        case_id,
        list(photo_ids),
        kind,
        event_id,
        uploader,
    )
    attached = {r["id"] for r in rows}
    return [p for p in photo_ids if p not in attached]


async def case_extras(conn: asyncpg.Connection, case_id: uuid.UUID) -> dict[str, Any]:
    """What the case page shows beside the timeline."""
    requests = await conn.fetch(
        "SELECT id, kind, reason, requested_due_at, requested_by_label, requested_at FROM case_requests "
        "WHERE case_id = $1 AND status = 'pending' ORDER BY id",
        case_id,
    )
    assists = await conn.fetch(
        "SELECT department_code, status, note, reported_at FROM case_assists WHERE case_id = $1 "
        "ORDER BY department_code",
        case_id,
    )
    photos = await conn.fetch(
        "SELECT id, kind, event_id, uploaded_by_label, created_at FROM case_photos "
        "WHERE case_id = $1 AND event_id IS NOT NULL ORDER BY created_at, id",
        case_id,
    )
    links = await conn.fetchrow(
        "SELECT o.id AS original_id, o.case_no AS original_no, l.id AS likely_id, l.case_no AS likely_no, "
        "c.intake_details FROM cases c LEFT JOIN cases o ON o.id = c.duplicate_of "
        "LEFT JOIN cases l ON l.id = c.likely_duplicate_of WHERE c.id = $1",
        case_id,
    )
    attachments = await conn.fetch(
        "SELECT id, kind, channel, created_at FROM case_attachments WHERE case_id = $1 ORDER BY id", case_id
    )
    duplicates = await conn.fetch(
        "SELECT id, case_no FROM cases WHERE duplicate_of = $1 ORDER BY created_at", case_id
    )
    return {
        "requests": requests,
        "assists": assists,
        "photos": photos,
        "duplicate_of": (links["original_id"], links["original_no"])
        if links and links["original_id"]
        else None,
        "duplicates": [(r["id"], r["case_no"]) for r in duplicates],
        "likely_duplicate_of": (links["likely_id"], links["likely_no"])
        if links and links["likely_id"]
        else None,
        "intake_details": (links["intake_details"] if links else None) or {},
        "attachments": attachments,
    }
