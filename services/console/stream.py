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
        # Set while the feed follows the outbox for someone (it starts at the first subscriber).
        self.following = asyncio.Event()

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
        # The snapshot of the last read ('xmin:xmax:xip…'). The next read returns the outbox rows of
        # the transactions it saw as not yet committed that have committed since. Unlike `id > last`,
        # this never skips a row whose transaction committed after a higher id had been read (ids
        # are taken at insert, visibility comes at commit): the relay has the same problem solved by
        # `published_at IS NULL`; a feed that marks nothing needs the snapshots.
        snapshot: str | None = None
        await conn.add_listener("gridcase_outbox", lambda *_: self._wake.set())
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 2.0)
            self._wake.clear()
            if not self._subscribers:
                snapshot = None  # nobody is watching: don't read the outbox at every commit
                self.following.clear()
                continue
            if snapshot is None:
                snapshot = await conn.fetchval("SELECT pg_current_snapshot()::text")  # from now on
                self.following.set()
                continue
            snapshot, rows = await self._committed_since(conn, snapshot)
            if not rows:
                continue
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
    async def _committed_since(conn: asyncpg.Connection, snapshot: str) -> tuple[str, list[asyncpg.Record]]:
        """The rows written by transactions not yet committed in ``snapshot`` that are visible now, and
        the snapshot of this read. One statement: the rows and the snapshot are the same point in time.

        ``txid >= xmin(snapshot)`` bounds the scan (ix_outbox_txid): every older transaction had
        finished before that snapshot, so its rows were read then. Rows written before migration 0003
        have no txid and are never read (the feed only shows what happens while it is open).
        """
        rows = await conn.fetch(
            "WITH s AS MATERIALIZED (SELECT pg_current_snapshot() AS now) "
            "SELECT s.now::text AS snapshot, o.id, o.key, o.headers->>'type' AS type FROM s "
            "LEFT JOIN outbox o ON o.txid >= pg_snapshot_xmin($1::text::pg_snapshot) "
            "AND NOT pg_visible_in_snapshot(o.txid, $1::text::pg_snapshot) ORDER BY o.id",
            snapshot,
        )
        return rows[0]["snapshot"], [r for r in rows if r["id"] is not None]

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
        self._wake.set()  # the first one starts the feed now, not at the next commit
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
