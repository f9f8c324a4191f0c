"""End-to-end benchmark of Gridcase: report intake → automatic dispatch.

By default it starts its own system (`gridcase up` with a fresh temporary --home on free ports),
then runs, in order:

1. warm-up: ``--warmup`` reports, waited for until dispatched (not measured);
2. throughput: ``--throughput-cases`` reports posted as fast as ``--concurrency`` keep-alive
   connections allow; intake rate (client clock) and end-to-end rate (database clock:
   min(created_at) → max(dispatched_at)) of this phase's cases;
3. latency: reports posted at a steady ``--rate`` for ``--duration`` seconds (scheduled by absolute
   time); per case intake→dispatched latency = dispatched_at − created_at (both database clock),
   split into its stages through the outbox (created → published to Kafka → dispatched), and the
   HTTP round trip as the client saw it.

Free text against categorised reports (``--free-text``, on by default): the same run also posts
free-text reports — no category_code, a grid_code as before, the description one of the labelled
reports of the classifier's data set (``--free-text-split``, the held-out test split by default) with a
unique suffix — so dispatch has to read the text with the classifier: a confident reading is
dispatched, an unsure one goes to triage. Both are routing outcomes, so a free-text case is done when
it is dispatched *or* triaged (its time is dispatched_at, or the occurred_at of its case.triaged event).
The warm-up then includes free-text reports too (the classifier is loaded on first use), the
throughput phase is run once per kind with the same parameters in the order ``--free-text`` gives
(``abba``: categorised, free text, free text, categorised — linear drift cancels out), and the latency
phase is repeated with free text after the categorised one. Compared: the routing rate (cases
dispatched or triaged per second, database clock) of each kind, averaged over its rounds; the
acceptance is free text ≥ 80 % of categorised. Also reported: the share of free-text cases that were
auto-dispatched against triaged, and the triage reasons.

Cases of a run are told apart by their external_id prefix ``bench-<run>-<phase>-``. CPU use of
every process of the system (services, PostgreSQL, the broker, this client) is sampled from /proc
per phase, and the services' Prometheus batch histograms are scraped before and after.

Usage:
    .venv/bin/python bench/e2e.py                         # full default run, own system
    .venv/bin/python bench/e2e.py --throughput-cases 300 --duration 5     # smoke run
    .venv/bin/python bench/e2e.py --free-text off                         # categorised reports only
    .venv/bin/python bench/e2e.py --state /path/home/run/state.json       # a running system
    .venv/bin/python bench/e2e.py --url http://127.0.0.1:8000 --database-url postgresql://…
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import re
import secrets
import signal
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for bench.system
from bench.system import (
    SERVICE_NAMES,
    Connections,
    OwnSystem,
    ProcWatcher,
    find_ports,
    issue_tokens,
    log,
    machine_info,
    settle,
    summarize,
    wait_healthy,
    wait_quiet,
)
from bench.system import interrupt as _interrupt
from bench.system import stub_sniffio as _stub_sniffio

GRID_CODES = (
    "10100133019900100101",
    "10100133019900100102",
    "10100133019900100103",
    "10100133019900100104",
    "10100133019900100201",
    "10100133019900100202",
    "10100133019900100203",
    "10100133019900100301",
    "10100133019900100302",
    "10100133019900200101",
    "10100133019900200102",
    "10100133019900200201",
    "10100133019900200202",
    "10100133019900200203",
)
# Categories the demo responsibility matrix routes automatically (no triage).
CATEGORY_CODES = ("0101", "0103", "0104", "0201", "0302", "0304", "0501", "0502")
DESCRIPTIONS = (
    "路灯不亮",
    "井盖缺失",
    "道路积水",
    "占道经营",
    "垃圾满溢",
    "违章停车",
    "噪音扰民",
    "树木倒伏",
)

# Labelled report texts of the classifier (text, category, style, split): the free-text descriptions.
REPORTS_JSONL = Path(__file__).resolve().parent.parent / "services" / "classify" / "data" / "reports.jsonl"
CATEGORISED, FREE_TEXT = "categorised", "free_text"
KIND_LABELS = {CATEGORISED: "categorised", FREE_TEXT: "free text"}
# Issue 7: free-text reports keep at least this share of the categorised rate, in the same run.
FREE_TEXT_TARGET_RATIO = 0.80
FREE_TEXT_ORDERS: dict[str, tuple[str, ...]] = {
    "abba": (CATEGORISED, FREE_TEXT, FREE_TEXT, CATEGORISED),
    "categorised-first": (CATEGORISED, FREE_TEXT),
    "free-text-first": (FREE_TEXT, CATEGORISED),
    "off": (CATEGORISED,),
}

METRICS = ("gridcase_consumer_batch_seconds", "gridcase_outbox_batch_seconds")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------------------------------
# CPU per case


def cpu_ms_per_case(cpu: dict[str, Any], cases: int) -> dict[str, float]:
    """CPU milliseconds each group spent per case over a phase (idle polling included)."""
    if cases <= 0:
        return {}
    scale = cpu["wall_s"] * 1000.0 / 100.0 / cases
    out = {g: round(v * scale, 2) for g, v in cpu["percent_of_one_core"].items() if g != "launcher"}
    out["system total (without bench-client)"] = round(
        sum(v for g, v in out.items() if g != "bench-client"), 2
    )
    return out


# --------------------------------------------------------------------------------------------------
# Load generation


@dataclass
class PostStats:
    sent: int = 0
    accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rtt_ms: list[float] = field(default_factory=list)
    first_send: float = 0.0  # monotonic
    last_done: float = 0.0
    schedule_lag_ms: list[float] = field(default_factory=list)
    wait_ms: list[float] = field(default_factory=list)  # for a free connection

    def error_count(self) -> int:
        return sum(self.errors.values())


def load_free_texts(split: str) -> list[str]:
    """Descriptions for free-text reports: the texts of the classifier's labelled reports of ``split``
    (``all``: every split). The held-out test split is text the model was not trained on."""
    texts: list[str] = []
    with REPORTS_JSONL.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if split == "all" or row.get("split") == split:
                    texts.append(str(row["text"]))
    if not texts:
        raise RuntimeError(f"no reports of split {split!r} in {REPORTS_JSONL}")
    return texts


def report_body(external_id: str, n: int, free_texts: Sequence[str] | None = None) -> bytes:
    """A categorised report (category_code and grid_code), or with ``free_texts`` a free-text one: no
    category_code (dispatch reads the text), the same grid_code (routing by place is unchanged)."""
    body: dict[str, str] = {
        "channel": "hotline",  # posted by a 12345 hotline feed token, as an integration does
        "grid_code": GRID_CODES[(n // len(CATEGORY_CODES)) % len(GRID_CODES)],
        "external_id": external_id,
    }
    if free_texts is None:
        body["description"] = f"{DESCRIPTIONS[n % len(DESCRIPTIONS)]}（压测{n}）"
        body["category_code"] = CATEGORY_CODES[n % len(CATEGORY_CODES)]
    else:
        body["description"] = f"{free_texts[n % len(free_texts)]}（压测{n}）"
    return json.dumps(body, ensure_ascii=False).encode()


async def post_one(conns: Connections, url: str, body: bytes, stats: PostStats) -> None:
    queued = time.monotonic()
    if not stats.first_send:
        stats.first_send = queued
    stats.sent += 1
    async with conns.client() as client:
        started = time.monotonic()
        stats.wait_ms.append((started - queued) * 1000.0)
        try:
            r = await client.post(url, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            stats.errors[type(exc).__name__] += 1
            return
        finally:
            stats.last_done = time.monotonic()
    if r.status_code == 202:
        stats.accepted += 1
        stats.rtt_ms.append((stats.last_done - started) * 1000.0)
    else:
        stats.errors[f"HTTP {r.status_code}"] += 1


async def post_closed_loop(
    conns: Connections,
    url: str,
    prefix: str,
    count: int,
    concurrency: int,
    free_texts: Sequence[str] | None = None,
) -> PostStats:
    """``concurrency`` workers post back to back until ``count`` reports were sent."""
    stats = PostStats()
    counter = itertools.count()

    async def worker() -> None:
        while (n := next(counter)) < count:
            await post_one(conns, url, report_body(f"{prefix}{n:06d}", n, free_texts), stats)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats


async def post_paced(
    conns: Connections,
    url: str,
    prefix: str,
    rate: float,
    duration: float,
    free_texts: Sequence[str] | None = None,
) -> PostStats:
    """Open loop: report i is sent at start + i/rate, whatever happened to the earlier ones
    (if every connection is busy it waits for one; that wait is reported separately)."""
    stats = PostStats()
    count = round(rate * duration)
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    start = loop.time() + 0.05
    for n in range(count):
        target = start + n / rate
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.schedule_lag_ms.append(max(0.0, (loop.time() - target) * 1000.0))
        body = report_body(f"{prefix}{n:06d}", n, free_texts)
        tasks.append(asyncio.create_task(post_one(conns, url, body, stats)))
    await asyncio.gather(*tasks)
    return stats


# --------------------------------------------------------------------------------------------------
# Database side


@dataclass
class Progress:
    total: int
    dispatched: int
    triaged: int
    first_created: dt.datetime | None
    last_created: dt.datetime | None
    last_dispatched: dt.datetime | None


async def progress(conn: asyncpg.Connection, prefix: str) -> Progress:
    row = await conn.fetchrow(
        "SELECT count(*) AS total, count(dispatched_at) AS dispatched, "
        "count(*) FILTER (WHERE status = 'triage') AS triaged, "
        "min(created_at) AS first_created, max(created_at) AS last_created, "
        "max(dispatched_at) AS last_dispatched "
        "FROM cases WHERE external_id LIKE $1",
        prefix + "%",
    )
    assert row is not None
    return Progress(**dict(row))


async def wait_dispatched(
    conn: asyncpg.Connection, prefix: str, expected: int, timeout_s: float, stall_s: float
) -> tuple[Progress, float]:
    """Poll until ``expected`` cases of ``prefix`` are dispatched or triaged (for a categorised report
    triage means it failed; for a free-text one it is the other routing outcome: the classifier was
    unsure). A case whose HTTP answer was lost (client error) may still have been opened: every case
    of the prefix in the database is waited for, not only the accepted ones."""
    started = time.monotonic()
    deadline = started + timeout_s
    last_change = started
    last_done = -1
    last_log = started
    while True:
        p = await progress(conn, prefix)
        done = p.dispatched + p.triaged
        now = time.monotonic()
        expected = max(expected, p.total)
        if done >= expected:
            return p, now
        if done != last_done:
            last_done, last_change = done, now
        if now - last_log > 5:
            log(f"  waiting for dispatch: {p.dispatched}/{expected} dispatched, {p.triaged} triaged")
            last_log = now
        if now > deadline or now - last_change > stall_s:
            log(f"  gave up waiting: {p.dispatched}/{expected} dispatched after {now - started:.0f}s")
            return p, now
        await asyncio.sleep(0.2)


@dataclass
class Outcomes:
    """How the cases of a prefix were routed, beyond the counts of ``Progress``."""

    last_triaged: dt.datetime | None  # latest case.triaged event
    triage_reasons: dict[str, int]
    category_sources: dict[str, int]  # of the dispatched: reporter | model
    read_by_model: int  # cases the classifier read (classifier_version set)


async def outcomes(conn: asyncpg.Connection, prefix: str) -> Outcomes:
    """Once per phase (not while polling: these join the events)."""
    last_triaged = await conn.fetchval(
        "SELECT max(e.occurred_at) FROM cases c "
        "JOIN case_events e ON e.case_id = c.id AND e.type = 'case.triaged' "
        "WHERE c.external_id LIKE $1",
        prefix + "%",
    )
    reasons = await conn.fetch(
        "SELECT coalesce(triage_reason, '?') AS k, count(*) AS n FROM cases "
        "WHERE external_id LIKE $1 AND status = 'triage' GROUP BY 1 ORDER BY 2 DESC, 1",
        prefix + "%",
    )
    sources = await conn.fetch(
        "SELECT coalesce(category_source, '?') AS k, count(*) AS n FROM cases "
        "WHERE external_id LIKE $1 AND dispatched_at IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
        prefix + "%",
    )
    read = await conn.fetchval(
        "SELECT count(*) FROM cases WHERE external_id LIKE $1 AND classifier_version IS NOT NULL",
        prefix + "%",
    )
    return Outcomes(
        last_triaged=last_triaged,
        triage_reasons={str(r["k"]): int(r["n"]) for r in reasons},
        category_sources={str(r["k"]): int(r["n"]) for r in sources},
        read_by_model=int(read),
    )


def routing_summary(kind: str, p: Progress, o: Outcomes) -> dict[str, Any]:
    """Routed = dispatched or triaged, the outcomes of automatic routing; the routing rate is routed
    cases per second of database clock, first created_at → last dispatched_at or case.triaged. For
    categorised reports (none triaged) it equals the end-to-end rate."""
    routed = p.dispatched + p.triaged
    ends = [t for t in (p.last_dispatched, o.last_triaged) if t is not None]
    window = (max(ends) - p.first_created).total_seconds() if ends and p.first_created else float("nan")
    return {
        "kind": kind,
        "routed": routed,
        "not_routed": p.total - routed,
        "routing_window_s": round(window, 3),
        "routing_rate_per_s": round(routed / window, 1) if window > 0 else None,
        "auto_dispatch_share": round(p.dispatched / routed, 4) if routed else None,
        "triage_share": round(p.triaged / routed, 4) if routed else None,
        "triage_reasons": o.triage_reasons,
        "category_sources": o.category_sources,
        "read_by_model": o.read_by_model,
    }


@dataclass
class Latencies:
    total: list[float] = field(default_factory=list)  # ms, dispatched_at − created_at
    to_published: list[float] = field(default_factory=list)  # ms, outbox.published_at − created_at
    published_to_dispatched: list[float] = field(default_factory=list)
    slowest: list[dict[str, float]] = field(default_factory=list)  # with when it was taken in
    per_second_max: list[float] = field(default_factory=list)  # worst latency of each second


async def latencies(conn: asyncpg.Connection, prefix: str, *, triaged_too: bool = False) -> Latencies:
    """Per case, in ms: total (dispatched_at − created_at) and its stages through the outbox.

    With ``triaged_too`` (free-text reports) a triaged case counts as routed as well, at the time of
    its case.triaged event (the same transaction clock dispatched_at would have had)."""
    if triaged_too:
        done = "coalesce(c.dispatched_at, t.occurred_at)"
        triage_join = "LEFT JOIN case_events t ON t.case_id = c.id AND t.type = 'case.triaged' "
    else:
        done, triage_join = "c.dispatched_at", ""
    rows = await conn.fetch(
        "SELECT extract(epoch FROM c.created_at - min(c.created_at) OVER ()) AS at_s, "
        f"extract(epoch FROM {done} - c.created_at) * 1000 AS total, "
        "extract(epoch FROM o.published_at - c.created_at) * 1000 AS to_published, "
        f"extract(epoch FROM {done} - o.published_at) * 1000 AS published_to_dispatched "
        "FROM cases c "
        "LEFT JOIN case_events e ON e.case_id = c.id AND e.seq = 1 "
        "LEFT JOIN outbox o ON o.event_id = e.event_id "
        f"{triage_join}"
        f"WHERE c.external_id LIKE $1 AND {done} IS NOT NULL "
        "ORDER BY c.created_at",
        prefix + "%",
    )
    out = Latencies()
    per_second: dict[int, float] = {}
    for r in rows:
        out.total.append(float(r["total"]))
        if r["to_published"] is not None:
            out.to_published.append(float(r["to_published"]))
            out.published_to_dispatched.append(float(r["published_to_dispatched"]))
        second = int(r["at_s"])
        per_second[second] = max(per_second.get(second, 0.0), float(r["total"]))
    out.per_second_max = [round(per_second.get(i, 0.0), 1) for i in range(max(per_second, default=-1) + 1)]
    worst = sorted(rows, key=lambda r: -float(r["total"]))[:10]
    out.slowest = [
        {k: round(float(v), 3 if k == "at_s" else 1) for k, v in dict(r).items() if v is not None}
        for r in worst
    ]
    return out


async def db_background(conn: asyncpg.Connection) -> dict[str, int]:
    """Counters of PostgreSQL's own background work (a checkpoint or autovacuum can cause a stall)."""
    out: dict[str, int] = {}
    with contextlib.suppress(asyncpg.PostgresError):
        row = await conn.fetchrow(
            "SELECT coalesce(sum(autovacuum_count), 0) AS v, coalesce(sum(autoanalyze_count), 0) AS a "
            "FROM pg_stat_user_tables"
        )
        assert row is not None
        out["autovacuum_runs"], out["autoanalyze_runs"] = int(row["v"]), int(row["a"])
    with contextlib.suppress(asyncpg.PostgresError):  # PostgreSQL 17+
        out["checkpoints"] = int(
            await conn.fetchval("SELECT num_timed + num_requested FROM pg_stat_checkpointer")
        )
    return out


