"""Notify's background worker: the webhook deliverer. Woken when the consumer commits new
notifications, and every half second for retries that have come due."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import httpx

from notify.service import deliver_due
from services.runtime.service_app import ServiceContext

log = logging.getLogger(__name__)


async def run_deliverer(ctx: ServiceContext, wake: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=ctx.settings.notify_timeout_s) as client:
        while not ctx.stop.is_set():
            wake.clear()
            try:
                sent = await deliver_due(ctx, client)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("deliverer: %s; will retry", exc)
                sent = 0
                await asyncio.sleep(1.0)
            if sent:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.5)
