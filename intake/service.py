"""Intake: store what a channel sent, parse it, and open a case (or find the one already opened)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

from schemas.access import REPORT_CHANNELS
from schemas.api import CHANNEL_LABELS, Channel, ReportIn
from schemas.events import Point, ReportedPayload
from schemas.identity import ROLE_LABELS, Principal, Role
from services.geo.coords import to_wgs84
from services.ledger.service import CreatedCase, NewCase, create_case

REPORTS = Counter("gridcase_reports_total", "Reports taken in", ["channel", "outcome"])


async def store_raw(
    pool: asyncpg.Pool, *, body: bytes, content_type: str | None, channel: str | None, submitted_by: str
) -> int:
    """Committed before parsing: whatever arrives is kept, even if it turns out to be garbage."""
    raw_id: int = await pool.fetchval(
        "INSERT INTO raw_inbound (channel, content_type, body, submitted_by) VALUES ($1, $2, $3, $4) "
        "RETURNING id",
        channel,
        content_type,
        body,
        submitted_by,
    )
    return raw_id


def check_channel(principal: Principal, channel: Channel) -> str | None:
    """A feed reports on its own channel only; people on the channels their role uses. A Chinese
    refusal, or None."""
    if principal.role is Role.FEED:
        if channel.value == principal.channel:
            return None
        own = CHANNEL_LABELS[Channel(principal.channel)] if principal.channel in set(Channel) else "未配置"
        return f"此接入令牌只能以“{own}”渠道上报，不能以“{CHANNEL_LABELS[channel]}”上报"
    allowed = REPORT_CHANNELS.get(principal.role, frozenset())
    if channel.value in allowed:
        return None
    names = "、".join(CHANNEL_LABELS[Channel(c)] for c in sorted(allowed)) or "无"
    return f"“{ROLE_LABELS[principal.role]}”只能以以下渠道上报：{names}"


async def mark_rejected(pool: asyncpg.Pool, *, raw_id: int, error: dict[str, object]) -> None:
    await pool.execute("UPDATE raw_inbound SET outcome = 'rejected', error = $2 WHERE id = $1", raw_id, error)


async def open_case(
    pool: asyncpg.Pool, *, raw_id: int, report: ReportIn, principal: Principal
) -> CreatedCase:
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
        reporter_id_number=reporter.id_number if reporter else None,
        submitted_by=principal.subject,
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
        created = await create_case(conn, case=new, actor=principal.actor, payload=payload)
        await conn.execute(
            "UPDATE raw_inbound SET outcome = $2, case_id = $3 WHERE id = $1",
            raw_id,
            "accepted" if created.created else "duplicate",
            created.case_id,
        )
    REPORTS.labels(new.channel, "accepted" if created.created else "duplicate").inc()
    return created
