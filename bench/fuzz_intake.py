"""Fuzzing every intake endpoint of a running Gridcase with malformed requests (issue 8).

Starts its own system (`gridcase up`, fresh home, free ports, random channel secrets), mints the
credentials a legitimate sender has (a hotline feed token for the JSON API, a grid worker's token, an
Open311 key; the WeChat token and AES key, the hotline secret), then sends ``--requests`` malformed
requests (tests/fuzzing.py: deterministic with ``--seed``) on ``--concurrency`` keep-alive connections
to the public port, across:

    POST /api/v1/reports, POST /api/v1/app/reports (JSON and multipart), POST /api/v1/app/checkins,
    GET and POST /channels/wechat (plaintext, compatibility and safe mode), POST /channels/hotline,
    POST /open311/v2/requests.json, GET /open311/v2/… (services, requests, one request).

and checks:

- no answer is 5xx, no connection is dropped or times out;
- every request intake keeps (all but Open311's reads; a 429 that refuses before anything is read
  is not kept by design) is in ``raw_inbound`` exactly once (found by its ``X-Request-Id``) with an
  outcome other than ``received``;
- afterwards every service answers /health and no process died or was restarted.

Rows stored as ``failed`` (our fault, replayable) and ERROR lines of the services' logs during the run
are reported too, as things to look at. Exit 1 on any violation, 2 if the run itself failed.

Usage:
    .venv/bin/python bench/fuzz_intake.py                       # 6,000 requests, 16 connections
    .venv/bin/python bench/fuzz_intake.py --requests 500 --json /tmp/fuzz.json
    .venv/bin/python bench/fuzz_intake.py --post-to intake      # the intake service's own port
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import re
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root
from bench.system import (
    GRID_WORKER_GRID,
    ChannelSecrets,
    OwnSystem,
    ProcWatcher,
    create_tokens,
    find_ports,
    healthy,
    interrupt,
    log,
    machine_info,
    stub_sniffio,
)
from tests.fuzzing import ENDPOINTS, Credentials, check, generate, send_all, settled_rows

NUMBERS = re.compile(r"[0-9a-f-]{8,}|\d+")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) (ERROR|CRITICAL|WARNING) (.*)$")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=6000, help="malformed requests to send (default 6000)")
    p.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default 16)")
    p.add_argument("--seed", default="2026-11-25", help="the requests depend on it only (and the time)")
    p.add_argument(
        "--endpoints",
        nargs="*",
        choices=list(ENDPOINTS),
        metavar="ENDPOINT",
        help=f"only these (default all): {', '.join(ENDPOINTS)}",
    )
    p.add_argument(
        "--post-to", choices=("console", "intake"), default="console", help="public port (default)"
    )
    p.add_argument("--port", type=int, default=28100, help="own system: first port to try (6 used)")
    p.add_argument("--kafka-port", type=int, default=29192, help="own system: first broker port to try")
    p.add_argument("--startup-timeout", type=float, default=180.0)
    p.add_argument("--keep-home", action="store_true", help="keep the system's home (logs) afterwards")
    p.add_argument("--timeout", type=float, default=1800.0, help="overall limit of the run (s)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


async def credentials(database_url: str, run: str, channel: ChannelSecrets) -> Credentials:
    feed, grid_worker, open311 = await create_tokens(
        database_url,
        f"fuzz {run}",
        [
            {"role": "feed", "channel": "hotline"},
            {"role": "grid_worker", "area_codes": [GRID_WORKER_GRID]},
            {"role": "feed", "channel": "open311"},
        ],
    )
    return Credentials(
        feed_token=feed,
        grid_worker_token=grid_worker,
        grid_worker_grid=GRID_WORKER_GRID,
        open311_key=open311,
        wechat_token=channel.wechat_token,
        wechat_aes_key=channel.wechat_aes_key,
        wechat_appid=channel.wechat_appid,
        hotline_secret=channel.hotline_secret,
    )


def log_problems(home: Path, since: dt.datetime) -> dict[str, Any]:
    """ERROR/CRITICAL (and WARNING) lines the services logged since ``since``, counted by their text
    without numbers; a few examples of each."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    stamp = since.strftime("%Y-%m-%d %H:%M:%S")
    for path in sorted((home / "logs").glob("*.log")):
        with contextlib.suppress(OSError):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            for i, line in enumerate(lines):
                m = LOG_LINE.match(line)
                if not m or m.group(1) < stamp:
                    continue
                text = NUMBERS.sub("#", m.group(3))[:200]
                key = f"{m.group(2)} {text}"
                counts[key] += 1
                if key not in examples:
                    tail = [x for x in lines[i + 1 : i + 40] if not LOG_LINE.match(x)]
                    examples[key] = "\n".join([f"{path.name}: {line}", *tail[-12:]])
    return {
        "counts": dict(counts.most_common()),
        "examples": examples,
    }


