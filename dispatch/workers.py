"""Dispatch's background worker: re-drive stranded cases.

A case stays ``reported`` only until dispatch routes it, normally within a second. One that has been
``reported`` for minutes lost its ``case.reported`` event: dead-lettered after a transient error, or
never delivered. The worker routes such cases with the subscriber's own function, one transaction
each, so they are dispatched or triaged exactly as if the event had arrived; the function locks the
case and does nothing if it is no longer ``reported``, so a late event (or a dead-letter replay) and
several dispatch instances are harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg
from prometheus_client import Counter

from dispatch.service import route_reported_case
from services.reference.catalog import CatalogCache
from services.runtime.service_app import ServiceContext

log = logging.getLogger(__name__)

STRANDED_AFTER = timedelta(minutes=2)  # longer than any healthy pipeline delay, short for a resident
POLL_S = 30.0
BATCH = 100

STRANDED = Counter("gridcase_stranded_redriven_total", "Cases re-driven after they were stuck in reported")

# The database went away or a lock conflicted: the cases are still there, the next round takes them.
_RETRY_LATER = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


async def redrive_stranded(ctx: ServiceContext) -> None:
    catalogs = CatalogCache(ctx.pool)
    while not ctx.stop.is_set():
        # Wait first: at start the consumer may still be catching up on a backlog of these events.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stop.wait(), POLL_S)
        if ctx.stop.is_set():
            return
        try:
            while await redrive_due(ctx.pool, catalogs) >= BATCH and not ctx.stop.is_set():
                pass  # a full batch: there may be more
        except (*_RETRY_LATER, asyncpg.PostgresError) as exc:
            log.warning("stranded cases: %s; will retry", exc)


async def redrive_due(
    pool: asyncpg.Pool,
    catalogs: CatalogCache,
    *,
    limit: int = BATCH,
    stranded_after: timedelta = STRANDED_AFTER,
) -> int:
    """Route up to ``limit`` cases stuck in ``reported``; returns how many were routed."""
    redriven = 0
    async with pool.acquire() as conn:
        stranded = await conn.fetch(
            "SELECT id, case_no, created_at FROM cases "
            "WHERE status = 'reported' AND created_at < clock_timestamp() - $1::interval "
            "ORDER BY created_at LIMIT $2",
            stranded_after,
            limit,
        )
        for row in stranded:
            catalog = await catalogs.get()
            try:
                async with conn.transaction():
                    event = await route_reported_case(conn, catalog, row["id"])
            except _RETRY_LATER:
                raise
            except Exception as exc:
                # This case only (a data problem the consumer would have dead-lettered): the others go on.
                log.warning(
                    "stranded case %s could not be routed (%s); will retry", row["case_no"], _reason(exc)
                )
                continue
            if event is None:
                continue  # routed meanwhile (the event arrived late, or another instance)
            redriven += 1
            STRANDED.inc()
            log.warning(
                "case %s was stranded in reported since %s; re-driven: %s",
                row["case_no"],
                row["created_at"].isoformat(timespec="seconds"),
                event.type,
            )
    return redriven


def _reason(exc: Exception) -> str:
    # SQL errors name the constraint or column, never row data; other messages might quote the case.
    if isinstance(exc, asyncpg.PostgresError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__
