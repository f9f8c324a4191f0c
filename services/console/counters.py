"""Keeps the console's status counters small to read.

Triggers on ``cases`` append a delta row per side of every change to a case's status, grid,
department or assisting departments (``case_count_deltas``): appending never waits on another
transaction, where updating one shared counter row would make every intake wait for the consumer
batch that last touched it. The counters read ``case_counts`` plus the deltas; this loop folds the
deltas into ``case_counts`` every second so there are never many (one caller at a time across all
console processes: ``gridcase_compact_case_counts()`` takes a transaction advisory lock or returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from prometheus_client import Counter

log = logging.getLogger(__name__)

FOLDED = Counter("gridcase_case_count_deltas_folded_total", "Counter deltas folded into case_counts")


async def compact(pool: asyncpg.Pool) -> int:
    moved: int = await pool.fetchval("SELECT gridcase_compact_case_counts()")
    FOLDED.inc(moved)
    return moved


class CounterCompactor:
    def __init__(self, pool: asyncpg.Pool, interval_s: float = 1.0) -> None:
        self.pool = pool
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await compact(self.pool)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("counter compaction: %s", exc)
            await asyncio.sleep(self.interval_s)
