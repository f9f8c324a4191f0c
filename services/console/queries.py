"""Read side of the console: cases, their timelines and notifications, labelled for people."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from schemas.api import CHANNEL_LABELS, URGENCY_LABELS, Channel, Urgency
from schemas.events import EVENT_LABELS, EventType
from schemas.levels import LEVEL_LABELS, Level
from schemas.states import STATUS_LABELS, CaseStatus
from services.privacy.masking import mask_address, mask_name, mask_phone
from services.reference.catalog import Catalog

_ACTOR_LABELS = {
    "system:dispatch": "系统·自动派遣",
    "system:escalation": "系统·督办升级",
    "system:notify": "系统·通知",
}
NOTIFICATION_STATUS_LABELS = {"pending": "待发送", "delivered": "已送达", "failed": "发送失败"}

_SUMMARY_COLUMNS = (
    "id, case_no, status, channel, description, category_code, grid_code, department_code, level, "
    "urgency, lat, lon, created_at, updated_at, dispatched_at, due_at, triage_reason"
)


def _label(mapping: dict[Any, str], key: Any, enum: type[Any]) -> str | None:
    if key is None:
        return None
    try:
        return mapping[enum(key)]
    except (ValueError, KeyError):
        return str(key)


def actor_label(actor: str, catalog: Catalog | None = None) -> str:
    if actor in _ACTOR_LABELS:
        return _ACTOR_LABELS[actor]
    kind, _, who = actor.partition(":")
    if kind == "channel":
        return f"来源·{_label(CHANNEL_LABELS, who, Channel)}"
    if kind == "operator":
        return f"操作员·{who}"
    if kind == "department":
        department = catalog.departments.get(who) if catalog else None
        return f"部门·{department.name if department else who}"
    return actor


def summary(row: asyncpg.Record, catalog: Catalog, now: Any) -> dict[str, Any]:
    category = catalog.categories.get(row["category_code"] or "")
    department = catalog.departments.get(row["department_code"] or "")
    open_statuses = {"dispatched", "signed", "returned"}
    return {
        "case_id": str(row["id"]),
        "case_no": row["case_no"],
        "status": row["status"],
        "status_label": _label(STATUS_LABELS, row["status"], CaseStatus),
        "channel": row["channel"],
        "channel_label": _label(CHANNEL_LABELS, row["channel"], Channel),
        "description": row["description"],
        "category_code": row["category_code"],
        "category_name": category.name if category else None,
        "grid_code": row["grid_code"],
        "grid_name": catalog.area_name(row["grid_code"]),
        "department_code": row["department_code"],
        "department_name": department.name if department else None,
        "level": row["level"],
        "level_label": _label(LEVEL_LABELS, row["level"], Level),
        "urgency": row["urgency"],
        "urgency_label": _label(URGENCY_LABELS, row["urgency"], Urgency),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "dispatched_at": row["dispatched_at"],
        "due_at": row["due_at"],
        "overdue": bool(row["due_at"] and row["status"] in open_statuses and row["due_at"] < now),
        "location": {"lat": row["lat"], "lon": row["lon"]} if row["lat"] is not None else None,
    }


async def list_cases(
    conn: asyncpg.Connection, catalog: Catalog, *, limit: int, status: str | None
) -> dict[str, Any]:
    now = await conn.fetchval("SELECT clock_timestamp()")
    if status:
        rows = await conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS} FROM cases WHERE status = $1 ORDER BY updated_at DESC LIMIT $2",
            status,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS} FROM cases ORDER BY updated_at DESC LIMIT $1", limit
        )
    counts = dict.fromkeys((st.value for st in CaseStatus), 0)  # every status, zeros included
    counts.update(
        {
            r["status"]: r["n"]
            for r in await conn.fetch("SELECT status, count(*) AS n FROM cases GROUP BY status")
        }
    )
    counts["overdue"] = await conn.fetchval(
        "SELECT count(*) FROM cases WHERE status IN ('dispatched','signed','returned') AND due_at < clock_timestamp()"
    )
    return {
        "server_time": now,  # deadline lights use the server's clock, not the operator's PC
        "items": [summary(r, catalog, now) for r in rows],
        "counts": counts,
        "total": sum(v for k, v in counts.items() if k != "overdue"),
    }


async def case_detail(
    conn: asyncpg.Connection, catalog: Catalog, case_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS}, address, reporter_name, reporter_phone, external_id FROM cases WHERE id = $1",
        case_id,
    )
    if row is None:
        return None
    now = await conn.fetchval("SELECT clock_timestamp()")
    out = summary(row, catalog, now)
    # Operators see residents' contact data masked until roles with full access exist.
    out["address"] = mask_address(row["address"])
    out["reporter"] = (
        {"name": mask_name(row["reporter_name"]), "phone": mask_phone(row["reporter_phone"])}
        if row["reporter_name"] or row["reporter_phone"]
        else None
    )
    out["external_id"] = row["external_id"]
    out["triage_reason"] = row["triage_reason"]
    events = await conn.fetch(
        "SELECT event_id, seq, type, occurred_at, actor, status, payload FROM case_events "
        "WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    out["events"] = [
        {
            "event_id": str(e["event_id"]),
            "seq": e["seq"],
            "type": e["type"],
            "type_label": _label(EVENT_LABELS, e["type"], EventType),
            "occurred_at": e["occurred_at"],
            "actor": e["actor"],
            "actor_label": actor_label(e["actor"], catalog),
            "status": e["status"],
            "payload": e["payload"],
        }
        for e in events
    ]
    notes = await conn.fetch(
        "SELECT id, channel, target, trigger_type, status, attempts, delivered_at, last_error, created_at "
        "FROM notifications WHERE case_id = $1 ORDER BY created_at",
        case_id,
    )
    out["notifications"] = [
        {
            "notification_id": str(n["id"]),
            "channel": n["channel"],
            "channel_label": "Webhook推送" if n["channel"] == "webhook" else n["channel"],
            "target": n["target"].split("?")[0],
            "trigger_type": n["trigger_type"],
            "status": n["status"],
            "status_label": NOTIFICATION_STATUS_LABELS.get(n["status"], n["status"]),
            "attempts": n["attempts"],
            "delivered_at": n["delivered_at"],
            "last_error": n["last_error"],
        }
        for n in notes
    ]
    return out


async def grids_geojson(conn: asyncpg.Connection) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT code, name, level, parent_code, worker, geometry FROM areas ORDER BY code"
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": r["code"],
                "properties": {
                    "code": r["code"],
                    "name": r["name"],
                    "level": r["level"],
                    "level_label": _label(LEVEL_LABELS, r["level"], Level),
                    "parent_code": r["parent_code"],
                    "worker": r["worker"],
                },
                "geometry": r["geometry"],
            }
            for r in rows
        ],
    }
