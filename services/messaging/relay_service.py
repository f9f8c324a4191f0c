"""The relay process (`gridcase run relay`): OutboxRelay plus /health and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.messaging.relay import OutboxRelay
from services.runtime.logs import configure_logging
from services.runtime.service_app import add_ops_routes
from services.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    state: dict[str, OutboxRelay] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = settings or get_settings()
        configure_logging("relay", s.log_level)
        relay = OutboxRelay(s)
        state["relay"] = relay
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)

    app = FastAPI(title="Gridcase outbox relay", lifespan=lifespan, docs_url=None, redoc_url=None)

    async def check() -> None:
        if not state["relay"].ready.is_set():
            raise RuntimeError("relay not ready (starting, or standing by)")

    add_ops_routes(app, name="relay", check=check)
    return app
