"""A message no service can handle goes to the dead-letter topic with its reason, and can be replayed."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.topics import CASE_EVENTS, DEAD_LETTERS
from tests.integration.conftest import role_headers
from tests.support import System, wait_for


async def test_unparseable_event_is_dead_lettered_with_reason_and_replayable(
    system: System, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    bootstrap = system.state()["kafka_bootstrap"]
    marker = f"poison-{uuid.uuid4()}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            CASE_EVENTS, key=marker.encode(), value=b'{"type": "case.reported", "oops": 1}'
        )
    finally:
        await producer.stop()

    async def dead() -> list[asyncpg.Record] | None:
        rows = await db.fetch("SELECT * FROM dead_letters WHERE key = $1 ORDER BY consumer", marker)
        return rows if len(rows) >= 3 else None

    # Every consuming service reads the topic, so each one dead-letters it once, and none stops.
    rows = await wait_for(dead, timeout=20, what="a dead letter from every consumer")
    assert [r["consumer"] for r in rows] == ["dispatch", "escalation", "notify"]
    assert all("unparseable event" in r["reason"] for r in rows)

    listed = (await api.get("/api/v1/dead-letters", headers=role_headers("admin"))).json()
    assert any(d["key"] == marker for d in listed)

    # The dead-letter topic carries it too, with the reason in a header.
    consumer = AIOKafkaConsumer(
        DEAD_LETTERS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4()}",
    )
    await consumer.start()
    try:

        async def on_topic() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            return any(
                m.key == marker.encode() and dict(m.headers).get("x-dead-letter-reason")
                for msgs in batch.values()
                for m in msgs
            )

        await wait_for(on_topic, timeout=20, what="message on the dead-letter topic")
    finally:
        await consumer.stop()

    first = rows[0]["id"]
    replay = await api.post(f"/api/v1/dead-letters/{first}/replay", headers=role_headers("admin"))
    assert replay.status_code == 200
    assert await db.fetchval("SELECT replayed_at IS NOT NULL FROM dead_letters WHERE id = $1", first)
    assert (
        await api.post("/api/v1/dead-letters/999999999/replay", headers=role_headers("admin"))
    ).status_code == 404
