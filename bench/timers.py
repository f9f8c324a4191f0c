"""Issue 9 acceptance: durable timers at scale.

"With 1,000,000 pending timers in the database and timers coming due at 500 per second: none fires
early, p99 lateness at most 1 second, each exactly once, with two escalation processes running; the
cost of a scan does not grow with the number of pending timers."

What it does (run from the repository root: ``.venv/bin/python bench/timers.py``):

1. Starts an embedded PostgreSQL in a temporary directory (or uses ``--database-url``, which must be a
   scratch database: the run leaves its rows there) and migrates it.
2. Scan cost: inserts ``--small`` (10,000) pending timers due far in the future (30 days and more; they
   never fire during the run), measures the scheduler's claim query (``EXPLAIN (ANALYZE, BUFFERS)``,
   repeated) and the wall time of an empty ``fire_due`` call; then tops the far timers up to
   ``--pending`` (1,000,000) and measures again. The claim query is the one in
   ``escalation/workers.py`` (copied here as ``CLAIM``).
3. Stream: ``--rate`` × ``--seconds`` cases (30,000 by default), each with a running ``handle`` clock
   (version 1, not warned) and one ``warn`` timer; the due times follow one another at exactly
   ``--rate`` per second, starting ``--lead`` seconds after the schedulers are ready.
4. Runs ``--processes`` (2) scheduler processes: each is this script with ``--worker``, which builds
   ``Rules`` with ``escalation.app.rules_from``, a pool, a ``CatalogCache`` and runs the real loop
   ``escalation.workers.scheduler`` (poll ``--poll`` = 0.2 s, as the integration tests configure it).
   ``fire_due`` is wrapped only to count calls; the worker reports its counts and the service's own
   ``gridcase_timers_fired_total`` per kind and effect when it stops.
5. Measures, for every stream timer: lateness = ``fired_at - due_at``. ``fired_at`` is set with
   ``clock_timestamp()`` by one UPDATE at the end of the timer's batch, so it includes the rest of the
   batch's work; it is a pessimistic measure. Lateness is also computed from the deadline warning
   event's ``occurred_at`` (the database clock when that timer's case was locked, i.e. when its effect
   was applied). Both are compared with ``due_at`` to count early firings. Exactly once = exactly one
   ``case.deadline_warning`` event per stream case, every stream timer fired, and the schedulers' own
   counters add up to exactly one ``warned`` effect per timer and no ``noop`` (a ``noop`` on a stream
   timer would mean a second claim that the clock's ``warned_at`` check hid). The far timers must stay
   pending.

Prints a summary; ``--json FILE`` writes everything; exits 1 if the acceptance fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.system import log, machine_info, summarize  # noqa: E402
from services.db.pool import create_pool  # noqa: E402

# The scheduler's claim query, exactly as escalation/workers.py sends it. Since commit 2590d61 it takes the
# time as a value `(SELECT clock_timestamp())`, the variant this bench first measured beside the old
# `due_at <= clock_timestamp()` (a filter on every pending row: 108 ms and 14,100 buffers at 1,000,000
# pending, results timers-1…3.json); the "variant" numbers below are therefore the same query now.
CLAIM = (
    "SELECT id, case_id, phase, kind, ref, clock_version, due_at, clock_timestamp() AS now "
    "FROM timers WHERE fired_at IS NULL AND due_at <= (SELECT clock_timestamp()) "
    "ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED"
)
# The same claim with the time taken once per statement (an uncorrelated sub-select becomes an InitPlan,
# which PostgreSQL can use as an index bound; the volatile clock_timestamp() itself can only be a filter).
# Measured beside the real one to show what the scan would cost with that change; the product is unchanged.
CLAIM_INITPLAN = CLAIM.replace("due_at <= clock_timestamp()", "due_at <= (SELECT clock_timestamp())")
# … and its "when is the next one" query, run after every batch.
NEXT_DUE = "SELECT extract(epoch FROM min(due_at) - clock_timestamp()) FROM timers WHERE fired_at IS NULL"
BATCH = 200


# --------------------------------------------------------------------------------------------------
# Statistics and the machine (log, percentile, summarize, machine_info: bench/system.py)


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def proc_cpu_s(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def postgres_cpu_s(datadir: Path | None) -> float | None:
    """CPU seconds of our PostgreSQL: the postmaster (with its reaped children) and its live children."""
    if datadir is None:
        return None
    try:
        postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            parts = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(d.name) == postmaster:
            total += int(parts[11]) + int(parts[12]) + int(parts[13]) + int(parts[14])
        elif int(parts[1]) == postmaster:
            total += int(parts[11]) + int(parts[12])
    return total / tck


# --------------------------------------------------------------------------------------------------
# The scheduler process (``--worker``): the real escalation loop against the bench database


def _initplan_fire_due(workers: Any) -> Any:
    """EXPERIMENT ONLY (``--experiment-initplan-claim``): the product's ``fire_due``, recompiled from its
    own source with the claim's time bound taken once per statement. Everything else is unchanged."""
    import __future__

    import inspect
    import textwrap

    src = textwrap.dedent(inspect.getsource(workers.fire_due))
    patched = src.replace("due_at <= clock_timestamp()", "due_at <= (SELECT clock_timestamp())")
    if patched == src:
        raise RuntimeError("fire_due's claim query changed: the experiment no longer applies")
    ns = dict(vars(workers))
    exec(compile(patched, workers.__file__, "exec", flags=__future__.annotations.compiler_flag), ns)
    return ns["fire_due"]


