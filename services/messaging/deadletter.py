"""Dead letters: messages a consumer could not handle, kept with the reason, visible and replayable."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from prometheus_client import Counter

from schemas.topics import DEAD_LETTERS
from services.ledger.service import enqueue

DEAD_LETTERED = Counter("gridcase_dead_letters_total", "Messages sent to the dead-letter topic", ["consumer"])


async def record_dead_letter(
    conn: asyncpg.Connection,
    *,
    consumer: str,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: str | None,
    value: bytes,
    headers: dict[str, str],
    reason: str,
) -> int:
    """Store the message and its reason, and queue it on the dead-letter topic (same transaction)."""
    dl_id: int = await conn.fetchval(
        'INSERT INTO dead_letters (consumer, topic, partition, "offset", key, value, headers, reason) '
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        consumer,
        topic,
        partition,
        offset,
        key,
        value,
        headers,
        reason[:2000],
    )
    await enqueue(
        conn,
        event_id=uuid.uuid4(),
        topic=DEAD_LETTERS,
        key=key or "",
        value=value,
        headers={
            **headers,
            "x-dead-letter-id": str(dl_id),
            "x-dead-letter-consumer": consumer,
            "x-dead-letter-reason": reason[:500],
            "x-original-topic": topic,
            "x-original-partition": str(partition),
            "x-original-offset": str(offset),
        },
    )
    DEAD_LETTERED.labels(consumer).inc()
    return dl_id


async def list_dead_letters(conn: asyncpg.Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        'SELECT id, consumer, topic, partition, "offset", key, reason, created_at, replayed_at '
        "FROM dead_letters ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [dict(r) for r in rows]


async def replay_dead_letter(conn: asyncpg.Connection, *, dead_letter_id: int) -> bool:
    """Publish the original message to its original topic again (through the outbox)."""
    row = await conn.fetchrow("SELECT * FROM dead_letters WHERE id = $1 FOR UPDATE", dead_letter_id)
    if row is None:
        return False
    await enqueue(
        conn,
        event_id=uuid.uuid4(),
        topic=row["topic"],
        key=row["key"] or "",
        value=row["value"],
        headers={**row["headers"], "x-replayed-from-dead-letter": str(dead_letter_id)},
    )
    await conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = $1", dead_letter_id)
    return True
