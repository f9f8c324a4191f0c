"""Service settings are validated (not asserted): a missing database or broker fails clearly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.settings import Settings, broker_settings, service_settings


def test_a_service_without_a_database_fails_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDCASE_DATABASE_URL", raising=False)
    monkeypatch.delenv("GRIDCASE_KAFKA_BOOTSTRAP", raising=False)
    with pytest.raises(ValidationError, match="database_url"):
        service_settings()
    with pytest.raises(ValidationError, match="kafka_bootstrap"):
        broker_settings(Settings(database_url="postgresql://x/y"))


def test_validated_settings_keep_their_values() -> None:
    s = broker_settings(Settings(database_url="postgresql://x/y", kafka_bootstrap="k:9092", port=9000))
    assert (s.database_url, s.kafka_bootstrap, s.port) == ("postgresql://x/y", "k:9092", 9000)
    assert service_settings(s) is s