async def worker_main(url: str, poll: float, home: str, experiment: bool = False) -> None:
    import logging

    from escalation import workers
    from escalation.app import rules_from
    from escalation.service import TIMERS_FIRED
    from services.reference.catalog import CatalogCache
    from services.runtime.service_app import ServiceContext
    from services.settings import BrokerSettings

    logging.basicConfig(
        level=logging.WARNING, format=f"worker {os.getpid()} %(levelname)s %(name)s %(message)s"
    )
    # The scheduler reads only the pool, escalation_poll_s and the stop event; no broker is needed.
    settings = BrokerSettings(
        database_url=url, kafka_bootstrap="unused:9092", escalation_poll_s=poll, home=home
    )
    rules = rules_from(settings)
    pool = await create_pool(url, max_size=settings.db_pool_max)
    catalogs = CatalogCache(pool)
    await catalogs.get()

    counts = {"calls": 0, "empty_calls": 0, "spin_calls": 0, "fired": 0, "max_batch": 0, "busy_s": 0.0}
    real_fire_due = _initplan_fire_due(workers) if experiment else workers.fire_due

    async def counted_fire_due(
        pool: asyncpg.Pool, rules: Any, catalogs: Any, limit: int = workers.BATCH
    ) -> tuple[int, float | None]:
        t0 = time.perf_counter()
        fired, nxt = await real_fire_due(pool, rules, catalogs, limit)
        counts["calls"] += 1
        counts["fired"] += fired
        counts["max_batch"] = max(counts["max_batch"], fired)
        if fired:
            counts["busy_s"] += time.perf_counter() - t0
        else:
            counts["empty_calls"] += 1
            if nxt is not None and nxt <= 0:
                counts["spin_calls"] += 1  # nothing claimed, something due (locked by the other): no sleep
        return fired, nxt

    workers.fire_due = counted_fire_due  # the loop looks the name up at each call
    ctx = ServiceContext(name="escalation", settings=settings, pool=pool, broker=cast(Any, None))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, ctx.stop.set)
    print("ready", flush=True)
    await workers.scheduler(rules, catalogs)(ctx)
    await pool.close()

    effects: dict[str, float] = {}
    for metric in TIMERS_FIRED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                effects[f"{sample.labels['kind']}/{sample.labels['effect']}"] = sample.value
    lateness: dict[str, float] = {}
    for metric in workers.LATENESS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                lateness[f"le {sample.labels['le']}"] = sample.value
            elif sample.name.endswith(("_sum", "_count")):
                lateness[sample.name.rsplit("_", 1)[1]] = sample.value
    out = {
        "pid": os.getpid(),
        "experiment_initplan_claim": experiment,
        **counts,
        "effects": effects,
        "claim_lateness_histogram": lateness,
    }
    print("result " + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------------------
# Setting up the data


async def insert_far_timers(conn: asyncpg.Connection, case_id: uuid.UUID, start: int, stop: int) -> float:
    """Far timers numbered start..stop-1, due 30 days from now plus one second each."""
    t0 = time.perf_counter()
    chunk = 200_000
    for lo in range(start, stop, chunk):
        hi = min(lo + chunk, stop)
        await conn.execute(
            "INSERT INTO timers (case_id, phase, kind, clock_version, due_at) "
            "SELECT $1, 'handle', 'warn', 0, now() + interval '30 days' + g * interval '1 second' "
            "FROM generate_series($2::int, $3::int) g",
            case_id,
            lo,
            hi - 1,
        )
        if stop - start > chunk:
            log(f"  far timers: {hi:,} of {stop:,}")
    return time.perf_counter() - t0


async def create_stream_cases(conn: asyncpg.Connection, prefix: str, n: int) -> list[uuid.UUID]:
    """``n`` minimal dispatched cases, each with a running handling clock (version 1, not warned)."""
    rows = await conn.fetch(
        "INSERT INTO cases (id, case_no, channel, status, description, last_seq) "
        "SELECT gen_random_uuid(), $1 || lpad(g::text, 7, '0'), 'app', 'dispatched', "
        "'timers bench: stream case', 0 FROM generate_series(1, $2::int) g RETURNING id, case_no",
        prefix,
        n,
    )
    ids = [r["id"] for r in sorted(rows, key=lambda r: r["case_no"])]
    await conn.execute(
        "INSERT INTO case_clocks (case_id, phase, state, limit_text, working, limit_minutes, extended_minutes, "
        "used_minutes, started_at, span_started_at, due_at, provisional, step, history, version, updated_at) "
        "SELECT id, 'handle', 'running', '10m', false, 10, 0, 0, clock_timestamp(), clock_timestamp(), "
        "clock_timestamp() + interval '10 minutes', false, 0, '[]'::jsonb, 1, clock_timestamp() "
        "FROM unnest($1::uuid[]) id",
        ids,
    )
    return ids


async def insert_stream_timers(
    conn: asyncpg.Connection, ids: list[uuid.UUID], rate: float, lead_s: float
) -> dt.datetime:
    """One warn timer per case, due at exactly ``rate`` per second from now + ``lead_s``; returns the first due."""
    t0: dt.datetime = await conn.fetchval(
        "SELECT clock_timestamp() + $1::float8 * interval '1 second'", lead_s
    )
    await conn.execute(
        "INSERT INTO timers (case_id, phase, kind, clock_version, due_at) "
        "SELECT id, 'handle', 'warn', 1, $2::timestamptz + (n - 1) / $3::float8 * interval '1 second' "
        "FROM unnest($1::uuid[]) WITH ORDINALITY AS s(id, n)",
        ids,
        t0,
        rate,
    )
    return t0


# --------------------------------------------------------------------------------------------------
# Scan cost


def _buffers(node: dict[str, Any]) -> int:
    return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))


