"""The intake service (`gridcase run intake`): takes reports from every channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from intake.routes import PREFIXES, SELF_AUTHENTICATED, UPLOADS, router
from intake.service import refusal_recorder
from intake.workers import purge_forever
from schemas.workflow import MAX_PHOTOS
from services.db.pool import create_pool
from services.http.errors import install_error_handlers
from services.http.guards import install_request_guards
from services.identity.middleware import Authentication
from services.identity.verifier import TokenVerifier
from services.reference.catalog import CatalogCache
from services.runtime.logs import configure_logging
from services.runtime.service_app import add_ops_routes
from services.settings import Settings, get_settings, service_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    s = service_settings(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("intake", s.log_level)
        app.state.settings = s
        app.state.pool = await create_pool(s.database_url, max_size=s.db_pool_max)
        app.state.catalogs = CatalogCache(app.state.pool)
        app.state.verifier = TokenVerifier(app.state.pool, app.state.catalogs, ttl_s=s.token_cache_s)
        stop = asyncio.Event()
        purger = asyncio.create_task(purge_forever(app.state.pool, s, stop), name="intake:purge")
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(purger, return_exceptions=True)
            await app.state.pool.close()

    # FastAPIOffline serves the API docs' assets from the installed package: no CDN on isolated networks.
    app = FastAPIOffline(title="Gridcase intake", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_request_guards(
        app,
        max_body_bytes=s.max_body_bytes,
        multipart_prefixes=UPLOADS,
        exempt_prefixes=SELF_AUTHENTICATED,
        upload_max_bytes=MAX_PHOTOS * s.photo_max_bytes + 64 * 1024,
        on_refused=refusal_recorder(lambda: getattr(app.state, "pool", None), PREFIXES),
    )
    app.add_middleware(Authentication, verifier=lambda: getattr(app.state, "verifier", None))
    app.include_router(router)

    async def check() -> None:
        await app.state.pool.fetchval("SELECT 1")

    add_ops_routes(app, name="intake", check=check)
    return app
