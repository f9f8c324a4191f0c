"""The case ledger: every change to a case is one transaction that updates the case row, appends
the event to its timeline and writes an outbox row for the relay to publish.

Functions take a connection that is already inside a transaction: the caller owns the unit of work,
so a consumer can mark its input processed in the same commit. Concurrent changes to one case are
serialised by ``SELECT … FOR UPDATE``; the second one sees the first one's result and the state
machine decides whether it is still legal.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import ACTION_EVENTS, EventEnvelope
from schemas.identity import Actor
from schemas.states import Action, CaseStatus, next_status
from schemas.topics import CASE_EVENTS

# Columns a ledger change may set besides status; anything else is a programming error.
UPDATABLE = frozenset(
    {
        "category_code",
        "grid_code",
        "department_code",
        "level",
        "urgency",
        "triage_reason",
        "due_at",
        "dispatched_at",
        "assist_department_codes",
        "duplicate_of",
        "category_source",
        "likely_duplicate_of",
        "supervisor_label",
        "description",
        "lat",
        "lon",
        "address",
        "intake_details",
        "handler_level",
        "handler_area_codes",
        "sign_limit",
        "handle_limit",
        "return_count",
        "departments_tried",
        "coordinator_department_code",
        "bounced_at",
        "bounce_reason",
        "classifier_version",
        "category_suggestions",
    }
)


class CaseNotFound(LookupError):
    def __init__(self, case_id: uuid.UUID) -> None:
        super().__init__(f"case {case_id} not found")
        self.case_id = case_id


@dataclass(frozen=True, slots=True)
class NewCase:
    channel: str
    description: str
    external_id: str | None = None
    category_code: str | None = None
    grid_code: str | None = None
    urgency: str = "normal"
    lat: float | None = None  # WGS-84
    lon: float | None = None
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_id_number: str | None = None
    submitted_by: str | None = None  # the identity that submitted it (a feed reads back its own cases)
    reporter_ref: str | None = None  # the resident as the channel knows them (WeChat openid)
    intake_details: dict[str, Any] | None = None  # channel details without personal data


@dataclass(frozen=True, slots=True)
class CreatedCase:
    case_id: uuid.UUID
    case_no: str
    created: bool  # False: this channel's external_id was taken in before; the earlier case is returned


_INSERT_CASE = """
INSERT INTO cases (id, case_no, channel, external_id, status, description, category_code, grid_code,
                   urgency, lat, lon, address, reporter_name, reporter_phone, reporter_id_number,
                   submitted_by, reporter_ref, intake_details, last_seq, created_at, updated_at)
