"""A case whose case.reported event was lost is routed by dispatch's stranded-case sweeper.

Database level only (no HTTP API): the case is opened through the ledger, its event is taken out of
the outbox before it is published (lost), and its intake time is moved ten minutes back.
"""

from __future__ import annotations

import uuid

import asyncpg

from dispatch.workers import redrive_due
from schemas.identity import Actor
from services.ledger.service import NewCase, create_case
from services.reference.catalog import CatalogCache
from tests.support import GRIDS

TEST_ACTOR = Actor.system("test", "测试")


async def _stranded_case(
    db: asyncpg.Pool, *, category_code: str | None, grid_code: str | None = None
) -> uuid.UUID:
    case = NewCase(
        channel="app",
        description="小区东门路灯不亮，晚上很黑",
        external_id=f"stranded-{uuid.uuid4()}",
        category_code=category_code,
        grid_code=grid_code,
    )
    async with db.acquire() as conn, conn.transaction():
        created = await create_case(conn, case=case, actor=TEST_ACTOR, payload={"channel": "app"})
        # Lost before the relay saw it: no consumer will ever get this case.reported.
        await conn.execute("DELETE FROM outbox WHERE key = $1", str(created.case_id))
        await conn.execute(
            "UPDATE cases SET created_at = now() - interval '10 minutes' WHERE id = $1", created.case_id
        )
    return created.case_id


async def _timeline(db: asyncpg.Pool, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch("SELECT type, actor FROM case_events WHERE case_id = $1 ORDER BY seq", case_id)


async def test_stranded_case_is_dispatched_once(db: asyncpg.Pool) -> None:
    case_id = await _stranded_case(db, category_code="0101", grid_code=GRIDS[0])
    catalogs = CatalogCache(db)
    await redrive_due(db, catalogs)
    # The dispatch service's own sweeper may have got there first; either way it is routed once.
    row = await db.fetchrow("SELECT status, department_code FROM cases WHERE id = $1", case_id)
    assert row["status"] == "dispatched" and row["department_code"]
    events = await _timeline(db, case_id)
    assert [e["type"] for e in events] == ["case.reported", "case.dispatched"]
    assert events[1]["actor"] == "system:dispatch"
    # Nothing left to do: a second sweep (or a late event) changes nothing.
    await redrive_due(db, catalogs)
    assert len(await _timeline(db, case_id)) == 2


async def test_stranded_case_without_location_goes_to_triage(db: asyncpg.Pool) -> None:
    case_id = await _stranded_case(db, category_code="0101")
    await redrive_due(db, CatalogCache(db))
    row = await db.fetchrow("SELECT status, triage_reason FROM cases WHERE id = $1", case_id)
    assert row["status"] == "triage" and row["triage_reason"] == "no_location"


async def test_a_recent_reported_case_is_left_to_the_consumer(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn, conn.transaction():
        created = await create_case(
            conn,
            case=NewCase(channel="app", description="路灯不亮", external_id=f"fresh-{uuid.uuid4()}"),
            actor=TEST_ACTOR,
            payload={},
        )
        await conn.execute("DELETE FROM outbox WHERE key = $1", str(created.case_id))
    await redrive_due(db, CatalogCache(db))
    assert await db.fetchval("SELECT status FROM cases WHERE id = $1", created.case_id) == "reported"
