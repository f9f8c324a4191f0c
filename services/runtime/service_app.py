"""The shape every consuming service shares: a FastAPI app whose lifespan starts a database pool,
the Kafka subscriber and the service's background workers, and which serves /health and /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Response
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from schemas.access import Permission
from schemas.events import EventEnvelope
from schemas.identity import Principal
from services.db.pool import create_pool
from services.http.errors import install_error_handlers
from services.http.guards import install_request_guards
from services.identity.dependencies import require
from services.identity.middleware import Authentication
from services.identity.verifier import TokenVerifier
from services.messaging.broker import make_broker
from services.messaging.consumer import Handler, HandlerTable, IdempotentConsumer
from services.messaging.topics import ensure_topics
from services.reference.catalog import CatalogCache
from services.runtime.logs import configure_logging
from services.settings import BrokerSettings, Settings, broker_settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    name: str
    settings: BrokerSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    committed: list[Callable[[Sequence[EventEnvelope]], None]] = field(default_factory=list)


Worker = Callable[[ServiceContext], Coroutine[Any, Any, None]]


def add_ops_routes(app: FastAPI, *, name: str, check: Callable[[], Awaitable[None]]) -> None:
    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        try:
            await asyncio.wait_for(check(), 3.0)
        except Exception as exc:
            return Response(
                content=f'{{"status":"unavailable","service":"{name}","error":"{type(exc).__name__}"}}',
                status_code=503,
                media_type="application/json",
            )
        return Response(content=f'{{"status":"ok","service":"{name}"}}', media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics(_: Annotated[Principal, require(Permission.METRICS_READ)]) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def consumer_service(
    *,
    name: str,
    handlers: Callable[[ServiceContext], Mapping[str, Handler] | HandlerTable],
    workers: Sequence[Worker] = (),
    settings: Settings | None = None,
) -> FastAPI:
    """Build a service that consumes case events with ``handlers`` and runs ``workers`` beside them."""
    s = broker_settings(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(name, s.log_level)
        pool = await create_pool(s.database_url, max_size=s.db_pool_max)
        app.state.verifier = TokenVerifier(pool, CatalogCache(pool), ttl_s=s.token_cache_s)
        await ensure_topics(s)
        broker = make_broker(s, client_id=f"gridcase-{name}")
        ctx = ServiceContext(name=name, settings=s, pool=pool, broker=broker)
        consumer = IdempotentConsumer(name=name, pool=pool, handlers=handlers(ctx), settings=s)
        consumer.on_committed = lambda envs: [cb(envs) for cb in ctx.committed]
        consumer.subscribe(broker)
        await broker.start()
        tasks = [
            asyncio.create_task(w(ctx), name=f"{name}:{getattr(w, '__name__', 'worker')}") for w in workers
        ]
        for t in tasks:
            t.add_done_callback(lambda task: _exit_if_crashed(task, ctx))
        app.state.ctx = ctx
        log.info("%s started", name)
        try:
            yield
        finally:
            ctx.stop.set()
            # Stop consuming first: an unfinished batch is neither committed in PostgreSQL nor acked in Kafka.
            await broker.stop()
            # Workers see ctx.stop between units of work; give an in-flight one (a webhook POST) time
            # to finish and be recorded, so a restart does not send it again.
            if tasks:
                _done, pending = await asyncio.wait(tasks, timeout=10)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            await pool.close()
            log.info("%s stopped", name)

    app = FastAPI(title=f"Gridcase {name}", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    install_request_guards(app, max_body_bytes=s.max_body_bytes)
    app.add_middleware(Authentication, verifier=lambda: getattr(app.state, "verifier", None))

    async def check() -> None:
        ctx: ServiceContext = app.state.ctx
        await ctx.pool.fetchval("SELECT 1")
        if not await ctx.broker.ping(timeout=2.0):
            raise ConnectionError("kafka unreachable")

    add_ops_routes(app, name=name, check=check)
    return app


def _exit_if_crashed(task: asyncio.Task[None], ctx: ServiceContext) -> None:
    if ctx.stop.is_set() or task.cancelled():
        return
    exc = task.exception()
    log.error(
        "worker %s ended unexpectedly (%r); exiting so the supervisor restarts the service",
        task.get_name(),
        exc,
    )
    os.kill(os.getpid(), signal.SIGTERM)
