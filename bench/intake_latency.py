"""Intake latency per channel (issue 8): valid requests paced at ``--rate`` per second for ``--duration``
seconds on each channel in turn, and the HTTP round trip of each (p50/p90/p99/max). Target: p99 < 50 ms
at 200 requests/s per channel.

Starts its own system (`gridcase up`, fresh home, free ports, random channel secrets) and mints the
credentials each channel's sender has. Channels, each to the public port (``--post-to intake``: the
intake service's own):

    json        POST /api/v1/reports, JSON (a hotline feed token)
    app-json    POST /api/v1/app/reports, JSON (a grid worker's token)
    app-photo   POST /api/v1/app/reports, multipart with one small PNG photo
    wechat      POST /channels/wechat, a plaintext text message (signed URL; a new resident each time)
    wechat-aes  POST /channels/wechat, safe mode (encrypt_type=aes), answered encrypted
    hotline     POST /channels/hotline, a signed work order
    open311     POST /open311/v2/requests.json, form encoded with the api_key

Every request is valid and opens a case, so dispatch works meanwhile as it would. Per channel: first the
machine is given up to ``--quiet-wait`` s to calm down (it is shared), then ``--warmup`` s at the same
rate (not measured), then the measured ``--duration`` s, scheduled by absolute time (request i at
start + i/rate, whatever happened to the earlier ones) over ``--connections`` keep-alive connections,
one httpx client each (bench/system.py's Connections); then the system is let settle (outbox drained)
before the next channel. Requests are built (signed, encrypted) before each phase, not while it runs.

The round trip is measured from the moment a connection is free to the answer; waiting for a free
connection and lagging behind the schedule are reported apart. CPU of the system's processes and of
everything else on the machine is reported per channel (the machine is shared: a busy neighbour shows as
"other processes").

Usage:
    .venv/bin/python bench/intake_latency.py                          # 7 channels × 20 s at 200/s
    .venv/bin/python bench/intake_latency.py --duration 5 --channels json hotline
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
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from wechatpy.crypto import WeChatCrypto

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root
from bench.system import (
    GRID_WORKER_GRID,
    ChannelSecrets,
    Connections,
    OwnSystem,
    ProcWatcher,
    create_tokens,
    find_ports,
    interrupt,
    log,
    machine_info,
    settle,
    stub_sniffio,
    summarize,
    wait_quiet,
)
from tests.fuzzing import hotline_headers, multipart, png, wechat_signature, wechat_xml

TARGET_P99_MS = 50.0
PHOTO = png(64, 48)
ACCOUNT = "gh_0123456789ab"

Built = tuple[bytes, list[tuple[str, str]], str]  # body, headers, query


@dataclass(frozen=True)
class Channel:
    name: str
    method_path: str
    path: str
    token: str | None
    expected: int  # the status of a request taken in
    build: Callable[[int], Built]


def channels(run: str, tokens: dict[str, str], channel: ChannelSecrets) -> dict[str, Channel]:
    """Each channel's valid request ``n`` (unique: its own external id, message id, resident, call id)."""
    grid = GRID_WORKER_GRID
    lat, lon = 30.2741, 120.1551
    json_type = [("Content-Type", "application/json")]
    crypto = WeChatCrypto(channel.wechat_token, channel.wechat_aes_key, channel.wechat_appid)

    def json_report(n: int) -> Built:
        body = {
            "channel": "hotline",
            "description": f"路灯不亮（延迟测试{n}）",
            "category_code": "0101",
            "grid_code": grid,
            "external_id": f"lat-{run}-json-{n}",
        }
        return json.dumps(body, ensure_ascii=False).encode(), json_type, ""

    def app_fields(n: int, kind: str) -> dict[str, str]:
        return {
            "description": f"柳塘路口井盖缺失（延迟测试{n}）",
            "category_code": "0102",
            "grid_code": grid,
            "lat": str(lat),
            "lon": str(lon),
            "crs": "gcj02",
            "accuracy_m": "8.5",
            "external_id": f"lat-{run}-{kind}-{n}",
        }

    def app_json(n: int) -> Built:
        return json.dumps(app_fields(n, "appj"), ensure_ascii=False).encode(), json_type, ""

    def app_photo(n: int) -> Built:
        boundary = f"----lat{n:08d}"
        parts = [(k, None, None, v.encode()) for k, v in app_fields(n, "appp").items()]
        parts.append(("photos", "site.png", "image/png", PHOTO))
        return multipart(parts, boundary), [("Content-Type", f"multipart/form-data; boundary={boundary}")], ""

    msg_ids = {"wechat": secrets.randbelow(10**12) * 10**6, "wechat-aes": secrets.randbelow(10**12) * 10**6}

    def wechat_message(n: int, kind: str) -> tuple[str, str, str, str]:
        # A new resident each time (the per-resident rate limit is 20/min), and a MsgId of this channel's
        # own (the same MsgId again is WeChat's retry: answered from the first, no case).
        openid = f"oLat_{run}_{kind}_{n}"
        ts, nonce = str(int(time.time())), f"{secrets.randbits(40)}"
        xml = wechat_xml(
            [
                ("ToUserName", ACCOUNT),
                ("FromUserName", openid),
                ("CreateTime", ts),
                ("MsgType", "text"),
                ("Content", f"小区门口垃圾满溢，请处理（延迟测试{n}）"),
                ("MsgId", str(msg_ids[kind] + n)),
            ]
        )
        return openid, ts, nonce, xml

    def wechat(n: int) -> Built:
        openid, ts, nonce, xml = wechat_message(n, "wechat")
        query = {
            "signature": wechat_signature(channel.wechat_token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
        }
        query["openid"] = openid
        return xml.encode(), [("Content-Type", "text/xml")], urllib.parse.urlencode(query)

    def wechat_aes(n: int) -> Built:
        openid, ts, nonce, xml = wechat_message(n, "wechat-aes")
        envelope = crypto.encrypt_message(xml, nonce, ts)
        encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", envelope)
        msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", envelope)
        assert encrypt and msg_signature
        query = {
            "signature": wechat_signature(channel.wechat_token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": openid,
            "encrypt_type": "aes",
            "msg_signature": msg_signature.group(1),
        }
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt.group(1)}]]></Encrypt></xml>"
        return body.encode(), [("Content-Type", "text/xml")], urllib.parse.urlencode(query)

    def hotline(n: int) -> Built:
        order = {
            "call_id": f"lat-{run}-{n}",
            "caller_number": "13912345678",
            "called_at": "2026-11-25T09:30:00+08:00",
            "summary": f"市民来电：小区东门路灯不亮，晚上很黑（延迟测试{n}）",
            "category_code": "0101",
            "urgency": "urgent",
            "location": {"lon": lon, "lat": lat, "crs": "gcj02"},
        }
        body = json.dumps(order, ensure_ascii=False).encode()
        return body, json_type + hotline_headers(channel.hotline_secret, str(int(time.time())), body), ""

    def open311(n: int) -> Built:
        form = {
            "api_key": tokens["open311"],
            "service_code": "0101",
            "lat": str(lat),
            "long": str(lon),
            "address_string": "柳塘路18号",
            "description": f"路灯不亮，晚上很黑（延迟测试{n}）",
        }
        return (
            urllib.parse.urlencode(form).encode(),
            [("Content-Type", "application/x-www-form-urlencoded")],
            "",
        )

    return {
        c.name: c
        for c in (
            Channel("json", "POST /api/v1/reports", "/api/v1/reports", tokens["feed"], 202, json_report),
            Channel(
                "app-json",
                "POST /api/v1/app/reports (JSON)",
                "/api/v1/app/reports",
                tokens["grid_worker"],
                202,
                app_json,
            ),
            Channel(
                "app-photo",
                "POST /api/v1/app/reports (multipart, 1 photo)",
                "/api/v1/app/reports",
                tokens["grid_worker"],
                202,
                app_photo,
            ),
            Channel("wechat", "POST /channels/wechat (plaintext)", "/channels/wechat", None, 200, wechat),
            Channel(
                "wechat-aes", "POST /channels/wechat (safe mode)", "/channels/wechat", None, 200, wechat_aes
            ),
            Channel("hotline", "POST /channels/hotline (signed)", "/channels/hotline", None, 202, hotline),
            Channel(
                "open311", "POST /open311/v2/requests.json", "/open311/v2/requests.json", None, 200, open311
            ),
        )
    }


