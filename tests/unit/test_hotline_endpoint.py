"""The hotline route in-process, on a fake pool: what is stored first, the order of the checks, the
per-feed rate limit and the 503 when no secret is configured. (Taking a case in runs on the real stack:
tests/integration/test_hotline.py.)"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from intake.hotline.endpoints import router
from services.http.errors import install_error_handlers
from services.settings import Settings


class FakePool:
    """Records what the route writes: raw rows, outcomes, the verified sender."""

    def __init__(self) -> None:
        self.raw: list[dict[str, Any]] = []
        self.executed: list[tuple[str, tuple[Any, ...]]] = []

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if sql.startswith("INSERT INTO raw_inbound"):
            self.raw.append({"channel": args[0], "body": args[2], "submitted_by": args[3]})
            return len(self.raw)
        raise AssertionError(f"unexpected query {sql}")

    async def execute(self, sql: str, *args: Any) -> None:
        self.executed.append((sql, args))

    def outcomes(self) -> list[tuple[str, str]]:
        return [
            (a[1], a[3]["error"]) for s, a in self.executed if s.startswith("UPDATE raw_inbound SET outcome")
        ]


def make_app(**settings: Any) -> tuple[httpx.AsyncClient, FakePool]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    pool = FakePool()
    app.state.pool = pool
    app.state.settings = Settings(**settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gridcase.test")
    return client, pool


async def post(
    client: httpx.AsyncClient, body: bytes, secret: str, *, feed: str | None = None, **headers: str
) -> httpx.Response:
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    h = {"X-Gridcase-Timestamp": ts, "X-Gridcase-Signature": f"sha256={sig}", **headers}
    if feed:
        h["X-Gridcase-Feed"] = feed
    return await client.post("/channels/hotline", content=body, headers=h)


async def test_no_secret_configured_is_503_and_the_request_is_kept() -> None:
    client, pool = make_app()
    r = await post(client, b"{}", "x", **{"Content-Type": "application/json"})
    assert r.status_code == 503 and r.json()["error"] == "hotline_not_configured"
    assert pool.raw == [{"channel": "hotline", "body": b"{}", "submitted_by": None}]
    assert pool.outcomes() == [("failed", "hotline_not_configured")]
    assert r.json()["details"]["raw_id"] == 1


async def test_wrong_signature_is_401_kept_and_not_attributed() -> None:
    client, pool = make_app(hotline_secret=SecretStr("right"))
    r = await post(client, b"{}", "wrong", **{"Content-Type": "application/json"})
    assert r.status_code == 401 and r.json()["error"] == "signature_mismatch"
    assert pool.outcomes() == [("rejected", "signature_mismatch")]
    assert not any("submitted_by" in sql for sql, _ in pool.executed)


async def test_verified_then_content_type_then_json() -> None:
    client, pool = make_app(hotline_secret=SecretStr("right"))
    r = await post(client, b"call_id=1", "right", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json()["message"]
    r = await post(client, b"{not json", "right", **{"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = await post(client, b'{"call_id": "1"}', "right", **{"Content-Type": "application/json"})
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["fields"]} == {"called_at", "summary"}
    assert [o for o, _ in pool.outcomes()] == ["rejected"] * 3
    senders = [a for sql, a in pool.executed if "submitted_by" in sql]
    assert senders == [(i, "feed:hotline:default") for i in (1, 2, 3)]


@pytest.mark.parametrize("feed", ["cti-east", "cti-west"])
async def test_rate_limit_is_per_feed(feed: str) -> None:
    client, pool = make_app(
        hotline_secrets=SecretStr("cti-east=e,cti-west=w"), rate_source_per_s=0.001, rate_source_burst=2
    )
    secrets = {"cti-east": "e", "cti-west": "w"}
    other = "cti-west" if feed == "cti-east" else "cti-east"
    json_type = {"Content-Type": "application/json"}
    codes = [await post(client, b"[]", secrets[feed], feed=feed, **json_type) for _ in range(3)]
    assert [r.status_code for r in codes] == [422, 422, 429]
    assert codes[2].json()["error"] == "rate_limited" and int(codes[2].headers["Retry-After"]) >= 1
    assert "热线工单推送过于频繁" in codes[2].json()["message"]
    # Another feed has its own bucket.
    assert (await post(client, b"[]", secrets[other], feed=other, **json_type)).status_code == 422
    assert pool.outcomes()[2] == ("rejected", "rate_limited")