async def dead_letter_count(conn: asyncpg.Connection) -> int | None:
    try:
        return int(await conn.fetchval("SELECT count(*) FROM dead_letters"))
    except asyncpg.PostgresError:
        return None


# --------------------------------------------------------------------------------------------------
# Prometheus histograms of the services

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")


async def scrape(client: httpx.AsyncClient, host: str, ports: dict[str, int]) -> dict[str, float]:
    """{"service metric_sum{labels}": value} for the batch histograms' _sum and _count."""
    out: dict[str, float] = {}

    async def one(name: str, port: int) -> None:
        try:
            r = await client.get(f"http://{host}:{port}/metrics", timeout=5.0)
        except httpx.HTTPError:
            return
        for line in r.text.splitlines():
            m = _SAMPLE.match(line)
            if not m or not m["name"].endswith(("_sum", "_count")):
                continue
            if not m["name"].startswith(METRICS):
                continue
            with contextlib.suppress(ValueError):
                out[f"{name} {m['name']}{{{m['labels'] or ''}}}"] = float(m["value"])

    await asyncio.gather(*(one(n, p) for n, p in ports.items()))
    return out


def histogram_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per service and histogram: batches handled, total seconds and mean ms per batch in between."""
    out: dict[str, dict[str, float]] = {}
    for key, v_after in after.items():
        if not key.split(" ", 1)[1].split("{", 1)[0].endswith("_count"):
            continue
        count = v_after - before.get(key, 0.0)
        sum_key = key.replace("_count{", "_sum{", 1)
        total = after.get(sum_key, 0.0) - before.get(sum_key, 0.0)
        if count <= 0:
            continue
        service, metric = key.split(" ", 1)
        label = f"{service} {metric.replace('_count', '')}"
        out[label] = {
            "batches": count,
            "seconds": round(total, 3),
            "mean_ms_per_batch": round(1000 * total / count, 2),
        }
    return out


# --------------------------------------------------------------------------------------------------
# The run


@dataclass
class Target:
    url: str  # where reports are posted
    database_url: str
    service_ports: dict[str, int]
    host: str
    state: dict[str, Any] | None
    state_path: Path | None


async def run_phases(args: argparse.Namespace, target: Target, watcher: ProcWatcher) -> dict[str, Any]:
    run_id = dt.datetime.now().strftime("%m%d%H%M%S") + secrets.token_hex(2)
    base = target.url
    if args.post_to == "intake":
        base = f"http://{target.host}:{target.service_ports['intake']}"
    report_url = base.rstrip("/") + "/api/v1/reports"
    results: dict[str, Any] = {"run_id": run_id, "report_url": report_url}
    # A signal handler raising inside the event loop can land in a transport callback and be lost:
    # let SIGTERM cancel the run instead (asyncio.run already does that for Ctrl-C).
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    conn = await asyncpg.connect(target.database_url)
    # Reports go in as an integration's feed token would send them; /metrics needs an admin.
    feed_token, admin_token = await issue_tokens(target.database_url, run_id)
    conns = Connections(args.concurrency, feed_token)
    metrics_client = httpx.AsyncClient(trust_env=False, headers={"Authorization": f"Bearer {admin_token}"})
    try:
        results["postgres"] = await conn.fetchval("SHOW server_version")
        dead_before = await dead_letter_count(conn)

        if args.quiet_wait > 0:
            results["other_load_before_start_percent_of_one_core"] = await wait_quiet(
                watcher, args.quiet_wait, args.quiet_threshold
            )

        free_texts = load_free_texts(args.free_text_split) if args.free_text != "off" else None

        # Warm-up: connections, pools, prepared statements, consumer group assignments; with free
        # text also the classifier, which dispatch loads on first use.
        if args.warmup > 0:
            for tag, texts in (("wu-", None), ("wuf-", free_texts)):
                if tag == "wuf-" and texts is None:
                    continue
                prefix = f"bench-{run_id}-{tag}"
                kind = CATEGORISED if texts is None else FREE_TEXT
                log(f"warm-up: {args.warmup} {KIND_LABELS[kind]} reports")
                st = await post_closed_loop(conns, report_url, prefix, args.warmup, args.concurrency, texts)
                if st.accepted == 0:
                    raise RuntimeError(f"warm-up: no report accepted ({dict(st.errors)})")
                wp, _ = await wait_dispatched(
                    conn, prefix, st.accepted, args.dispatch_timeout, args.stall_timeout
                )
                if wp.dispatched + (wp.triaged if kind == FREE_TEXT else 0) == 0:
                    raise RuntimeError(
                        "warm-up: no case was routed; the system is not working (see its logs)"
                    )
                await settle(conn)

        run = Run(args, target, watcher, conn, conns, metrics_client, report_url, run_id, free_texts)
        if args.throughput_cases > 0:
            order = FREE_TEXT_ORDERS[args.free_text]
            rounds: list[dict[str, Any]] = []
            for i, kind in enumerate(order, 1):
                tag = f"tp{i}{'c' if kind == CATEGORISED else 'f'}-" if len(order) > 1 else "tp-"
                label = f" (round {i}/{len(order)})" if len(order) > 1 else ""
                rounds.append(await throughput_phase(run, kind, tag, label))
                await settle(conn)
            # The first categorised round is the throughput phase as the bench always measured it.
            results["throughput"] = next(r for r in rounds if r["kind"] == CATEGORISED)
            if len(order) > 1:
                results["free_text_comparison"] = compare_free_text(args, rounds)

        if args.rate > 0 and args.duration > 0:
            results["latency"] = await latency_phase(run, CATEGORISED, "lat-")
            if free_texts is not None:
                await settle(conn)
                results["latency_free_text"] = await latency_phase(run, FREE_TEXT, "latf-")

        dead_after = await dead_letter_count(conn)
        if dead_before is not None and dead_after is not None:
            results["dead_letters_during_run"] = dead_after - dead_before
    finally:
        await conns.aclose()
        await metrics_client.aclose()
        await conn.close()
    return results


@dataclass(frozen=True)
class Run:
    """What both measured phases work with."""

    args: argparse.Namespace
    target: Target
    watcher: ProcWatcher
    conn: asyncpg.Connection
    conns: Connections
    metrics_client: httpx.AsyncClient
    report_url: str
    run_id: str
    free_texts: list[str] | None  # descriptions of free-text reports (None: categorised only)

    def texts(self, kind: str) -> list[str] | None:
        if kind == CATEGORISED:
            return None
        assert self.free_texts is not None
        return self.free_texts


async def throughput_phase(run: Run, kind: str, tag: str, label: str = "") -> dict[str, Any]:
    args, target, watcher, conn, conns = run.args, run.target, run.watcher, run.conn, run.conns
    metrics_client, report_url, run_id = run.metrics_client, run.report_url, run.run_id
    prefix = f"bench-{run_id}-{tag}"
    n = args.throughput_cases
    log(f"throughput{label}: posting {n} {KIND_LABELS[kind]} reports with {args.concurrency} connections")
    m0 = await scrape(metrics_client, target.host, target.service_ports)
    s0 = watcher.snapshot()
    st = await post_closed_loop(conns, report_url, prefix, n, args.concurrency, run.texts(kind))
    s1 = watcher.snapshot()
    post_wall = st.last_done - st.first_send
    log(f"  posted: {st.accepted} accepted, {st.error_count()} errors in {post_wall:.1f}s")
    p, done_at = await wait_dispatched(conn, prefix, st.accepted, args.dispatch_timeout, args.stall_timeout)
    s2 = watcher.snapshot()
    m1 = await scrape(metrics_client, target.host, target.service_ports)
    routing = routing_summary(kind, p, await outcomes(conn, prefix))
    e2e_s = (
        (p.last_dispatched - p.first_created).total_seconds()
        if p.last_dispatched and p.first_created
        else float("nan")
    )
    intake_db_s = (
        (p.last_created - p.first_created).total_seconds()
        if p.last_created and p.first_created
        else float("nan")
    )
    rtt = summarize(st.rtt_ms)
    out = {
        "cases": n,
        "concurrency": args.concurrency,
        "accepted": st.accepted,
        "http_errors": st.error_count(),
        "http_error_kinds": dict(st.errors),
        "post_wall_s": round(post_wall, 3),
        "intake_rate_per_s": round(st.accepted / post_wall, 1) if post_wall > 0 else None,
        "intake_rate_db_per_s": round(p.total / intake_db_s, 1) if intake_db_s > 0 else None,
        "dispatched": p.dispatched,
        "triaged": p.triaged,
        "cases_in_db": p.total,
        "not_dispatched": p.total - p.dispatched,
        "e2e_window_s": round(e2e_s, 3),
        "e2e_rate_per_s": round(p.dispatched / e2e_s, 1) if e2e_s > 0 else None,
        "client_wall_to_all_dispatched_s": round(done_at - st.first_send, 2),
        "dispatch_tail_after_last_intake_s": (
            round((p.last_dispatched - p.last_created).total_seconds(), 3)
            if p.last_dispatched and p.last_created
            else None
        ),
        "http_rtt_ms": {k: round(v, 2) for k, v in rtt.items()},
        "cpu_while_posting": ProcWatcher.cpu(s0, s1),
        "cpu_while_draining": ProcWatcher.cpu(s1, s2),
        "cpu_whole_phase": ProcWatcher.cpu(s0, s2),
        "cpu_ms_per_case": cpu_ms_per_case(ProcWatcher.cpu(s0, s2), routing["routed"]),
        "batch_histograms": histogram_deltas(m0, m1),
        **routing,
    }
    log(
        f"  intake {out['intake_rate_per_s']}/s, end-to-end {out['e2e_rate_per_s']}/s "
        f"({p.dispatched}/{p.total} dispatched in {e2e_s:.1f}s), routing {out['routing_rate_per_s']}/s "
        f"({routing['routed']} dispatched or triaged in {routing['routing_window_s']}s)"
    )
    return out


def compare_free_text(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Routing rates of both kinds, each the mean over its rounds, and the free/categorised ratio."""

    def rates(kind: str) -> list[float]:
        return [float(r["routing_rate_per_s"] or 0.0) for r in rounds if r["kind"] == kind]

    cat, free = rates(CATEGORISED), rates(FREE_TEXT)
    cat_rate, free_rate = sum(cat) / len(cat), sum(free) / len(free)
    ratio = free_rate / cat_rate if cat_rate > 0 else float("nan")
    free_rounds = [r for r in rounds if r["kind"] == FREE_TEXT]
    dispatched = sum(r["dispatched"] for r in free_rounds)
    triaged = sum(r["triaged"] for r in free_rounds)
    reasons: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for r in free_rounds:
        reasons.update(r["triage_reasons"])
        sources.update(r["category_sources"])
    order = [r["kind"] for r in rounds]
    return {
        "order": order,
        "ran_first": order[0],
        "same_parameters": {"cases": args.throughput_cases, "concurrency": args.concurrency},
        "free_text_descriptions": {
            "source": str(REPORTS_JSONL.relative_to(REPORTS_JSONL.parents[3])),
            "split": args.free_text_split,
            "distinct_texts": len(load_free_texts(args.free_text_split)),
        },
        "rounds": [
            {
                "kind": r["kind"],
                "routing_rate_per_s": r["routing_rate_per_s"],
                "e2e_rate_per_s": r["e2e_rate_per_s"],
                "intake_rate_per_s": r["intake_rate_per_s"],
                "routed": r["routed"],
                "dispatched": r["dispatched"],
                "triaged": r["triaged"],
                "not_routed": r["not_routed"],
                "dispatch_cpu_ms_per_case": r["cpu_ms_per_case"].get("dispatch"),
                "system_cpu_ms_per_case": r["cpu_ms_per_case"].get("system total (without bench-client)"),
            }
            for r in rounds
        ],
        "rounds_full": rounds,
        "categorised_rate_per_s": round(cat_rate, 1),
        "free_text_rate_per_s": round(free_rate, 1),
        "ratio_free_to_categorised": round(ratio, 3),
        "target_ratio": FREE_TEXT_TARGET_RATIO,
        "met": bool(ratio >= FREE_TEXT_TARGET_RATIO),
        "free_text_outcomes": {
            "routed": dispatched + triaged,
            "auto_dispatched": dispatched,
            "triaged": triaged,
            "auto_dispatch_share": round(dispatched / (dispatched + triaged), 4)
            if dispatched + triaged
            else None,
            "triage_share": round(triaged / (dispatched + triaged), 4) if dispatched + triaged else None,
            "triage_reasons": dict(reasons.most_common()),
            "category_sources_of_dispatched": dict(sources.most_common()),
            "read_by_model": sum(r["read_by_model"] for r in free_rounds),
        },
    }


