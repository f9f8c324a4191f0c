"""The command-centre console (`gridcase run console`): the sign-in page, the console page, the
read API, operators' and departments' actions, and identity (sign-in, accounts, tokens, audit)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated

import httpx
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi_offline import FastAPIOffline

from intake.routes import PREFIXES as INTAKE_PREFIXES
from intake.routes import SELF_AUTHENTICATED, UPLOADS
from intake.routes import router as intake_router
from intake.service import refusal_recorder
from schemas.access import Permission
from schemas.identity import Principal
from schemas.workflow import MAX_PHOTOS
from services.console.counters import CounterCompactor
from services.console.proxy import add_intake_proxy
from services.console.stream import CaseEventFeed
from services.console.views import router
from services.db.pool import create_pool
from services.http.errors import NotFound, install_error_handlers
from services.http.guards import install_request_guards
from services.identity.dependencies import require
from services.identity.endpoints import router as identity_router
from services.identity.middleware import Authentication
from services.identity.verifier import TokenVerifier
from services.matrix.endpoints import router as matrix_router
from services.reference.catalog import CatalogCache
from services.runtime.logs import configure_logging
from services.runtime.service_app import add_ops_routes
from services.settings import Settings, get_settings, service_settings
from services.sla.clocks import time_base
from services.supervision.endpoints import router as supervision_router

STATIC = resources.files("services.console") / "static"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    s = service_settings(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("console", s.log_level)
        app.state.settings = s
        app.state.pool = await create_pool(s.database_url, max_size=s.db_pool_max)
        app.state.catalogs = CatalogCache(app.state.pool)
        app.state.timebase = time_base(s.calendar_path, s.office_hours)
        app.state.verifier = TokenVerifier(app.state.pool, app.state.catalogs, ttl_s=s.token_cache_s)
        app.state.feed = CaseEventFeed(s.database_url)
        app.state.feed.start()
        app.state.counters = CounterCompactor(app.state.pool)
        app.state.counters.start()
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
            await app.state.counters.stop()
            await app.state.feed.stop()
            await app.state.pool.close()

    # FastAPIOffline serves the API docs' assets from the installed package: no CDN on isolated networks.
    app = FastAPIOffline(title="Gridcase 网格化管理指挥中心", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_request_guards(
        app,
        max_body_bytes=s.max_body_bytes,
        multipart_prefixes=("/api/v1/photos", *UPLOADS),
        exempt_prefixes=SELF_AUTHENTICATED,
        # Intake's requests refused here are kept raw too (when the console runs intake in-process).
        on_refused=None
        if s.intake_url
        else refusal_recorder(lambda: getattr(app.state, "pool", None), INTAKE_PREFIXES),
        upload_max_bytes=MAX_PHOTOS * s.photo_max_bytes + 64 * 1024,  # nine photos and the form around them
    )
    # Outermost: nothing below runs for a request without a valid identity (public paths aside).
    app.add_middleware(Authentication, verifier=lambda: getattr(app.state, "verifier", None))
    app.include_router(identity_router)
    app.include_router(router)
    app.include_router(matrix_router)
    app.include_router(supervision_router)
    # The public port takes reports and channel callbacks too. With no separate intake service named,
    # the console runs the intake code in-process (same transaction path, no extra HTTP hop);
    # otherwise it forwards intake's prefixes there unchanged.
    if s.intake_url:
        add_intake_proxy(app, INTAKE_PREFIXES)
    else:
        app.include_router(intake_router)

    def page(name: str) -> FileResponse:
        return FileResponse(str(STATIC / name), media_type=_MEDIA_TYPES[".html"], headers=_NO_STORE)

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return page("login.html")

    @app.get("/", include_in_schema=False)
    async def index(_: Annotated[Principal, require(Permission.SESSION)]) -> FileResponse:
        return page("index.html")

    @app.get("/workbench", include_in_schema=False)
    async def workbench(_: Annotated[Principal, require(Permission.SESSION)]) -> FileResponse:
        """The department's workbench: its queue, the case page and its actions."""
        return page("workbench.html")

    @app.get("/check", include_in_schema=False)
    async def check_page(_: Annotated[Principal, require(Permission.SESSION)]) -> FileResponse:
        """The grid worker's phone page: cases waiting for the on-site check."""
        return page("check.html")

    @app.get("/matrix", include_in_schema=False)
    async def matrix_page(_: Annotated[Principal, require(Permission.REFERENCE_READ)]) -> FileResponse:
        """The responsibility matrix (权责清单): everyone on the staff reads it, admins edit it."""
        return page("matrix.html")

    # Static files by name from one folder; the middleware lets only the sign-in page's through unsigned.
    files = {p.name for p in STATIC.iterdir() if p.is_file()}

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if name not in files or suffix not in _MEDIA_TYPES:
            raise NotFound("文件不存在")
        return FileResponse(str(STATIC / name), media_type=_MEDIA_TYPES[suffix])

    async def check() -> None:
        await app.state.pool.fetchval("SELECT 1")

    add_ops_routes(app, name="console", check=check)
    return app


_NO_STORE = {"Cache-Control": "no-store"}
