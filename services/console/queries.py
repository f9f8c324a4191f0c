"""Read side of the console: cases, their timelines and notifications, labelled for people."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from schemas.access import ACTION_PERMISSIONS, CaseFacts, Permission, decide
from schemas.api import CHANNEL_LABELS, URGENCY_LABELS, Channel, Urgency
from schemas.events import EVENT_LABELS, EventType
from schemas.identity import Principal
from schemas.levels import LEVEL_LABELS, Level
from schemas.states import CLOCK_RUNNING, STATUS_LABELS, CaseStatus, allowed_actions
from services.access.filters import case_condition
from services.console.access import facts_of
from services.privacy.masking import mask_address, mask_free_text, mask_id_number, mask_name, mask_phone
from services.privacy.redaction import redact_url
from services.reference.catalog import Catalog

_ACTOR_LABELS = {
    "system:dispatch": "系统·自动派遣",
    "system:escalation": "系统·督办升级",
    "system:notify": "系统·通知",
}
NOTIFICATION_STATUS_LABELS = {"pending": "待发送", "delivered": "已送达", "failed": "发送失败"}

_SUMMARY_COLUMNS = (
    "id, case_no, status, channel, description, category_code, grid_code, department_code, level, "
    "urgency, lat, lon, created_at, updated_at, dispatched_at, due_at, triage_reason, "
    "assist_department_codes, submitted_by"
)
_CLOCK_RUNNING_SQL = ", ".join(f"'{s.value}'" for s in sorted(CLOCK_RUNNING))
# A case still `reported` after this long was not picked up by dispatch: the console flags it.
STRANDED_AFTER = "2 minutes"


def _label(mapping: dict[Any, str], key: Any, enum: type[Any]) -> str | None:
    if key is None:
        return None
    try:
        return mapping[enum(key)]
    except (ValueError, KeyError):
        return str(key)


def actor_label(
    actor: str, catalog: Catalog | None = None, *, name: str | None = None, unit: str | None = None
) -> str:
    if actor in _ACTOR_LABELS:
        return _ACTOR_LABELS[actor]
    if name:
        return f"{name}（{unit}）" if unit else name
    kind, _, who = actor.partition(":")
    if kind == "channel":
        return f"来源·{_label(CHANNEL_LABELS, who, Channel)}"
    if kind == "operator":
        return f"操作员·{who}"
    if kind == "department":
        department = catalog.departments.get(who) if catalog else None
        return f"部门·{department.name if department else who}"
    return actor


def summary(row: asyncpg.Record, catalog: Catalog, now: Any, principal: Principal) -> dict[str, Any]:
    category = catalog.categories.get(row["category_code"] or "")
    department = catalog.departments.get(row["department_code"] or "")
    details = bool(decide(principal, Permission.CASE_READ_DETAILS, facts_of(row)))
    return {
        "case_id": str(row["id"]),
        "case_no": row["case_no"],
        "status": row["status"],
        "status_label": _label(STATUS_LABELS, row["status"], CaseStatus),
        "channel": row["channel"],
        "channel_label": _label(CHANNEL_LABELS, row["channel"], Channel),
        # Free text and exact points go only to those who handle the case; numbers in it stay masked.
        "description": mask_free_text(row["description"]) if details else None,
        "description_hidden": not details,
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
        "overdue": bool(
            row["due_at"] and row["status"] in {s.value for s in CLOCK_RUNNING} and row["due_at"] < now
        ),
        "location": {"lat": row["lat"], "lon": row["lon"]} if details and row["lat"] is not None else None,
        "location_hidden": not details,
    }


async def list_cases(
    conn: asyncpg.Connection, catalog: Catalog, principal: Principal, *, limit: int, status: str | None
) -> dict[str, Any]:
    """The cases ``principal`` may see (the policy as SQL), newest first, and counts of the same set."""
    now = await conn.fetchval("SELECT clock_timestamp()")
    params: list[Any] = []
    visible = case_condition(principal, Permission.CASE_READ, params)
    where = visible
    if status:
        params.append(status)
        where += f" AND status = ${len(params)}"
    rows = await conn.fetch(
        f"SELECT {_SUMMARY_COLUMNS} FROM cases WHERE {where} ORDER BY updated_at DESC LIMIT {int(limit)}",
        *params,
    )
    count_params: list[Any] = []
    visible = case_condition(principal, Permission.CASE_READ, count_params)
    counts = dict.fromkeys((st.value for st in CaseStatus), 0)  # every status, zeros included
    counts.update(
        {
            r["status"]: r["n"]
            for r in await conn.fetch(
                f"SELECT status, count(*) AS n FROM cases WHERE {visible} GROUP BY status", *count_params
            )
        }
    )
    extra = await conn.fetchrow(
        f"SELECT count(*) FILTER (WHERE status IN ({_CLOCK_RUNNING_SQL}) AND due_at < clock_timestamp()) "
        "AS overdue, "
        f"count(*) FILTER (WHERE status = 'reported' AND created_at < clock_timestamp() - interval "
        f"'{STRANDED_AFTER}') AS stranded FROM cases WHERE {visible}",
        *count_params,
    )
    total = sum(counts.values())
    counts["overdue"] = extra["overdue"]
    return {
        "server_time": now,  # deadline lights use the server's clock, not the operator's PC
        "items": [summary(r, catalog, now, principal) for r in rows],
        "counts": counts,
        # Reports that dispatch has not picked up for minutes: re-driven by dispatch, shown here too.
        "stranded": extra["stranded"],
        "total": total,
    }


def viewer(principal: Principal, facts: CaseFacts, status: str) -> dict[str, Any]:
    """What this person may do with this case now: the policy and the state machine together."""
    return {
        "can_reveal": bool(decide(principal, Permission.CASE_REVEAL, facts)),
        "actions": [
            a.value
            for a in allowed_actions(CaseStatus(status))
            if decide(principal, ACTION_PERMISSIONS[a], facts)
        ],
    }


async def case_detail(
    conn: asyncpg.Connection, catalog: Catalog, principal: Principal, case_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS}, address, reporter_name, reporter_phone, reporter_id_number, external_id "
        "FROM cases WHERE id = $1",
        case_id,
    )
    if row is None:
        return None
    facts = facts_of(row)
    now = await conn.fetchval("SELECT clock_timestamp()")
    out = summary(row, catalog, now, principal)
    # Residents' personal data is masked for everyone; who may see it in clear asks for it (audited).
    out["address"] = mask_address(row["address"])
    out["reporter"] = (
        {
            "name": mask_name(row["reporter_name"]),
            "phone": mask_phone(row["reporter_phone"]),
            "id_number": mask_id_number(row["reporter_id_number"]),
        }
        if row["reporter_name"] or row["reporter_phone"] or row["reporter_id_number"]
        else None
    )
    out["external_id"] = row["external_id"]
    out["triage_reason"] = row["triage_reason"]
    out["viewer"] = viewer(principal, facts, row["status"])
    internal = bool(decide(principal, Permission.CASE_READ_INTERNAL, facts))
    events = await conn.fetch(
        "SELECT event_id, seq, type, occurred_at, actor, actor_name, actor_unit, status, payload "
        "FROM case_events WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    out["events"] = [
        {
            "event_id": str(e["event_id"]),
            "seq": e["seq"],
            "type": e["type"],
            "type_label": _label(EVENT_LABELS, e["type"], EventType),
            "occurred_at": e["occurred_at"],
            "status": e["status"],
        }
        | (
            {
                "actor": e["actor"],
                "actor_label": actor_label(e["actor"], catalog, name=e["actor_name"], unit=e["actor_unit"]),
                "payload": e["payload"],
            }
            if internal
            else {}
        )
        for e in events
    ]
    out["notifications"] = await _notifications(conn, case_id) if internal else []
    return out


async def _notifications(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[dict[str, Any]]:
    notes = await conn.fetch(
        "SELECT id, channel, target, trigger_type, status, attempts, delivered_at, last_error, created_at "
        "FROM notifications WHERE case_id = $1 ORDER BY created_at",
        case_id,
    )
    return [
        {
            "notification_id": str(n["id"]),
            "channel": n["channel"],
            "channel_label": "Webhook推送" if n["channel"] == "webhook" else n["channel"],
            "target": redact_url(n["target"]),
            "trigger_type": n["trigger_type"],
            "status": n["status"],
            "status_label": NOTIFICATION_STATUS_LABELS.get(n["status"], n["status"]),
            "attempts": n["attempts"],
            "delivered_at": n["delivered_at"],
            "last_error": n["last_error"],
        }
        for n in notes
    ]


async def reveal(conn: asyncpg.Connection, case_id: uuid.UUID) -> tuple[dict[str, Any], str | None]:
    """The resident's contact data in clear, and the case's grid (for the audit entry)."""
    row = await conn.fetchrow(
        "SELECT reporter_name, reporter_phone, reporter_id_number, address, description, grid_code "
        "FROM cases WHERE id = $1",
        case_id,
    )
    return (
        {
            "reporter": {
                "name": row["reporter_name"],
                "phone": row["reporter_phone"],
                "id_number": row["reporter_id_number"],
            },
            "address": row["address"],
            "description": row["description"],
        },
        row["grid_code"],
    )


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
