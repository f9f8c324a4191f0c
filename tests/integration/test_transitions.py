"""The one state machine, enforced through the API and under concurrency."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from schemas.identity import Actor
from schemas.states import Action, IllegalTransition
from services.ledger.service import apply_action, lock_case
from tests.integration.conftest import case_in_status, post_report, role_headers
from tests.support import wait_for

# Who takes each action on the closed loop: the department handles, the command centre checks.
ACTORS = {"sign": "department", "resolve": "department", "return": "department", "suspend": "department"}


async def act(api: httpx.AsyncClient, case_id: str, action: str, **extra: object) -> httpx.Response:
    return await api.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": action, **extra},
        headers=role_headers(ACTORS.get(action, "operator")),
    )


async def test_department_works_a_case_through_the_closed_loop(api: httpx.AsyncClient) -> None:
    case_id = (await post_report(api))["case_id"]
    await case_in_status(api, case_id, "dispatched")

    for action, status in [
        ("sign", "signed"),
        ("resolve", "resolved"),
        ("rework", "signed"),
        ("resolve", "resolved"),
        ("close", "closed"),
    ]:
        r = await act(api, case_id, action, note="现场已处理")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status

    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert case["status"] == "closed"
    # The timeline names the signed-in person and their unit, never something the body said.
    assert (
        next(e for e in case["events"] if e["type"] == "case.signed")["actor_label"]
        == "李强（区城市管理局·市政设施科）"
    )
    assert [e["type"] for e in case["events"] if e["actor"] == "user:demo-department"] == [
        "case.signed",
        "case.resolved",
        "case.resolved",
    ]
    assert [e["type"] for e in case["events"] if e["actor"] == "user:demo-operator"] == [
        "case.reworked",
        "case.closed",
    ]


async def test_illegal_transition_is_refused_with_a_reason(api: httpx.AsyncClient) -> None:
    case_id = (await post_report(api))["case_id"]
    await case_in_status(api, case_id, "dispatched")

    r = await act(api, case_id, "close")

    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "illegal_transition"
    assert "已派遣" in body["message"] and "结案" in body["message"]
    assert body["details"]["status"] == "dispatched"
    assert "sign" in body["details"]["allowed_actions"]
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert case["status"] == "dispatched"  # nothing changed


async def test_unknown_action_and_missing_department_are_422(api: httpx.AsyncClient) -> None:
    case_id = (await post_report(api, category_code="9999"))["case_id"]
    await case_in_status(api, case_id, "triage")

    unknown = await act(api, case_id, "teleport")
    assert unknown.status_code == 422 and unknown.json()["fields"][0]["field"] == "action"
    no_dept = await act(api, case_id, "dispatch")
    assert no_dept.status_code == 422 and no_dept.json()["fields"][0]["field"] == "department_code"
    report_again = await act(api, case_id, "report")
    assert report_again.status_code == 422


async def test_unknown_case_is_404(api: httpx.AsyncClient) -> None:
    r = await act(api, str(uuid.uuid4()), "sign")
    assert r.status_code == 404 and r.json()["error"] == "case_not_found"
    assert (await api.get("/api/v1/cases/not-a-uuid")).status_code == 422


async def test_concurrent_sign_from_two_clerks_only_one_wins(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    case_id = (await post_report(api))["case_id"]
    await case_in_status(api, case_id, "dispatched")

    results = await asyncio.gather(*(act(api, case_id, "sign", note=f"clerk {i}") for i in range(6)))

    assert sorted(r.status_code for r in results) == [200] + [409] * 5
    signed = await db.fetchval(
        "SELECT count(*) FROM case_events WHERE case_id = $1 AND type = 'case.signed'", uuid.UUID(case_id)
    )
    assert signed == 1


async def test_ledger_refuses_second_transition_after_lock_wait(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    """Two transactions race on one case: the second waits for the row lock, then sees the new status."""
    case_id = uuid.UUID((await post_report(api))["case_id"])
    await case_in_status(api, str(case_id), "dispatched")

    async with db.acquire() as a, db.acquire() as b:
        tx_a = a.transaction()
        await tx_a.start()
        await apply_action(a, case=await lock_case(a, case_id), action=Action.SIGN, actor=Actor("user:a"))

        async def second() -> None:
            async with b.transaction():
                await apply_action(
                    b, case=await lock_case(b, case_id), action=Action.SIGN, actor=Actor("user:b")
                )

        racer = asyncio.create_task(second())

        async def blocked_on_lock() -> bool:
            wait = await db.fetchval(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", b.get_server_pid()
            )
            return wait == "Lock"

        await wait_for(blocked_on_lock, timeout=10, what="the second transaction to wait for the row lock")
        assert not racer.done()
        await tx_a.commit()
        try:
            await racer
        except IllegalTransition as exc:
            assert exc.status.value == "signed"
        else:
            raise AssertionError("second sign must be refused")
