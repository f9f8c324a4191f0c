"""Escalation's event subscribers: start the SLA clock when a case is dispatched, stop it when the
work is done (the handler table of its consumer)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from escalation.service import move_clock, start_clock, stop_clock
from schemas.events import EventEnvelope, EventType, ExtensionApprovedPayload
from services.messaging.consumer import Handler

STOP_ON = (
    EventType.RESOLVED,
    EventType.CLOSED,
    EventType.REJECTED,
    EventType.MARKED_DUPLICATE,
    EventType.SUSPENDED,
    EventType.SUSPENSION_APPROVED,
)


def handlers() -> Mapping[str, Handler]:
    async def on_dispatched(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await start_clock(conn, case_id=event.case_id, started_at=event.occurred_at)

    async def on_stopped(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await stop_clock(conn, case_id=event.case_id)

    async def on_extended(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        payload = ExtensionApprovedPayload.model_validate(event.payload)
        await move_clock(conn, case_id=event.case_id, due_at=payload.to_due_at)

    table: dict[str, Handler] = {
        EventType.DISPATCHED: on_dispatched,
        EventType.REDISPATCHED: on_dispatched,
        EventType.HANDED_OVER: on_dispatched,  # the department's own clock starts when it takes over
        EventType.EXTENSION_APPROVED: on_extended,
    }
    table.update({t: on_stopped for t in STOP_ON})
    return table
