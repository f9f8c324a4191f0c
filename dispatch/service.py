"""Dispatch's transactional work: route one reported case to its department, or to the triage queue
with a reason. Called by the subscriber (on ``case.reported``) and by the stranded-case worker, inside
the caller's transaction."""

from __future__ import annotations

import uuid

import asyncpg

from dispatch.routing import Route, route
from schemas.events import DispatchedPayload, EventEnvelope, TriagedPayload
from schemas.identity import Actor
from schemas.states import Action, CaseStatus
from services.casework.repository import set_assists
from services.ledger.service import apply_action, lock_case
from services.reference.catalog import Catalog

ACTOR = Actor.system("dispatch", "自动派遣")

# Urgency only ever goes up: a resident's "emergency" is not lowered to the category default.
_URGENCY_RANK = {"normal": 0, "urgent": 1, "emergency": 2}


async def route_reported_case(
    conn: asyncpg.Connection, catalog: Catalog, case_id: uuid.UUID
) -> EventEnvelope | None:
    """Dispatch or triage the case if it is still ``reported``; None if there was nothing to do.

    Locks the case first, so a second caller (a redelivered event, the stranded-case worker) waits
    and then finds it routed already.
    """
    case = await lock_case(conn, case_id)
    if case.status is not CaseStatus.REPORTED:
        return None  # an operator got there first, or this is a replay: nothing to do
    row = case.row
    decision = route(
        catalog,
        category_code=row["category_code"],
        grid_code=row["grid_code"],
        lon=row["lon"],
        lat=row["lat"],
    )
    if isinstance(decision, Route):
        cat = decision.category
        urgency = max(row["urgency"], cat.urgency, key=lambda u: _URGENCY_RANK.get(u, 0))
        payload = DispatchedPayload(
            department_code=decision.department_code,
            department_name=catalog.departments[decision.department_code].name,
            grid_code=decision.grid_code,
            grid_name=catalog.area_name(decision.grid_code),
            category_code=cat.code,
            category_name=cat.name,
            level=cat.level,
            urgency=urgency,
            handle_limit=cat.handle_limit,
            routed_by=decision.routed_by,
        )
        # Assisting departments (协办) come from the responsibility matrix too.
        assists = [d for d in cat.assist if d != decision.department_code and d in catalog.departments]
        event = await apply_action(
            conn,
            case=case,
            action=Action.DISPATCH,
            actor=ACTOR,
            payload=payload.model_dump(mode="json")
            | ({"assist_departments": [catalog.departments[d].name for d in assists]} if assists else {}),
            updates={
                "grid_code": decision.grid_code,
                "department_code": decision.department_code,
                "level": cat.level,
                "urgency": urgency,
                "dispatched_at": case.now,
                "assist_department_codes": assists,
            },
        )
        await set_assists(conn, case_id, assists)
        return event
    return await apply_action(
        conn,
        case=case,
        action=Action.TRIAGE,
        actor=ACTOR,
        payload=TriagedPayload(reason=decision.reason.value, reason_label=decision.label).model_dump(),
        updates={
            "triage_reason": decision.reason.value,
            "grid_code": decision.grid_code or row["grid_code"],
        },
    )
