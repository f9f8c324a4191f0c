"""Escalation's transactional work: start and stop a case's SLA clock, and raise an overdue case one
level (grid → community → street → district). Each runs inside the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import asyncpg
from prometheus_client import Counter

from escalation.policy import EscalationPolicy, policy_for
from schemas.events import EscalatedPayload, EventEnvelope, EventType, SlaStartedPayload
from schemas.identity import Actor
from schemas.levels import Level
from schemas.states import CLOCK_RUNNING
from services.ledger.service import lock_case, record_event

log = logging.getLogger(__name__)

ACTOR = Actor.system("escalation", "督办升级")
ESCALATIONS = Counter("gridcase_escalations_total", "Cases raised a level or marked overdue", ["to_level"])


async def start_clock(
    conn: asyncpg.Connection, *, case_id: uuid.UUID, started_at: datetime
) -> EventEnvelope | None:
    """(Re)start the case's clock from ``started_at`` with a snapshot of its escalation policy."""
    case = await lock_case(conn, case_id)
    if case.status not in CLOCK_RUNNING or case.row["category_code"] is None:
        return None
    # The limit the responsibility matrix gave at dispatch; cases dispatched before it: the category's.
    handle_limit = case.row["handle_limit"] or await conn.fetchval(
        "SELECT handle_limit FROM categories WHERE code = $1", case.row["category_code"]
    )
    policy = policy_for(
        category_code=case.row["category_code"], handle_limit=handle_limit, level=case.row["level"]
    )
    due = policy.first_due(started_at)
    await conn.execute(
        "INSERT INTO sla_clocks (case_id, started_at, due_at, step, policy, state, updated_at) "
        "VALUES ($1, $2, $3, 0, $4, 'running', now()) ON CONFLICT (case_id) DO UPDATE SET "
        "started_at = EXCLUDED.started_at, due_at = EXCLUDED.due_at, step = 0, policy = EXCLUDED.policy, "
        "state = 'running', updated_at = now()",
        case.row["id"],
        started_at,
        due,
        policy.snapshot(),
    )
    return await record_event(
        conn,
        case=case,
        event_type=EventType.SLA_STARTED,
        actor=ACTOR,
        payload=SlaStartedPayload(due_at=due, policy=policy.snapshot()).model_dump(mode="json"),
        updates={"due_at": due},
    )


async def move_clock(conn: asyncpg.Connection, *, case_id: uuid.UUID, due_at: datetime) -> None:
    """An approved extension: the running clock's deadline moves (the case row moved with the approval)."""
    await conn.execute(
        "UPDATE sla_clocks SET due_at = $2, updated_at = now() WHERE case_id = $1 AND state = 'running'",
        case_id,
        due_at,
    )


async def stop_clock(conn: asyncpg.Connection, *, case_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE sla_clocks SET state = 'stopped', updated_at = now() WHERE case_id = $1 AND state = 'running'",
        case_id,
    )


async def escalate_due(conn: asyncpg.Connection, *, case_id: uuid.UUID) -> EventEnvelope | None:
    """Fire the case's clock if it is still running and overdue (inside the caller's transaction).

    Locks the case first and the clock second, the same order as the consumer's start_clock, so the
    scheduler and the consumer cannot deadlock; a second scheduler instance waits on the case lock and
    then finds the clock already moved on, so a deadline fires once.
    """
    case = await lock_case(conn, case_id)
    clock = await conn.fetchrow(
        "SELECT * FROM sla_clocks WHERE case_id = $1 AND state = 'running' AND due_at <= clock_timestamp() "
        "FOR UPDATE",
        case_id,
    )
    if clock is None:
        return None  # stopped, moved on by another instance, or not due any more
    if case.status not in CLOCK_RUNNING:
        await conn.execute(
            "UPDATE sla_clocks SET state = 'stopped', updated_at = now() WHERE case_id = $1", case_id
        )
        return None
    policy = EscalationPolicy.model_validate(clock["policy"])
    current = Level(case.row["level"] or policy.start_level)
    up = current.above()
    if up is None or up not in policy.ladder:
        # Already at the top: the case stays overdue and is put under supervision (督办) once.
        await conn.execute(
            "UPDATE sla_clocks SET state = 'exhausted', updated_at = now() WHERE case_id = $1", case_id
        )
        ESCALATIONS.labels("overdue").inc()
        return await record_event(
            conn,
            case=case,
            event_type=EventType.OVERDUE,
            actor=ACTOR,
            payload={
                "level": current.value,
                "level_label": current.label,
                "overdue_since": clock["due_at"].isoformat(),
            },
        )
    # The next deadline counts from now: a deadline missed while the service was down fires once.
    next_due = case.now + policy.step()
    await conn.execute(
        "UPDATE sla_clocks SET due_at = $2, step = step + 1, updated_at = now() WHERE case_id = $1",
        case_id,
        next_due,
    )
    ESCALATIONS.labels(up.value).inc()
    return await record_event(
        conn,
        case=case,
        event_type=EventType.ESCALATED,
        actor=ACTOR,
        payload=EscalatedPayload(
            from_level=current.value,
            from_level_label=current.label,
            to_level=up.value,
            to_level_label=up.label,
            due_at=next_due,
            overdue_since=clock["due_at"],
        ).model_dump(mode="json"),
        updates={"level": up.value, "due_at": next_due},
    )