async def latency_phase(run: Run, kind: str, tag: str) -> dict[str, Any]:
    args, target, watcher, conn, conns = run.args, run.target, run.watcher, run.conn, run.conns
    metrics_client, report_url, run_id = run.metrics_client, run.report_url, run.run_id
    prefix = f"bench-{run_id}-{tag}"
    log(f"latency: {args.rate}/s {KIND_LABELS[kind]} reports for {args.duration}s")
    m0 = await scrape(metrics_client, target.host, target.service_ports)
    db0 = await db_background(conn)
    s0 = watcher.snapshot()
    st = await post_paced(conns, report_url, prefix, args.rate, args.duration, run.texts(kind))
    p, _ = await wait_dispatched(conn, prefix, st.accepted, args.dispatch_timeout, args.stall_timeout)
    s1 = watcher.snapshot()
    db1 = await db_background(conn)
    m1 = await scrape(metrics_client, target.host, target.service_ports)
    # Free text: a triaged case is routed too (its latency ends at its case.triaged event).
    lat = await latencies(conn, prefix, triaged_too=kind == FREE_TEXT)
    routing = routing_summary(kind, p, await outcomes(conn, prefix))
    send_wall = st.last_done - st.first_send
    out = {
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "sent": st.sent,
        "accepted": st.accepted,
        "achieved_rate_per_s": round(st.accepted / send_wall, 1) if send_wall > 0 else None,
        "http_errors": st.error_count(),
        "http_error_kinds": dict(st.errors),
        "dispatched": p.dispatched,
        "triaged": p.triaged,
        "cases_in_db": p.total,
        "not_dispatched": p.total - p.dispatched,
        "intake_to_dispatched_ms": {k: round(v, 2) for k, v in summarize(lat.total).items()},
        "stage_created_to_published_ms": {k: round(v, 2) for k, v in summarize(lat.to_published).items()},
        "stage_published_to_dispatched_ms": {
            k: round(v, 2) for k, v in summarize(lat.published_to_dispatched).items()
        },
        "slowest_cases": lat.slowest,
        "db_background": {
            "checkpoints": db1.get("checkpoints", 0) - db0.get("checkpoints", 0),
            "autovacuum_runs": db1.get("autovacuum_runs", 0) - db0.get("autovacuum_runs", 0),
            "autoanalyze_runs": db1.get("autoanalyze_runs", 0) - db0.get("autoanalyze_runs", 0),
        },
        "latency_ends_at": "dispatched_at or case.triaged" if kind == FREE_TEXT else "dispatched_at",
        "worst_latency_per_second_ms": lat.per_second_max,
        "http_rtt_ms": {k: round(v, 2) for k, v in summarize(st.rtt_ms).items()},
        "schedule_lag_ms": {k: round(v, 2) for k, v in summarize(st.schedule_lag_ms).items()},
        "connection_wait_ms": {k: round(v, 2) for k, v in summarize(st.wait_ms).items()},
        "cpu": ProcWatcher.cpu(s0, s1),
        "cpu_ms_per_case": cpu_ms_per_case(ProcWatcher.cpu(s0, s1), routing["routed"]),
        "batch_histograms": histogram_deltas(m0, m1),
        **routing,
    }
    t = out["intake_to_dispatched_ms"]
    log(f"  intake→dispatched p50 {t.get('p50')} ms, p99 {t.get('p99')} ms, max {t.get('max')} ms")
    return out


