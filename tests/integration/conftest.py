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
from services.identity.bootstrap import DEMO_ACCOUNTS, DEMO_PASSWORD
from tests.support import (
    ADMIN_PASSWORD,
    GRIDS,
    HOTLINE_SECRET,
    HOTLINE_SECRETS,
    SECRETS,
    TOKENS,
    WEBHOOK_SECRET,
    WECHAT_AES_KEY,
    WECHAT_APPID,
    WECHAT_TOKEN,
    System,
    Webhook,
    wait_for,
)


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
            # Credentials in the URL and the query: the log scan checks neither reaches a log line.
            "GRIDCASE_NOTIFY_WEBHOOK_URL": webhook.url_with_secrets,
            "GRIDCASE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "GRIDCASE_ESCALATION_POLL_S": "0.2",
            # Calendar-time check limit: the clock tests compute due times by hand.
            "GRIDCASE_CHECK_LIMIT": "4h",
            "GRIDCASE_LOG_LEVEL": "INFO",
            "GRIDCASE_WECHAT_TOKEN": WECHAT_TOKEN,
            "GRIDCASE_WECHAT_AES_KEY": WECHAT_AES_KEY,
            "GRIDCASE_WECHAT_APPID": WECHAT_APPID,
            "GRIDCASE_WECHAT_SESSION_MINUTES": "10",
            "GRIDCASE_HOTLINE_SECRET": HOTLINE_SECRET,
            "GRIDCASE_HOTLINE_SECRETS": ",".join(f"{k}={v}" for k, v in HOTLINE_SECRETS.items()),
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


_SYSTEM_URL: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def tokens(system: System) -> dict[str, str]:
    """A bearer token per role (the demo accounts, and `admin`), signed in through the API."""
    SECRETS.update(
        {ADMIN_PASSWORD, DEMO_PASSWORD, WEBHOOK_SECRET, WECHAT_TOKEN, WECHAT_AES_KEY, HOTLINE_SECRET}
    )
    SECRETS.update(HOTLINE_SECRETS.values())
    _SYSTEM_URL[:] = [system.http]
    # One demo account per role, and the community's staff (a grid worker whose area is 柳塘社区).
    accounts = {a.role.value: a.username for a in DEMO_ACCOUNTS if a.username != "demo-community"}
    accounts |= {"admin": "admin", "community": "demo-community"}
    for role, username in accounts.items():
        password = ADMIN_PASSWORD if role == "admin" else DEMO_PASSWORD
        r = httpx.post(
            f"{system.http}/api/v1/auth/login", json={"username": username, "password": password}, timeout=30
        )
        assert r.status_code == 200, r.text
        TOKENS[role] = r.json()["access_token"]
        SECRETS.add(TOKENS[role])
    return TOKENS


def client_for(system: System, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=system.http, timeout=10.0, headers=headers)


@pytest.fixture
async def api(system: System, tokens: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The command centre's operator (most tests act as one)."""
    async with client_for(system, tokens["operator"]) as client:
        yield client


@pytest.fixture
async def as_role(system: System, tokens: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A client per role: admin, operator, department, grid_worker, leader, feed; and `anonymous`."""
    clients = {role: client_for(system, token) for role, token in tokens.items()}
    clients["anonymous"] = client_for(system, None)
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


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


# Who reports on each channel: grid workers use the app, the hotline feed its own channel, the
# command centre enters the rest.
CHANNEL_REPORTERS = {"app": "grid_worker", "hotline": "feed"}


def role_headers(role: str) -> dict[str, str]:
    """Speak as another role on the same client, for one request."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def department_headers(department_code: str) -> dict[str, str]:
    """Staff of any department: an API token made by `admin` (once per department)."""
    key = f"department:{department_code}"
    if key not in TOKENS:
        r = httpx.post(
            f"{_SYSTEM_URL[0]}/api/v1/tokens",
            json={
                "name": f"tests {department_code}",
                "role": "department",
                "department_code": department_code,
            },
            headers=role_headers("admin"),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        TOKENS[key] = r.json()["token"]
        SECRETS.add(TOKENS[key])
    return {"Authorization": f"Bearer {TOKENS[key]}"}


def reporter_headers(channel: str) -> dict[str, str]:
    return role_headers(CHANNEL_REPORTERS.get(channel, "operator"))


async def post_report(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = report(**overrides)
    r = await api.post("/api/v1/reports", json=body, headers=reporter_headers(body["channel"]))
    assert r.status_code == 202, r.text
    accepted: dict[str, Any] = r.json()
    return accepted


async def case_in_status(
    api: httpx.AsyncClient, case_id: str, *statuses: str, timeout: float = 20.0
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        r = await api.get(f"/api/v1/cases/{case_id}")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and body["status"] in statuses else None

    return await wait_for(probe, timeout=timeout, what=f"case {case_id} in {statuses}")
