"""Issue 9: kill -9 the escalation service with timers coming due; after the restart each fires exactly once.

Real cases with a short handling limit make real clocks and a real ladder: for each case a warning timer,
one due timer per step and the final overdue mark, and a reply timer per supervision order. The
escalation process is killed (SIGKILL) as soon as the first timers have fired, the launcher restarts it,
and then every timer that came due must have fired once, never before its due time, each with exactly
one effect (one deadline warning per clock, one escalation per step, one overdue mark, one late reply per
order).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx

from tests.integration.conftest import post_report, role_headers
from tests.support import GRIDS, REFERENCE_REACHES_S, System, wait_for

# 0703 就业社保咨询: a district-level category no other test uses; only this module changes its limit.
CATEGORY = "0703"
LIMIT = "5s"  # warning at 4 s, then a step every 5 s: two escalations with orders, then overdue
CASES = 50

EFFECTS = (
    "case.deadline_warning",
    "case.escalated",
    "case.overdue",
    "case.supervision_ordered",
    "case.supervision_overdue",
)


async def _run_cases(db: asyncpg.Pool, run: str) -> list[uuid.UUID]:
    rows = await db.fetch("SELECT id FROM cases WHERE external_id LIKE $1", f"{run}-%")
    return [r["id"] for r in rows]


async def _fired_and_pending(db: asyncpg.Pool, ids: list[uuid.UUID]) -> asyncpg.Record:
    row: asyncpg.Record = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired, "
        "count(*) FILTER (WHERE fired_at IS NULL AND due_at < clock_timestamp() + interval '30 seconds') AS soon "
        "FROM timers WHERE case_id = ANY($1::uuid[])",
        ids,
    )
    return row


async def _all_done(db: asyncpg.Pool, ids: list[uuid.UUID]) -> bool:
    """Every case climbed to the top and was marked overdue, and every order's reply timer fired."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM case_events WHERE case_id = ANY($1::uuid[]) AND type = 'case.overdue') "
        "AS overdue, (SELECT count(*) FROM timers WHERE case_id = ANY($1::uuid[]) AND fired_at IS NULL "
        "AND due_at < clock_timestamp() + interval '1 hour') AS pending_soon",
        ids,
    )
    return bool(row["overdue"] >= len(ids) and row["pending_soon"] == 0)