def _removed_by_filter(node: dict[str, Any]) -> int:
    """Rows the plan visited and threw away (index scans whose condition is only a filter)."""
    return int(node.get("Rows Removed by Filter", 0)) + sum(
        _removed_by_filter(c) for c in node.get("Plans", [])
    )


async def explain_runs(
    conn: asyncpg.Connection, sql: str, args: Sequence[Any], repeat: int
) -> dict[str, Any]:
    execution, planning, buffers, removed = [], [], [], []
    for i in range(repeat + 3):
        raw = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args)
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
        if i < 3:
            continue  # warm-up
        execution.append(plan["Execution Time"])
        planning.append(plan["Planning Time"])
        buffers.append(_buffers(plan["Plan"]))
        removed.append(_removed_by_filter(plan["Plan"]))
    text_plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, COSTS OFF) {sql}", *args)
    return {
        "execution_ms": summarize(execution),
        "planning_ms": summarize(planning),
        "buffers": summarize([float(b) for b in buffers]),
        "rows_removed_by_filter": summarize([float(r) for r in removed]),
        "plan": [r[0] for r in text_plan],
    }


async def scan_cost(
    pool: asyncpg.Pool, rules: Any, catalogs: Any, repeat: int, label: str, dummy: uuid.UUID
) -> dict[str, Any]:
    from escalation.workers import fire_due

    async with pool.acquire() as conn:
        pending = await conn.fetchval("SELECT count(*) FROM timers WHERE fired_at IS NULL")
        index_pages = await conn.fetchval(
            "SELECT relpages FROM pg_class WHERE relname = 'ix_timers_pending_due'"
        )
        index_mb = await conn.fetchval("SELECT pg_relation_size('ix_timers_pending_due') / 1048576.0")
        claim_empty = await explain_runs(conn, CLAIM, [BATCH], repeat)
        claim_initplan = await explain_runs(conn, CLAIM_INITPLAN, [BATCH], repeat)
        next_due = await explain_runs(conn, NEXT_DUE, [], repeat)
        # The claim with a full batch due: 200 due timers inserted in a transaction that is rolled back.
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(
                "INSERT INTO timers (case_id, phase, kind, clock_version, due_at) "
                "SELECT $1, 'handle', 'warn', 0, clock_timestamp() - g * interval '1 millisecond' "
                "FROM generate_series(1, $2::int) g",
                dummy,
                BATCH,
            )
            claim_full = await explain_runs(conn, CLAIM, [BATCH], repeat)
            claim_full["rows"] = len(await conn.fetch(CLAIM, BATCH))
        finally:
            await tx.rollback()
        await conn.execute("VACUUM timers")  # the rolled-back rows' index entries
    claim_walls: dict[str, list[float]] = {"product": [], "initplan_variant": []}
    async with pool.acquire() as conn:
        for name, sql in (("product", CLAIM), ("initplan_variant", CLAIM_INITPLAN)):
            for i in range(repeat + 3):
                t0 = time.perf_counter()
                async with conn.transaction():
                    await conn.fetch(sql, BATCH)
                if i >= 3:
                    claim_walls[name].append((time.perf_counter() - t0) * 1000)
    walls = []
    for i in range(repeat + 3):
        t0 = time.perf_counter()
        fired, _ = await fire_due(pool, rules, catalogs)
        if fired:
            raise RuntimeError(f"an empty fire_due fired {fired} timers")
        if i >= 3:
            walls.append((time.perf_counter() - t0) * 1000)
    result = {
        "label": label,
        "pending": pending,
        "index_pages": index_pages,
        "index_mb": round(float(index_mb), 1),
        "claim_empty": claim_empty,
        "claim_200_due": claim_full,
        "claim_empty_initplan_variant": claim_initplan,
        "next_due_query": next_due,
        "fire_due_empty_wall_ms": summarize(walls),
        "claim_empty_wall_ms": {k: summarize(v) for k, v in claim_walls.items()},
    }
    log(
        f"  scan at {pending:,} pending: claim (none due) {claim_empty['execution_ms']['p50']:.3f} ms, "
        f"{claim_empty['buffers']['p50']:.0f} buffers, {claim_empty['rows_removed_by_filter']['p50']:,.0f} rows filtered; "
        f"variant with (SELECT clock_timestamp()) {claim_initplan['execution_ms']['p50']:.3f} ms; claim (200 due) {claim_full['execution_ms']['p50']:.3f} ms; "
        f"next-due {next_due['execution_ms']['p50']:.3f} ms; claim wall p50 "
        f"{result['claim_empty_wall_ms']['product']['p50']:.2f} ms; empty fire_due wall p50 "
        f"{result['fire_due_empty_wall_ms']['p50']:.2f} ms"
    )
    return result


