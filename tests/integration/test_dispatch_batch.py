"""Dispatch's consumer on PostgreSQL, driven directly: a batch's free-text reports are read by the model in
one pass (the handler table's preparation), routed, and a redelivered batch changes nothing."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from aiokafka import ConsumerRecord

from dispatch.subscribers import handlers
from schemas.events import EventEnvelope
from schemas.identity import Actor
from services.ledger.service import NewCase, create_case
from services.messaging.consumer import HandlerTable, IdempotentConsumer
from services.reference.catalog import CatalogCache
from services.settings import get_settings
from tests.support import GRIDS

TEXTS = (
    "小区东门的路灯坏了好几天，晚上很黑",
    "楼下下水道堵了，污水漫到路上",
    "东门外那一片一直这样，也没人管，请尽快处理",
)


async def _reported_records(db: asyncpg.Pool) -> list[ConsumerRecord[bytes, bytes]]:
    """New cases whose events the running system never sees (their outbox rows go with the test)."""
    records = []
    async with db.acquire() as conn, conn.transaction():
        for offset, text in enumerate(TEXTS):
            created = await create_case(
                conn,
                case=NewCase(channel="hotline", description=text, grid_code=GRIDS[0]),
                actor=Actor("system:test"),
                payload={"channel": "hotline"},
            )
            row = await conn.fetchrow(
                "DELETE FROM outbox WHERE key = $1 RETURNING value", str(created.case_id)
            )
            records.append(
                ConsumerRecord(
                    topic="case-events",
                    partition=0,
                    offset=offset,
                    timestamp=0,
                    timestamp_type=0,
                    key=None,
                    value=row["value"],
                    checksum=None,
                    serialized_key_size=0,
                    serialized_value_size=len(row["value"]),
                    headers=[],
                )
            )
    return records


async def test_a_batch_of_free_text_reports_is_read_once_and_routed(db: asyncpg.Pool) -> None:
    table = handlers(CatalogCache(db))
    calls: list[int] = []
    assert table.prepare is not None
    prepare = table.prepare

    async def counting(conn: asyncpg.Connection, events: Sequence[EventEnvelope]) -> None:
        calls.append(len(events))
        await prepare(conn, events)

    consumer = IdempotentConsumer(
        name="dispatch-batch-test",
        pool=db,
        handlers=HandlerTable(table.handlers, counting),
        settings=get_settings(),
    )
    records = await _reported_records(db)
    await consumer.process(tuple(records))
    assert calls == [3]
    ids = [EventEnvelope.model_validate_json(r.value).case_id for r in records]
    rows = {
        r["id"]: r
        for r in await db.fetch(
            "SELECT id, status, category_code, category_source FROM cases WHERE id = ANY($1::uuid[])", ids
        )
    }
    assert (rows[ids[0]]["status"], rows[ids[0]]["category_code"], rows[ids[0]]["category_source"]) == (
        "dispatched",
        "0101",
        "model",
    )
    assert rows[ids[1]]["category_code"] == "0104"
    assert rows[ids[2]]["status"] == "triage"
    # Redelivered: nothing is handled twice, the batch is not even prepared.
    before = await db.fetchval("SELECT sum(last_seq) FROM cases WHERE id = ANY($1::uuid[])", ids)
    await consumer.process(tuple(records))
    assert calls == [3]
    assert await db.fetchval("SELECT sum(last_seq) FROM cases WHERE id = ANY($1::uuid[])", ids) == before
