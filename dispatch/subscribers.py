"""Dispatch's event subscribers: the handler table of its consumer."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from dispatch.duplicates import DuplicateRule
from dispatch.reading import read_texts
from dispatch.service import NO_DUPLICATE_CHECK, route_reported_case
from schemas.events import EventEnvelope, EventType
from services.classify.model import Decision
from services.messaging.consumer import HandlerTable
from services.reference.catalog import CatalogCache


def handlers(catalogs: CatalogCache, duplicates: DuplicateRule = NO_DUPLICATE_CHECK) -> HandlerTable:
    # The model's reading of this batch's free-text reports, made in one pass before they are routed.
    readings: dict[uuid.UUID, Decision] = {}

    async def prepare(conn: asyncpg.Connection, events: Sequence[EventEnvelope]) -> None:
        readings.clear()
        readings.update(await read_texts(conn, [e.case_id for e in events if e.type == EventType.REPORTED]))

    async def on_reported(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await route_reported_case(
            conn,
            await catalogs.get(),
            event.case_id,
            model=readings.pop(event.case_id, None),
            duplicates=duplicates,
        )

    async def on_supplemented(conn: asyncpg.Connection, event: EventEnvelope) -> None:
        # A place or a clearer text arrived: a case waiting in triage for it is routed again.
        await route_reported_case(
            conn, await catalogs.get(), event.case_id, duplicates=duplicates, reroute=True
        )

    return HandlerTable(
        {EventType.REPORTED: on_reported, EventType.SUPPLEMENTED: on_supplemented}, prepare=prepare
    )
