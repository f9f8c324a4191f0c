"""The case list at scale (issue 6): filters, keyset pages and search on the server, for every role
only their own cases; counters from the counter table; a live feed that misses no event."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.access import Permission
from schemas.identity import Principal, Role
from schemas.states import CLOCK_RUNNING
from services.access.filters import case_condition
from services.console.listing import SHANGHAI
from services.console.stream import CaseEventFeed
from services.identity.bootstrap import DEMO_ACCOUNTS
from services.identity.principals import build_principal
from services.reference.catalog import Catalog
from tests.integration.conftest import case_in_status, post_report
from tests.support import GRIDS, System, wait_for

MEIXI, WANGJIANG = "10100133019900100000", "10100133019900200000"
WANGJIANG_GRID = next(g for g in GRIDS if g.startswith("101001330199002"))
PHONE = "13912345678"


async def _list(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/cases", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _ids(page: dict[str, Any]) -> set[str]:
    return {c["case_id"] for c in page["items"]}


@pytest.fixture(scope="module")
async def marked(system: System, tokens: dict[str, str]) -> dict[str, Any]:
    """Five cases whose descriptions carry one marker, in two streets, three categories, three channels."""
    mark = f"测标{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=system.http, timeout=10, headers={"Authorization": f"Bearer {tokens['operator']}"}
    ) as api:
        plan = {
            "A": {"channel": "app", "category_code": "0101", "grid_code": GRIDS[0]},
            "B": {"channel": "operator", "category_code": "0101", "grid_code": WANGJIANG_GRID},
            "C": {"channel": "operator", "category_code": "9999", "grid_code": GRIDS[0]},
            "D": {"channel": "hotline", "category_code": "0101", "grid_code": GRIDS[1]},
            "E": {"channel": "operator", "category_code": "0201", "grid_code": WANGJIANG_GRID},
        }
        cases: dict[str, dict[str, Any]] = {}
        for name, body in plan.items():
            accepted = await post_report(api, description=f"{mark} 路灯不亮，联系电话{PHONE}", **body)
            cases[name] = accepted
        for name, accepted in cases.items():
            want = "triage" if name == "C" else "dispatched"
            detail = await case_in_status(api, accepted["case_id"], want)
            if want == "dispatched":  # the SLA clock is started by escalation, a moment later
                detail = await wait_for(_with_due(api, accepted["case_id"]), what=f"due_at of {name}")
            cases[name] |= {"status": detail["status"]}
    return {"mark": mark, "cases": cases, "id": {k: v["case_id"] for k, v in cases.items()}}


def _with_due(api: httpx.AsyncClient, case_id: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(f"/api/v1/cases/{case_id}")).json()
        return body if body.get("due_at") else None

    return probe


async def test_filters_and_search_as_the_operator(
    as_role: dict[str, httpx.AsyncClient], marked: dict[str, Any]
) -> None:
    op, mark, ids = as_role["operator"], marked["mark"], marked["id"]
    everything = await _list(op, q=mark)
    assert _ids(everything) == set(ids.values())
    assert everything["next_cursor"] is None
    # Matching on the text is fine; what is shown stays masked.
    for item in everything["items"]:
        assert mark in item["description"] and PHONE not in item["description"]
    # The response keeps today's fields.
    assert {"server_time", "items", "counts", "stranded", "total", "next_cursor"} <= set(everything)

    assert _ids(await _list(op, q=mark, status="triage")) == {ids["C"]}
    both = {ids[k] for k in "ABCDE"}
    assert _ids(await _list(op, q=mark, status="dispatched,triage")) == both
    r = await op.get("/api/v1/cases", params=[("q", mark), ("status", "dispatched"), ("status", "triage")])
    assert _ids(r.json()) == both
    assert _ids(await _list(op, q=mark, grid_code=WANGJIANG)) == {ids["B"], ids["E"]}  # a street
    assert _ids(await _list(op, q=mark, grid_code=MEIXI)) == {ids["A"], ids["C"], ids["D"]}
    assert _ids(await _list(op, q=mark, grid_code=GRIDS[0])) == {ids["A"], ids["C"]}  # a grid
    assert _ids(await _list(op, q=mark, category_code="0201")) == {ids["E"]}
    # 望江街道 keeps its own street lights (the demo matrix): B is led by the street office, CG-SZ assists.
    assert _ids(await _list(op, q=mark, department_code="CG-SZ")) == {ids["A"], ids["D"]}
    assert _ids(await _list(op, q=mark, department_code="JD-BSC")) == {ids["B"]}
    assert _ids(await _list(op, q=mark, channel="hotline")) == {ids["D"]}
    assert _ids(await _list(op, q=mark, channel="app")) == {ids["A"]}

    today = datetime.now(SHANGHAI).date()
    day = today.isoformat()
    assert _ids(await _list(op, q=mark, **{"from": day, "to": day})) == set(ids.values())
    yesterday = (today - timedelta(days=1)).isoformat()
    assert _ids(await _list(op, q=mark, to=yesterday)) == set()
    assert _ids(await _list(op, q=mark, **{"from": (today + timedelta(days=1)).isoformat()})) == set()

    # Due soon: the clock runs and the deadline is within the window (all handle limits < 30 days).
    running = {ids[k] for k in "ABDE"}
    assert _ids(await _list(op, q=mark, due_soon="true", due_within_h=720)) == running
    assert _ids(await _list(op, q=mark, overdue="true")) == set()


async def test_overdue_filter_and_counter(
    as_role: dict[str, httpx.AsyncClient], marked: dict[str, Any], db: asyncpg.Pool
) -> None:
    op, mark, case_a = as_role["operator"], marked["mark"], marked["id"]["A"]
    before = (await _list(op, q=mark))["counts"]["overdue"]
    # The console's deadline is the case's due_at (the handling clock's, kept by escalation).
    await db.execute("UPDATE cases SET due_at = now() - interval '1 hour' WHERE id = $1", uuid.UUID(case_a))
    page = await _list(op, q=mark, overdue="true")
    assert _ids(page) == {case_a}
    assert page["items"][0]["overdue"] is True
    assert page["counts"]["overdue"] >= before + 1
    assert case_a not in _ids(await _list(op, q=mark, due_soon="true", due_within_h=720))
    # Both: overdue or due soon.
    both = await _list(op, q=mark, overdue="true", due_soon="true", due_within_h=720)
    assert _ids(both) == {marked["id"][k] for k in "ABDE"}


async def test_keyset_pages_cover_everything_once_in_order(
    as_role: dict[str, httpx.AsyncClient], marked: dict[str, Any]
) -> None:
    op, mark = as_role["operator"], marked["mark"]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": mark, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await op.get("/api/v1/cases", params=params)).json()
        pages += 1
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2
    assert pages == 3
    assert [c["case_id"] for c in seen] == [
        c["case_id"] for c in sorted(seen, key=lambda c: (c["updated_at"], c["case_id"]), reverse=True)
    ]
    assert {c["case_id"] for c in seen} == set(marked["id"].values())
    keys = [(datetime.fromisoformat(c["updated_at"]), uuid.UUID(c["case_id"])) for c in seen]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)


async def test_case_number_search(as_role: dict[str, httpx.AsyncClient], marked: dict[str, Any]) -> None:
    op, cases = as_role["operator"], marked["cases"]
    case_no = cases["A"]["case_no"]
    assert re.fullmatch(r"[0-9]{14}", case_no)
    exact = await _list(op, q=case_no)
    assert _ids(exact) == {cases["A"]["case_id"]}
    prefix = await _list(op, q=case_no[:12])
    assert cases["A"]["case_id"] in _ids(prefix)
    assert all(c["case_no"].startswith(case_no[:12]) for c in prefix["items"])


async def test_each_role_searches_only_its_own_cases(
    as_role: dict[str, httpx.AsyncClient], marked: dict[str, Any]
) -> None:
    mark, ids, cases = marked["mark"], marked["id"], marked["cases"]
    # Departments find text in the cases they lead or assist on; grid workers in their grid.
    department = await _list(as_role["department"], q=mark)
    assert _ids(department) == {ids["A"], ids["B"], ids["D"]}
    assert all(c["description"] for c in department["items"])
    assert _ids(await _list(as_role["grid_worker"], q=mark)) == {ids["A"], ids["C"]}
    # Leaders, feeds and admins may not read descriptions, so they may not search them: case numbers only.
    for role in ("leader", "feed", "admin"):
        r = await as_role[role].get("/api/v1/cases", params={"q": mark})
        assert r.status_code == 422, (role, r.text)
        assert r.json()["fields"][0]["field"] == "q" and "案件编号" in r.json()["fields"][0]["reason"]
    leader = as_role["leader"]  # 梅溪街道
    found = await _list(leader, q=cases["A"]["case_no"])
    assert _ids(found) == {ids["A"]} and found["items"][0]["description"] is None
    assert _ids(await _list(leader, q=cases["B"]["case_no"])) == set()  # 望江街道
    feed = as_role["feed"]  # reported D
    assert _ids(await _list(feed, q=cases["D"]["case_no"])) == {ids["D"]}
    assert _ids(await _list(feed, q=cases["A"]["case_no"])) == set()
    assert _ids(await _list(feed, channel="hotline", q=cases["D"]["case_no"][:8])) <= _ids(
        await _list(feed, limit=500)
    )
    # Filters never widen what a role sees.
    assert _ids(await _list(as_role["leader"], grid_code=WANGJIANG)) == set()
    assert ids["E"] not in _ids(await _list(as_role["department"], department_code="CG-HW"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "lost"}, "status"),
        ({"status": "dispatched,lost"}, "status"),
        ({"overdue": "maybe"}, "overdue"),
        ({"due_soon": "true", "due_within_h": "-1"}, "due_within_h"),
        ({"due_within_h": "soon"}, "due_within_h"),
        ({"category_code": "X1"}, "category_code"),
        ({"grid_code": "nowhere"}, "grid_code"),
        ({"department_code": "NOPE"}, "department_code"),
        ({"channel": "fax"}, "channel"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "25/11/2026"}, "to"),
        ({"from": "2026-11-25", "to": "2026-11-24"}, "to"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "灯"}, "q"),
        ({"q": "1234567890123456"}, "q"),
        ({"q": "长" * 101}, "q"),
    ],
)
async def test_invalid_parameters_name_the_field_in_chinese(
    as_role: dict[str, httpx.AsyncClient], params: dict[str, Any], field: str
) -> None:
    r = await as_role["operator"].get("/api/v1/cases", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert body["fields"][0]["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", body["fields"][0]["reason"]), body


async def _principals(db: asyncpg.Pool) -> dict[str, Principal]:
    catalog = await Catalog.load(db)
    # Keyed as the `as_role` clients are: one demo account per role, and the community's staff.
    out = {
        ("community" if a.username == "demo-community" else a.role.value): build_principal(
            catalog,
            subject=f"user:{a.username}",
            kind="user",
            credential_id="test",
            display_name=a.display_name,
            role=a.role.value,
            username=a.username,
            department_code=a.department_code,
            area_codes=a.area_codes,
            channel=a.channel,
        )
        for a in DEMO_ACCOUNTS
    }
    out["admin"] = build_principal(
        catalog, subject="user:admin", kind="user", credential_id="test", display_name="admin", role="admin"
    )
    return out


async def _counted(db: asyncpg.Pool, principal: Principal) -> dict[str, int]:
    params: list[Any] = []
    visible = case_condition(principal, Permission.CASE_READ, params)
    rows = await db.fetch(f"SELECT status, count(*) AS n FROM cases WHERE {visible} GROUP BY status", *params)
    return {r["status"]: r["n"] for r in rows}


async def test_counters_equal_counting_the_cases_for_every_role(
    as_role: dict[str, httpx.AsyncClient], marked: dict[str, Any], db: asyncpg.Pool
) -> None:
    """The counter table (lead and assisting departments, areas, '' for none) answers what counting
    the visible cases would, for every role; checked when nothing moved in between."""
    principals = await _principals(db)
    for role, principal in principals.items():

        async def agree(role: str = role, principal: Principal = principal) -> bool:
            before = await _counted(db, principal)
            page = await _list(as_role[role], limit=1)
            after = await _counted(db, principal)
            if before != after:
                return False  # something moved meanwhile: look again
            got = {
                k: v for k, v in page["counts"].items() if k not in ("overdue", "due_soon", "bounced") and v
            }
            assert got == before, role
            assert page["total"] == sum(before.values())
            return True

        await wait_for(agree, timeout=30, interval=0.3, what=f"a quiet moment to compare {role}'s counts")


async def test_counter_triggers_follow_every_change(db: asyncpg.Pool) -> None:
    """Insert, change status, grid, department and assisting departments, delete: after each, the
    counters (table + deltas) equal the cases grouped the same way. In a transaction rolled back."""
    invariant = """
        WITH counted AS (
            SELECT status, coalesce(grid_code, '') AS g, coalesce(department_code, '') AS d, false AS a,
                   count(*) AS n FROM cases GROUP BY 1, 2, 3
            UNION ALL
            SELECT c.status, coalesce(c.grid_code, ''), x.code, true, count(*) FROM cases c
            CROSS JOIN LATERAL (SELECT DISTINCT code FROM unnest(c.assist_department_codes) AS code
                                WHERE code IS DISTINCT FROM c.department_code) AS x GROUP BY 1, 2, 3
        ), kept AS (
            SELECT status, grid_code AS g, department_code AS d, assist AS a, sum(n) AS n FROM (
                SELECT status, grid_code, department_code, assist, n FROM case_counts UNION ALL
                SELECT status, grid_code, department_code, assist, n FROM case_count_deltas) AS u
            GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
        )
        SELECT count(*) FROM (
            (SELECT * FROM counted EXCEPT SELECT * FROM kept) UNION ALL
            (SELECT * FROM kept EXCEPT SELECT * FROM counted)
        ) AS diff
    """
    ids = [uuid.uuid4() for _ in range(3)]
    async with db.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:
            assert await conn.fetchval(invariant) == 0
            for i, case_id in enumerate(ids):
                await conn.execute(
                    "INSERT INTO cases (id, case_no, channel, status, description, grid_code, department_code, "
                    "assist_department_codes) VALUES ($1, $2, 'operator', 'reported', '计数测试', $3, NULL, $4)",
                    case_id,
                    f"T{uuid.uuid4().hex[:13]}",
                    GRIDS[i] if i < 2 else None,
                    [] if i == 0 else ["HB", "HB", "SW"],
                )
            assert await conn.fetchval(invariant) == 0
            steps = [
                "UPDATE cases SET status = 'dispatched', department_code = 'CG-SZ' WHERE id = $1",
                "UPDATE cases SET grid_code = $2 WHERE id = $1",
                "UPDATE cases SET assist_department_codes = ARRAY['CG-SZ', 'HB'] WHERE id = $1",
                "UPDATE cases SET department_code = 'HB' WHERE id = $1",  # now the lead is an assist too
                "UPDATE cases SET last_seq = last_seq + 1 WHERE id = $1",  # no counted column
                "UPDATE cases SET status = 'signed', assist_department_codes = '{}' WHERE id = $1",
            ]
            for case_id in ids:
                for step in steps:
                    args = (case_id, GRIDS[2]) if "$2" in step else (case_id,)
                    await conn.execute(step, *args)
                    assert await conn.fetchval(invariant) == 0, step
            await conn.execute("DELETE FROM case_search WHERE case_id = $1", ids[0])
            await conn.execute("DELETE FROM cases WHERE id = $1", ids[0])
            assert await conn.fetchval(invariant) == 0
            assert await conn.fetchval("SELECT gridcase_compact_case_counts()") >= 0
            assert await conn.fetchval(invariant) == 0
            assert (
                await conn.fetchval("SELECT count(*) FROM case_search WHERE case_id = ANY($1)", ids[1:]) == 2
            )
        finally:
            await tr.rollback()


async def test_the_console_folds_the_counter_deltas(db: asyncpg.Pool) -> None:
    """Deltas don't pile up: the console folds them into case_counts every second."""

    async def folded() -> bool:
        return await db.fetchval("SELECT count(*) FROM case_count_deltas") == 0

    await wait_for(folded, timeout=30, interval=0.2, what="the counter deltas folded")
    assert await db.fetchval("SELECT count(*) FROM case_counts") > 0