CHANNEL_NAMES = ("json", "app-json", "app-photo", "wechat", "wechat-aes", "hotline", "open311")


@dataclass
class Stats:
    sent: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rtt_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    wait_ms: list[float] = field(default_factory=list)
    first: float = 0.0
    last: float = 0.0
    error_examples: list[str] = field(default_factory=list)


async def paced(
    conns: Connections, base: str, channel: Channel, built: Sequence[Built], rate: float
) -> Stats:
    """Request i at start + i/rate on the first free connection (open loop)."""
    stats = Stats()
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def one(body: bytes, headers: list[tuple[str, str]], query: str) -> None:
        queued = time.monotonic()
        url = base + channel.path + ("?" + query if query else "")
        async with conns.client() as client:
            started = time.monotonic()
            stats.wait_ms.append((started - queued) * 1000)
            try:
                r = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                stats.errors[type(exc).__name__] += 1
                return
            finally:
                stats.last = time.monotonic()
        if r.status_code == channel.expected:
            stats.ok += 1
            stats.rtt_ms.append((stats.last - started) * 1000)
        else:
            stats.errors[f"HTTP {r.status_code}"] += 1
            if len(stats.error_examples) < 5:
                stats.error_examples.append(f"{r.status_code} {r.text[:200]}")

    start = loop.time() + 0.05
    stats.first = time.monotonic() + 0.05
    for i, (body, headers, query) in enumerate(built):
        target = start + i / rate
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.lag_ms.append(max(0.0, (loop.time() - target) * 1000))
        stats.sent += 1
        tasks.append(asyncio.create_task(one(body, headers, query)))
    await asyncio.gather(*tasks)
    return stats


