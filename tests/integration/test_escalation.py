"""SLA clocks: a short time limit escalates grid → community → … and notifies."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from escalation.app import rules_from
from escalation.workers import fire_due
from services.reference.catalog import CatalogCache
from services.settings import Settings
from tests.integration.conftest import case_in_status, department_headers, post_report, role_headers
from tests.support import REFERENCE_REACHES_S, Webhook, wait_for

# 0701 特殊人群关爱求助 starts at grid level; only this module changes its limit.
CATEGORY = "0701"


async def test_short_time_limit_escalates_up_the_ladder(
    api: httpx.AsyncClient, db: asyncpg.Pool, webhook: Webhook
) -> None:
    r = await api.patch(
        f"/api/v1/categories/{CATEGORY}", json={"handle_limit": "2s"}, headers=role_headers("admin")
    )
    assert r.status_code == 200, r.text
    await asyncio.sleep(REFERENCE_REACHES_S)  # dispatch routes with the new limit
    case_id = (await post_report(api, category_code=CATEGORY, description="独居老人摔倒，需要上门查看"))[
        "case_id"
    ]
    case = await case_in_status(api, case_id, "dispatched")
    assert case["level"] == "grid"

    async def escalated() -> dict[str, Any] | None:
        c = (await api.get(f"/api/v1/cases/{case_id}")).json()
        return c if c["level"] == "community" else None

    case = await wait_for(escalated, timeout=15, what="escalation to community")
    event = next(e for e in case["events"] if e["type"] == "case.escalated")
    assert event["payload"]["from_level"] == "grid" and event["payload"]["to_level"] == "community"
    assert event["payload"]["to_level_label"] == "社区"

    # It keeps climbing while nobody handles it, and stops at the district with one overdue mark.
    await wait_for(
        lambda: _events_of(db, case_id, "case.overdue"), timeout=30, what="overdue at district level"
    )
    climbed = [e["payload"] for e in await _events_of(db, case_id, "case.escalated")]
    assert [e["to_level"] for e in climbed] == ["community", "street", "district"]
    assert [e["supervisor"] for e in climbed] == ["柳塘社区", "梅溪街道", "区网格化管理指挥中心"]
    # The street and the district command centre each issue a supervision order (督办单).
    orders = await _events_of(db, case_id, "case.supervision_ordered")
    assert [o["payload"]["issuer_level"] for o in orders] == ["street", "command_centre"]
    assert len(await _events_of(db, case_id, "case.overdue")) == 1
    await wait_for(
        lambda: _hooks(webhook, case_id, "case.escalated", 3), timeout=15, what="3 escalation webhooks"
    )


async def test_signed_and_resolved_case_stops_the_clock(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    await api.patch(
        f"/api/v1/categories/{CATEGORY}", json={"handle_limit": "3s"}, headers=role_headers("admin")
    )
    await asyncio.sleep(REFERENCE_REACHES_S)
    case_id = (await post_report(api, category_code=CATEGORY))["case_id"]
    case = await case_in_status(api, case_id, "dispatched")
    await wait_for(lambda: _events_of(db, case_id, "case.sla_started"), what="clock started")
    # 特殊人群关爱 is the grid worker's first (小事不出网格): the one who works it signs and resolves.
    staff = (
        role_headers("grid_worker")
        if case["handler_level"] == "grid"
        else department_headers(case["department_code"])
    )
    resolve = {"action": "resolve", "note": "已上门查看", "missing_assists_reason": "民政局另行跟进"}
    for body in ({"action": "sign"}, resolve):
        r = await api.post(f"/api/v1/cases/{case_id}/actions", json=body, headers=staff)
        assert r.status_code == 200, r.text

    async def stopped() -> bool:
        states = await db.fetch("SELECT phase, state FROM case_clocks WHERE case_id = $1", uuid.UUID(case_id))
        return {r["phase"]: r["state"] for r in states} == {
            "sign": "done",
            "handle": "done",
            "check": "running",
        }

    await wait_for(stopped, what="handling clock done, check clock running")
    await wait_for(lambda: _past_due(db, case_id), timeout=10, what="the old deadline to pass")
    assert await _events_of(db, case_id, "case.escalated") == []


async def test_a_deadline_fires_once_with_competing_schedulers(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    await api.patch(
        f"/api/v1/categories/{CATEGORY}", json={"handle_limit": "1h"}, headers=role_headers("admin")
    )
    await asyncio.sleep(REFERENCE_REACHES_S)
    case_id = (await post_report(api, category_code=CATEGORY))["case_id"]
    await wait_for(lambda: _events_of(db, case_id, "case.sla_started"), what="clock started")
    # The handling clock's due timer, brought forward: three schedulers here and the service's own race.
    await db.execute(
        "UPDATE timers SET due_at = clock_timestamp() - interval '1 second' "
        "WHERE case_id = $1 AND phase = 'handle' AND kind = 'due' AND fired_at IS NULL",
        uuid.UUID(case_id),
    )
    rules = rules_from(Settings())
    results = await asyncio.gather(*(fire_due(db, rules, CatalogCache(db)) for _ in range(3)))

    await wait_for(lambda: _events_of(db, case_id, "case.escalated"), what="the escalation")
    assert sum(n for n, _ in results) <= 1
    assert len(await _events_of(db, case_id, "case.escalated")) == 1


async def test_invalid_time_limit_is_refused(api: httpx.AsyncClient) -> None:
    r = await api.patch(
        f"/api/v1/categories/{CATEGORY}", json={"handle_limit": "soon"}, headers=role_headers("admin")
    )
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "handle_limit"
    assert (
        await api.patch("/api/v1/categories/0000", json={"handle_limit": "1h"}, headers=role_headers("admin"))
    ).status_code == 404


async def _past_due(db: asyncpg.Pool, case_id: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT due_at + interval '1 second' < clock_timestamp() FROM case_clocks "
            "WHERE case_id = $1 AND phase = 'handle'",
            uuid.UUID(case_id),
        )
    )


async def _events_of(db: asyncpg.Pool, case_id: str, event_type: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT type, payload FROM case_events WHERE case_id = $1 AND type = $2 ORDER BY seq",
        uuid.UUID(case_id),
        event_type,
    )
    return [dict(r) for r in rows]


async def _hooks(webhook: Webhook, case_id: str, event: str, n: int) -> bool:
    return len(webhook.for_case(case_id, event)) >= n


async def test_supervision_orders_issued_answered_and_listed(
    api: httpx.AsyncClient, as_role: dict[str, httpx.AsyncClient], db: asyncpg.Pool
) -> None:
    case_id = (await post_report(api, category_code="0101", description="路灯不亮一周了"))["case_id"]
    await case_in_status(api, case_id, "dispatched")
    leader, department = as_role["leader"], as_role["department"]
    r = await leader.post(
        f"/api/v1/cases/{case_id}/supervision-orders",
        json={"reason": "群众多次反映，请两小时内回复", "reply_within": "2h"},
    )
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    assert (
        await as_role["grid_worker"].post(
            f"/api/v1/cases/{case_id}/supervision-orders", json={"reason": "x" * 5}
        )
    ).status_code == 403
    open_orders = (await department.get("/api/v1/supervision-orders", params={"status": "open"})).json()
    assert order_id in [o["id"] for o in open_orders]
    refused = await as_role["operator"].post(
        f"/api/v1/supervision-orders/{order_id}/reply", json={"reply": "已安排"}
    )
    assert refused.status_code == 403
    ok = await department.post(
        f"/api/v1/supervision-orders/{order_id}/reply", json={"reply": "已安排维修班组今日处理"}
    )
    assert ok.status_code == 200, ok.text
    again = await department.post(f"/api/v1/supervision-orders/{order_id}/reply", json={"reply": "重复回复"})
    assert again.status_code == 409
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    order = next(o for o in case["supervision_orders"] if o["id"] == order_id)
    assert order["status"] == "replied" and order["issuer_label"] == "梅溪街道"
    types = [e["type"] for e in case["events"]]
    assert "case.supervision_ordered" in types and "case.supervision_replied" in types
    # Orders the escalation ladder issued with a drill limit are late at once: listed for leaders.
    await wait_for(
        lambda: _late_orders(as_role["leader"]),
        timeout=30,
        what="a late supervision order in the leader's list",
    )


async def _late_orders(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    late: list[dict[str, Any]] = (
        await client.get("/api/v1/supervision-orders", params={"status": "overdue"})
    ).json()
    return late
