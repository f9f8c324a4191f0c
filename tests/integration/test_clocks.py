"""Every transition that starts, pauses, resumes, moves, restarts or ends a clock, walked on the running
system. Expected due times are computed here by hand from the events' times (calendar-time limits, so
plain arithmetic: no product code), and compared with what the case page shows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.integration.conftest import case_in_status, department_headers, post_report, role_headers
from tests.support import GRIDS, REFERENCE_REACHES_S, wait_for

CATEGORY = "0705"  # 食品安全与市场秩序 → SJ, district level; only this module changes its limits
SIGN, HANDLE, CHECK = timedelta(minutes=30), timedelta(hours=2), timedelta(hours=4)  # check: test system env
TOLERANCE = timedelta(seconds=1)


async def _act(api: httpx.AsyncClient, case_id: str, headers: dict[str, str], **body: Any) -> None:
    r = await api.post(f"/api/v1/cases/{case_id}/actions", json=body, headers=headers)
    assert r.status_code == 200, (body, r.text)


def _at(case: dict[str, Any], event_type: str, nth: int = -1) -> datetime:
    times = [datetime.fromisoformat(e["occurred_at"]) for e in case["events"] if e["type"] == event_type]
    return times[nth]


def _clock(case: dict[str, Any], phase: str) -> dict[str, Any]:
    return next(c for c in case["clocks"] if c["phase"] == phase)


def _due(clock: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(clock["due_at"])


async def _settled(api: httpx.AsyncClient, case_id: str, phase: str, whats: list[str]) -> dict[str, Any]:
    """The case once escalation has applied every event so far to ``phase``'s clock."""

    async def probe() -> dict[str, Any] | None:
        case: dict[str, Any] = (await api.get(f"/api/v1/cases/{case_id}")).json()
        clocks = {c["phase"]: c for c in case["clocks"]}
        seen = [h["what"] for h in clocks[phase]["history"]] if phase in clocks else []
        return case if seen == whats else None

    return await wait_for(probe, what=f"{phase} clock history {whats}")