# --------------------------------------------------------------------------------------------------
# Output


def _fmt_lat(d: dict[str, float]) -> str:
    if not d or not d.get("n"):
        return "n/a"
    return f"p50 {d['p50']:.1f}  p90 {d['p90']:.1f}  p99 {d['p99']:.1f}  max {d['max']:.1f} ms  (n={int(d['n'])})"


def _fmt_cpu(c: dict[str, Any]) -> str:
    parts = [f"{g} {v:.0f}%" for g, v in c["percent_of_one_core"].items() if v >= 1.0]
    parts.append(f"other processes {c['other_processes_percent_of_one_core']:.0f}%")
    parts.append(f"irq {c['irq_softirq_percent_of_one_core']:.0f}%")
    if c["steal_percent_of_one_core"] >= 1:
        parts.append(f"steal {c['steal_percent_of_one_core']:.0f}%")
    return f"machine {c['machine_busy_percent']:.0f}% busy | " + ", ".join(parts)


def _fmt_ms(d: dict[str, float]) -> str:
    total = d.get("system total (without bench-client)")
    parts = [f"{g} {v:.1f}" for g, v in d.items() if not g.startswith("system total") and v >= 0.1]
    return f"system {total} ms | " + ", ".join(parts)


def render(summary: dict[str, Any]) -> str:
    m = summary["machine"]
    r = summary["results"]
    lines = [
        "=" * 78,
        "Gridcase end-to-end benchmark",
        "=" * 78,
        f"date        {m['date']}",
        f"machine     {m['nproc']} CPUs usable ({m['cpu_model']}), {m['mem_total_gib']} GiB, Linux {m['kernel']}",
        f"software    Python {m['python']}, gridcase {m['gridcase']}, PostgreSQL {r.get('postgres')}",
        f"system      {summary['system']}",
        f"posting to  {r['report_url']}",
        f"command     {summary['command']}",
    ]
    if "other_load_before_start_percent_of_one_core" in r:
        lines.append(
            f"other load  {r['other_load_before_start_percent_of_one_core']:.0f}% of one core used by processes "
            "outside the system just before the run (the machine is shared)"
        )
    tp = r.get("throughput")
    if tp:
        lines += [
            "",
            f"Throughput ({tp['cases']} reports, {tp['concurrency']} keep-alive connections)",
            f"  accepted            {tp['accepted']}  (HTTP errors {tp['http_errors']} {tp['http_error_kinds'] or ''})",
            f"  intake rate         {tp['intake_rate_per_s']} reports/s  (posting took {tp['post_wall_s']} s)",
            f"  dispatched          {tp['dispatched']}  (triaged {tp['triaged']}, not dispatched {tp['not_dispatched']})",
            f"  end-to-end rate     {tp['e2e_rate_per_s']} cases/s  "
            f"(DB clock: first created_at → last dispatched_at = {tp['e2e_window_s']} s)",
            f"  dispatch tail       {tp['dispatch_tail_after_last_intake_s']} s after the last report was taken in",
            f"  HTTP round trip     {_fmt_lat(tp['http_rtt_ms'])}",
            f"  CPU while posting   {_fmt_cpu(tp['cpu_while_posting'])}",
            f"  CPU while draining  {_fmt_cpu(tp['cpu_while_draining'])}",
            f"  CPU ms per case     {_fmt_ms(tp['cpu_ms_per_case'])}",
        ]
        for name, h in tp["batch_histograms"].items():
            lines.append(f"  {name:<55} {int(h['batches'])} batches, {h['mean_ms_per_batch']} ms/batch")
    cmp_ = r.get("free_text_comparison")
    if cmp_:
        lines += _render_comparison(cmp_)
    lat = r.get("latency")
    if lat:
        lines += _render_latency(lat, "categorised reports")
    lat_free = r.get("latency_free_text")
    if lat_free:
        lines += _render_latency(lat_free, "free-text reports, run after the categorised ones")
    if "dead_letters_during_run" in r:
        lines += ["", f"dead letters during the run: {r['dead_letters_during_run']}"]
    if summary.get("service_restarts"):
        lines.append(f"service restarts: {summary['service_restarts']}")
    lines += ["", "Targets: ≥ 200 cases/s end to end; p99 intake→dispatched < 100 ms at 50 cases/s"]
    if tp:
        ok = (tp["e2e_rate_per_s"] or 0) >= 200
        lines.append(f"  end-to-end rate     {'MET' if ok else 'NOT MET'} ({tp['e2e_rate_per_s']} cases/s)")
    if lat and lat["intake_to_dispatched_ms"].get("n"):
        p99 = lat["intake_to_dispatched_ms"]["p99"]
        lines.append(f"  p99 latency         {'MET' if p99 < 100 else 'NOT MET'} ({p99:.1f} ms)")
    if cmp_:
        lines.append(
            f"  free text ≥ {cmp_['target_ratio']:.0%} of categorised rate (issue 7)  "
            f"{'MET' if cmp_['met'] else 'NOT MET'} (ratio {cmp_['ratio_free_to_categorised']:.3f})"
        )
    lines.append("=" * 78)
    return "\n".join(lines)


