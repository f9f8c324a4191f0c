"""Notify's event subscribers: turn dispatch and escalation events into notifications to deliver.

Consuming only records what to send (one row per event and channel, unique, so a redelivered event
is not notified twice); the delivery worker (``notify/workers.py``) sends them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from notify.messages import message_for
from notify.service import share_outcome
from schemas.events import EventEnvelope, EventType
from services.messaging.consumer import Handler
from services.runtime.service_app import ServiceContext

CHANNEL = "webhook"
TRIGGERS = (
    EventType.DISPATCHED,
    EventType.REDISPATCHED,
    EventType.HANDED_OVER,  # the department takes over from the grid or community
    EventType.BOUNCE_FLAGGED,  # the street supervises, the first department coordinates
    EventType.ESCALATED,
    EventType.DEADLINE_WARNING,  # the yellow light: the one working the case hears it first
    EventType.SUPERVISION_ORDERED,  # the department must answer the supervision order
    EventType.SUPERVISION_OVERDUE,  # its supervisors hear the answer is late
    EventType.OVERDUE,
    EventType.TRIAGED,
    EventType.RETURNED,  # the command centre must re-dispatch
    EventType.EXTENSION_REQUESTED,  # … or answer a request
    EventType.SUSPENSION_REQUESTED,
    EventType.EXTENSION_APPROVED,  # the department hears the answer
    EventType.EXTENSION_REFUSED,
    EventType.SUSPENSION_APPROVED,
    EventType.SUSPENSION_REFUSED,
    EventType.RESOLVED,  # the grid worker checks on site
    EventType.REWORKED,
    EventType.CLOSED,
    EventType.ORIGINAL_CLOSED,  # a merged duplicate's reporter hears the original's outcome
)


def handlers(ctx: ServiceContext, wake: asyncio.Event) -> Mapping[str, Handler]:
    target = ctx.settings.notify_webhook_url

    async def on_trigger(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        if not target:
            return  # no webhook configured: nothing to deliver
        notification_id = uuid.uuid4()
        body: dict[str, Any] = {
            "notification_id": str(notification_id),
            "case_id": str(event.case_id),
            "case_no": event.case_no,
            "event": event.type,
            "event_id": str(event.event_id),
            "status": event.status.value,
            "occurred_at": event.occurred_at.isoformat(),
            "message": message_for(event),
            "data": event.payload,
        }
        await conn.execute(
            "INSERT INTO notifications (id, case_id, trigger_event_id, trigger_type, channel, target, body) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (trigger_event_id, channel) DO NOTHING",
            notification_id,
            event.case_id,
            event.event_id,
            event.type,
            CHANNEL,
            target,
            body,
        )

    async def on_closed(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await on_trigger(conn, event)
        await share_outcome(conn, original=event)

    ctx.committed.append(lambda _events: wake.set())
    table: dict[str, Handler] = {t: on_trigger for t in TRIGGERS}
    table[EventType.CLOSED] = on_closed
    return table
