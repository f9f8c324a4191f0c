"""Anti-bounce (踢皮球): a case returned twice, or dispatched to a third department, is flagged, raised
to the street, and its first department stays responsible for coordinating it (首接负责)."""

from __future__ import annotations

import uuid

import asyncpg

from schemas.events import BounceFlaggedPayload, EventEnvelope, EventType
from schemas.identity import Actor
from schemas.levels import Level
from schemas.workflow import BOUNCE_LABELS, bounce_reason
from services.ledger.service import lock_case, record_event
from services.reference.catalog import Catalog

ACTOR = Actor.system("dispatch", "推诿预警")
RAISED_TO = Level.STREET


async def flag_if_bouncing(
    conn: asyncpg.Connection, catalog: Catalog, case_id: uuid.UUID
) -> EventEnvelope | None:
    """Inside the caller's transaction, after a return or a (re)dispatch: flag the case once."""
    case = await lock_case(conn, case_id)
    row = case.row
    if row["bounced_at"] is not None:
        return None
    reason = bounce_reason(row["return_count"], row["departments_tried"])
    if reason is None:
        return None
    tried: list[str] = list(row["departments_tried"])
    coordinator = tried[0] if tried else row["department_code"]
    order = list(Level)
    level = Level(row["level"]) if row["level"] in {lv.value for lv in Level} else Level.GRID
    raised = max(level, RAISED_TO, key=order.index)
    assists = list(row["assist_department_codes"] or ())
    if coordinator and coordinator != row["department_code"] and coordinator not in assists:
        assists.append(coordinator)  # it keeps seeing the case to coordinate it
    payload = BounceFlaggedPayload(
        reason=reason.value,
        reason_label=BOUNCE_LABELS[reason],
        return_count=row["return_count"],
        departments_tried=[_name(catalog, d) for d in tried],
        coordinator_department_code=coordinator or "",
        coordinator_department_name=_name(catalog, coordinator),
        to_level=raised.value,
        to_level_label=raised.label,
    )
    return await record_event(
        conn,
        case=case,
        event_type=EventType.BOUNCE_FLAGGED,
        actor=ACTOR,
        payload=payload.model_dump(mode="json"),
        updates={
            "bounced_at": case.now,
            "bounce_reason": reason.value,
            "coordinator_department_code": coordinator,
            "level": raised.value,
            "assist_department_codes": assists,
        },
    )


def _name(catalog: Catalog, code: str | None) -> str:
    department = catalog.departments.get(code) if code else None
    return department.name if department else (code or "")
