"""Escalation's event subscribers: every lifecycle event that starts, pauses, resumes, moves, restarts or
ends a clock (``CLOCK_RULES``) goes to one handler (the handler table of its consumer)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from escalation.service import Rules, apply_lifecycle
from schemas.events import EventEnvelope
from services.messaging.consumer import Handler
from services.reference.catalog import CatalogCache
from services.sla.clocks import CLOCK_RULES


def handlers(rules: Rules | None = None, catalogs: CatalogCache | None = None) -> Mapping[str, Handler]:
    async def on_lifecycle(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        assert rules is not None and catalogs is not None  # only the AsyncAPI document builds it without
        await apply_lifecycle(conn, event, rules=rules, catalog=await catalogs.get())

    return dict.fromkeys(CLOCK_RULES, on_lifecycle)