# --------------------------------------------------------------------------------------------------
# The run


async def start_workers(
    n: int, url: str, poll: float, home: str, experiment: bool
) -> list[asyncio.subprocess.Process]:
    procs = []
    for _ in range(n):
        p = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--worker",
            "--database-url",
            url,
            "--poll",
            str(poll),
            "--home",
            home,
            *(["--experiment-initplan-claim"] if experiment else []),
            stdout=asyncio.subprocess.PIPE,
            cwd=str(ROOT),
        )
        procs.append(p)
    for p in procs:
        assert p.stdout is not None
        line = await asyncio.wait_for(p.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"scheduler process {p.pid} did not start: {line!r}")
    return procs


async def stop_workers(procs: list[asyncio.subprocess.Process]) -> list[dict[str, Any]]:
    results = []
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGTERM)
    for p in procs:
        assert p.stdout is not None
        out, _ = await asyncio.wait_for(p.communicate(), 60)
        found = None
        for line in out.decode().splitlines():
            if line.startswith("result "):
                found = json.loads(line[len("result ") :])
        results.append(found or {"pid": p.pid, "error": f"no result (exit {p.returncode})"})
    return results


async def bench(args: argparse.Namespace, url: str, home: str, pgdata: Path | None) -> dict[str, Any]:
    from escalation.app import rules_from
    from services.reference.catalog import CatalogCache
    from services.settings import Settings

    run = uuid.uuid4().hex[:6]
    rules = rules_from(Settings(database_url=url, home=home))
    pool = await create_pool(url, max_size=4)
    catalogs = CatalogCache(pool)
    summary: dict[str, Any] = {"args": vars(args) | {"database_url": None}, "run": run}
    try:
        async with pool.acquire() as conn:
            before = await conn.fetchval("SELECT count(*) FROM timers WHERE fired_at IS NULL")
            if before:
                log(f"note: the database already holds {before:,} pending timers (they count as pending)")
            dummy = uuid.uuid4()
            await conn.execute(
                "INSERT INTO cases (id, case_no, channel, status, description, last_seq) "
                "VALUES ($1, $2, 'app', 'dispatched', 'timers bench: the far timers'' case', 0)",
                dummy,
                f"T9-{run}-far",
            )
            # 1. Scan cost with few pending timers, then with all of them.
            small = min(args.small, args.pending)
            log(f"inserting {small:,} far timers")
            await insert_far_timers(conn, dummy, 0, small)
            await conn.execute("VACUUM ANALYZE timers")
        scans = [await scan_cost(pool, rules, catalogs, args.repeat, "small", dummy)]
        async with pool.acquire() as conn:
            log(f"inserting {args.pending - small:,} more far timers")
            far_s = await insert_far_timers(conn, dummy, small, args.pending)
            t0 = time.perf_counter()
            await conn.execute("VACUUM ANALYZE timers")
            summary["setup"] = {
                "far_insert_s": round(far_s, 1),
                "far_insert_per_s": round((args.pending - small) / far_s) if far_s else None,
                "vacuum_analyze_s": round(time.perf_counter() - t0, 1),
            }
        scans.append(await scan_cost(pool, rules, catalogs, args.repeat, "large", dummy))

        # 2. The stream's cases and clocks, then the schedulers, then the timers.
        n = int(args.rate * args.seconds)
        async with pool.acquire() as conn:
            log(f"creating {n:,} cases with running clocks")
            t0 = time.perf_counter()
            ids = await create_stream_cases(conn, f"T9-{run}-", n)
            await conn.execute("VACUUM ANALYZE cases")
            await conn.execute("VACUUM ANALYZE case_clocks")
            summary["setup"]["stream_cases_s"] = round(time.perf_counter() - t0, 1)
        log(f"starting {args.processes} scheduler processes")
        procs = await start_workers(args.processes, url, args.poll, home, args.experiment_initplan_claim)
        pids = [p.pid for p in procs]
        cpu0 = {pid: proc_cpu_s(pid) for pid in pids}
        busy0, total0 = cpu_ticks()
        load0 = loadavg()
        pg0 = postgres_cpu_s(pgdata)
        wall0 = time.monotonic()
        async with pool.acquire() as conn:
            first_due = await insert_stream_timers(conn, ids, args.rate, args.lead)
            last_due: dt.datetime = await conn.fetchval(
                "SELECT max(due_at) FROM timers WHERE case_id = ANY($1::uuid[])", ids
            )
        log(f"{n:,} timers due {first_due:%H:%M:%S.%f} … {last_due:%H:%M:%S.%f} UTC ({args.rate:g}/s)")

        # 3. Watch until every stream timer fired (or well past the last due time).
        deadline = time.monotonic() + args.lead + args.seconds + args.grace
        progress = []
        async with pool.acquire() as conn:
            while True:
                await asyncio.sleep(2.0)
                row = await conn.fetchrow(
                    "SELECT count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired, "
                    "count(*) FILTER (WHERE fired_at IS NULL AND due_at <= clock_timestamp()) AS overdue "
                    "FROM timers WHERE case_id = ANY($1::uuid[])",
                    ids,
                )
                progress.append(
                    {"t": round(time.monotonic(), 1), "fired": row["fired"], "due_pending": row["overdue"]}
                )
                log(f"  fired {row['fired']:,}/{n:,}, due and not fired yet: {row['overdue']:,}")
                if row["fired"] >= n or time.monotonic() > deadline:
                    break
        busy1, total1 = cpu_ticks()
        load1 = loadavg()
        pg1 = postgres_cpu_s(pgdata)
        wall1 = time.monotonic()
        cpu1 = {pid: proc_cpu_s(pid) for pid in pids}
        worker_results = await stop_workers(procs)
        for w in worker_results:
            pid = w.get("pid")
            if isinstance(pid, int) and pid in cpu0:
                w["cpu_s"] = round(cpu1[pid] - cpu0[pid], 1)
        ours = sum(cpu1[p] - cpu0[p] for p in pids) + (
            (pg1 - pg0) if pg0 is not None and pg1 is not None else 0.0
        )
        ncpu = len(os.sched_getaffinity(0))
        busy_pct = 100.0 * (busy1 - busy0) / max(total1 - total0, 1)
        ours_pct = 100.0 * ours / max((wall1 - wall0) * ncpu, 1e-9)
        summary["machine_during_stream"] = {
            "window_s": round(wall1 - wall0, 1),
            "cpu_busy_pct_all_cores": round(busy_pct, 1),
            "schedulers_cpu_s": round(sum(cpu1[p] - cpu0[p] for p in pids), 1),
            "postgres_cpu_s": round(pg1 - pg0, 1) if pg0 is not None and pg1 is not None else None,
            "bench_share_pct_all_cores": round(ours_pct, 1),
            "others_share_pct_all_cores": round(busy_pct - ours_pct, 1),
            "cpu_ms_per_timer": round(1000.0 * ours / n, 2),
            "loadavg_before": load0,
            "loadavg_after": load1,
        }
        summary["schedulers"] = worker_results

        # 4. What happened to every stream timer.
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT t.case_id, t.due_at, t.fired_at, "
                "extract(epoch FROM t.fired_at - t.due_at)::float8 AS late_fired, "
                "(SELECT count(*) FROM case_events e WHERE e.case_id = t.case_id "
                " AND e.type = 'case.deadline_warning') AS warnings, "
                "(SELECT extract(epoch FROM min(e.occurred_at) - t.due_at)::float8 FROM case_events e "
                " WHERE e.case_id = t.case_id AND e.type = 'case.deadline_warning') AS late_event, "
                "(SELECT count(*) FROM timers t2 WHERE t2.case_id = t.case_id) AS timers "
                "FROM timers t WHERE t.case_id = ANY($1::uuid[])",
                ids,
            )
            far = await conn.fetchrow(
                "SELECT count(*) AS n, count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired "
                "FROM timers WHERE case_id = $1",
                dummy,
            )
            table = await conn.fetchrow(
                "SELECT n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count, last_autovacuum "
                "FROM pg_stat_user_tables WHERE relname = 'timers'"
            )
        fired = [r for r in rows if r["fired_at"] is not None]
        late_fired = [r["late_fired"] for r in fired]
        late_event = [r["late_event"] for r in rows if r["late_event"] is not None]
        # Lateness over the run, in 10-second windows of due time.
        windows: dict[int, list[float]] = {}
        for r in fired:
            windows.setdefault(int((r["due_at"] - first_due).total_seconds() // 10), []).append(
                r["late_fired"]
            )
        effects: dict[str, float] = {}
        for w in worker_results:
            for k, v in (w.get("effects") or {}).items():
                effects[k] = effects.get(k, 0) + v
        last_fired = max((r["fired_at"] for r in fired), default=None)
        stream = {
            "timers": n,
            "effective_rate_per_s": round(len(fired) / (last_fired - first_due).total_seconds(), 1)
            if last_fired is not None and last_fired > first_due
            else None,
            "rate_per_s": args.rate,
            "first_due": first_due.isoformat(),
            "last_due": last_due.isoformat(),
            "fired": len(fired),
            "not_fired": n - len(fired),
            "early_by_fired_at": sum(1 for x in late_fired if x < 0),
            "early_by_event": sum(1 for x in late_event if x < 0),
            "lateness_fired_at_s": summarize(late_fired),
            "lateness_event_s": summarize(late_event),
            "lateness_by_10s_window": {
                f"{k * 10}-{k * 10 + 10}s": {q: round(v, 3) for q, v in summarize(vs).items()}
                for k, vs in sorted(windows.items())
            },
            "cases_without_warning": sum(1 for r in rows if r["warnings"] == 0),
            "cases_with_duplicate_warnings": sum(1 for r in rows if r["warnings"] > 1),
            "cases_with_extra_timers": sum(1 for r in rows if r["timers"] != 1),
            "scheduler_effects": effects,
            "progress": progress,
        }
        summary["stream"] = stream
        summary["far_timers"] = {"n": far["n"], "fired": far["fired"]}
        summary["timers_table_after"] = {
            k: (str(v) if isinstance(v, dt.datetime) else v) for k, v in table.items()
        }
        if stream["not_fired"] == 0:
            scans.append(await scan_cost(pool, rules, catalogs, args.repeat, "after_stream", dummy))
        else:
            log(f"{stream['not_fired']:,} stream timers never fired: no scan measurement after the stream")
        summary["scan"] = scans
    finally:
        await pool.close()
    summary["acceptance"] = acceptance(summary, args)
    return summary


def acceptance(s: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    st = s["stream"]
    small, large = s["scan"][0], s["scan"][1]
    # The product's claim; with --experiment-initplan-claim, the variant the schedulers ran.
    claim, wall = (
        ("claim_empty_initplan_variant", "initplan_variant")
        if args.experiment_initplan_claim
        else ("claim_empty", "product")
    )
    ex_small = small[claim]["execution_ms"]["p50"]
    ex_large = large[claim]["execution_ms"]["p50"]
    wall_small = small["claim_empty_wall_ms"][wall]["p50"]
    wall_large = large["claim_empty_wall_ms"][wall]["p50"]
    buf_small = small[claim]["buffers"]["p50"]
    buf_large = large[claim]["buffers"]["p50"]
    warned = st["scheduler_effects"].get("warn/warned", 0)
    checks = {
        "pending_timers_at_least": large["pending"] >= args.pending,
        "two_processes": len([w for w in s["schedulers"] if "error" not in w]) == args.processes,
        "none_early": st["early_by_fired_at"] == 0 and st["early_by_event"] == 0,
        "p99_lateness_le_1s": st["lateness_fired_at_s"].get("p99", float("inf")) <= args.p99_limit,
        "all_fired": st["not_fired"] == 0,
        "exactly_one_warning_per_case": st["cases_without_warning"] == 0
        and st["cases_with_duplicate_warnings"] == 0,
        "schedulers_fired_each_once": warned == st["timers"]
        and sum(v for k, v in st["scheduler_effects"].items() if k != "warn/warned") == 0,
        "far_timers_untouched": s["far_timers"]["fired"] == 0,
        # One more B-tree level is allowed (2 → 3 pages read); time within 2× + 0.5 ms of the small case.
        "scan_cost_flat": buf_large <= buf_small + 2
        and ex_large <= 2 * ex_small + 0.5
        and wall_large <= 2 * wall_small + 1.0,
    }
    return {
        "passed": all(checks.values()),
        "checks": checks,
        "scan_compare": {
            "claim_exec_ms_p50": [ex_small, ex_large],
            "claim_buffers_p50": [buf_small, buf_large],
            "claim_wall_ms_p50": [wall_small, wall_large],
            "fire_due_empty_wall_ms_p50": [
                small["fire_due_empty_wall_ms"]["p50"],
                large["fire_due_empty_wall_ms"]["p50"],
            ],
            "measured": claim,
            "pending": [small["pending"], large["pending"]],
        },
    }


def render(s: dict[str, Any]) -> str:
    st = s["stream"]
    m = s["machine"]
    lines = [
        f"machine: {m['nproc']} CPU ({m['cpu_model']}), {m['mem_total_gib']} GiB; "
        f"load during stream {s['machine_during_stream']['loadavg_before']} → "
        f"{s['machine_during_stream']['loadavg_after']}, all-core busy {s['machine_during_stream']['cpu_busy_pct_all_cores']} % "
        f"(this bench {s['machine_during_stream']['bench_share_pct_all_cores']} %, others "
        f"{s['machine_during_stream']['others_share_pct_all_cores']} %); schedulers "
        f"{s['machine_during_stream']['schedulers_cpu_s']} s + postgres {s['machine_during_stream']['postgres_cpu_s']} s CPU "
        f"= {s['machine_during_stream']['cpu_ms_per_timer']} ms per timer",
        f"setup: {s['setup']}",
        "scan cost (p50 of repeated EXPLAIN ANALYZE; empty fire_due = claim + next-due, one transaction):",
    ]
    for sc in s["scan"]:
        lines.append(
            f"  {sc['label']:>12}: {sc['pending']:>9,} pending, index {sc['index_mb']} MB | claim none due "
            f"{sc['claim_empty']['execution_ms']['p50']:.3f} ms / {sc['claim_empty']['buffers']['p50']:.0f} buf / "
            f"{sc['claim_empty']['rows_removed_by_filter']['p50']:,.0f} rows filtered | (SELECT clock_timestamp()) variant "
            f"{sc['claim_empty_initplan_variant']['execution_ms']['p50']:.3f} ms / "
            f"{sc['claim_empty_initplan_variant']['buffers']['p50']:.0f} buf | "
            f"claim 200 due {sc['claim_200_due']['execution_ms']['p50']:.3f} ms / "
            f"{sc['claim_200_due']['buffers']['p50']:.0f} buf | next-due {sc['next_due_query']['execution_ms']['p50']:.3f} ms | "
            f"claim wall p50 {sc['claim_empty_wall_ms']['product']['p50']:.2f} ms (variant "
            f"{sc['claim_empty_wall_ms']['initplan_variant']['p50']:.2f} ms) | "
            f"fire_due empty wall p50 {sc['fire_due_empty_wall_ms']['p50']:.2f} ms p99 {sc['fire_due_empty_wall_ms']['p99']:.2f} ms"
        )
    lf, le = st["lateness_fired_at_s"], st["lateness_event_s"]

    def fmt(d: dict[str, float]) -> str:
        if not d.get("n"):
            return "n=0"
        return f"n={d['n']:,} min {d['min']:.3f} p50 {d['p50']:.3f} p90 {d['p90']:.3f} p99 {d['p99']:.3f} max {d['max']:.3f} s"

    lines += [
        f"stream: {st['timers']:,} timers at {st['rate_per_s']:g}/s; fired {st['fired']:,}, not fired {st['not_fired']}; "
        f"effective {st['effective_rate_per_s']}/s (fired ÷ first due → last fired)",
        f"  lateness (fired_at - due_at):    {fmt(lf)}",
        f"  lateness (event occurred_at):    {fmt(le)}",
        f"  early: {st['early_by_fired_at']} by fired_at, {st['early_by_event']} by event; "
        f"cases without a warning {st['cases_without_warning']}, with more than one {st['cases_with_duplicate_warnings']}",
        f"  scheduler effects (both processes): {st['scheduler_effects']}",
    ]
    for w in s["schedulers"]:
        lines.append(
            f"  scheduler pid {w.get('pid')}: fired {w.get('fired')}, calls {w.get('calls')}, empty {w.get('empty_calls')}, "
            f"spins {w.get('spin_calls')}, max batch {w.get('max_batch')}, cpu {w.get('cpu_s')} s"
        )
    lines.append(f"far timers: {s['far_timers']['n']:,}, fired {s['far_timers']['fired']}")
    a = s["acceptance"]
    if s["args"].get("experiment_initplan_claim"):
        lines.append(
            "EXPERIMENT: the schedulers ran a modified claim query, (SELECT clock_timestamp()); not the product"
        )
    lines.append(f"acceptance: {'PASSED' if a['passed'] else 'FAILED'} {a['checks']}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--pending", type=int, default=1_000_000, help="far timers pending during the run")
    p.add_argument("--small", type=int, default=10_000, help="pending timers of the small scan measurement")
    p.add_argument("--rate", type=float, default=500.0, help="timers coming due per second")
    p.add_argument("--seconds", type=float, default=60.0, help="how long timers keep coming due")
    p.add_argument("--processes", type=int, default=2, help="scheduler processes")
    p.add_argument("--poll", type=float, default=0.2, help="GRIDCASE_ESCALATION_POLL_S of the schedulers")
    p.add_argument(
        "--lead", type=float, default=3.0, help="seconds from inserting the stream to its first due time"
    )
    p.add_argument("--grace", type=float, default=60.0, help="seconds to wait after the last due time")
    p.add_argument("--repeat", type=int, default=50, help="repetitions of each scan measurement")
    p.add_argument("--p99-limit", type=float, default=1.0, help="acceptance: p99 lateness in seconds")
    p.add_argument(
        "--database-url", help="a scratch database (default: an embedded PostgreSQL in a temp dir)"
    )
    p.add_argument("--json", type=Path, help="write the full results here")
    p.add_argument(
        "--experiment-initplan-claim",
        action="store_true",
        help="NOT the product: run the schedulers with the claim's bound as (SELECT clock_timestamp())",
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--home", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        asyncio.run(
            worker_main(
                args.database_url, args.poll, args.home or ".gridcase", args.experiment_initplan_claim
            )
        )
        return 0
    started = time.monotonic()
    machine = machine_info()
    tmp = Path(tempfile.mkdtemp(prefix="gridcase-timers-"))
    pg = None
    url = args.database_url
    try:
        if url is None:
            from services.runtime.embedded_pg import EmbeddedPostgres

            log(f"starting embedded PostgreSQL in {tmp}")
            pg = EmbeddedPostgres(tmp / "pg")
            url = pg.start()
        from services.db.migrate import upgrade

        upgrade(url)
        summary = asyncio.run(bench(args, url, str(tmp / "home"), tmp / "pg" if pg is not None else None))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # the embedded database's data: hundreds of MB
    summary["machine"] = machine
    summary["wall_s"] = round(time.monotonic() - started, 1)
    summary["command"] = " ".join(
        [".venv/bin/python", "bench/timers.py", *(argv if argv is not None else sys.argv[1:])]
    )
    print(render(summary))
    print(f"total wall time {summary['wall_s']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, default=str, ensure_ascii=False))
    return 0 if summary["acceptance"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
