"""The raw store read back: admins list and read what arrived, `gridcase intake replay` runs again what
failed for a reason since fixed, and old requests are deleted (they hold personal data)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from intake.hotline.orders import replay_order
from intake.service import Outcome, new_case_from, record_outcome, take_in
from schemas.api import ReportIn
from schemas.identity import Actor
from services.privacy.masking import mask_free_text

log = logging.getLogger(__name__)

# A request still `received` after this long was never finished (a crash, the database gone).
STALLED_AFTER_S = 120
# Retried channel messages come within minutes; their keys are kept a week.
MESSAGE_KEYS_KEPT_DAYS = 7

Replayer = Callable[[asyncpg.Pool, asyncpg.Record], Awaitable[str]]


async def _replay_json_report(pool: asyncpg.Pool, row: asyncpg.Record) -> str:
    """POST /api/v1/reports as it was sent (its sender was checked when it arrived)."""
    try:
        report = ReportIn.model_validate_json(row["body"])
    except ValidationError as exc:
        await record_outcome(pool, row["id"], Outcome.REJECTED, error={"replay": str(exc.errors()[:3])})
        return Outcome.REJECTED
    submitted_by = row["submitted_by"] or "system:replay"
    created = await take_in(
        pool, raw_id=row["id"], new=new_case_from(report, submitted_by), actor=Actor(submitted_by)
    )
    return Outcome.ACCEPTED if created.created else Outcome.DUPLICATE


# Which stored requests can be run again, by the path they arrived on.
REPLAYERS: dict[str, Replayer] = {
    "/api/v1/reports": _replay_json_report,
    "/channels/hotline": replay_order,  # only orders whose signature was checked when they arrived
}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    raw_id: int
    path: str | None
    outcome: str  # the new outcome, or "skipped"
    note: str = ""


async def replayable(pool: asyncpg.Pool, *, ids: list[int] | None, limit: int) -> list[asyncpg.Record]:
    if ids:
        return list(
            await pool.fetch("SELECT * FROM raw_inbound WHERE id = ANY($1::bigint[]) ORDER BY id", ids)
        )
    return list(
        await pool.fetch(
            "SELECT * FROM raw_inbound WHERE (outcome = 'failed' OR (outcome = 'received' "
            "AND received_at < clock_timestamp() - make_interval(secs => $1))) ORDER BY id LIMIT $2",
            STALLED_AFTER_S,
            limit,
        )
    )


async def replay(pool: asyncpg.Pool, rows: list[asyncpg.Record]) -> list[ReplayResult]:
    out = []
    for row in rows:
        replayer = REPLAYERS.get(row["path"] or "")
        if row["outcome"] not in (Outcome.FAILED, Outcome.RECEIVED):
            out.append(ReplayResult(row["id"], row["path"], "skipped", f"already {row['outcome']}"))
        elif replayer is None:
            out.append(
                ReplayResult(row["id"], row["path"], "skipped", "this channel's requests are not replayable")
            )
        else:
            outcome = await replayer(pool, row)
            await pool.execute(
                "UPDATE raw_inbound SET replayed_at = clock_timestamp() WHERE id = $1", row["id"]
            )
            out.append(ReplayResult(row["id"], row["path"], outcome))
    return out


async def purge(
    pool: asyncpg.Pool, *, retention_days: float, nonce_window_s: int, batch: int = 5000
) -> dict[str, int]:
    """Delete raw requests older than the retention (in batches), old nonces and message keys."""
    raw = 0
    while True:
        n = await pool.fetchval(
            "WITH gone AS (DELETE FROM raw_inbound WHERE id IN (SELECT id FROM raw_inbound "
            "WHERE received_at < clock_timestamp() - make_interval(secs => $1) LIMIT $2) RETURNING 1) "
            "SELECT count(*) FROM gone",
            retention_days * 86400.0,
            batch,
        )
        raw += n
        if n < batch:
            break
    nonces = await pool.fetchval(
        "WITH gone AS (DELETE FROM channel_nonces WHERE seen_at < clock_timestamp() - make_interval(secs => $1) "
        "RETURNING 1) SELECT count(*) FROM gone",
        2 * nonce_window_s,
    )
    keys = await pool.fetchval(
        "WITH gone AS (DELETE FROM channel_messages WHERE created_at < clock_timestamp() - make_interval(days => $1) "
        "RETURNING 1) SELECT count(*) FROM gone",
        MESSAGE_KEYS_KEPT_DAYS,
    )
    sessions = await pool.fetchval(
        "WITH gone AS (DELETE FROM channel_sessions WHERE last_message_at < clock_timestamp() - interval '1 day' "
        "RETURNING 1) SELECT count(*) FROM gone"
    )
    return {
        "raw_inbound": raw,
        "channel_nonces": nonces,
        "channel_messages": keys,
        "channel_sessions": sessions,
    }


async def list_raw(
    conn: asyncpg.Connection,
    *,
    outcome: str | None,
    channel: str | None,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first, without bodies (they are read one at a time, audited)."""
    params: list[Any] = []
    where = ["TRUE"]
    for column, value in (("outcome", outcome), ("channel", channel)):
        if value:
            params.append(value)
            where.append(f"{column} = ${len(params)}")
    if since is not None:
        params.append(since)
        where.append(f"received_at >= ${len(params)}")
    params.append(limit)
    rows = await conn.fetch(
        "SELECT id, received_at, channel, path, content_type, length(body) AS size, outcome, error, case_id, "
        f"submitted_by, remote_addr, replayed_at FROM raw_inbound WHERE {' AND '.join(where)} "
        f"ORDER BY id DESC LIMIT ${len(params)}",
        *params,
    )
    return [dict(r) for r in rows]


async def read_raw(conn: asyncpg.Connection, raw_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM raw_inbound WHERE id = $1", raw_id)
    if row is None:
        return None
    out = dict(row)
    body: bytes = out.pop("body")
    try:
        out["body_text"] = body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_text"] = None
    out["body_size"] = len(body)
    out["body_preview_masked"] = mask_free_text(out["body_text"][:2000]) if out["body_text"] else None
    return out
