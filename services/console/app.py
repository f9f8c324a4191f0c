"""The command-centre console (`gridcase run console`): the page, the read API and operators' actions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources

import httpx
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from intake.views import router as intake_router
from services.console.stream import CaseEventFeed
from services.console.views import proxy_router, router
from services.db.pool import create_pool
from services.http.errors import install_error_handlers
from services.reference.catalog import CatalogCache
from services.runtime.logs import configure_logging
from services.runtime.service_app import add_ops_routes
from services.settings import Settings, get_settings

STATIC = resources.files("services.console") / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = settings or get_settings()
        configure_logging("console", s.log_level)
        assert s.database_url, "GRIDCASE_DATABASE_URL is not set"
        app.state.pool = await create_pool(s.database_url, max_size=s.db_pool_max)
        app.state.catalogs = CatalogCache(app.state.pool)
        app.state.feed = CaseEventFeed(s.database_url)
        app.state.feed.start()
        app.state.intake = (
            httpx.AsyncClient(base_url=s.intake_url, timeout=10.0, limits=httpx.Limits(max_connections=200))
            if s.intake_url
            else None
        )
        try:
            yield
        finally:
            if app.state.intake is not None:
                await app.state.intake.aclose()
            await app.state.feed.stop()
            await app.state.pool.close()

    # FastAPIOffline serves the API docs' assets from the installed package: no CDN on isolated networks.
    app = FastAPIOffline(title="Gridcase 网格化管理指挥中心", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    # The public port takes reports too. With no separate intake service named, the console runs the
    # intake code in-process (same transaction path, no extra HTTP hop); otherwise it forwards.
    app.include_router(proxy_router if (settings or get_settings()).intake_url else intake_router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html; charset=utf-8")

    async def check() -> None:
        await app.state.pool.fetchval("SELECT 1")

    add_ops_routes(app, name="console", check=check)
    return app