async def test_partial_indexes_match_the_state_machine(db: asyncpg.Pool) -> None:
    """The overdue index's predicate is a frozen copy of CLOCK_RUNNING (migration 0003): if the state
    machine's running statuses change, a migration must change the index, or overdue counts scan."""
    definition = await db.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_cases_running_due'")
    assert set(re.findall(r"'([a-z_]+)'", definition)) == {s.value for s in CLOCK_RUNNING}
    running = ", ".join(f"'{s.value}'" for s in sorted(CLOCK_RUNNING))
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # a test database is small enough to scan
        rows = await conn.fetch(
            f"EXPLAIN SELECT count(*) FROM cases WHERE status IN ({running}) AND due_at < now()"
        )
    plan = "\n".join(r[0] for r in rows)
    assert "ix_cases_running_due" in plan, plan  # the console's query is implied by the predicate


async def test_live_feed_delivers_rows_committed_out_of_id_order(
    system: System, db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    """Transaction 1 inserts an outbox row and waits; transaction 2 inserts one (a higher id) and
    commits; then transaction 1 commits. Reading `id > last` would have skipped the first row forever."""
    case_id = (await post_report(api))["case_id"]
    principal = (await _principals(db))[Role.OPERATOR.value]
    feed = CaseEventFeed(system.state()["database_url"])
    feed.start()
    events = feed.subscribe(principal)
    tag = uuid.uuid4().hex[:8]
    insert = (
        "INSERT INTO outbox (event_id, topic, key, value, headers, published_at) "
        # published already: the relay must not send these test rows to Kafka
        "VALUES ($1, 'gridcase.case-events', $2, '\\x7b7d', $3::jsonb, now()) RETURNING id"
    )
    try:
        assert (await asyncio.wait_for(anext(events), 10)).startswith("retry:")
        await asyncio.wait_for(feed.following.wait(), 10)
        received: list[str] = []

        async def read_until(wanted: str) -> None:
            while not any(wanted in m for m in received):
                received.append(await anext(events))

        async with db.acquire() as first, db.acquire() as second:
            tr = first.transaction()
            await tr.start()
            try:
                first_id = await first.fetchval(insert, uuid.uuid4(), case_id, {"type": f"test.first.{tag}"})
                second_id = await second.fetchval(
                    insert, uuid.uuid4(), case_id, {"type": f"test.second.{tag}"}
                )
                assert first_id < second_id
                await asyncio.wait_for(read_until(f"test.second.{tag}"), 15)
                assert not any(f"test.first.{tag}" in m for m in received)
            finally:
                await tr.commit()
        await asyncio.wait_for(read_until(f"test.first.{tag}"), 15)
        ours = [m for m in received if tag in m]
        assert len(ours) == 2 and case_id in ours[0]
    finally:
        if isinstance(events, AsyncGenerator):
            with contextlib.suppress(Exception):
                await events.aclose()
        await feed.stop()
        await db.execute("DELETE FROM outbox WHERE headers->>'type' LIKE $1", f"test.%.{tag}")


def test_shanghai_days_are_utc_plus_8() -> None:
    assert datetime(2026, 11, 25, tzinfo=SHANGHAI).astimezone(UTC) == datetime(2026, 11, 24, 16, tzinfo=UTC)
