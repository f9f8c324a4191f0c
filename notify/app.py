"""The notify service (`gridcase run notify`)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from notify import subscribers, workers
from services.runtime.service_app import ServiceContext, consumer_service
from services.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    wake = asyncio.Event()

    async def deliverer(ctx: ServiceContext) -> None:
        await workers.run_deliverer(ctx, wake)

    return consumer_service(
        name="notify",
        handlers=lambda ctx: subscribers.handlers(ctx, wake),
        workers=[deliverer],
        settings=settings,
    )
