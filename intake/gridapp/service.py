"""The grid app's transactional work: a grid worker's report with its photos, the daily 零上报 check-in,
and which grids have sent neither today."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from intake.service import take_in_with
from schemas.identity import Principal
from services.casework import photos
from services.ledger.service import CreatedCase, NewCase


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    data: bytes
    content_type: str
    ext: str


async def report_with_photos(
    conn: asyncpg.Connection,
    *,
    raw_id: int,
    new: NewCase,
    principal: Principal,
    checked: Sequence[CheckedPhoto],
    media_dir: Path,
) -> CreatedCase:
    """In the caller's transaction: the case, then its photos attached to the report (a retry with the
    same external_id finds the case and adds no photos)."""
    created = await take_in_with(conn, raw_id=raw_id, new=new, actor=principal.actor)
    if not created.created or not checked:
        return created
    event_id = await conn.fetchval(
        "SELECT event_id FROM case_events WHERE case_id = $1 AND seq = 1", created.case_id
    )
    for photo in checked:
        stored = await photos.store(
            conn,
            media_dir=media_dir,
            case_id=created.case_id,
            data=photo.data,
            content_type=photo.content_type,
            ext=photo.ext,
            uploader=principal.actor,
        )
        await conn.execute(
            "UPDATE case_photos SET kind = 'report', event_id = $2 WHERE id = $1", stored.photo_id, event_id
        )
    return created


async def check_in(
    conn: asyncpg.Connection, *, grid_code: str, day: date, principal: Principal, note: str | None
) -> bool:
    """零上报 for ``grid_code`` on ``day``; False when this worker had checked in already (idempotent)."""
    inserted = await conn.fetchval(
        "INSERT INTO grid_checkins (grid_code, day, worker, worker_name, note) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING RETURNING true",
        grid_code,
        day,
        principal.subject,
        principal.display_name,
        note,
    )
    return bool(inserted)


async def grid_activity(
    conn: asyncpg.Connection, *, grids: Sequence[str], day: date
) -> dict[str, dict[str, Any]]:
    """Per grid: reports its grid workers sent through the app and check-ins on ``day`` (Asia/Shanghai)."""
    rows = await conn.fetch(
        """
        SELECT g.code,
               (SELECT count(*) FROM cases c
                 WHERE c.grid_code = g.code AND c.channel = 'app'
                   AND c.created_at >= ($2::date)::timestamp AT TIME ZONE 'Asia/Shanghai'
                   AND c.created_at < ($2::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS reports,
               (SELECT count(*) FROM grid_checkins k WHERE k.grid_code = g.code AND k.day = $2) AS checkins
          FROM unnest($1::text[]) AS g(code)
        """,
        list(grids),
        day,
    )
    return {r["code"]: {"reports": r["reports"], "checkins": r["checkins"]} for r in rows}
