"""The deadline scheduler: fires clocks whose deadline has passed. Clocks live in PostgreSQL, so a
deadline that passed while the service was down fires when it comes back. Each clock is fired under
the case's row lock with its condition re-checked, so several instances never fire one deadline twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from escalation.service import escalate_due
from services.runtime.service_app import ServiceContext

log = logging.getLogger(__name__)


async def run_scheduler(ctx: ServiceContext) -> None:
    while not ctx.stop.is_set():
        fired = await fire_due(ctx)
        if fired:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stop.wait(), ctx.settings.escalation_poll_s)


async def fire_due(ctx: ServiceContext, limit: int = 50) -> int:
    fired = 0
    try:
        async with ctx.pool.acquire() as conn:
            due = await conn.fetch(
                "SELECT case_id FROM sla_clocks WHERE state = 'running' AND due_at <= clock_timestamp() "
                "ORDER BY due_at LIMIT $1",
                limit,
            )
            for row in due:
                async with conn.transaction():
                    if await escalate_due(conn, case_id=row["case_id"]) is not None:
                        fired += 1
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # A lost connection or a lock conflict: the clock is still in the table, the next round fires it.
        log.warning("scheduler: %s; will retry", exc)
        await asyncio.sleep(1.0)
    return fired
