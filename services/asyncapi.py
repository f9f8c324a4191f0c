"""AsyncAPI description of Gridcase's Kafka contracts.

`faststream docs gen services.asyncapi:app` writes it; `docs/asyncapi.json` is the generated copy.
The subscribers here are the real ones (same topics, groups and settings) with no database attached.
"""

from __future__ import annotations

from typing import Any, cast

from faststream import FastStream
from faststream.specification import AsyncAPI

from dispatch.subscribers import handlers as dispatch_handlers
from escalation.subscribers import handlers as escalation_handlers
from notify.subscribers import TRIGGERS as NOTIFY_TRIGGERS
from schemas.events import EventEnvelope
from schemas.topics import CASE_EVENTS, DEAD_LETTERS
from services.messaging.broker import make_broker
from services.messaging.consumer import IdempotentConsumer
from services.settings import BrokerSettings


def build() -> FastStream:
    settings = BrokerSettings(database_url="postgresql://docs", kafka_bootstrap="kafka:9092")
    broker = make_broker(settings, client_id="gridcase-docs")
    consumers: dict[str, dict[str, Any]] = {
        "dispatch": dict(dispatch_handlers(cast(Any, None)).handlers),
        "escalation": dict(escalation_handlers()),
        "notify": dict.fromkeys(NOTIFY_TRIGGERS, None),
    }
    for name, table in consumers.items():
        IdempotentConsumer(name=name, pool=cast(Any, None), handlers=table, settings=settings).subscribe(
            broker
        )
    broker.publisher(
        CASE_EVENTS,
        title="outbox-relay:case-events",
        description="Every case event, published from the outbox in commit order, keyed by case id.",
        schema=EventEnvelope,
    )
    broker.publisher(
        DEAD_LETTERS,
        title="consumers:dead-letters",
        description="Messages a consumer could not handle; headers carry x-dead-letter-reason and the origin.",
    )
    return FastStream(
        broker,
        specification=AsyncAPI(
            title="Gridcase case lifecycle",
            version="0.1.0",
            description="Kafka contracts of the Gridcase services (envelope: schemas/events.py).",
        ),
    )


app = build()