def _render_comparison(c: dict[str, Any]) -> list[str]:
    order = " → ".join(KIND_LABELS[k] for k in c["order"])
    o = c["free_text_outcomes"]
    d = c["free_text_descriptions"]
    lines = [
        "",
        f"Free text vs categorised (same system, same run, {c['same_parameters']['cases']} reports "
        f"and {c['same_parameters']['concurrency']} connections per round)",
        f"  order               {order}  ({KIND_LABELS[c['ran_first']]} ran first)",
        f"  free-text texts     {d['distinct_texts']} descriptions of split {d['split']!r} of {d['source']}, "
        "cycled, with a unique suffix; no category_code, grid_code given",
    ]
    for i, rd in enumerate(c["rounds"], 1):
        lines.append(
            f"  round {i} {KIND_LABELS[rd['kind']]:<12} routing {rd['routing_rate_per_s']} cases/s  "
            f"(dispatched {rd['dispatched']}, triaged {rd['triaged']}, not routed {rd['not_routed']}; "
            f"intake {rd['intake_rate_per_s']}/s; dispatch CPU {rd['dispatch_cpu_ms_per_case']} ms/case, "
            f"system {rd['system_cpu_ms_per_case']} ms/case)"
        )
    reasons = ", ".join(f"{k} {v}" for k, v in o["triage_reasons"].items()) or "none"
    share = o["auto_dispatch_share"]
    lines += [
        f"  categorised rate    {c['categorised_rate_per_s']} cases/s (mean of its rounds)",
        f"  free-text rate      {c['free_text_rate_per_s']} cases/s (mean of its rounds; dispatched or triaged)",
        f"  ratio free/categ.   {c['ratio_free_to_categorised']:.3f}  (target ≥ {c['target_ratio']:.2f}: "
        f"{'MET' if c['met'] else 'NOT MET'})",
        f"  free-text outcomes  {o['auto_dispatched']} auto-dispatched ({share:.1%}), {o['triaged']} triaged "
        f"({o['triage_share']:.1%}: {reasons}); read by the model {o['read_by_model']}/{o['routed']}"
        if share is not None
        else "  free-text outcomes  none routed",
    ]
    return lines