def system_cpu_ms(cpu: dict[str, Any], requests: int) -> float | None:
    """CPU the system's processes (all of them: intake and the pipeline behind it, PostgreSQL, the
    broker; not this client) spent per request while the requests were being sent, in ms."""
    if requests <= 0:
        return None
    busy = sum(v for g, v in cpu["percent_of_one_core"].items() if g not in ("bench-client", "launcher"))
    return round(busy / 100.0 * cpu["wall_s"] * 1000.0 / requests, 2)


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in d.items()}


async def run(
    args: argparse.Namespace, state: dict[str, Any], channel_secrets: ChannelSecrets
) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    run_id = dt.datetime.now().strftime("%m%d%H%M%S") + secrets.token_hex(2)
    feed, grid_worker, open311 = await create_tokens(
        state["database_url"],
        f"latency {run_id}",
        [
            {"role": "feed", "channel": "hotline"},
            {"role": "grid_worker", "area_codes": [GRID_WORKER_GRID]},
            {"role": "feed", "channel": "open311"},
        ],
    )
    tokens = {"feed": feed, "grid_worker": grid_worker, "open311": open311}
    all_channels = channels(run_id, tokens, channel_secrets)
    base = (
        state["http"]
        if args.post_to == "console"
        else f"http://127.0.0.1:{state['services']['intake']['port']}"
    )
    watcher = ProcWatcher.from_state(state)
    conn = await asyncpg.connect(state["database_url"])
    results: dict[str, Any] = {"run_id": run_id, "base_url": base, "channels": {}}
    try:
        for name in args.channels:
            ch = all_channels[name]
            other_before = None
            if args.quiet_wait > 0:
                other_before = await wait_quiet(watcher, args.quiet_wait, args.quiet_threshold)
            conns = Connections(args.connections, ch.token)
            try:
                n_warm = round(args.rate * args.warmup)
                if n_warm:
                    log(f"{name}: warm-up {n_warm} requests at {args.rate}/s")
                    warm = await paced(
                        conns, base, ch, [ch.build(10_000_000 + i) for i in range(n_warm)], args.rate
                    )
                    if warm.ok == 0:
                        raise RuntimeError(
                            f"{name}: no request taken in during the warm-up: {warm.error_examples}"
                        )
                n = round(args.rate * args.duration)
                built = [ch.build(i) for i in range(n)]
                log(f"{name}: {n} requests at {args.rate}/s for {args.duration}s")
                since = await conn.fetchval("SELECT clock_timestamp()")
                s0 = watcher.snapshot()
                st = await paced(conns, base, ch, built, args.rate)
                cpu = ProcWatcher.cpu(s0, watcher.snapshot())
                # What intake made of them (the raw store): each should have opened a case.
                outcomes = {
                    r["outcome"]: r["n"]
                    for r in await conn.fetch(
                        "SELECT outcome, count(*) AS n FROM raw_inbound WHERE received_at >= $1 GROUP BY 1",
                        since,
                    )
                }
            finally:
                await conns.aclose()
            wall = st.last - st.first
            rtt = _rounded(summarize(st.rtt_ms))
            out = {
                "endpoint": ch.method_path,
                "rate_per_s": args.rate,
                "duration_s": args.duration,
                "connections": args.connections,
                "sent": st.sent,
                "taken_in": st.ok,
                "raw_outcomes": outcomes,
                "errors": dict(st.errors),
                "error_examples": st.error_examples,
                "achieved_rate_per_s": round(st.ok / wall, 1) if wall > 0 else None,
                "http_rtt_ms": rtt,
                "schedule_lag_ms": _rounded(summarize(st.lag_ms)),
                "connection_wait_ms": _rounded(summarize(st.wait_ms)),
                "cpu": cpu,
                "system_cpu_ms_per_request": system_cpu_ms(cpu, st.sent),
                "other_load_before_percent_of_one_core": other_before,
                "p99_target_met": bool(rtt.get("n")) and rtt["p99"] < TARGET_P99_MS and not st.errors,
                "all_opened_a_case": outcomes.get("accepted", 0) == st.sent,
            }
            results["channels"][name] = out
            log(
                f"  {name}: p50 {rtt.get('p50')} p99 {rtt.get('p99')} max {rtt.get('max')} ms, "
                f"{st.ok}/{st.sent} taken in, errors {dict(st.errors) or 0}; machine "
                f"{cpu['machine_busy_percent']:.0f}% busy, other processes "
                f"{cpu['other_processes_percent_of_one_core']:.0f}% of a core"
            )
            await settle(conn, timeout_s=args.settle_timeout)
    finally:
        await conn.close()
    return results