async def run(
    args: argparse.Namespace, own: OwnSystem, state: dict[str, Any], channel: ChannelSecrets
) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    run_id = "fz" + dt.datetime.now().strftime("%m%d%H%M%S") + secrets.token_hex(2)
    creds = await credentials(state["database_url"], run_id, channel)
    base = (
        state["http"]
        if args.post_to == "console"
        else f"http://127.0.0.1:{state['services']['intake']['port']}"
    )
    watcher = ProcWatcher.from_state(state)
    log(
        f"fuzz run {run_id}: {args.requests} requests, {args.concurrency} connections, seed {args.seed!r}, to {base}"
    )
    started_at = dt.datetime.now()
    s0 = watcher.snapshot()
    t0 = time.monotonic()

    def progress(done: int) -> None:
        if done % 1000 == 0:
            log(f"  {done} answered ({done / (time.monotonic() - t0):.0f}/s)")

    requests = generate(args.seed, args.requests, creds, run=run_id, endpoints=args.endpoints)
    sent = await send_all(base, requests, concurrency=args.concurrency, progress=progress)
    wall = time.monotonic() - t0
    cpu = ProcWatcher.cpu(s0, watcher.snapshot())
    log(f"  sent {len(sent)} requests in {wall:.1f}s; checking the raw store")
    conn = await asyncpg.connect(state["database_url"])
    try:
        expected = sum(1 for s in sent if s.request.stored)
        rows = await settled_rows(conn, run_id, expected)
        failed_total = await conn.fetchval(
            "SELECT count(*) FROM raw_inbound WHERE outcome IN ('failed', 'received') "
            "AND received_at >= now() - make_interval(secs => $1)",
            wall + 60,
        )
    finally:
        await conn.close()
    verdict = check(sent, rows)
    await asyncio.sleep(1.0)
    health = await healthy(state)
    alive = own.alive()
    problems_after: list[str] = [f"{n} /health answered {v}" for n, v in health.items() if v != 200]
    if not alive.get("launcher"):
        problems_after.append("the launcher (gridcase up) is gone")
    for name, proc in alive.items():
        if isinstance(proc, dict) and (not proc["alive"] or proc["restarts"]):
            problems_after.append(f"{name}: alive={proc['alive']} restarts={proc['restarts']}")
    summary = verdict.summary()
    return {
        "run_id": run_id,
        "base_url": base,
        "requests": args.requests,
        "sent_with_follow_ups": len(sent),
        "wall_s": round(wall, 1),
        "rate_per_s": round(len(sent) / wall, 1) if wall > 0 else None,
        "cpu": cpu,
        **summary,
        "raw_rows_failed_or_received_during_run": failed_total,
        "health_after": health,
        "processes_after": alive,
        "problems_after": problems_after,
        "log_problems": log_problems(own.home, started_at),
        "ok": verdict.ok and not problems_after,
    }


