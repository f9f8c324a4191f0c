"""Intake's background work: delete raw requests past their retention (they hold personal data), old
nonces and message keys, once an hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from intake.inbound import purge
from services.settings import Settings

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


async def purge_forever(pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            counts = await purge(
                pool, retention_days=settings.raw_retention_days, nonce_window_s=settings.signature_window_s
            )
            if any(counts.values()):
                log.info("purged %s", counts)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("purge failed: %s; next try in an hour", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PURGE_EVERY_S)
