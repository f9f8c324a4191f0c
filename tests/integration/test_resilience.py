"""Crashes and restarts lose nothing and do nothing twice (runs last: it restarts the system)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import asyncpg
import httpx

from tests.integration.conftest import report, reporter_headers, role_headers
from tests.support import GRIDS, System, Webhook, wait_for


async def _post_paced(system: System, run: str, n: int, rate: float) -> list[str]:
    """Post ``n`` reports at ``rate``/s; returns case ids. Retries a refused connection (the proxy may bounce)."""
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=system.http, timeout=10.0) as client:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            body = report(external_id=f"{run}-{i}", grid_code=GRIDS[i % len(GRIDS)], category_code="0103")
            for _attempt in range(50):
                try:
                    r = await client.post("/api/v1/reports", json=body, headers=reporter_headers("app"))
                    if r.status_code == 202:
                        ids.append(r.json()["case_id"])
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)  # the same external_id makes the retry safe
            else:
                raise AssertionError(f"report {i} never accepted")
    return ids


async def _dispatch_counts(db: asyncpg.Pool, run: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT c.id, c.status, "
        "(SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.type = 'case.dispatched') AS dispatches, "
        "(SELECT count(*) FROM notifications n WHERE n.case_id = c.id AND n.trigger_type = 'case.dispatched' "
        " AND n.status = 'delivered') AS delivered "
        "FROM cases c WHERE c.external_id LIKE $1",
        f"{run}-%",
    )


async def _all_dispatched_and_notified(db: asyncpg.Pool, run: str, n: int) -> list[asyncpg.Record] | None:
    rows = await _dispatch_counts(db, run)
    if len(rows) == n and all(r["dispatches"] >= 1 and r["delivered"] >= 1 for r in rows):
        return rows
    return None


def _assert_exactly_once(rows: list[asyncpg.Record], webhook: Webhook) -> None:
    assert all(r["status"] == "dispatched" for r in rows)
    assert [r for r in rows if r["dispatches"] != 1] == [], "a case was dispatched twice"
    assert [r for r in rows if r["delivered"] != 1] == [], "a case was notified twice"
    for r in rows:
        hooks: list[dict[str, Any]] = webhook.for_case(str(r["id"]), "case.dispatched")
        assert len({h["notification_id"] for h in hooks}) == 1, f"case {r['id']} got {len(hooks)} webhooks"


async def test_kill_9_dispatch_while_reports_arrive(
    system: System, db: asyncpg.Pool, webhook: Webhook
) -> None:
    run = f"kill9-{uuid.uuid4().hex[:8]}"
    old_pid = system.pid("dispatch")
    poster = asyncio.create_task(_post_paced(system, run, n=120, rate=30))
    await wait_for(lambda: _some_dispatched(db, run), timeout=15, what="first dispatches before the kill")

    os.kill(old_pid, signal.SIGKILL)

    async def restarted() -> bool:
        return system.pid("dispatch") != old_pid and system.state()["services"]["dispatch"]["restarts"] >= 1

    await wait_for(restarted, timeout=20, what="the supervisor to restart dispatch")
    ids = await poster
    assert len(set(ids)) == 120
    rows = await wait_for(
        lambda: _all_dispatched_and_notified(db, run, 120),
        timeout=90,
        what="every report dispatched and notified after the crash",
    )
    _assert_exactly_once(rows, webhook)


async def test_stop_whole_system_in_flight_and_start_again(
    system: System, db: asyncpg.Pool, webhook: Webhook
) -> None:
    run = f"restart-{uuid.uuid4().hex[:8]}"
    ids = await _post_paced(system, run, n=80, rate=400)  # a burst: most are still in flight at the stop
    before = await _dispatch_counts(db, run)

    system.stop()
    system.start()  # fresh embedded broker: the relay re-seeds it from the outbox
    await db.expire_connections()  # the test's own connections died with the old PostgreSQL

    rows = await wait_for(
        lambda: _all_dispatched_and_notified(db, run, 80),
        timeout=90,
        what="every report dispatched and notified after the restart",
    )
    assert {str(r["id"]) for r in rows} == set(ids)
    _assert_exactly_once(rows, webhook)
    assert len(before) == 80
    # Re-seeded exactly once: later checks of the (intact) new broker must not re-seed it again.
    checks = await _relay_metric(system, "gridcase_outbox_broker_checks_total")
    await wait_for(
        lambda: _metric_above(system, "gridcase_outbox_broker_checks_total", checks + 1),
        timeout=30,
        what="two more broker checks",
    )
    assert await _relay_metric(system, "gridcase_outbox_reseeds_total") == 1.0


async def test_embedded_broker_crash_is_recovered(system: System, db: asyncpg.Pool, webhook: Webhook) -> None:
    run = f"tansu-{uuid.uuid4().hex[:8]}"
    first = await _post_paced(system, run, n=20, rate=100)
    await wait_for(
        lambda: _all_dispatched_and_notified(db, run, 20), timeout=30, what="first batch dispatched"
    )
    tansu = _tansu_pid(system.kafka_port)
    assert tansu is not None

    os.kill(tansu, signal.SIGKILL)
    await wait_for(
        lambda: _async(system.all_healthy()), timeout=60, interval=0.5, what="system healthy again"
    )
    second = await _post_paced(system, run + "-b", n=20, rate=100)

    rows = await wait_for(
        lambda: _all_dispatched_and_notified(db, run, 40),
        timeout=90,
        what="reports after the broker crash dispatched",
    )
    assert len(set(first) | set(second)) == 40
    _assert_exactly_once(rows, webhook)


async def _relay_metric(system: System, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (
            await client.get(
                f"http://127.0.0.1:{system.state()['services']['relay']['port']}/metrics",
                headers=role_headers("admin"),
            )
        ).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def _metric_above(system: System, name: str, value: float) -> bool:
    return await _relay_metric(system, name) > value


async def _some_dispatched(db: asyncpg.Pool, run: str) -> bool:
    n = await db.fetchval(
        "SELECT count(*) FROM cases WHERE external_id LIKE $1 AND status = 'dispatched'", f"{run}-%"
    )
    return bool(n and n >= 5)


async def _async(value: bool) -> bool:
    return value


def _tansu_pid(port: int) -> int | None:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if any(b"tansu" in part for part in cmdline[:1]) and f"127.0.0.1:{port}".encode() in b" ".join(
            cmdline
        ):
            return int(pid)
    return None


async def test_launcher_killed_then_started_again_cleans_up_and_carries_on(
    system: System, db: asyncpg.Pool, webhook: Webhook
) -> None:
    run = f"orphans-{uuid.uuid4().hex[:8]}"
    old = system.state()["services"]
    assert system.proc is not None

    system.proc.kill()  # kill -9 the launcher: its children and the broker are orphaned
    system.proc.wait()
    system.start()  # must stop the orphans (they hold the ports) and start afresh
    await db.expire_connections()

    for svc in old.values():
        assert not _pid_runs_gridcase(svc["pid"]), f"orphan {svc['pid']} still running"
    await _post_paced(system, run, n=10, rate=50)
    rows = await wait_for(
        lambda: _all_dispatched_and_notified(db, run, 10), timeout=60, what="reports after the restart"
    )
    _assert_exactly_once(rows, webhook)


def _pid_runs_gridcase(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"services.cli" in f.read()
    except OSError:
        return False
