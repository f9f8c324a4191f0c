"""The relay process (`gridcase run relay`): OutboxRelay plus /health and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.db.pool import create_pool
from services.http.errors import install_error_handlers
from services.http.guards import install_request_guards
from services.identity.middleware import Authentication
from services.identity.verifier import TokenVerifier
from services.messaging.relay import OutboxRelay
from services.reference.catalog import CatalogCache
from services.runtime.logs import configure_logging
from services.runtime.service_app import add_ops_routes
from services.settings import Settings, broker_settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    state: dict[str, OutboxRelay] = {}
    s = broker_settings(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("relay", s.log_level)
        # A small pool only to check who may read /metrics; the relay has its own connections.
        pool = await create_pool(s.database_url, max_size=2)
        app.state.verifier = TokenVerifier(pool, CatalogCache(pool), ttl_s=s.token_cache_s)
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
            await pool.close()

    app = FastAPI(title="Gridcase outbox relay", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    install_request_guards(app, max_body_bytes=s.max_body_bytes)
    app.add_middleware(Authentication, verifier=lambda: getattr(app.state, "verifier", None))

    async def check() -> None:
        if not state["relay"].ready.is_set():
            raise RuntimeError("relay not ready (starting, or standing by)")

    add_ops_routes(app, name="relay", check=check)
    return app
