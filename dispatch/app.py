"""The dispatch service (`gridcase run dispatch`)."""

from __future__ import annotations

from fastapi import FastAPI

from dispatch import subscribers
from dispatch.duplicates import DuplicateRule
from dispatch.workers import redrive_stranded
from services.reference.catalog import CatalogCache
from services.runtime.service_app import consumer_service
from services.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return consumer_service(
        name="dispatch",
        handlers=lambda ctx: subscribers.handlers(
            CatalogCache(ctx.pool),
            DuplicateRule(ctx.settings.duplicate_radius_m, ctx.settings.duplicate_window_hours),
        ),
        workers=[redrive_stranded],
        settings=settings,
    )