async def test_kill_9_escalation_with_timers_coming_due_fires_each_once(
    system: System, db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    run = f"timers-kill9-{uuid.uuid4().hex[:8]}"
    previous = await db.fetchval("SELECT handle_limit FROM categories WHERE code = $1", CATEGORY)
    r = await api.patch(
        f"/api/v1/categories/{CATEGORY}", json={"handle_limit": LIMIT}, headers=role_headers("admin")
    )
    assert r.status_code == 200, r.text
    try:
        await asyncio.sleep(REFERENCE_REACHES_S)  # dispatch routes with the new limit
        for i in range(CASES):
            await post_report(
                api,
                category_code=CATEGORY,
                grid_code=GRIDS[i % len(GRIDS)],
                external_id=f"{run}-{i}",
                description="咨询失业保险金申领流程",
            )
        ids = await wait_for(
            lambda: _n_cases(db, run, CASES), timeout=20, what=f"{CASES} cases in the ledger"
        )

        # The first timers fire: kill -9 the escalation service while the rest are still coming due.
        await wait_for(lambda: _some_warned(db, ids), timeout=30, what="the first deadline warning")
        old_pid = system.pid("escalation")
        restarts = system.state()["services"]["escalation"]["restarts"]
        os.kill(old_pid, signal.SIGKILL)
        killed_at = await db.fetchval("SELECT clock_timestamp()")
        at_kill = await _fired_and_pending(db, ids)
        assert at_kill["fired"] > 0 and at_kill["soon"] > 0, dict(at_kill)

        async def restarted() -> bool:
            svc = system.state()["services"]["escalation"]
            return svc["pid"] != old_pid and svc["restarts"] > restarts

        await wait_for(restarted, timeout=20, what="the launcher to restart escalation")
        port = system.state()["services"]["escalation"]["port"]
        await wait_for(lambda: _healthy(port), timeout=60, what="escalation healthy again")
        back_at = await db.fetchval("SELECT clock_timestamp()")
        await wait_for(lambda: _all_done(db, ids), timeout=60, what="every timer fired after the restart")
    finally:
        await api.patch(
            f"/api/v1/categories/{CATEGORY}", json={"handle_limit": previous}, headers=role_headers("admin")
        )

    timers = await db.fetch(
        "SELECT id, case_id, phase, kind, ref, due_at, fired_at FROM timers "
        "WHERE case_id = ANY($1::uuid[]) AND due_at < clock_timestamp()",
        ids,
    )
    events = await db.fetch(
        "SELECT case_id, type, occurred_at, payload FROM case_events WHERE case_id = ANY($1::uuid[]) "
        "AND type = ANY($2::text[]) ORDER BY case_id, seq",
        ids,
        list(EFFECTS),
    )
    clocks = await db.fetch(
        "SELECT case_id, policy FROM case_clocks WHERE case_id = ANY($1::uuid[]) AND phase = 'handle'", ids
    )
    # Timers came due while the service was down (they fired after the restart), and the kill was mid-way.
    while_down = [t for t in timers if killed_at < t["due_at"] < back_at]
    print(
        f"at the kill: {at_kill['fired']} timers fired, {at_kill['soon']} coming due; down "
        f"{(back_at - killed_at).total_seconds():.1f} s, {len(while_down)} came due meanwhile; "
        f"{len(timers)} timers in all"
    )
    assert while_down, "no timer came due while escalation was down"
    # Every timer that came due fired, and none before its due time.
    assert [t["id"] for t in timers if t["fired_at"] is None] == []
    assert [t["id"] for t in timers if t["fired_at"] < t["due_at"]] == []

    by_timer = {(t["case_id"], t["phase"], t["kind"], t["ref"]): t for t in timers}
    assert len(by_timer) == len(timers), "two timers for the same clock, kind and step"
    steps = {c["case_id"]: len(c["policy"]["steps"]) for c in clocks}
    assert len(steps) == CASES
    effect_of: Counter[tuple[Any, ...]] = Counter()
    early: list[tuple[Any, ...]] = []
    for e in events:
        p = e["payload"]
        if e["type"] == "case.deadline_warning":
            key: tuple[Any, ...] = (e["case_id"], p["phase"], "warn", None)
        elif e["type"] == "case.escalated":
            key = (e["case_id"], "handle", "due", p["step"] - 1)
        elif e["type"] == "case.overdue":
            key = (e["case_id"], "handle", "due", steps[e["case_id"]])
        elif e["type"] == "case.supervision_overdue":
            key = (e["case_id"], "order", "order_due", p["order_id"])
        else:
            continue  # an order is issued by an escalation (counted below)
        effect_of[key] += 1
        timer = by_timer.get(key)
        assert timer is not None, f"{e['type']} without a timer that came due: {key}"
        if e["occurred_at"] < timer["due_at"]:
            early.append(key)
    assert early == [], f"effects before their due time: {early}"
    assert [k for k, n in effect_of.items() if n != 1] == [], "a timer took effect more than once"
    # Each timer that came due took effect once (none lost); a warning per case, every rung, the overdue mark.
    assert set(effect_of) == set(by_timer)
    kinds = Counter(e["type"] for e in events)
    n_steps = sum(steps.values())
    assert kinds["case.deadline_warning"] == CASES
    assert kinds["case.escalated"] == n_steps
    assert kinds["case.overdue"] == CASES
    assert kinds["case.supervision_overdue"] == kinds["case.supervision_ordered"] > 0


async def _n_cases(db: asyncpg.Pool, run: str, n: int) -> list[uuid.UUID] | None:
    ids = await _run_cases(db, run)
    return ids if len(ids) == n else None


async def _some_warned(db: asyncpg.Pool, ids: list[uuid.UUID]) -> bool:
    return bool(
        await db.fetchval(
            "SELECT count(*) FROM case_events WHERE case_id = ANY($1::uuid[]) AND type = 'case.deadline_warning'",
            ids,
        )
    )


async def _healthy(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
    except httpx.HTTPError:
        return False