def render(r: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    lines = [
        "=" * 100,
        "Gridcase intake fuzzing (issue 8)",
        "=" * 100,
        f"date        {machine['date']}",
        f"machine     {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['mem_total_gib']} GiB, "
        f"load before {machine.get('loadavg_before')}",
        f"command     {command}",
        f"sent        {r['sent_with_follow_ups']} requests ({r['requests']} + replays) to {r['base_url']} in "
        f"{r['wall_s']} s ({r['rate_per_s']}/s); machine {r['cpu']['machine_busy_percent']:.0f}% busy, "
        f"other processes {r['cpu']['other_processes_percent_of_one_core']:.0f}% of a core",
        "",
        f"{'endpoint':<32} {'sent':>5} {'kept':>5} {'rows':>5} {'viol':>4}  statuses / outcomes",
    ]
    for name, e in [*r["endpoints"].items(), ("total", r["total"])]:
        statuses = " ".join(f"{k}:{v}" for k, v in e["statuses"].items())
        outcomes = " ".join(f"{k}:{v}" for k, v in e["outcomes"].items()) or "(not kept: reads)"
        lines.append(
            f"{name:<32} {e['sent']:>5} {e['expected_in_raw_store']:>5} {e['raw_rows']:>5} {e['violations']:>4}  {statuses}"
        )
        lines.append(
            f"{'':<57}{outcomes}"
            + (f"  (429 not kept: {e['not_kept_by_design']})" if e["not_kept_by_design"] else "")
        )
    lines.append("")
    if r["violations"]:
        lines.append(f"VIOLATIONS: {len(r['violations'])} {r['violations_by_kind']}")
        seen: Counter[tuple[str, str, str]] = Counter()
        for v in r["violations"]:
            key = (v["violation"], v["request"]["endpoint"], v["request"]["kind"])
            seen[key] += 1
            if seen[key] > 2:
                continue
            q = v["request"]
            lines.append(
                f"  {v['violation']}: {q['method']} {q['url'][:120]} [{q['kind']}] -> {v['status'] or v['error']}"
            )
            lines.append(f"      body ({q['body_bytes']} B) {q['body_head'][:160]}")
            if v["response_head"]:
                lines.append(f"      answer {v['response_head'][:160]!r}")
            if v["raw_rows"]:
                lines.append(f"      raw rows {v['raw_rows']}")
        grouped = Counter({k: n for k, n in seen.items() if n > 2})
        for (kind, endpoint, what), n in grouped.most_common():
            lines.append(f"  … {n} × {kind} {endpoint} [{what}] in all")
    else:
        lines.append("violations: none")
    if r["connections_dropped_after_a_5xx"]:
        lines.append(
            f"keep-alive connections closed by the server after a 5xx, the next request on them sent again: "
            f"{len(r['connections_dropped_after_a_5xx'])}"
        )
    if r["failed_outcomes"]:
        lines.append(f"stored as failed (our fault, replayable): {len(r['failed_outcomes'])}")
        for f in r["failed_outcomes"][:5]:
            lines.append(
                f"  {f['request']['endpoint']} [{f['request']['kind']}] -> {f['status']} raw {f['raw_id']} {f['error']}"
            )
    errors = {k: v for k, v in r["log_problems"]["counts"].items() if not k.startswith("WARNING")}
    lines.append(f"log ERROR lines during the run: {sum(errors.values())}")
    for k, n in list(errors.items())[:10]:
        lines.append(f"  {n} × {k[:150]}")
    lines.append(f"health after: {r['health_after']}")
    lines.append(
        "processes after: "
        + ("all alive, no restarts" if not r["problems_after"] else "; ".join(r["problems_after"]))
    )
    lines.append("RESULT: " + ("OK" if r["ok"] else "VIOLATIONS"))
    lines.append("=" * 100)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stub_sniffio()
    signal.signal(signal.SIGTERM, interrupt)
    machine = machine_info()
    with contextlib.suppress(OSError):
        machine["loadavg_before"] = Path("/proc/loadavg").read_text().split()[:3]
    command = " ".join(
        [".venv/bin/python", "bench/fuzz_intake.py", *(argv if argv is not None else sys.argv[1:])]
    )
    channel = ChannelSecrets.random()
    port, kafka_port = find_ports(args.port, args.kafka_port)
    own = OwnSystem(port, kafka_port, args.keep_home, env=channel.env())
    try:
        state = own.start(args.startup_timeout)
        results = asyncio.run(asyncio.wait_for(run(args, own, state, channel), args.timeout))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return 130
    except (RuntimeError, TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log(f"fuzzing failed: {type(exc).__name__}: {exc}")
        return 2
    finally:
        own.stop()
    with contextlib.suppress(OSError):
        machine["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    print(render(results, machine, command))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {
            "machine": machine,
            "command": command,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "results": results,
        }
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
