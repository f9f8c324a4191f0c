"""Live updates for the console: one LISTEN connection per console process fans out new case events
to every open browser (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import asyncpg

from services.db.pool import connect

log = logging.getLogger(__name__)


class CaseEventFeed:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._wake = asyncio.Event()
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
                conn = await connect(self.database_url)
                try:
                    await self._follow(conn)
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event feed: %s; reconnecting", exc)
                await asyncio.sleep(1.0)

    async def _follow(self, conn: asyncpg.Connection) -> None:
        last: int | None = None
        await conn.add_listener("gridcase_outbox", lambda *_: self._wake.set())
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 2.0)
            self._wake.clear()
            if not self._subscribers:
                last = None  # nobody is watching: don't read the outbox at every commit
                continue
            if last is None:
                last = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
            rows = await conn.fetch(
                "SELECT id, key, headers->>'type' AS type FROM outbox WHERE id > $1 ORDER BY id LIMIT 1000",
                last,
            )
            if not rows:
                continue
            last = rows[-1]["id"]
            for r in rows:
                message = f"event: case\ndata: {json.dumps({'case_id': r['key'], 'type': r['type']})}\n\n"
                for q in list(self._subscribers):
                    if q.qsize() < 1000:  # a stalled browser must not grow memory without bound
                        q.put_nowait(message)

    async def subscribe(self) -> AsyncIterator[str]:
        q: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(q)
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(q.get(), 15.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            self._subscribers.discard(q)
