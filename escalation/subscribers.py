"""Escalation's event subscribers: start the SLA clock when a case is dispatched, stop it when the
work is done (the handler table of its consumer)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from escalation.service import start_clock, stop_clock
from schemas.events import EventEnvelope, EventType
from services.messaging.consumer import Handler

STOP_ON = (
    EventType.RESOLVED,
    EventType.CLOSED,
    EventType.REJECTED,
    EventType.MARKED_DUPLICATE,
    EventType.SUSPENDED,
)


def handlers() -> Mapping[str, Handler]:
    async def on_dispatched(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await start_clock(conn, case_id=event.case_id, started_at=event.occurred_at)

    async def on_stopped(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await stop_clock(conn, case_id=event.case_id)

    table: dict[str, Handler] = {EventType.DISPATCHED: on_dispatched, EventType.REDISPATCHED: on_dispatched}
    table.update({t: on_stopped for t in STOP_ON})
    return table
