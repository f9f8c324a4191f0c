"""Configuration from the environment (GRIDCASE_*). Documented in README.md."""

from __future__ import annotations

from functools import lru_cache

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDCASE_", extra="ignore")

    # Unset means "embedded": `gridcase up` starts PostgreSQL and Tansu itself and sets these for children.
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    # Idempotent producer: on for Apache Kafka; Tansu (the embedded broker) does not support it.
    kafka_idempotent: bool = False
    topic_partitions: int = 6
    topic_replication: int = 1
    # Consumer tuning. Short session timeouts make a crashed member's partitions move quickly.
    consumer_session_timeout_ms: int = 6000
    consumer_heartbeat_ms: int = 1000
    consumer_fetch_max_wait_ms: int = 20
    consumer_max_records: int = 200
    consumer_commit_interval_s: float = 0.25

    home: str = ".gridcase"
    http_host: str = "127.0.0.1"
    port: int = 8000
    intake_url: str | None = None  # console forwards /api/v1/reports here
    notify_webhook_url: str | None = None
    notify_max_attempts: int = 8
    notify_timeout_s: float = 5.0

    outbox_retention_hours: int = 168  # published rows kept to re-seed a broker that lost its data
    relay_batch_size: int = 500
    escalation_poll_s: float = 1.0
    db_pool_max: int = 10
    log_level: str = "INFO"

    @field_validator("database_url", "kafka_bootstrap", "intake_url", "notify_webhook_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        # Compose passes `VAR=` through as an empty string: that means "not configured".
        return None if isinstance(v, str) and not v.strip() else v


@lru_cache
def get_settings() -> Settings:
    return Settings()