async def test_every_clock_transition_against_hand_computed_due_times(api: httpx.AsyncClient) -> None:
    admin, operator, worker = role_headers("admin"), role_headers("operator"), role_headers("grid_worker")
    sj = department_headers("SJ")
    r = await api.patch(
        f"/api/v1/categories/{CATEGORY}", json={"sign_limit": "30m", "handle_limit": "2h"}, headers=admin
    )
    assert r.status_code == 200, r.text
    await asyncio.sleep(REFERENCE_REACHES_S)  # every process routes with the new limits
    case_id = (
        await post_report(api, category_code=CATEGORY, grid_code=GRIDS[0], description="超市售卖过期食品")
    )["case_id"]
    await case_in_status(api, case_id, "dispatched")

    # Dispatch starts the signing and the handling clocks.
    case = await _settled(api, case_id, "handle", ["started"])
    t0 = _at(case, "case.dispatched")
    assert abs(_due(_clock(case, "sign")) - (t0 + SIGN)) < TOLERANCE
    assert abs(_due(_clock(case, "handle")) - (t0 + HANDLE)) < TOLERANCE
    assert abs(datetime.fromisoformat(case["due_at"]) - (t0 + HANDLE)) < TOLERANCE
    assert _clock(case, "handle")["light"] == "green"

    # Signing finishes the signing clock.
    await _act(api, case_id, sj, action="sign")
    case = await _settled(api, case_id, "sign", ["started", "done"])

    # Suspension pauses the handling clock; resuming continues with what was left.
    await _act(api, case_id, operator, action="suspend", note="等待检测报告")
    case = await _settled(api, case_id, "handle", ["started", "paused"])
    paused = _at(case, "case.suspended")
    used = paused - t0
    assert _clock(case, "handle")["due_at"] is None and case["due_at"] is None
    await _act(api, case_id, operator, action="resume")
    case = await _settled(api, case_id, "handle", ["started", "paused", "resumed"])
    resumed = _at(case, "case.resumed")
    due = resumed + (HANDLE - used)
    assert abs(_due(_clock(case, "handle")) - due) < TOLERANCE

    # An approved extension moves the deadline to the one asked for.
    wanted = due + timedelta(hours=3)
    await _act(api, case_id, sj, action="request_extension", due_at=wanted.isoformat(), note="需复检")
    await _act(api, case_id, operator, action="approve_extension")
    case = await _settled(api, case_id, "handle", ["started", "paused", "resumed", "extended"])
    assert abs(_due(_clock(case, "handle")) - wanted) < TOLERANCE
    total = HANDLE + timedelta(hours=3)

    # A return pauses it (and stops the signing clock); the re-dispatch resumes it and signs anew.
    await _act(api, case_id, sj, action="return", note="属市场监管所辖区")
    case = await _settled(api, case_id, "handle", ["started", "paused", "resumed", "extended", "paused"])
    returned = _at(case, "case.returned")
    used2 = used + (returned - resumed)
    assert _clock(case, "sign")["state"] == "done"  # signed before: a finished clock stays finished
    await _act(
        api, case_id, operator, action="redispatch", department_code="GA-PCS", note="涉嫌违法，转派出所"
    )
    case = await _settled(
        api, case_id, "handle", ["started", "paused", "resumed", "extended", "paused", "resumed"]
    )
    t6 = _at(case, "case.redispatched")
    assert abs(_due(_clock(case, "handle")) - (t6 + (total - used2))) < TOLERANCE
    assert abs(_due(_clock(case, "sign")) - (t6 + SIGN)) < TOLERANCE

    # The result finishes handling and starts the check; a failed check restarts handling in full.
    police = department_headers("GA-PCS")
    await _act(api, case_id, police, action="sign")
    await _act(api, case_id, police, action="resolve", note="已下架并处罚")
    case = await _settled(api, case_id, "check", ["started"])
    t7 = _at(case, "case.resolved")
    assert _clock(case, "handle")["state"] == "done"
    assert abs(_due(_clock(case, "check")) - (t7 + CHECK)) < TOLERANCE
    await _act(api, case_id, worker, action="rework", note="货架仍有过期商品")
    case = await _settled(
        api,
        case_id,
        "handle",
        ["started", "paused", "resumed", "extended", "paused", "resumed", "done", "restarted"],
    )
    t8 = _at(case, "case.reworked")
    assert abs(_due(_clock(case, "handle")) - (t8 + HANDLE)) < TOLERANCE
    assert _clock(case, "check")["state"] == "done"

    # Closed and reopened: handling restarts again; voiding a returned case stops its clocks.
    await _act(api, case_id, police, action="resolve", note="已全部下架")
    await _act(api, case_id, worker, action="close", note="核查合格")
    await _act(api, case_id, operator, action="reopen", note="群众反映仍有问题")
    case = await _settled(
        api,
        case_id,
        "handle",
        [
            "started",
            "paused",
            "resumed",
            "extended",
            "paused",
            "resumed",
            "done",
            "restarted",
            "done",
            "restarted",
        ],
    )
    t9 = _at(case, "case.reopened")
    assert abs(_due(_clock(case, "handle")) - (t9 + HANDLE)) < TOLERANCE
    await _act(api, case_id, police, action="return", note="已移交市级部门")
    await _act(api, case_id, operator, action="reject", note="已由市级部门受理")
    case = await _settled(
        api,
        case_id,
        "handle",
        [
            "started",
            "paused",
            "resumed",
            "extended",
            "paused",
            "resumed",
            "done",
            "restarted",
            "done",
            "restarted",
            "paused",
            "stopped",
        ],
    )
    assert {c["phase"]: c["state"] for c in case["clocks"]} == {
        "sign": "done",
        "handle": "stopped",
        "check": "done",
    }


async def test_a_department_counts_in_its_own_office_hours(api: httpx.AsyncClient) -> None:
    admin = role_headers("admin")
    bad = await api.patch("/api/v1/departments/ZJ", json={"office_hours": "17:00-09:00"}, headers=admin)
    assert bad.status_code == 422 and "办公时间格式不正确" in bad.json()["message"]
    r = await api.patch(
        "/api/v1/departments/ZJ", json={"office_hours": "08:00-12:00,14:00-18:00"}, headers=admin
    )
    assert r.status_code == 200, r.text
    try:
        await asyncio.sleep(REFERENCE_REACHES_S)
        case_id = (
            await post_report(api, category_code="0103", grid_code=GRIDS[0], description="路面坑洼积水")
        )["case_id"]
        await case_in_status(api, case_id, "dispatched")
        case = await _settled(api, case_id, "handle", ["started"])
        # 道路破损 → 住建局 (ZJ): 4wh to sign, 3wd to handle, counted in ZJ's own hours (8 a working day).
        sign, handle = _clock(case, "sign"), _clock(case, "handle")
        assert sign["office_hours"] == handle["office_hours"] == "08:00-12:00,14:00-18:00"
        assert handle["limit_minutes"] == 3 * 8 * 60
        listed = {d["code"]: d for d in (await api.get("/api/v1/departments")).json()}
        assert listed["SW"]["office_hours_in_effect"] == "08:30-12:00,13:30-17:30"
    finally:
        await api.patch("/api/v1/departments/ZJ", json={"office_hours": None}, headers=admin)
