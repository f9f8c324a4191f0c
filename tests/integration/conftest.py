"""Fixtures for tests on the real embedded stack: PostgreSQL, Tansu and every service process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.db.pool import create_pool
from tests.support import GRIDS, System, Webhook, wait_for


@pytest.fixture(scope="session")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.start()
    yield hook
    hook.stop()


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory, webhook: Webhook) -> Iterator[System]:
    home: Path = tmp_path_factory.mktemp("gridcase") / "home"
    sys_ = System(
        home=home,
        env={
            "GRIDCASE_NOTIFY_WEBHOOK_URL": webhook.url,
            "GRIDCASE_ESCALATION_POLL_S": "0.2",
            "GRIDCASE_LOG_LEVEL": "INFO",
        },
    )
    sys_.start()
    yield sys_
    sys_.stop()


@pytest.fixture(scope="session")
async def db(system: System) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(system.state()["database_url"], max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.http, timeout=10.0) as client:
        yield client


def report(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "app",
        "description": "小区东门路灯不亮，晚上很黑",
        "category_code": "0101",
        "grid_code": GRIDS[0],
        "external_id": f"test-{uuid.uuid4()}",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def post_report(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await api.post("/api/v1/reports", json=report(**overrides))
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def case_in_status(
    api: httpx.AsyncClient, case_id: str, *statuses: str, timeout: float = 20.0
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/cases/{case_id}")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["status"] in statuses else None

    return await wait_for(probe, timeout=timeout, what=f"case {case_id} in {statuses}")
