"""The error contract of every HTTP API: 4xx with field and reason, 503 when the database is away."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from services.http.errors import install_error_handlers


class Body(BaseModel):
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/db-down")
    async def db_down() -> None:
        raise asyncpg.CannotConnectNowError("the database system is starting up")

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_validation_error_names_field_and_reason(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", json={"count": "many"})
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"] == "count"
    assert r.json()["fields"][0]["reason"].startswith("应为整数")


async def test_database_unavailable_is_503_with_retry_after(client: httpx.AsyncClient) -> None:
    r = await client.get("/db-down")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"] == "unavailable"


async def test_unknown_route_is_404_in_the_same_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope")
    assert r.status_code == 404 and r.json()["error"] == "http_error" and r.json()["message"]


async def test_a_bug_is_500_without_details(client: httpx.AsyncClient) -> None:
    r = await client.get("/bug")
    assert r.status_code == 500 and "boom" not in r.text
