"""Create Gridcase's topics if they are missing (services and the relay call this at start)."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.topics import ALL_TOPICS
from services.settings import BrokerSettings

log = logging.getLogger(__name__)


async def ensure_topics(settings: BrokerSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="gridcase-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in ALL_TOPICS if t not in existing]
        if not missing:
            return
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        name=t,
                        num_partitions=settings.topic_partitions,
                        replication_factor=settings.topic_replication,
                    )
                    for t in missing
                ]
            )
            log.info("created topics %s", missing)
        except TopicAlreadyExistsError:
            pass  # another service won the race
    finally:
        await admin.close()