def _render_latency(lat: dict[str, Any], what: str) -> list[str]:
    free = lat.get("kind") == FREE_TEXT
    lines = [
        "",
        f"Latency ({lat['rate_per_s']} reports/s for {lat['duration_s']} s, paced by absolute time; {what})",
        f"  accepted            {lat['accepted']}/{lat['sent']}  achieved {lat['achieved_rate_per_s']}/s  "
        f"(HTTP errors {lat['http_errors']} {lat['http_error_kinds'] or ''})",
    ]
    if free:
        lines += [
            f"  routed              {lat['routed']}  (auto-dispatched {lat['dispatched']}, triaged {lat['triaged']}, "
            f"not routed {lat['not_routed']})",
            f"  intake→routed       {_fmt_lat(lat['intake_to_dispatched_ms'])}",
        ]
    else:
        lines += [
            f"  dispatched          {lat['dispatched']}  (triaged {lat['triaged']}, not dispatched {lat['not_dispatched']})",
            f"  intake→dispatched   {_fmt_lat(lat['intake_to_dispatched_ms'])}",
        ]
    lines += [
        f"    created→published {_fmt_lat(lat['stage_created_to_published_ms'])}",
        f"    published→{'routed  ' if free else 'disp.   '}{_fmt_lat(lat['stage_published_to_dispatched_ms'])}",
        f"  worst per second    {' '.join(f'{v:.0f}' for v in lat['worst_latency_per_second_ms'])} ms",
        f"  PostgreSQL meanwhile {lat['db_background']['checkpoints']} checkpoints, "
        f"{lat['db_background']['autovacuum_runs']} autovacuums, "
        f"{lat['db_background']['autoanalyze_runs']} autoanalyzes",
        f"  HTTP round trip     {_fmt_lat(lat['http_rtt_ms'])}",
        f"  send schedule lag   p99 {lat['schedule_lag_ms'].get('p99', float('nan')):.1f} ms, "
        f"wait for a free connection p99 {lat['connection_wait_ms'].get('p99', float('nan')):.1f} ms",
        f"  CPU                 {_fmt_cpu(lat['cpu'])}",
        f"  CPU ms per case     {_fmt_ms(lat['cpu_ms_per_case'])}",
    ]
    for name, h in lat["batch_histograms"].items():
        lines.append(f"  {name:<55} {int(h['batches'])} batches, {h['mean_ms_per_batch']} ms/batch")
    return lines