VALUES ($1,
        to_char(clock_timestamp() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
            || lpad((nextval('case_no_seq') % 1000000)::text, 6, '0'),
        $2, $3, 'reported', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1,
        clock_timestamp(), clock_timestamp())
ON CONFLICT (channel, external_id) DO NOTHING
RETURNING id, case_no, created_at
"""


def _require_tx(conn: asyncpg.Connection) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("ledger changes must run inside a transaction")


async def create_case(
    conn: asyncpg.Connection, *, case: NewCase, actor: Actor, payload: dict[str, Any]
) -> CreatedCase:
    """Open a case in status ``reported`` with its first event, or return the one with the same key."""
    _require_tx(conn)
    case_id = uuid.uuid4()
    row = await conn.fetchrow(
        _INSERT_CASE,
        case_id,
        case.channel,
        case.external_id,
        case.description,
        case.category_code,
        case.grid_code,
        case.urgency,
        case.lat,
        case.lon,
        case.address,
        case.reporter_name,
        case.reporter_phone,
        case.reporter_id_number,
        case.submitted_by,
        case.reporter_ref,
        case.intake_details,
    )
    if row is None:
        existing = await conn.fetchrow(
            "SELECT id, case_no FROM cases WHERE channel = $1 AND external_id = $2",
            case.channel,
            case.external_id,
        )
        if existing is None:  # the conflicting row can't vanish: cases are never deleted
            raise RuntimeError("case with this channel and external_id disappeared")
        return CreatedCase(case_id=existing["id"], case_no=existing["case_no"], created=False)
    envelope = EventEnvelope(
        event_id=uuid.uuid4(),
        type=ACTION_EVENTS[Action.REPORT],
        case_id=case_id,
        case_no=row["case_no"],
        seq=1,
        occurred_at=row["created_at"],
        actor=actor.id,
        actor_name=actor.name,
        actor_unit=actor.unit,
        status=CaseStatus.REPORTED,
        payload=payload,
    )
    await _append(conn, envelope)
    return CreatedCase(case_id=case_id, case_no=row["case_no"], created=True)


@dataclass(frozen=True, slots=True)
class LockedCase:
    row: asyncpg.Record
    now: datetime

    @property
    def status(self) -> CaseStatus:
        return CaseStatus(self.row["status"])


async def lock_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> LockedCase:
    """Lock the case row for this transaction; the database clock is the one time source."""
    _require_tx(conn)
    row = await conn.fetchrow(
        "SELECT *, clock_timestamp() AS now FROM cases WHERE id = $1 FOR UPDATE", case_id
    )
    if row is None:
        raise CaseNotFound(case_id)
    return LockedCase(row=row, now=row["now"])


async def apply_action(
    conn: asyncpg.Connection,
    *,
    case: LockedCase,
    action: Action,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    updates: dict[str, Any] | None = None,
) -> EventEnvelope:
    """Move a locked case through the state machine; IllegalTransition if the action is not allowed."""
    new_status = next_status(case.status, action)
    return await record_event(
        conn,
        case=case,
        event_type=ACTION_EVENTS[action],
        actor=actor,
        status=new_status,
        payload=payload,
        updates=updates,
    )


async def record_event(
    conn: asyncpg.Connection,
    *,
    case: LockedCase,
    event_type: str,
    actor: Actor,
    status: CaseStatus | None = None,
    payload: dict[str, Any] | None = None,
    updates: dict[str, Any] | None = None,
) -> EventEnvelope:
    """Append an event to a locked case (status unchanged unless given) and queue it for publishing."""
    _require_tx(conn)
    updates = updates or {}
    unknown = set(updates) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable through the ledger: {sorted(unknown)}")
    seq = case.row["last_seq"] + 1
    new_status = status or case.status
    assignments = ["status = $2", "last_seq = $3", "updated_at = $4"]
    values: list[Any] = [case.row["id"], new_status.value, seq, case.now]
    for i, (column, value) in enumerate(sorted(updates.items()), start=5):
        assignments.append(f"{column} = ${i}")
        values.append(value)
    await conn.execute(f"UPDATE cases SET {', '.join(assignments)} WHERE id = $1", *values)
    envelope = EventEnvelope(
        event_id=uuid.uuid4(),
        type=event_type,
        case_id=case.row["id"],
        case_no=case.row["case_no"],
        seq=seq,
        occurred_at=case.now,
        actor=actor.id,
        actor_name=actor.name,
        actor_unit=actor.unit,
        status=new_status,
        payload=payload or {},
    )
    await _append(conn, envelope)
    return envelope


async def _append(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
    body = envelope.model_dump(mode="json")
    await conn.execute(
        "INSERT INTO case_events (event_id, case_id, seq, type, occurred_at, actor, actor_name, actor_unit, "
        "status, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        envelope.event_id,
        envelope.case_id,
        envelope.seq,
        envelope.type,
        envelope.occurred_at,
        envelope.actor,
        envelope.actor_name,
        envelope.actor_unit,
        envelope.status.value,
        body["payload"],
    )
    await enqueue(
        conn,
        event_id=envelope.event_id,
        topic=CASE_EVENTS,
        key=str(envelope.case_id),
        value=json.dumps(body, ensure_ascii=False).encode(),
        headers={"type": envelope.type, "content-type": "application/json"},
    )


async def enqueue(
    conn: asyncpg.Connection,
    *,
    event_id: uuid.UUID,
    topic: str,
    key: str,
    value: bytes,
    headers: dict[str, str],
) -> None:
    """Write an outbox row; the relay publishes it after this transaction commits."""
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5)",
        event_id,
        topic,
        key,
        value,
        headers,
    )
