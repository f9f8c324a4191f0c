"""Intake: store what a channel sent, parse it, and open a case (or find the one already opened)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

from schemas.api import ReportIn
from schemas.events import Point, ReportedPayload
from services.geo.coords import to_wgs84
from services.ledger.service import CreatedCase, NewCase, create_case

REPORTS = Counter("gridcase_reports_total", "Reports taken in", ["channel", "outcome"])


async def store_raw(pool: asyncpg.Pool, *, body: bytes, content_type: str | None, channel: str | None) -> int:
    """Committed before parsing: whatever arrives is kept, even if it turns out to be garbage."""
    raw_id: int = await pool.fetchval(
        "INSERT INTO raw_inbound (channel, content_type, body) VALUES ($1, $2, $3) RETURNING id",
        channel,
        content_type,
        body,
    )
    return raw_id


async def mark_rejected(pool: asyncpg.Pool, *, raw_id: int, error: dict[str, object]) -> None:
    await pool.execute("UPDATE raw_inbound SET outcome = 'rejected', error = $2 WHERE id = $1", raw_id, error)


async def open_case(pool: asyncpg.Pool, *, raw_id: int, report: ReportIn) -> CreatedCase:
    lat = lon = None
    if report.location is not None:
        lon, lat = to_wgs84(report.location.lon, report.location.lat, report.location.crs)
    reporter = report.reporter
    new = NewCase(
        channel=report.channel.value,
        description=report.description,
        external_id=report.external_id,
        category_code=report.category_code,
        grid_code=report.grid_code,
        urgency=(report.urgency.value if report.urgency else "normal"),
        lat=lat,
        lon=lon,
        address=report.address,
        reporter_name=reporter.name if reporter else None,
        reporter_phone=reporter.phone if reporter else None,
    )
    payload = ReportedPayload(
        channel=new.channel,
        external_id=new.external_id,
        category_code=new.category_code,
        grid_code=new.grid_code,
        location=Point(lat=lat, lon=lon) if lat is not None and lon is not None else None,
        urgency=new.urgency,
    ).model_dump(mode="json")
    async with pool.acquire() as conn, conn.transaction():
        created = await create_case(conn, case=new, actor=f"channel:{new.channel}", payload=payload)
        await conn.execute(
            "UPDATE raw_inbound SET outcome = $2, case_id = $3 WHERE id = $1",
            raw_id,
            "accepted" if created.created else "duplicate",
            created.case_id,
        )
    REPORTS.labels(new.channel, "accepted" if created.created else "duplicate").inc()
    return created