# --------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("system under test")
    g.add_argument("--url", help="public HTTP base URL of a running system (default: start our own)")
    g.add_argument("--database-url", help="its database URL (required with --url unless --state)")
    g.add_argument("--state", type=Path, help="state.json of a running `gridcase up` (gives both)")
    g.add_argument("--port", type=int, default=28000, help="own system: first port to try (6 used)")
    g.add_argument("--kafka-port", type=int, default=29092, help="own system: first broker port to try")
    g.add_argument("--startup-timeout", type=float, default=180.0)
    g.add_argument("--keep-home", action="store_true", help="own system: keep its home (logs) afterwards")
    g.add_argument(
        "--post-to",
        choices=("console", "intake"),
        default="console",
        help="post reports to the public port (console, which forwards to intake; the default) "
        "or straight to the intake service's port",
    )
    g = p.add_argument_group("load")
    g.add_argument("--warmup", type=int, default=100, help="warm-up reports (not measured)")
    g.add_argument("--throughput-cases", type=int, default=3000, help="0 skips the throughput phase")
    g.add_argument("--concurrency", type=int, default=32)
    g.add_argument("--rate", type=float, default=50.0, help="latency phase: reports per second")
    g.add_argument("--duration", type=float, default=20.0, help="latency phase: seconds (0 skips it)")
    g.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="first wait up to this long for other processes to calm down (0: don't)",
    )
    g.add_argument("--quiet-threshold", type=float, default=20.0, help="%% of one core counted as quiet")
    g.add_argument(
        "--free-text",
        choices=tuple(FREE_TEXT_ORDERS),
        default="abba",
        help="also measure free-text reports (no category_code) in the same run: the throughput "
        "phase once per kind in this order (abba: categorised, free text, free text, categorised), "
        "and the latency phase again with free text; off: categorised reports only (default: abba)",
    )
    g.add_argument(
        "--free-text-split",
        choices=("test", "train", "all"),
        default="test",
        help="which labelled reports of services/classify/data/reports.jsonl give the free-text "
        "descriptions (test: held out from training; the default)",
    )
    g = p.add_argument_group("bounds and output")
    g.add_argument("--dispatch-timeout", type=float, default=300.0, help="max wait for dispatch per phase")
    g.add_argument("--stall-timeout", type=float, default=60.0, help="give up if no progress for this long")
    g.add_argument("--timeout", type=float, default=1800.0, help="overall limit of the measured phases")
    g.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    if args.url and not (args.database_url or args.state):
        p.error("--url needs --database-url (or --state)")
    for h in (args.url, args.database_url):
        if h:
            host = urllib.parse.urlsplit(h).hostname
            if host not in (None, "", "127.0.0.1", "localhost"):
                p.error(f"only 127.0.0.1 is benchmarked (got {host})")
    return args


