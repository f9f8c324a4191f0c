"""The timer scheduler: fires timers that came due. Timers live in PostgreSQL (an index on the due time of
the pending ones), claimed with FOR UPDATE SKIP LOCKED, so several instances share the work and a timer
that came due while everything was down fires once on start. Each timer's effect and its ``fired_at``
commit together: exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from prometheus_client import Histogram

from escalation.service import TIMERS_FIRED, Rules, fire_timer
from services.reference.catalog import CatalogCache
from services.runtime.service_app import ServiceContext

log = logging.getLogger(__name__)

LATENESS = Histogram(
    "gridcase_timer_lateness_seconds",
    "How late a timer fired after its due time",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 60, 600),
)
BATCH = 200
MIN_WAIT_S = 0.02


def scheduler(rules: Rules, catalogs: CatalogCache) -> Callable[[ServiceContext], Awaitable[None]]:
    async def run_scheduler(ctx: ServiceContext) -> None:
        while not ctx.stop.is_set():
            fired, next_in = await fire_due(ctx.pool, rules, catalogs)
            if fired >= BATCH:
                continue
            # A due timer another instance holds reads as "due now": wait a little rather than spin.
            wait = max(
                MIN_WAIT_S, min(ctx.settings.escalation_poll_s, next_in if next_in is not None else 3600.0)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stop.wait(), wait)

    return run_scheduler


async def fire_due(
    pool: asyncpg.Pool, rules: Rules, catalogs: CatalogCache, limit: int = BATCH
) -> tuple[int, float | None]:
    """Fire up to ``limit`` due timers in one transaction; (how many, seconds until the next one)."""
    try:
        catalog = await catalogs.get()
        async with pool.acquire() as conn:
            async with conn.transaction():
                # The time as a value (an InitPlan), not clock_timestamp() per row: only then can it bound
                # the index scan, so a claim reads the due timers, not every pending one.
                due = await conn.fetch(
                    "SELECT id, case_id, phase, kind, ref, clock_version, due_at, clock_timestamp() AS now "
                    "FROM timers WHERE fired_at IS NULL AND due_at <= (SELECT clock_timestamp()) "
                    "ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                    limit,
                )
                # Cases are locked in one global order (by id) in every service: no deadlocks.
                for timer in sorted(due, key=lambda t: t["case_id"]):
                    effect = "failed"
                    try:
                        async with conn.transaction():  # savepoint: one bad timer can't block the rest
                            effect = await fire_timer(conn, timer, rules=rules, catalog=catalog)
                    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
                        raise
                    except Exception:
                        log.exception(
                            "timer %s (%s) failed; marked fired so it can't block", timer["id"], timer["kind"]
                        )
                    TIMERS_FIRED.labels(timer["kind"], effect).inc()
                    LATENESS.observe(max((timer["now"] - timer["due_at"]).total_seconds(), 0.0))
                if due:
                    await conn.execute(
                        "UPDATE timers SET fired_at = clock_timestamp() WHERE id = ANY($1::bigint[])",
                        [t["id"] for t in due],
                    )
            nxt = await conn.fetchval(
                "SELECT extract(epoch FROM min(due_at) - clock_timestamp()) FROM timers WHERE fired_at IS NULL"
            )
        return len(due), (max(float(nxt), 0.0) if nxt is not None else None)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # A lost connection or a serialisation conflict: the timers are still pending; next round.
        log.warning("scheduler: %s; will retry", type(exc).__name__)
        await asyncio.sleep(1.0)
        return 0, None
