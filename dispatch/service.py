"""Dispatch's transactional work: route one reported case to its department, or to the triage queue
with a reason. Called by the subscriber (on ``case.reported``) and by the stranded-case worker, inside
the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import asyncpg

from dispatch.reading import Reading, read_report
from dispatch.routing import Route, route
from schemas.api import URGENCY_RANK
from schemas.events import DispatchedPayload, EventEnvelope, TriagedPayload
from schemas.identity import Actor
from schemas.states import Action, CaseStatus
from schemas.triage import TRIAGE_LABELS, TriageReason
from services.casework.repository import set_assists
from services.classify.model import Decision
from services.ledger.service import apply_action, lock_case
from services.reference.catalog import Catalog

ACTOR = Actor.system("dispatch", "自动派遣")


async def route_reported_case(
    conn: asyncpg.Connection, catalog: Catalog, case_id: uuid.UUID, *, model: Decision | None = None
) -> EventEnvelope | None:
    """Dispatch or triage the case if it is still ``reported``; None if there was nothing to do.

    Locks the case first, so a second caller (a redelivered event, the stranded-case worker) waits
    and then finds it routed already.
    """
    case = await lock_case(conn, case_id)
    if case.status is not CaseStatus.REPORTED:
        return None  # an operator got there first, or this is a replay: nothing to do
    row = case.row
    reading = read_report(
        catalog,
        description=row["description"],
        category_code=row["category_code"],
        grid_code=row["grid_code"],
        has_point=row["lat"] is not None,
        address=row["address"],
        urgency=row["urgency"],
        model=model,
    )
    decision = route(
        catalog,
        category_code=row["category_code"] or reading.category_code,
        grid_code=row["grid_code"] or reading.grid_code,
        lon=row["lon"],
        lat=row["lat"],
    )
    read = _reading_record(row, reading)
    if isinstance(decision, Route):
        cat = decision.category
        urgency = max(reading.urgency, cat.urgency, key=lambda u: URGENCY_RANK.get(u, 0))
        if reading.grid_code and decision.routed_by == "grid_code":
            decision = replace(decision, routed_by="address")
        assignment = decision.assignment
        payload = DispatchedPayload(
            department_code=assignment.department_code,
            department_name=catalog.departments[assignment.department_code].name,
            grid_code=decision.grid_code,
            grid_name=catalog.area_name(decision.grid_code),
            category_code=cat.code,
            category_name=cat.name,
            level=assignment.level or cat.level,
            urgency=urgency,
            handle_limit=assignment.handle_limit or cat.handle_limit,
            routed_by=decision.routed_by,
        )
        event = await apply_action(
            conn,
            case=case,
            action=Action.DISPATCH,
            actor=ACTOR,
            payload=payload.model_dump(mode="json") | assignment.payload(catalog) | read["payload"],
            updates={
                "grid_code": decision.grid_code,
                "urgency": urgency,
                "dispatched_at": case.now,
                "category_code": cat.code,
                "departments_tried": [assignment.department_code],
                **assignment.updates(),
                **read["updates"],
            },
        )
        assists = list(assignment.assist)
        await set_assists(conn, case_id, assists)
        return event
    reason = decision.reason
    if reason is TriageReason.NO_CATEGORY and reading.model is not None:
        reason = TriageReason.LOW_CONFIDENCE  # the text was read, but not surely enough
    return await apply_action(
        conn,
        case=case,
        action=Action.TRIAGE,
        actor=ACTOR,
        payload=TriagedPayload(reason=reason.value, reason_label=TRIAGE_LABELS[reason]).model_dump()
        | read["payload"],
        updates={
            "triage_reason": reason.value,
            "grid_code": decision.grid_code or row["grid_code"],
            "urgency": reading.urgency,  # a fire or a fall waits in triage flagged, not as normal
            **read["updates"],
        },
    )


def _reading_record(row: asyncpg.Record, reading: Reading) -> dict[str, dict[str, Any]]:
    """What the reading adds to the event (for people) and to the case row (for the console)."""
    payload: dict[str, Any] = {}
    updates: dict[str, Any] = {"category_source": "reporter" if row["category_code"] else None}
    if reading.model is not None:
        suggestions = [{"code": c, "confidence": round(p, 4)} for c, p in reading.model.suggestions]
        payload["classifier"] = {
            "version": reading.model.model_version,
            "confidence": round(reading.model.confidence, 4),
            "threshold": round(reading.model.threshold, 4),
            "suggestions": suggestions,
        }
        updates |= {
            "classifier_version": reading.model.model_version,
            "category_suggestions": suggestions,
            "category_source": "model" if reading.category_code else None,
        }
    if reading.grid_code:
        payload["address_matched"] = reading.address_matched
    if reading.urgency != row["urgency"]:
        payload["urgency_raised"] = {"to": reading.urgency, "reason": reading.urgency_reason}
    return {"payload": payload, "updates": updates}
