"""The Open311 routes in-process, on a fake database and token verifier: every refusal in Open311's
shape and the resource's format, the raw request kept with its api_key masked, rate limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as DET
import httpx
import pytest
from fastapi import FastAPI

import intake.open311.endpoints as endpoints
from intake.open311.params import RequestQuery
from intake.open311.service import requests_sql
from schemas.identity import Principal, Role
from services.http.guards import install_request_guards
from services.ledger.service import CreatedCase
from services.settings import Settings

FEED_KEY = "gct_open311FeedTokenForTheUnitTests0000000000"
HOTLINE_KEY = "gct_hotlineFeedTokenForTheUnitTests000000000"
OPERATOR_KEY = "gcs_operatorSessionForTheUnitTests0000000000"


def _principal(subject: str, role: Role, channel: str | None) -> Principal:
    return Principal(
        subject=subject,
        kind="token",
        credential_id=subject,
        display_name=subject,
        role=role,
        unit="x",
        channel=channel,
    )


PRINCIPALS = {
    FEED_KEY: _principal("token:feed", Role.FEED, "open311"),
    HOTLINE_KEY: _principal("token:hotline", Role.FEED, "hotline"),
    OPERATOR_KEY: _principal("user:op", Role.OPERATOR, None),
}


class FakeVerifier:
    async def verify(self, token: str) -> Principal | None:
        return PRINCIPALS.get(token)


CASE = {
    "case_no": "20260105000001",
    "status": "duplicate",
    "category_code": "0101",
    "category_name": "路灯损坏",
    "description": "路灯坏了，电话13812345678",
    "department_name": None,
    "created_at": datetime(2026, 1, 5, tzinfo=UTC),
    "updated_at": datetime(2026, 1, 5, tzinfo=UTC),
    "due_at": None,
    "address": "柳塘路12号3幢501室",
    "lat": 30.123456,
    "lon": 120.123456,
    "intake_details": {"media_url": "https://x.org/a.jpg"},
    "duplicate_of_no": "20260104000009",
}


class FakePool:
    def __init__(self) -> None:
        self.raw: dict[int, dict[str, Any]] = {}
        self.outcomes: dict[int, tuple[str, Any]] = {}
        self.categories = {"0101": ("路灯损坏", "component"), "0205": ("露天烧烤或油烟扰民", "event")}

    async def fetchval(self, sql: str, *args: Any) -> Any:
        assert "INSERT INTO raw_inbound" in sql
        raw_id = len(self.raw) + 1
        keys = ("channel", "content_type", "body", "submitted_by", "headers", "path", "remote_addr")
        self.raw[raw_id] = dict(zip(keys, args, strict=True))
        return raw_id

    async def execute(self, sql: str, *args: Any) -> None:
        assert "UPDATE raw_inbound" in sql
        self.outcomes[args[0]] = (args[1], args[3])

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if "FROM categories" in sql:
            return [{"code": c, "name": n, "kind": k} for c, (n, k) in sorted(self.categories.items())]
        return [CASE]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        if "FROM categories" in sql:
            found = self.categories.get(args[0])
            return {"code": args[0], "name": found[0], "kind": found[1]} if found else None
        return CASE if args[0] == CASE["case_no"] else None


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


def _app(pool: FakePool, **settings: Any) -> FastAPI:
    app = FastAPI()
    install_request_guards(app, max_body_bytes=2048, exempt_prefixes=("/open311/",))
    app.include_router(endpoints.router)
    app.state.settings = Settings(**settings)
    app.state.pool = pool
    app.state.verifier = FakeVerifier()
    return app


@pytest.fixture
async def client(pool: FakePool) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture(autouse=True)
def fake_open(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    opened: list[dict[str, Any]] = []

    async def open_request(pool: Any, **kwargs: Any) -> CreatedCase:
        opened.append(kwargs)
        await pool.execute("UPDATE raw_inbound", kwargs["raw_id"], "accepted", None, None, "open311")
        return CreatedCase(case_id=uuid.uuid4(), case_no="20260105000002", created=True)

    monkeypatch.setattr(endpoints, "open_request", open_request)
    return opened


FORM = {
    "service_code": "0101",
    "lat": "30.27",
    "long": "120.15",
    "description": "路灯不亮",
    "phone": "13812345678",
}


def _errors(r: httpx.Response, status: int) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body: list[dict[str, Any]] = r.json()
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body)
    assert all(e["code"] == status for e in body)
    return body


async def test_a_form_post_opens_a_case(
    client: httpx.AsyncClient, pool: FakePool, fake_open: list[Any]
) -> None:
    r = await client.post("/open311/v2/requests.json", data={**FORM, "api_key": FEED_KEY})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == [
        {
            "service_request_id": "20260105000002",
            "service_notice": r.json()[0]["service_notice"],
            "account_id": None,
        }
    ]
    raw = pool.raw[1]
    assert FEED_KEY.encode() not in raw["body"] and b"api_key=***" in raw["body"]
    assert raw["submitted_by"] == "token:feed" and raw["channel"] == "open311"
    assert raw["path"] == "/open311/v2/requests.json"
    assert fake_open[0]["submission"].reporter_phone == "13812345678"
    assert fake_open[0]["idempotency_key"] is None


async def test_the_idempotency_key_reaches_the_case_and_the_raw_headers(
    client: httpx.AsyncClient, pool: FakePool, fake_open: list[Any]
) -> None:
    r = await client.post(
        "/open311/v2/requests.json", data={**FORM, "api_key": FEED_KEY}, headers={"Idempotency-Key": "k-1"}
    )
    assert r.status_code == 200
    assert fake_open[0]["idempotency_key"] == "k-1" and pool.raw[1]["headers"]["idempotency-key"] == "k-1"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "api_key_missing"),
        ("gct_nope", "api_key_invalid"),
        (HOTLINE_KEY, "api_key_not_open311"),
        (OPERATOR_KEY, "api_key_not_open311"),
    ],
)
async def test_keys_are_checked_and_refusals_kept(
    client: httpx.AsyncClient, pool: FakePool, key: str | None, reason: str
) -> None:
    data = {**FORM, **({"api_key": key} if key else {})}
    _errors(await client.post("/open311/v2/requests.json", data=data), 403)
    outcome, error = pool.outcomes[1]
    assert outcome == "rejected" and error["error"] == reason
    assert key is None or key.encode() not in pool.raw[1]["body"]


async def test_json_and_multipart_posts(client: httpx.AsyncClient, pool: FakePool) -> None:
    r = await client.post("/open311/v2/requests.json", json={**FORM, "api_key": FEED_KEY, "lat": 30.27})
    assert r.status_code == 200, r.text
    r = await client.post(
        "/open311/v2/requests.json", data={**FORM, "api_key": FEED_KEY}, files={"media": ("a.jpg", b"jpg")}
    )
    assert r.status_code == 200, r.text
    assert all(FEED_KEY.encode() not in raw["body"] for raw in pool.raw.values())


async def test_bad_fields_are_400_and_kept(client: httpx.AsyncClient, pool: FakePool) -> None:
    errors = _errors(
        await client.post("/open311/v2/requests.json", data={**FORM, "api_key": FEED_KEY, "lat": "x"}), 400
    )
    assert any("lat" in e["description"] for e in errors)
    assert pool.outcomes[1][0] == "rejected"
    unreadable = await client.post(
        "/open311/v2/requests.json", content=b"\xff\xfe", headers={"content-type": "application/json"}
    )
    _errors(unreadable, 400)
    assert (
        pool.outcomes[2] == ("rejected", pool.outcomes[2][1])
        and pool.outcomes[2][1]["error"] == "unreadable_body"
    )
    assert pool.raw[2]["body"] == b"\xff\xfe"  # kept as it came


async def test_an_unknown_service_code_is_404(client: httpx.AsyncClient, pool: FakePool) -> None:
    _errors(
        await client.post(
            "/open311/v2/requests.json", data={**FORM, "service_code": "4242", "api_key": FEED_KEY}
        ),
        404,
    )
    assert pool.outcomes[1][1]["error"] == "service_code_not_found"


async def test_xml_post_and_xml_errors(client: httpx.AsyncClient) -> None:
    r = await client.post("/open311/v2/requests.xml", data={**FORM, "api_key": FEED_KEY})
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml; charset=utf-8"
    root = DET.fromstring(r.content)
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == "20260105000002"
    r = await client.post("/open311/v2/requests.xml", data=FORM)
    assert r.status_code == 403 and r.headers["content-type"] == "text/xml; charset=utf-8"
    assert DET.fromstring(r.content).findtext("error/code") == "403"


async def test_services_are_public(client: httpx.AsyncClient) -> None:
    r = await client.get("/open311/v2/services.json", params={"jurisdiction_id": "anything"})
    assert r.status_code == 200
    assert [s["service_code"] for s in r.json()] == ["0101", "0205"]
    assert (await client.get("/open311/v2/services/0101.json")).json() == {
        "service_code": "0101",
        "attributes": [],
    }
    _errors(await client.get("/open311/v2/services/4242.json"), 404)
    _errors(await client.get("/open311/v2/services.json", params={"api_key": "gct_nope"}), 403)
    root = DET.fromstring((await client.get("/open311/v2/services.xml")).content)
    assert [s.findtext("service_code") for s in root.findall("service")] == ["0101", "0205"]


async def test_request_reads_need_a_key_unless_public(client: httpx.AsyncClient, pool: FakePool) -> None:
    _errors(await client.get("/open311/v2/requests.json"), 403)
    _errors(await client.get("/open311/v2/requests/20260105000001.json"), 403)
    _errors(await client.get("/open311/v2/requests.json", params={"api_key": HOTLINE_KEY}), 403)
    r = await client.get("/open311/v2/requests.json", params={"api_key": FEED_KEY})
    assert r.status_code == 200 and r.json()[0]["status_notes"] == "已并入案件20260104000009"
    r = await client.get(
        "/open311/v2/requests/20260105000001.json", headers={"Authorization": f"Bearer {FEED_KEY}"}
    )
    assert r.status_code == 200 and len(r.json()) == 1 and r.json()[0]["status"] == "closed"
    assert "13812345678" not in r.text and "501" not in r.text
    _errors(await client.get("/open311/v2/requests/1.json", params={"api_key": FEED_KEY}), 404)
    _errors(
        await client.get("/open311/v2/requests.json", params={"api_key": FEED_KEY, "start_date": "x"}), 400
    )

    public = httpx.ASGITransport(app=_app(pool, open311_public=True))
    async with httpx.AsyncClient(transport=public, base_url="http://test") as anonymous:
        assert (await anonymous.get("/open311/v2/requests.json")).status_code == 200
        assert (await anonymous.get("/open311/v2/requests/20260105000001.xml")).status_code == 200


async def test_everything_else_under_the_prefix_answers_in_open311_shape(client: httpx.AsyncClient) -> None:
    _errors(await client.get("/open311/v2/services"), 404)  # the suffix is required
    _errors(await client.get("/open311/v2/nothing.json"), 404)
    _errors(await client.get("/open311/v2/services.html"), 400)
    r = await client.delete("/open311/v2/requests.json")
    _errors(r, 405)
    assert r.headers["allow"] == "GET, POST"
    _errors(await client.post("/open311/v2/services.json"), 405)
    _errors(await client.get("/open311/v2/tokens/123.json"), 404)
    assert DET.fromstring((await client.get("/open311/v2/nothing.xml")).content).tag == "errors"


async def test_discovery(client: httpx.AsyncClient) -> None:
    document = (await client.get("/open311/v2/discovery.json")).json()
    assert document["endpoints"][0]["url"] == "http://test/open311/v2"
    assert document["endpoints"][0]["formats"] == ["text/xml", "application/json"]


async def test_a_body_over_the_limit_is_413_in_open311_shape(
    client: httpx.AsyncClient, pool: FakePool
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit bites while reading
        for _ in range(10):
            yield b"x" * 1000

    r = await client.post("/open311/v2/requests.json", content=chunks())
    _errors(r, 413)
    assert pool.raw == {}


async def test_rate_limits_per_key_and_per_address(pool: FakePool) -> None:
    app = _app(pool, rate_address_per_s=0.01, rate_source_per_s=0.01, rate_source_burst=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        assert (await c.get("/open311/v2/services.json")).status_code == 200
        r = await c.get("/open311/v2/services.json")
        _errors(r, 429)
        assert int(r.headers["retry-after"]) >= 1
        for _ in range(2):  # the key has its own bucket
            assert (await c.get("/open311/v2/requests.json", params={"api_key": FEED_KEY})).status_code == 200
        _errors(await c.post("/open311/v2/requests.json", data={**FORM, "api_key": FEED_KEY}), 429)
        assert pool.raw == {}  # refused for its rate before it was kept: the client sends it again


async def test_an_unexpected_failure_is_recorded_and_answered_as_a_general_error(
    client: httpx.AsyncClient, pool: FakePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> CreatedCase:
        raise RuntimeError("boom")

    monkeypatch.setattr(endpoints, "open_request", broken)
    _errors(await client.post("/open311/v2/requests.json", data={**FORM, "api_key": FEED_KEY}), 400)
    assert pool.outcomes[1] == ("failed", {"error": "RuntimeError"})


def test_request_filters_as_sql() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sql, args = requests_sql(RequestQuery(ids=("1", "2")))
    assert "case_no = ANY($1::text[])" in sql and args == [["1", "2"], 1000]
    sql, args = requests_sql(
        RequestQuery(service_codes=("0101",), start=now, end=now, statuses=frozenset({"closed"}))
    )
    assert args[:2] == [now, now] and args[2] == ["0101"] and args[3] == ["closed", "duplicate", "rejected"]
    sql, args = requests_sql(RequestQuery(start=now, end=now, statuses=frozenset({"open", "closed"})))
    assert "status" not in sql.split("WHERE")[1] and len(args) == 3