def render(r: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    lines = [
        "=" * 118,
        "Gridcase intake latency per channel (issue 8): HTTP round trip of valid requests, paced",
        "=" * 118,
        f"date        {machine['date']}",
        f"machine     {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['mem_total_gib']} GiB; "
        f"load average before {machine.get('loadavg_before')}, after {machine.get('loadavg_after')}",
        f"command     {command}",
        f"posting to  {r['base_url']}",
        "",
        f"{'channel':<11} {'endpoint':<45} {'ok/sent':>11} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>7}  "
        f"{'busy':>4} {'other':>5} {'cpu':>5}  p99<{TARGET_P99_MS:.0f}",
    ]
    for name, c in r["channels"].items():
        t = c["http_rtt_ms"]
        lines.append(
            f"{name:<11} {c['endpoint']:<45} {c['taken_in']:>5}/{c['sent']:<5} "
            f"{t.get('p50', float('nan')):>6.1f} {t.get('p90', float('nan')):>6.1f} {t.get('p99', float('nan')):>6.1f} "
            f"{t.get('max', float('nan')):>7.1f}  {c['cpu']['machine_busy_percent']:>3.0f}% "
            f"{c['cpu']['other_processes_percent_of_one_core']:>4.0f}% {c.get('system_cpu_ms_per_request') or float('nan'):>5.1f}  "
            f"{'MET' if c['p99_target_met'] else 'NOT MET'}"
            + (f"  errors {c['errors']}" if c["errors"] else "")
            + ("" if c["all_opened_a_case"] else f"  raw outcomes {c['raw_outcomes']}")
        )
    lines += [
        "",
        "ms; rate {rate}/s for {dur} s per channel after a {wu} s warm-up, {conn} keep-alive connections. busy: the".format(
            rate=r["args"]["rate"],
            dur=r["args"]["duration"],
            wu=r["args"]["warmup"],
            conn=r["args"]["connections"],
        ),
        "machine's CPU (2 cores = 100%); other: processes outside the system under test and this client, % of one core;",
        "cpu: ms of CPU the system's processes spent per request while sending (intake and the pipeline behind it).",
    ]
    for name, c in r["channels"].items():
        lines.append(
            f"  {name:<11} schedule lag p99 {c['schedule_lag_ms'].get('p99', float('nan')):.1f} ms, wait for a "
            f"connection p99 {c['connection_wait_ms'].get('p99', float('nan')):.1f} ms, achieved "
            f"{c['achieved_rate_per_s']}/s; CPU % of one core: "
            + ", ".join(f"{g} {v:.0f}" for g, v in c["cpu"]["percent_of_one_core"].items() if v >= 1)
        )
    met = [c["p99_target_met"] for c in r["channels"].values()]
    lines.append(
        f"Target p99 < {TARGET_P99_MS:.0f} ms at {r['args']['rate']}/s: met on {sum(met)} of {len(met)} channels"
    )
    lines.append("=" * 118)
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channels", nargs="*", choices=CHANNEL_NAMES, default=list(CHANNEL_NAMES))
    p.add_argument("--rate", type=float, default=200.0, help="requests per second per channel (default 200)")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per channel (default 20)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds at the rate first, not measured")
    p.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    p.add_argument(
        "--quiet-wait", type=float, default=60.0, help="per channel, wait up to this long for a quiet machine"
    )
    p.add_argument("--quiet-threshold", type=float, default=20.0, help="%% of one core counted as quiet")
    p.add_argument("--settle-timeout", type=float, default=120.0, help="after a channel, wait for the outbox")
    p.add_argument("--post-to", choices=("console", "intake"), default="console")
    p.add_argument("--port", type=int, default=28200, help="own system: first port to try (6 used)")
    p.add_argument("--kafka-port", type=int, default=29292, help="own system: first broker port to try")
    p.add_argument("--startup-timeout", type=float, default=180.0)
    p.add_argument("--keep-home", action="store_true")
    p.add_argument("--timeout", type=float, default=1800.0, help="overall limit (s)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stub_sniffio()
    signal.signal(signal.SIGTERM, interrupt)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    machine = machine_info()
    with contextlib.suppress(OSError):
        machine["loadavg_before"] = Path("/proc/loadavg").read_text().split()[:3]
    command = " ".join(
        [".venv/bin/python", "bench/intake_latency.py", *(argv if argv is not None else sys.argv[1:])]
    )
    channel_secrets = ChannelSecrets.random()
    port, kafka_port = find_ports(args.port, args.kafka_port)
    own = OwnSystem(port, kafka_port, args.keep_home, env=channel_secrets.env())
    try:
        state = own.start(args.startup_timeout)
        results = asyncio.run(asyncio.wait_for(run(args, state, channel_secrets), args.timeout))
        alive = own.alive()
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
        return 130
    except (RuntimeError, TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 2
    finally:
        own.stop()
    with contextlib.suppress(OSError):
        machine["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    results["args"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    results["processes_after"] = alive
    print(render(results, machine, command))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {"machine": machine, "command": command, "results": results}
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")
        log(f"wrote {args.json}")
    errors = any(c["errors"] or not c["all_opened_a_case"] for c in results["channels"].values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
