"""Intake's transactional core, shared by every channel: keep what arrived (raw, before parsing), open a
case (or find the one this channel's key already opened), record each request's outcome.

Channels (the JSON API, WeChat, the hotline feed, Open311, the grid app) parse their own protocol and
call these; none of them writes to the ledger any other way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from prometheus_client import Counter

from schemas.access import REPORT_CHANNELS
from schemas.api import CHANNEL_LABELS, Channel, ReportIn
from schemas.events import SUPPLEMENT_LABELS, EventType, Point, ReportedPayload, SupplementedPayload
from schemas.identity import ROLE_LABELS, Actor, Principal, Role
from services.geo.coords import to_wgs84
from services.ledger.service import CreatedCase, NewCase, create_case, lock_case, record_event

REPORTS = Counter("gridcase_reports_total", "Reports taken in", ["channel", "outcome"])

# The request headers kept with a raw request: what explains it later, never a credential.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "user-agent",
    "x-forwarded-for",
    "x-request-id",
    "x-gridcase-timestamp",
    "x-gridcase-feed",
)


class Outcome:
    """What became of a raw request (``raw_inbound.outcome``)."""

    RECEIVED = "received"  # stored, not (yet) handled: a crash in between leaves this
    ACCEPTED = "accepted"  # a case was opened
    DUPLICATE = "duplicate"  # the channel's key was seen before: the same case is answered
    SUPPLEMENTED = "supplemented"  # added to a case already open (a resident's later message)
    REPLIED = "replied"  # answered without a case (a status query, a subscription)
    REJECTED = "rejected"  # refused for what it is (the error says why): replaying won't help
    FAILED = "failed"  # our fault (the error says what): `gridcase intake replay` runs it again


@dataclass(frozen=True, slots=True)
class RawRequest:
    body: bytes
    channel: str | None
    content_type: str | None = None
    submitted_by: str | None = None  # the identity or verified feed that sent it, when known
    headers: Mapping[str, str] | None = None
    path: str | None = None
    remote_addr: str | None = None


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: headers[k][:300] for k in KEPT_HEADERS if k in headers}


async def store_raw(pool: asyncpg.Pool | asyncpg.Connection, raw: RawRequest) -> int:
    """Committed before parsing: whatever arrives is kept, even if it turns out to be garbage."""
    raw_id: int = await pool.fetchval(
        "INSERT INTO raw_inbound (channel, content_type, body, submitted_by, headers, path, remote_addr) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        (raw.channel or "")[:32] or None,
        (raw.content_type or "")[:200] or None,
        raw.body,
        raw.submitted_by,
        dict(raw.headers) if raw.headers is not None else None,
        (raw.path or "")[:300] or None,
        raw.remote_addr,
    )
    return raw_id


async def record_outcome(
    db: asyncpg.Pool | asyncpg.Connection,
    raw_id: int,
    outcome: str,
    *,
    case_id: Any = None,
    error: dict[str, Any] | None = None,
    channel: str | None = None,
) -> None:
    await db.execute(
        "UPDATE raw_inbound SET outcome = $2, case_id = COALESCE($3, case_id), error = $4, "
        "channel = COALESCE($5, channel) WHERE id = $1",
        raw_id,
        outcome,
        case_id,
        error,
        channel,
    )
    REPORTS.labels(channel or "unknown", outcome).inc()


async def mark_rejected(pool: asyncpg.Pool, *, raw_id: int, error: dict[str, object]) -> None:
    await record_outcome(pool, raw_id, Outcome.REJECTED, error=dict(error))


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


def reported_payload(new: NewCase) -> dict[str, Any]:
    return ReportedPayload(
        channel=new.channel,
        external_id=new.external_id,
        category_code=new.category_code,
        grid_code=new.grid_code,
        location=Point(lat=new.lat, lon=new.lon) if new.lat is not None and new.lon is not None else None,
        urgency=new.urgency,
    ).model_dump(mode="json")


async def take_in_with(conn: asyncpg.Connection, *, raw_id: int, new: NewCase, actor: Actor) -> CreatedCase:
    """Inside the caller's transaction: open the case (or find it by the channel's key) and record the
    raw request's outcome with it. Channels that write more in the same transaction (a WeChat session,
    a message key) call this; the rest call :func:`take_in`."""
    created = await create_case(conn, case=new, actor=actor, payload=reported_payload(new))
    await record_outcome(
        conn,
        raw_id,
        Outcome.ACCEPTED if created.created else Outcome.DUPLICATE,
        case_id=created.case_id,
        channel=new.channel,
    )
    return created


async def take_in(pool: asyncpg.Pool, *, raw_id: int, new: NewCase, actor: Actor) -> CreatedCase:
    async with pool.acquire() as conn, conn.transaction():
        return await take_in_with(conn, raw_id=raw_id, new=new, actor=actor)


def new_case_from(report: ReportIn, submitted_by: str) -> NewCase:
    """The JSON report as a case: the point in WGS-84 whatever datum it came in."""
    lat = lon = None
    if report.location is not None:
        lon, lat = to_wgs84(report.location.lon, report.location.lat, report.location.crs)
    reporter = report.reporter
    return NewCase(
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
        submitted_by=submitted_by,
        intake_details=(
            {"handed_down": report.handed_down.model_dump(mode="json", exclude_none=True)}
            if report.handed_down is not None
            else None
        ),
    )


async def open_case(
    pool: asyncpg.Pool, *, raw_id: int, report: ReportIn, principal: Principal
) -> CreatedCase:
    return await take_in(
        pool, raw_id=raw_id, new=new_case_from(report, principal.subject), actor=principal.actor
    )


@dataclass(frozen=True, slots=True)
class Attachment:
    """Something a channel sent that is kept by reference (a WeChat image's PicUrl and MediaId)."""

    kind: str  # image | voice | video | file
    source_url: str | None = None
    media_id: str | None = None


async def supplement(
    conn: asyncpg.Connection,
    *,
    case_id: Any,
    raw_id: int,
    channel: str,
    actor: Actor,
    text: str | None = None,
    point: tuple[float, float] | None = None,
    address: str | None = None,
    attachment: Attachment | None = None,
) -> None:
    """Inside the caller's transaction: add a resident's later message to their case (a text is appended
    to the description, a place fills the point and address, an attachment is kept by reference) and
    record ``case.supplemented``; dispatch routes a case that waited in triage for what arrived."""
    case = await lock_case(conn, case_id)
    row = case.row
    updates: dict[str, Any] = {}
    kind = "text"
    if text and text.strip():
        updates["description"] = f"{row['description']}\n【补充】{text.strip()}"[:8000]
    if point is not None:
        kind = "location"
        updates["lon"], updates["lat"] = point
        if address and not row["address"]:
            updates["address"] = address[:300]
    attachment_id = None
    if attachment is not None:
        kind = attachment.kind
        attachment_id = await conn.fetchval(
            "INSERT INTO case_attachments (case_id, kind, channel, source_url, media_id, raw_id) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            case_id,
            attachment.kind,
            channel,
            attachment.source_url,
            attachment.media_id,
            raw_id,
        )
    payload = SupplementedPayload(
        kind=kind,
        kind_label=SUPPLEMENT_LABELS.get(kind, "补充信息"),
        location=Point(lon=point[0], lat=point[1]) if point is not None else None,
        has_text="description" in updates,
        attachment_id=attachment_id,
    )
    await record_event(
        conn,
        case=case,
        event_type=EventType.SUPPLEMENTED,
        actor=actor,
        payload=payload.model_dump(mode="json"),
        updates=updates,
    )
    await record_outcome(conn, raw_id, Outcome.SUPPLEMENTED, case_id=case_id, channel=channel)


def refusal_recorder(
    pool: Callable[[], asyncpg.Pool | None], prefixes: tuple[str, ...]
) -> Callable[[Any, int, str, bytes], Awaitable[None]]:
    """For the request guards: a request under ``prefixes`` refused before the app ran (too large, a
    content type no channel takes) is kept in the raw store too, with the first bytes of its body."""

    async def record(scope: Any, status: int, error: str, head: bytes) -> None:
        path: str = scope.get("path", "")
        db = pool()
        if db is None or not path.startswith(prefixes):
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            raw_id = await store_raw(
                db,
                RawRequest(
                    body=head,
                    channel=_channel_of(path),
                    content_type=headers.get("content-type"),
                    headers=kept_headers(headers),
                    path=path,
                    remote_addr=(scope.get("client") or (None,))[0],
                ),
            )
            await record_outcome(
                db, raw_id, Outcome.REJECTED, error={"error": error, "status": status, "truncated": True}
            )
        except (asyncpg.PostgresError, OSError):
            pass  # the refusal stands; the database is what's missing

    return record


def _channel_of(path: str) -> str | None:
    for prefix, channel in (
        ("/channels/wechat", "wechat"),
        ("/channels/hotline", "hotline"),
        ("/open311/", "open311"),
        ("/api/v1/app/", "app"),
    ):
        if path.startswith(prefix):
            return channel
    return None
