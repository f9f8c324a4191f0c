"""Dispatch's event subscribers: the handler table of its consumer."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from dispatch.service import route_reported_case
from schemas.events import EventEnvelope, EventType
from services.messaging.consumer import Handler
from services.reference.catalog import CatalogCache


def handlers(catalogs: CatalogCache) -> Mapping[str, Handler]:
    async def on_reported(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await route_reported_case(conn, await catalogs.get(), event.case_id)

    return {EventType.REPORTED: on_reported}
