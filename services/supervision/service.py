"""Supervision orders in the caller's transaction (the case row locked): issue, answer, mark late.
Each writes the order, the case's event and, for a new order, the timer of its reply deadline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from schemas.events import EventEnvelope, EventType, SupervisionPayload
from schemas.identity import Actor
from services.ledger.service import LockedCase, record_event

ISSUER_LABELS = {
    "community": "社区",
    "street": "街道",
    "command_centre": "区网格化管理指挥中心",
    "district": "区领导",
}


async def issue(
    conn: asyncpg.Connection,
    *,
    case: LockedCase,
    issuer_level: str,
    issuer_label: str,
    actor: Actor,
    reason: str,
    reply_due_at: dt.datetime,
    department_name: str | None,
) -> tuple[int, EventEnvelope]:
    department = case.row["department_code"]
    order_id: int = await conn.fetchval(
        "INSERT INTO supervision_orders (case_id, issuer_level, issuer_label, issued_by, issued_by_label, "
        "department_code, reason, reply_due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        case.row["id"],
        issuer_level,
        issuer_label,
        actor.id,
        f"{actor.name}（{actor.unit}）" if actor.name and actor.unit else actor.name or actor.id,
        department,
        reason,
        reply_due_at,
    )
    await conn.execute(
        "INSERT INTO timers (case_id, phase, kind, ref, due_at) VALUES ($1, 'order', 'order_due', $2, $3)",
        case.row["id"],
        order_id,
        reply_due_at,
    )
    payload = SupervisionPayload(
        order_id=order_id,
        issuer_level=issuer_level,
        issuer_label=issuer_label,
        reason=reason,
        reply_due_at=reply_due_at,
        department_code=department,
        department_name=department_name,
    )
    event = await record_event(
        conn,
        case=case,
        event_type=EventType.SUPERVISION_ORDERED,
        actor=actor,
        payload=payload.model_dump(mode="json"),
        updates={"supervisor_label": issuer_label},
    )
    return order_id, event


async def open_order(conn: asyncpg.Connection, order_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM supervision_orders WHERE id = $1 FOR UPDATE", order_id)


async def reply(
    conn: asyncpg.Connection, *, case: LockedCase, order: asyncpg.Record, actor: Actor, text: str
) -> EventEnvelope:
    await conn.execute(
        "UPDATE supervision_orders SET status = 'replied', reply = $2, replied_by = $3, replied_by_label = $4, "
        "replied_at = $5 WHERE id = $1",
        order["id"],
        text,
        actor.id,
        f"{actor.name}（{actor.unit}）" if actor.name and actor.unit else actor.name or actor.id,
        case.now,
    )
    return await record_event(
        conn,
        case=case,
        event_type=EventType.SUPERVISION_REPLIED,
        actor=actor,
        payload=_payload(order) | {"reply": text},
    )


async def mark_overdue(
    conn: asyncpg.Connection, *, case: LockedCase, order_id: int, actor: Actor
) -> EventEnvelope | None:
    """The reply deadline passed with the order still open: once."""
    order = await conn.fetchrow(
        "UPDATE supervision_orders SET overdue_at = $2 WHERE id = $1 AND status = 'open' AND overdue_at IS NULL "
        "RETURNING *",
        order_id,
        case.now,
    )
    if order is None:
        return None
    return await record_event(
        conn, case=case, event_type=EventType.SUPERVISION_OVERDUE, actor=actor, payload=_payload(order)
    )


def _payload(order: asyncpg.Record) -> dict[str, Any]:
    return SupervisionPayload(
        order_id=order["id"],
        issuer_level=order["issuer_level"],
        issuer_label=order["issuer_label"],
        reason=order["reason"],
        reply_due_at=order["reply_due_at"],
        department_code=order["department_code"],
    ).model_dump(mode="json")


async def orders_of(conn: asyncpg.Connection, case_id: Any) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, issuer_level, issuer_label, issued_by_label, department_code, reason, reply_due_at, status, "
        "reply, replied_by_label, replied_at, overdue_at, created_at FROM supervision_orders WHERE case_id = $1 "
        "ORDER BY id",
        case_id,
    )
    return [dict(r) for r in rows]
