"""The published Kafka contract (docs/asyncapi.json) matches the code."""

from __future__ import annotations

import json
from pathlib import Path

from services.asyncapi import build

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_asyncapi_lists_every_consumer_and_the_envelope() -> None:
    spec = json.loads(build().schema.to_specification().to_json())
    assert {"dispatch:case-events", "escalation:case-events", "notify:case-events"} <= set(spec["channels"])
    envelope = spec["components"]["schemas"]["EventEnvelope"]
    assert {"event_id", "type", "case_id", "seq", "status", "payload"} <= set(envelope["properties"])


def test_committed_asyncapi_document_is_current() -> None:
    generated = json.loads(build().schema.to_specification().to_json())
    committed = json.loads(DOC.read_text(encoding="utf-8"))
    assert committed == generated, (
        "regenerate: faststream docs gen services.asyncapi:app --out docs/asyncapi.json"
    )
