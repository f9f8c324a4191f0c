"""The escalation service (`gridcase run escalation`)."""

from __future__ import annotations

from fastapi import FastAPI

from escalation import subscribers
from escalation.workers import run_scheduler
from services.runtime.service_app import consumer_service
from services.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return consumer_service(
        name="escalation",
        handlers=lambda ctx: subscribers.handlers(),
        workers=[run_scheduler],
        settings=settings,
    )
