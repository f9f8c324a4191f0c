"""The WeChat channel's transactional work: one database transaction per pushed message that refuses a
replayed nonce, answers WeChat's retries from the message key, assembles one resident's messages into one
case (the session window) and answers status queries with the resident's own cases only.

Nonces and retries. WeChat signs the URL only (sha1 of token, timestamp, nonce): in plaintext mode the
body is not covered, so a captured URL could carry another body within the time window. Its retries
(three, when we don't answer within 5 s) resend the same request, so the same timestamp and nonce come
back with the same message. The rule: a (timestamp, nonce) pair is bound to the message key it first
came with; it may come again with that key (a retry: the message key then answers with the first reply)
and is refused with any other (a replay). Keying on the timestamp too keeps two genuine messages that
happen to draw the same random nonce apart. Rows are kept for twice the signature window (a request is
accepted up to ``window`` after its timestamp, which is itself up to ``window`` from our clock) and
purged opportunistically.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from intake.service import Attachment, Outcome, record_outcome, supplement, take_in_with
from intake.wechat import replies
from intake.wechat.protocol import (
    EventMessage,
    ImageMessage,
    LocationMessage,
    Message,
    TextMessage,
    VoiceMessage,
)
from schemas.identity import Actor
from schemas.states import STATUS_LABELS, CaseStatus
from services.geo.coords import to_wgs84
from services.ledger.service import NewCase

CHANNEL = "wechat"
ACTOR = Actor("channel:wechat", "微信公众号", "微信公众号")
SUBMITTED_BY = "channel:wechat"
# channel_nonces rows: the (timestamp, nonce) pair itself, and its binding to the first message key.
NONCE = "wechat"
NONCE_BINDING = "wechat#msg"
PURGE_EVERY_S = 60.0
QUERY_LIMIT = 5
QUERY_MENU_KEYS = frozenset({"query", "status", "查询"})
# A session's case in one of these takes no more messages: the next one opens a new case.
FINISHED = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.REJECTED})
# "查询", "查询进度", "查询 20261125000123", "查询：20261125000123".
_QUERY = re.compile(r"^(?:查询|查询进度|进度查询)\s*[:：]?\s*([0-9A-Za-z\-]{1,40})?$")


class Replayed(Exception):
    """The (timestamp, nonce) pair came before with another message."""


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: str
    reply: str  # replies.NO_REPLY when nothing is said
    case_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    window_s: float  # the signature window; nonces are remembered twice as long
    session_minutes: float  # one resident's messages this close together make one case
    allow_resident: Callable[[str], bool]  # the per-resident rate limit: False when over it


async def handle(
    pool: asyncpg.Pool, *, raw_id: int, message: Message, nonce_key: str, policy: Policy
) -> Handled:
    """One pushed message, in one transaction (the passive reply must leave within WeChat's 5 s)."""
    await _purge.maybe(pool, keep_s=2 * policy.window_s)
    async with pool.acquire() as conn, conn.transaction():
        if not await _nonce_allows(
            conn, nonce_key=nonce_key, message_key=message.key, keep_s=2 * policy.window_s
        ):
            raise Replayed
        # The key first: a concurrent delivery of the same message waits here for this transaction
        # and then reads its reply (no second case).
        first = await conn.fetchval(
            "INSERT INTO channel_messages (channel, message_key, raw_id) VALUES ($1, $2, $3) "
            "ON CONFLICT (channel, message_key) DO NOTHING RETURNING true",
            CHANNEL,
            message.key,
            raw_id,
        )
        if not first:
            return await _answer_again(conn, raw_id=raw_id, key=message.key)
        if not policy.allow_resident(message.from_user):
            # Not remembered as answered: WeChat's retry, or the resident sending it again, is
            # taken in once they are under their rate. The nonce stays bound to it.
            await conn.execute(
                "DELETE FROM channel_messages WHERE channel = $1 AND message_key = $2", CHANNEL, message.key
            )
            await record_outcome(
                conn, raw_id, Outcome.REJECTED, error={"error": "rate_limited"}, channel=CHANNEL
            )
            return Handled(Outcome.REJECTED, replies.TOO_FREQUENT)
        handled = await _dispatch(conn, raw_id=raw_id, message=message, policy=policy)
        await conn.execute(
            "UPDATE channel_messages SET reply = $3, case_id = $4 WHERE channel = $1 AND message_key = $2",
            CHANNEL,
            message.key,
            handled.reply,
            handled.case_id,
        )
        return handled


async def _nonce_allows(conn: asyncpg.Connection, *, nonce_key: str, message_key: str, keep_s: float) -> bool:
    fresh = await conn.fetchval(
        "INSERT INTO channel_nonces (channel, nonce, seen_at) VALUES ($1, $2, now()) "
        "ON CONFLICT (channel, nonce) DO UPDATE SET seen_at = excluded.seen_at "
        "WHERE channel_nonces.seen_at < now() - make_interval(secs => $3) RETURNING true",
        NONCE,
        nonce_key,
        float(keep_s),
    )
    # The message key hashed: the binding row needn't hold an openid (an event's key has one).
    binding = f"{nonce_key}|{hashlib.sha256(message_key.encode()).hexdigest()[:32]}"
    if fresh:
        await conn.execute(
            "INSERT INTO channel_nonces (channel, nonce, seen_at) VALUES ($1, $2, now()) "
            "ON CONFLICT (channel, nonce) DO UPDATE SET seen_at = excluded.seen_at",
            NONCE_BINDING,
            binding,
        )
        return True
    return bool(
        await conn.fetchval(
            "SELECT true FROM channel_nonces WHERE channel = $1 AND nonce = $2", NONCE_BINDING, binding
        )
    )


class _Purger:
    """Deletes nonces nobody can replay any more, at most once a minute per process."""

    def __init__(self) -> None:
        self._last = 0.0

    async def maybe(self, pool: asyncpg.Pool, *, keep_s: float) -> None:
        now = time.monotonic()
        if now - self._last < PURGE_EVERY_S:
            return
        self._last = now
        await pool.execute(
            "DELETE FROM channel_nonces WHERE channel = ANY($1::text[]) "
            "AND seen_at < now() - make_interval(secs => $2)",
            [NONCE, NONCE_BINDING],
            float(keep_s),
        )


_purge = _Purger()


async def _answer_again(conn: asyncpg.Connection, *, raw_id: int, key: str) -> Handled:
    row = await conn.fetchrow(
        "SELECT reply, case_id FROM channel_messages WHERE channel = $1 AND message_key = $2", CHANNEL, key
    )
    reply = (row["reply"] if row else None) or replies.NO_REPLY
    case_id = row["case_id"] if row else None
    await record_outcome(conn, raw_id, Outcome.DUPLICATE, case_id=case_id, channel=CHANNEL)
    return Handled(Outcome.DUPLICATE, reply, case_id)


async def _dispatch(conn: asyncpg.Connection, *, raw_id: int, message: Message, policy: Policy) -> Handled:
    if isinstance(message, EventMessage):
        return await _event(conn, raw_id=raw_id, message=message, policy=policy)
    if isinstance(message, TextMessage):
        content = message.content.strip()
        query = _QUERY.match(content)
        if query:
            reply = await status_reply(conn, resident=message.from_user, case_no=query.group(1))
            return await _replied(conn, raw_id, reply)
        if not content:
            return await _replied(conn, raw_id, replies.EMPTY_TEXT)
    if isinstance(message, TextMessage | VoiceMessage | LocationMessage | ImageMessage):
        return await _report(conn, raw_id=raw_id, message=message, policy=policy)
    return await _replied(conn, raw_id, replies.UNSUPPORTED)


async def _replied(conn: asyncpg.Connection, raw_id: int, reply: str) -> Handled:
    await record_outcome(conn, raw_id, Outcome.REPLIED, channel=CHANNEL)
    return Handled(Outcome.REPLIED, reply)


async def _event(conn: asyncpg.Connection, *, raw_id: int, message: EventMessage, policy: Policy) -> Handled:
    if message.event == "subscribe":
        return await _replied(conn, raw_id, replies.welcome(policy.session_minutes))
    if message.event == "click" and (message.event_key or "").lower() in QUERY_MENU_KEYS:
        # A menu button "办理进度" set up in the account's console: the same as sending 查询.
        reply = await status_reply(conn, resident=message.from_user, case_no=None)
        return await _replied(conn, raw_id, reply)
    # unsubscribe, menu clicks, periodic location reports …: nothing to say.
    return await _replied(conn, raw_id, replies.NO_REPLY)


# --- reports and sessions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parts:
    """What one message brings to a case."""

    description: str  # when it opens the case
    text: str | None = None  # when it adds to one
    point: tuple[float, float] | None = None  # WGS-84 (lon, lat)
    address: str | None = None
    attachment: Attachment | None = None
    added: str = replies.ADDED_TEXT  # how the reply names it


def _parts(message: TextMessage | VoiceMessage | LocationMessage | ImageMessage) -> _Parts:
    if isinstance(message, TextMessage):
        text = message.content.strip()
        return _Parts(description=text, text=text)
    if isinstance(message, VoiceMessage):
        voice = Attachment("voice", media_id=message.media_id) if message.media_id else None
        said = (message.recognition or "").strip() or None
        return _Parts(
            description=said or "（语音上报）",
            text=said,
            attachment=voice,
            added=replies.ADDED_TEXT if said else replies.ADDED_VOICE,
        )
    if isinstance(message, LocationMessage):
        # WeChat reports GCJ-02 (Location_X is the latitude); the ledger keeps WGS-84.
        lon, lat = to_wgs84(message.lon, message.lat, "gcj02")
        return _Parts(
            description=f"（位置上报）{message.label or ''}",
            point=(lon, lat),
            address=message.label,
            added=replies.ADDED_LOCATION,
        )
    return _Parts(
        description="（图片上报）",
        attachment=Attachment("image", source_url=message.pic_url, media_id=message.media_id),
        added=replies.ADDED_PHOTO,
    )


async def _report(
    conn: asyncpg.Connection,
    *,
    raw_id: int,
    message: TextMessage | VoiceMessage | LocationMessage | ImageMessage,
    policy: Policy,
) -> Handled:
    parts = _parts(message)
    resident = message.from_user
    # One resident's messages one at a time: two sent together must not open two cases.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"wechat-session:{resident}")
    open_case = await _session_case(conn, resident=resident, session_minutes=policy.session_minutes)
    if open_case is not None:
        case_id, case_no = open_case
        await _add(conn, raw_id=raw_id, case_id=case_id, parts=parts)
        await conn.execute(
            "UPDATE channel_sessions SET last_message_at = GREATEST(last_message_at, clock_timestamp()) "
            "WHERE channel = $1 AND resident_ref = $2",
            CHANNEL,
            resident,
        )
        return Handled(Outcome.SUPPLEMENTED, replies.supplemented(case_no, parts.added), case_id)

    lon, lat = parts.point if parts.point is not None else (None, None)
    details: dict[str, Any] = {"wechat_first_message": message.msg_type}
    if isinstance(message, LocationMessage) and message.scale is not None:
        details["wechat_map_scale"] = message.scale
    new = NewCase(
        channel=CHANNEL,
        description=parts.description[:4000],
        external_id=f"wx:{message.msg_id}",
        lat=lat,
        lon=lon,
        address=parts.address,
        submitted_by=SUBMITTED_BY,
        reporter_ref=resident,
        intake_details=details,
    )
    created = await take_in_with(conn, raw_id=raw_id, new=new, actor=ACTOR)
    reply = replies.accepted(created.case_no, policy.session_minutes)
    if not created.created:  # the case of this MsgId exists (its message key was purged): answer it again
        return Handled(Outcome.DUPLICATE, reply, created.case_id)
    if parts.attachment is not None:  # a photo (or a voice) first: the case, then the photo by reference
        await supplement(
            conn,
            case_id=created.case_id,
            raw_id=raw_id,
            channel=CHANNEL,
            actor=ACTOR,
            attachment=parts.attachment,
        )
        await record_outcome(conn, raw_id, Outcome.ACCEPTED, case_id=created.case_id, channel=CHANNEL)
    await conn.execute(
        "INSERT INTO channel_sessions (channel, resident_ref, case_id, opened_at, last_message_at) "
        "VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp()) "
        "ON CONFLICT (channel, resident_ref) DO UPDATE SET case_id = excluded.case_id, "
        "opened_at = excluded.opened_at, last_message_at = excluded.last_message_at",
        CHANNEL,
        resident,
        created.case_id,
    )
    return Handled(Outcome.ACCEPTED, reply, created.case_id)


async def _session_case(
    conn: asyncpg.Connection, *, resident: str, session_minutes: float
) -> tuple[uuid.UUID, str] | None:
    """The case the resident's last message went to, if that was within the window and the case still
    takes messages (a merged one's original takes them)."""
    row = await conn.fetchrow(
        "SELECT c.id, c.case_no, c.status, o.id AS original_id, o.case_no AS original_no, "
        "o.status AS original_status "
        "FROM channel_sessions s JOIN cases c ON c.id = s.case_id LEFT JOIN cases o ON o.id = c.duplicate_of "
        "WHERE s.channel = $1 AND s.resident_ref = $2 "
        "AND s.last_message_at >= clock_timestamp() - make_interval(secs => $3)",
        CHANNEL,
        resident,
        float(session_minutes) * 60,
    )
    if row is None:
        return None
    if row["original_id"] is not None:
        if CaseStatus(row["original_status"]) in FINISHED:
            return None
        return row["original_id"], row["original_no"]
    status = CaseStatus(row["status"])
    if status in FINISHED or status is CaseStatus.DUPLICATE:
        return None
    return row["id"], row["case_no"]


async def _add(conn: asyncpg.Connection, *, raw_id: int, case_id: uuid.UUID, parts: _Parts) -> None:
    await supplement(
        conn,
        case_id=case_id,
        raw_id=raw_id,
        channel=CHANNEL,
        actor=ACTOR,
        text=parts.text,
        point=parts.point,
        address=parts.address,
        attachment=parts.attachment,
    )


# --- status queries -------------------------------------------------------------------------------

_OWN_CASES = (
    "SELECT c.case_no, c.status, cat.name AS category_name, o.case_no AS merged_into "
    "FROM cases c LEFT JOIN categories cat ON cat.code = c.category_code "
    "LEFT JOIN cases o ON o.id = c.duplicate_of "
    "WHERE c.reporter_ref = $1 AND c.channel = 'wechat'"
)


def _line(row: asyncpg.Record) -> replies.CaseLine:
    status = CaseStatus(row["status"])
    return replies.CaseLine(
        case_no=row["case_no"],
        status_label=STATUS_LABELS[status],
        category_name=row["category_name"],
        merged_into=row["merged_into"],
    )


async def status_reply(conn: asyncpg.Connection, *, resident: str, case_no: str | None) -> str:
    """The resident's own cases (newest first), or one of them by number; never anyone else's."""
    if case_no:
        row = await conn.fetchrow(_OWN_CASES + " AND c.case_no = $2", resident, case_no)
        return replies.one_case(_line(row)) if row is not None else replies.NOT_FOUND
    rows = await conn.fetch(_OWN_CASES + " ORDER BY c.created_at DESC LIMIT $2", resident, QUERY_LIMIT)
    return replies.case_list([_line(r) for r in rows])
