"""The escalation service (`gridcase run escalation`)."""

from __future__ import annotations

from fastapi import FastAPI

from escalation import subscribers
from escalation.service import Rules
from escalation.workers import scheduler
from services.reference.catalog import CatalogCache
from services.runtime.service_app import ServiceContext, consumer_service
from services.settings import Settings, get_settings
from services.sla.clocks import time_base


def rules_from(settings: Settings) -> Rules:
    return Rules(
        tb=time_base(settings.calendar_path, settings.office_hours),
        warn_ratio=settings.deadline_warn_ratio,
        check_limit=settings.check_limit,
        default_sign_limit=settings.default_sign_limit,
        default_handle_limit=settings.default_handle_limit,
        reply_limit=settings.supervision_reply_limit,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    rules = rules_from(s)
    shared: dict[str, CatalogCache] = {}

    def catalogs(ctx: ServiceContext) -> CatalogCache:
        if "catalogs" not in shared:
            shared["catalogs"] = CatalogCache(ctx.pool)
        return shared["catalogs"]

    async def run_scheduler(ctx: ServiceContext) -> None:
        await scheduler(rules, catalogs(ctx))(ctx)

    return consumer_service(
        name="escalation",
        handlers=lambda ctx: subscribers.handlers(rules, catalogs(ctx)),
        workers=[run_scheduler],
        settings=s,
    )