@contextlib.contextmanager
def system_under_test(args: argparse.Namespace) -> Iterator[tuple[Target, str]]:
    if args.state or args.url:
        state = json.loads(args.state.read_text()) if args.state else None
        url = args.url or (state or {})["http"]
        database_url = args.database_url or (state or {})["database_url"]
        host = urllib.parse.urlsplit(url).hostname or "127.0.0.1"
        ports = {n: s["port"] for n, s in (state or {}).get("services", {}).items()}
        if not ports:
            base = urllib.parse.urlsplit(url).port or 8000
            ports = {n: base + i for i, n in enumerate(SERVICE_NAMES)}
        wait_healthy(
            {"http": url, "services": {n: {"port": p} for n, p in ports.items()}},
            time.monotonic() + args.startup_timeout,
            None,
        )
        yield Target(url, database_url, ports, host, state, args.state), f"existing system at {url}"
        return
    port, kafka_port = find_ports(args.port, args.kafka_port)
    own = OwnSystem(port, kafka_port, args.keep_home)
    try:
        state = own.start(args.startup_timeout)
        ports = {n: s["port"] for n, s in state["services"].items()}
        yield (
            Target(state["http"], state["database_url"], ports, "127.0.0.1", state, own.state_path),
            f"own `gridcase up` (embedded PostgreSQL + Tansu), ports {port}-{port + 5}, kafka {kafka_port}",
        )
    finally:
        own.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _stub_sniffio()
    signal.signal(signal.SIGTERM, _interrupt)  # stop our system on SIGTERM too, not only on Ctrl-C
    machine = machine_info()
    command = " ".join([".venv/bin/python", "bench/e2e.py", *(argv if argv is not None else sys.argv[1:])])
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    try:
        with system_under_test(args) as (target, system):
            watcher = (
                ProcWatcher.from_state(target.state)
                if target.state
                else ProcWatcher.from_ports(target.service_ports, target.database_url)
            )
            results = asyncio.run(asyncio.wait_for(run_phases(args, target, watcher), args.timeout))
            restarts: dict[str, int] = {}
            if target.state_path is not None and target.state_path.exists():
                now = json.loads(target.state_path.read_text())
                restarts = {n: s["restarts"] for n, s in now["services"].items() if s.get("restarts")}
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return 130
    except (RuntimeError, TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 2
    summary = {
        "machine": machine,
        "command": command,
        "system": system,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "results": results,
        "service_restarts": restarts,
    }
    print(render(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n")
        log(f"wrote {args.json}")
    # Correctness, not speed: a categorised case must be dispatched; a free-text one dispatched or triaged.
    phases = [results.get("latency"), results.get("latency_free_text")]
    phases += (results.get("free_text_comparison") or {}).get("rounds_full") or [results.get("throughput")]
    failed = any(
        ph and (ph["not_routed"] if ph.get("kind") == FREE_TEXT else ph["not_dispatched"]) for ph in phases
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
