"""Configuration from the environment (GRIDCASE_*). Documented in README.md."""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar

from pydantic import Field, SecretStr, field_validator
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

    # HTTP: bodies larger than this are refused while they are read (413), on every route.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # Photos of results and checks (JPEG, PNG, WebP): where they are kept and how large one may be.
    media_dir: str | None = None  # default: <home>/media
    photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    # Identity and access.
    admin_password: SecretStr | None = None  # creates or updates the account `admin` at start
    session_ttl_hours: float = Field(default=12.0, gt=0)  # a sign-in lasts this long
    token_cache_s: float = Field(default=5.0, ge=0)  # how long a checked token is trusted in memory
    cookie_secure: bool = False  # set true behind HTTPS so the session cookie is never sent in clear
    login_throttle_after: int = 3  # wrong passwords in a row before each attempt must wait
    login_lock_after: int = 10  # wrong passwords in a row that lock the account
    login_lock_minutes: float = 15.0

    # Channels (issue 8). WeChat official account: the token and EncodingAESKey set in its console.
    wechat_token: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None  # 43 characters; with it, safe mode (encrypt_type=aes) works
    wechat_appid: str | None = None
    wechat_session_minutes: float = Field(default=10.0, gt=0)  # one resident's messages make one case
    # 12345 hotline feeds: HMAC-SHA256 secrets. One (`hotline_secret`) or several, `name=secret,name=secret`.
    hotline_secret: SecretStr | None = None
    hotline_secrets: SecretStr | None = None
    signature_window_s: int = Field(default=300, ge=30)  # signed requests' timestamps: ± this many seconds
    open311_public: bool = False  # GET requests without an api_key (no personal data is ever shown)
    # A new report of the same category this close, this recent, to an open case: a likely duplicate.
    duplicate_radius_m: float = Field(default=100.0, ge=0)
    duplicate_window_hours: float = Field(default=24.0, ge=0)
    raw_retention_days: float = Field(default=180.0, gt=0)  # raw requests hold personal data: then deleted
    # Per-source rate limits (per process): feeds and accounts, each resident, each remote address.
    rate_source_per_s: float = Field(default=300.0, gt=0)
    rate_source_burst: float = Field(default=600.0, ge=1)
    rate_resident_per_min: float = Field(default=20.0, gt=0)
    rate_address_per_s: float = Field(default=200.0, gt=0)

    # Working time and SLA clocks (issue 9).
    office_hours: str = "08:30-12:00,13:30-17:30"  # per working day; a department may differ later
    calendar_file: str | None = None  # default <home>/calendar.yaml (`gridcase calendar import`)
    deadline_warn_ratio: float = Field(default=0.8, gt=0, lt=1)  # the yellow light, and its warning
    deadline_red_ratio: float = Field(default=1.0, gt=0, le=1)  # the red light (the deadline itself at 1)
    check_limit: str = "1wd"  # the on-site check (核查) after a case is reported handled
    default_sign_limit: str = "2wh"  # a case dispatched without a category
    default_handle_limit: str = "3wd"
    supervision_reply_limit: str = "1wd"  # a supervision order's reply deadline

    @property
    def calendar_path(self) -> str:
        return self.calendar_file or f"{self.home}/calendar.yaml"

    @field_validator("office_hours")
    @classmethod
    def _office_hours(cls, v: str) -> str:
        from services.sla.worktime import OfficeHours

        OfficeHours.parse(v)  # refuse a bad value at start, not at the first deadline
        return v

    @field_validator("check_limit", "default_sign_limit", "default_handle_limit", "supervision_reply_limit")
    @classmethod
    def _time_limit(cls, v: str) -> str:
        from services.sla.timelimits import TimeLimit

        TimeLimit.parse(v)
        return v

    @property
    def media_path(self) -> str:
        return self.media_dir or f"{self.home}/media"

    @field_validator(
        "database_url",
        "kafka_bootstrap",
        "intake_url",
        "notify_webhook_url",
        "admin_password",
        "wechat_token",
        "wechat_aes_key",
        "wechat_appid",
        "hotline_secret",
        "hotline_secrets",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        # Compose passes `VAR=` through as an empty string: that means "not configured".
        return None if isinstance(v, str) and not v.strip() else v


class ServiceSettings(Settings):
    """What a running service needs: the launcher or the deployment must have named the database."""

    database_url: str


class BrokerSettings(ServiceSettings):
    """A service that consumes or publishes events also needs the broker."""

    kafka_bootstrap: str


_S = TypeVar("_S", bound=Settings)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _validated(kind: type[_S], settings: Settings | None) -> _S:
    if isinstance(settings, kind):
        return settings
    if settings is not None:
        return kind.model_validate(settings.model_dump())
    return kind()  # read from the environment


def service_settings(settings: Settings | None = None) -> ServiceSettings:
    """Validated settings of a service process; a missing GRIDCASE_DATABASE_URL fails here, clearly."""
    return _validated(ServiceSettings, settings)


def broker_settings(settings: Settings | None = None) -> BrokerSettings:
    """Validated settings of a process that talks to Kafka; a missing GRIDCASE_KAFKA_BOOTSTRAP fails here."""
    return _validated(BrokerSettings, settings)
