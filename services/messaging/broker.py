"""The FastStream Kafka broker every consuming service uses, configured the same way everywhere."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY

from services.settings import BrokerSettings


def make_broker(settings: BrokerSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        enable_idempotence=settings.kafka_idempotent,
        acks="all",
        # Notice recreated topics quickly (an embedded broker restart loses them).
        metadata_max_age_ms=10_000,
        middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY)],
        # Per-message 'Received/Processed' lines at DEBUG: at hundreds of events a second they drown the log.
        log_level=logging.DEBUG,
    )
