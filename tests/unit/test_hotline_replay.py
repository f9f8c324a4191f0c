"""Replaying a stored hotline push: only what was verified when it arrived; a bad body stays refused."""

from __future__ import annotations

from typing import Any

import pytest

from intake.hotline.orders import replay_order


class FakePool:
    def __init__(self) -> None:
        self.outcomes: list[tuple[Any, ...]] = []

    async def execute(self, sql: str, *args: Any) -> None:
        assert sql.startswith("UPDATE raw_inbound SET outcome")
        self.outcomes.append(args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return None  # no category exists


@pytest.mark.parametrize(
    ("submitted_by", "body", "error"),
    [
        (None, b'{"call_id": "1"}', "unverified"),
        ("user:zhang", b'{"call_id": "1"}', "unverified"),
        ("feed:hotline:default", b"{oops", "invalid_json"),
        ("feed:hotline:default", b'{"call_id": "1"}', "validation_error"),
        (
            "feed:hotline:cti-east",
            '{"call_id": "1", "called_at": "2026-11-25T09:30:00+08:00", "summary": "路灯不亮",'
            ' "category_code": "0999"}'.encode(),
            "validation_error",
        ),
    ],
)
async def test_refused_replays(submitted_by: str | None, body: bytes, error: str) -> None:
    pool = FakePool()
    outcome = await replay_order(pool, {"id": 7, "submitted_by": submitted_by, "body": body})
    assert outcome == "rejected"
    (raw_id, recorded, _case, details, channel) = pool.outcomes[0]
    assert (raw_id, recorded, details["error"], channel) == (7, "rejected", error, "hotline")
