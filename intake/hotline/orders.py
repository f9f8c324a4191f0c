"""Taking a verified work order in: the route's last step, and `gridcase intake replay` for an order that
was verified when it arrived but never finished (the database went away in between)."""

from __future__ import annotations

from typing import Any

import asyncpg

from intake.decoding import Undecodable, decode_json
from intake.hotline.protocol import (
    CHANNEL,
    OrderInvalid,
    WorkOrder,
    feed_actor,
    new_case,
    parse_order,
    unknown_category,
)
from intake.service import Outcome, record_outcome, take_in
from schemas.api import FieldError
from services.http.errors import ApiError
from services.ledger.service import CreatedCase

FEED_PREFIX = f"feed:{CHANNEL}:"  # raw_inbound.submitted_by of a verified request: feed:hotline:<feed>


async def category_exists(pool: asyncpg.Pool, code: str, catalogs: Any = None) -> bool:
    # The console keeps the catalogue in memory (app.state.catalogs); the intake service asks the database.
    if catalogs is not None:
        return code in (await catalogs.get()).categories
    return await pool.fetchval("SELECT 1 FROM categories WHERE code = $1", code) is not None


async def check_category(pool: asyncpg.Pool, order: WorkOrder, catalogs: Any = None) -> None:
    if order.category_code and not await category_exists(pool, order.category_code, catalogs):
        reason = unknown_category(order.category_code)
        raise OrderInvalid(reason, fields=[FieldError(field="category_code", reason=reason)])


async def take_order(pool: asyncpg.Pool, *, raw_id: int, order: WorkOrder, feed: str) -> CreatedCase:
    return await take_in(
        pool,
        raw_id=raw_id,
        new=new_case(order, feed=feed, submitted_by=f"{FEED_PREFIX}{feed}"),
        actor=feed_actor(feed),
    )


async def replay_order(pool: asyncpg.Pool, row: asyncpg.Record) -> str:
    """Run a stored push again (for intake/inbound.py's REPLAYERS["/channels/hotline"]). Only a request
    whose signature was verified when it arrived is taken in: its time window has passed since, and its
    signature is not kept. The call id finds the case if it was opened after all."""
    submitted_by: str = row["submitted_by"] or ""
    error: dict[str, Any]
    if not submitted_by.startswith(FEED_PREFIX):
        error = {"error": "unverified", "message": "到达时未通过签名验证，不能重放；请发送方重新推送"}
        await record_outcome(pool, row["id"], Outcome.REJECTED, error=error, channel=CHANNEL)
        return Outcome.REJECTED
    try:
        decoded = decode_json(row["body"])
    except Undecodable as exc:
        error = {"error": "invalid_json", "message": exc.reason}
        await record_outcome(pool, row["id"], Outcome.REJECTED, error=error, channel=CHANNEL)
        return Outcome.REJECTED
    try:
        order = parse_order(decoded)
        await check_category(pool, order)
        created = await take_order(
            pool, raw_id=row["id"], order=order, feed=submitted_by.removeprefix(FEED_PREFIX)
        )
    except ApiError as exc:
        error = {"error": exc.error, "message": exc.message, "fields": [f.model_dump() for f in exc.fields]}
        await record_outcome(pool, row["id"], Outcome.REJECTED, error=error, channel=CHANNEL)
        return Outcome.REJECTED
    return Outcome.ACCEPTED if created.created else Outcome.DUPLICATE
