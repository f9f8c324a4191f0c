"""Notifications reach the webhook once per event, are retried, and show on the case timeline."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from tests.integration.conftest import case_in_status, post_report
from tests.support import Webhook, wait_for


async def test_dispatch_notifies_the_webhook_and_timeline_shows_it(
    api: httpx.AsyncClient, webhook: Webhook
) -> None:
    case_id = (await post_report(api, category_code="0201", description="垃圾桶满了好几天没人清运"))[
        "case_id"
    ]
    await case_in_status(api, case_id, "dispatched")

    hooks = await wait_for(lambda: _hooks(webhook, case_id, "case.dispatched"), what="dispatch webhook")

    body = hooks[0]
    assert body["case_id"] == case_id and body["case_no"] and body["status"] == "dispatched"
    assert "派往" in body["message"]
    assert body["data"]["department_code"] == "CG-HW"

    async def delivered() -> dict[str, Any] | None:
        case = (await api.get(f"/api/v1/cases/{case_id}")).json()
        return case if any(e["type"] == "notification.delivered" for e in case["events"]) else None

    case = await wait_for(delivered, what="notification.delivered on the timeline")
    assert case["notifications"][0]["status"] == "delivered"
    assert len(webhook.for_case(case_id, "case.dispatched")) == 1


async def test_failing_webhook_is_retried_with_backoff(
    api: httpx.AsyncClient, db: asyncpg.Pool, webhook: Webhook
) -> None:
    webhook.fail_category, webhook.fail_times = "0204", 2  # only this test reports 0204 树木倒伏
    case_id = (await post_report(api, category_code="0204", description="台风后小区门口大树倒伏"))["case_id"]

    hooks = await wait_for(
        lambda: _hooks(webhook, case_id, "case.dispatched"), timeout=30, what="delivery after retries"
    )

    assert len(hooks) == 1

    async def delivered() -> asyncpg.Record | None:
        # The receiver has it before the sender records the answer: wait for the record.
        row = await db.fetchrow(
            "SELECT status, attempts FROM notifications WHERE case_id = $1 AND trigger_type = 'case.dispatched'",
            uuid.UUID(case_id),
        )
        return row if row and row["status"] == "delivered" else None

    row = await wait_for(delivered, timeout=10, what="the delivery recorded")
    assert row["attempts"] >= 2


async def test_triage_notifies_too(api: httpx.AsyncClient, webhook: Webhook) -> None:
    case_id = (
        await post_report(api, category_code=None, description="东门外那一片一直这样，也没人管，请尽快处理")
    )["case_id"]
    hooks = await wait_for(lambda: _hooks(webhook, case_id, "case.triaged"), what="triage webhook")
    assert hooks[0]["status"] == "triage"


async def _hooks(webhook: Webhook, case_id: str, event: str) -> list[dict[str, Any]]:
    return webhook.for_case(case_id, event)
