"""Live updates for the console: one LISTEN connection per console process fans out new case events
to every open browser (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from schemas.access import CaseFacts, Permission, decide
from schemas.identity import Principal
from services.console.access import FACT_COLUMNS, facts_of
from services.db.pool import connect

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Subscriber:
    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class CaseEventFeed:
    """Each browser gets the events of the cases its signed-in person may see, nothing else."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._subscribers: set[_Subscriber] = set()
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
            facts = await self._facts(conn, {r["key"] for r in rows})
            for r in rows:
                case = facts.get(r["key"])
                if case is None:
                    continue
                message = f"event: case\ndata: {json.dumps({'case_id': r['key'], 'type': r['type']})}\n\n"
                for sub in list(self._subscribers):
                    # a stalled browser must not grow memory without bound
                    if sub.queue.qsize() < 1000 and decide(sub.principal, Permission.CASE_READ, case):
                        sub.queue.put_nowait(message)

    @staticmethod
    async def _facts(conn: asyncpg.Connection, keys: set[str]) -> dict[str, CaseFacts]:
        ids = []
        for key in keys:
            try:
                ids.append(uuid.UUID(key))
            except ValueError:
                continue
        rows = await conn.fetch(f"SELECT id, {FACT_COLUMNS} FROM cases WHERE id = ANY($1::uuid[])", ids)
        return {str(r["id"]): facts_of(r) for r in rows}

    async def subscribe(self, principal: Principal) -> AsyncIterator[str]:
        sub = _Subscriber(principal)
        self._subscribers.add(sub)
        try:
            yield "retry: 2000\n\n"
            while True:
                if principal.expires_at is not None and principal.expires_at < _utcnow():
                    return  # the sign-in expired: the browser reconnects and is sent to sign in
                try:
                    yield await asyncio.wait_for(sub.queue.get(), 15.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            self._subscribers.discard(sub)


def _utcnow() -> datetime:
    return datetime.now(UTC)
