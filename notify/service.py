"""Notify's transactional work: claim due notifications, send each to the webhook and record the
outcome (delivered, retry later with back-off, or failed) on the case's timeline.

A separate delivery worker runs this, so a slow or dead webhook never stalls the Kafka consumer. A
crash between sending and recording can send one notification again: every request carries
``X-Gridcase-Notification-Id`` for the receiver to dedupe.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

import asyncpg
import httpx
from prometheus_client import Counter

from schemas.events import EventEnvelope, EventType, NotePayload, NotificationPayload
from schemas.identity import Actor
from services.ledger.service import lock_case, record_event
from services.privacy.redaction import redact_text, redact_url
from services.runtime.service_app import ServiceContext

log = logging.getLogger(__name__)

ACTOR = Actor.system("notify", "消息通知")
LEASE = timedelta(seconds=60)  # a claimed delivery is retried after this if its sender died

DELIVERIES = Counter("gridcase_notifications_total", "Webhook delivery attempts", ["outcome"])


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at 5 minutes, with jitter so retries don't arrive in waves."""
    base = min(300.0, 2.0 ** max(attempts - 1, 0))
    return timedelta(seconds=base * (0.75 + random.random() / 2))


async def deliver_due(ctx: ServiceContext, client: httpx.AsyncClient, limit: int = 50) -> int:
    # Claim: push next_attempt_at out by the lease, so another instance doesn't send it too.
    claimed = await ctx.pool.fetch(
        "UPDATE notifications SET next_attempt_at = clock_timestamp() + $2::interval "
        "WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= clock_timestamp() "
        "ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING *",
        limit,
        LEASE,
    )
    if not claimed:
        return 0
    await asyncio.gather(*(_deliver(ctx, client, row) for row in claimed))
    return len(claimed)


async def _deliver(ctx: ServiceContext, client: httpx.AsyncClient, row: asyncpg.Record) -> None:
    error: str | None = None
    try:
        response = await client.post(
            row["target"],
            json=row["body"],
            headers={"X-Gridcase-Notification-Id": str(row["id"]), "X-Gridcase-Event": row["trigger_type"]},
        )
        if response.status_code >= 300:
            error = f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    attempts = row["attempts"] + 1
    async with ctx.pool.acquire() as conn, conn.transaction():
        if error is None:
            status, event_type = "delivered", EventType.NOTIFICATION_DELIVERED
        elif attempts >= ctx.settings.notify_max_attempts:
            status, event_type = "failed", EventType.NOTIFICATION_FAILED
        else:
            status, event_type = "pending", None
        await conn.execute(
            "UPDATE notifications SET status = $2, attempts = $3, last_error = $4, "
            "delivered_at = CASE WHEN $2 = 'delivered' THEN clock_timestamp() END, "
            "next_attempt_at = clock_timestamp() + $5::interval WHERE id = $1",
            row["id"],
            status,
            attempts,
            error,
            backoff(attempts),
        )
        DELIVERIES.labels(status if error is None or status == "failed" else "retry").inc()
        if event_type is None:
            log.info("notification %s attempt %d failed (%s); will retry", row["id"], attempts, error)
            return
        case = await lock_case(conn, row["case_id"])
        await record_event(
            conn,
            case=case,
            event_type=event_type,
            actor=ACTOR,
            payload=NotificationPayload(
                notification_id=row["id"],
                channel=row["channel"],
                target=redact_url(row["target"]),
                trigger_event_id=row["trigger_event_id"],
                trigger_type=row["trigger_type"],
                attempts=attempts,
                error=error,
            ).model_dump(mode="json"),
        )


async def share_outcome(conn: asyncpg.Connection, *, original: EventEnvelope) -> int:
    """The original of merged duplicates was closed: each duplicate's timeline (and so its reporter's
    channel) hears it. Returns how many duplicates were told."""
    duplicates = await conn.fetch(
        "SELECT id FROM cases WHERE duplicate_of = $1 ORDER BY id", original.case_id
    )
    for row in duplicates:
        case = await lock_case(conn, row["id"])
        await record_event(
            conn,
            case=case,
            event_type=EventType.ORIGINAL_CLOSED,
            actor=ACTOR,
            payload={
                "original_case_id": str(original.case_id),
                "original_case_no": original.case_no,
                "note": NotePayload.model_validate(original.payload).note,
            },
        )
    return len(duplicates)
