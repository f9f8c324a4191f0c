"""Request guards: the body limit holds while reading, and state-changing requests must be JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from services.http.errors import install_error_handlers
from services.http.guards import EMPTY_BODY_MESSAGE, RequestGuards, install_request_guards

LIMIT = 1024


class Body(BaseModel):
    text: str


def make_app(calls: list[str]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_request_guards(app, max_body_bytes=LIMIT, multipart_prefixes=("/uploads/",))

    @app.post("/things")
    async def things(body: Body) -> dict[str, int]:
        calls.append("things")
        return {"length": len(body.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        calls.append("raw")
        return {"length": len(await request.body())}  # read by hand, as intake does

    @app.post("/empty")
    async def empty() -> dict[str, bool]:
        calls.append("empty")
        return {"ok": True}

    @app.get("/things")
    async def list_things() -> dict[str, list[str]]:
        calls.append("list")
        return {"items": []}

    @app.post("/uploads/photo")
    async def upload(request: Request) -> dict[str, int]:
        calls.append("upload")
        return {"length": len(await request.body())}

    @app.post("/channels/wechat")
    async def wechat(request: Request) -> dict[str, int]:
        calls.append("wechat")
        return {"length": len(await request.body())}

    return app


def bare_asgi_app(calls: list[str]) -> RequestGuards:
    """An app with no error handlers that reads the body itself: the middleware must answer."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append("bare")
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return RequestGuards(app, max_body_bytes=LIMIT)


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
async def client(calls: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(calls), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"x" * n


async def test_declared_oversize_body_is_413_without_calling_the_app(
    client: httpx.AsyncClient, calls: list[str]
) -> None:
    r = await client.post("/things", json={"text": "x" * (LIMIT * 2)})
    assert r.status_code == 413
    body = r.json()
    assert body["error"] == "payload_too_large" and body["message"] == "请求内容超过1KB上限"
    assert body["fields"] == [] and body["details"] == {}
    assert calls == []


async def test_streamed_oversize_body_is_413_while_reading(
    client: httpx.AsyncClient, calls: list[str]
) -> None:
    headers = {"content-type": "application/json"}
    r = await client.post("/things", content=_chunks(LIMIT * 4), headers=headers)
    assert "content-length" not in r.request.headers  # chunked: the limit can only be found by counting
    assert r.status_code == 413 and r.json()["message"] == "请求内容超过1KB上限"
    assert calls == []  # FastAPI parses the body before the endpoint runs


async def test_streamed_oversize_body_read_by_hand_is_413(
    client: httpx.AsyncClient, calls: list[str]
) -> None:
    r = await client.post("/raw", content=_chunks(LIMIT * 4), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["message"] == "请求内容超过1KB上限"
    assert r.json().keys() == {"error", "message", "fields", "details"}


async def test_the_middleware_answers_when_the_app_does_not(calls: list[str]) -> None:
    transport = httpx.ASGITransport(app=bare_asgi_app(calls), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.post("/x", content=_chunks(LIMIT * 4), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
        assert calls == ["bare"]
        ok = await c.post("/x", content=_chunks(LIMIT), headers={"content-type": "application/json"})
        assert ok.status_code == 200 and ok.text == "ok"


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    r = await client.post("/raw", content=b"x" * LIMIT, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json() == {"length": LIMIT}


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "text/plain;charset=UTF-8", "multipart/form-data"],
)
async def test_browser_simple_content_types_are_415(
    client: httpx.AsyncClient, calls: list[str], content_type: str
) -> None:
    r = await client.post("/raw", content=b'{"text": "hi"}', headers={"content-type": content_type})
    assert r.status_code == 415
    assert r.json()["error"] == "unsupported_media_type"
    assert "application/json" in r.json()["message"]
    assert calls == []


async def test_form_post_is_415(client: httpx.AsyncClient, calls: list[str]) -> None:
    r = await client.post("/things", data={"text": "hi"})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    assert calls == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_post_is_accepted(client: httpx.AsyncClient, content_type: str) -> None:
    r = await client.post("/things", content=b'{"text": "hi"}', headers={"content-type": content_type})
    assert r.status_code == 200 and r.json() == {"length": 2}


async def test_empty_post_without_content_type_is_accepted(
    client: httpx.AsyncClient, calls: list[str]
) -> None:
    r = await client.post("/empty")
    assert "content-type" not in r.request.headers
    assert r.status_code == 200 and calls == ["empty"]


async def test_body_without_content_type_is_415(client: httpx.AsyncClient, calls: list[str]) -> None:
    r = await client.post("/raw", content=b'{"text": "hi"}')
    assert "content-type" not in r.request.headers and r.request.headers["content-length"] == "14"
    assert r.status_code == 415 and calls == []
    # Streamed (no Content-Length): refused as soon as a body byte arrives.
    r = await client.post("/raw", content=_chunks(10))
    assert r.status_code == 415 and r.json()["message"] == EMPTY_BODY_MESSAGE


async def test_get_is_unaffected(client: httpx.AsyncClient, calls: list[str]) -> None:
    r = await client.get("/things", headers={"content-type": "text/plain"})
    assert r.status_code == 200 and calls == ["list"]


async def test_multipart_only_under_its_prefix(client: httpx.AsyncClient, calls: list[str]) -> None:
    files = {"photo": ("p.jpg", b"\xff\xd8\xff", "image/jpeg")}
    r = await client.post("/uploads/photo", files=files)
    assert r.status_code == 200 and calls == ["upload"]
    r = await client.post("/raw", files=files)
    assert r.status_code == 415 and calls == ["upload"]


async def test_exempt_prefix_skips_the_type_rule_not_the_limit(
    client: httpx.AsyncClient, calls: list[str]
) -> None:
    xml = b"<xml><Content>hi</Content></xml>"
    r = await client.post("/channels/wechat", content=xml, headers={"content-type": "text/xml"})
    assert r.status_code == 200 and r.json() == {"length": len(xml)}
    r = await client.post(
        "/channels/wechat", content=b"x" * (LIMIT + 1), headers={"content-type": "text/xml"}
    )
    assert r.status_code == 413


async def test_bad_content_length_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/raw", content=b"{}", headers={"content-type": "application/json", "content-length": "x"}
    )
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
