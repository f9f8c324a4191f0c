"""Dispatch's transactional work: route one reported case to its department, or to the triage queue
with a reason. Called by the subscriber (on ``case.reported``) and by the stranded-case worker, inside
the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import asyncpg

from dispatch.duplicates import DuplicateRule, find_likely_duplicate
from dispatch.reading import Reading, read_report
from dispatch.routing import Route, route
from schemas.api import URGENCY_RANK
from schemas.events import DispatchedPayload, EventEnvelope, EventType, TriagedPayload
from schemas.identity import Actor
from schemas.states import Action, CaseStatus
from schemas.triage import REROUTABLE, TRIAGE_LABELS, TriageReason
from services.casework.repository import set_assists
from services.classify.model import Decision
from services.ledger.service import LockedCase, apply_action, lock_case, record_event
from services.reference.catalog import Catalog

ACTOR = Actor.system("dispatch", "自动派遣")
NO_DUPLICATE_CHECK = DuplicateRule(radius_m=0, window_hours=0)


async def route_reported_case(
    conn: asyncpg.Connection,
    catalog: Catalog,
    case_id: uuid.UUID,
    *,
    model: Decision | None = None,
    duplicates: DuplicateRule = NO_DUPLICATE_CHECK,
    reroute: bool = False,
) -> EventEnvelope | None:
    """Dispatch or triage the case if it is still ``reported``; None if there was nothing to do.

    With ``reroute`` (the resident added something), a case waiting in triage for a place or a clearer
    text is routed again. Locks the case first, so a second caller (a redelivered event, the
    stranded-case worker) waits and then finds it routed already.
    """
    case = await lock_case(conn, case_id)
    waiting = (
        reroute
        and case.status is CaseStatus.TRIAGE
        and case.row["triage_reason"] in {r.value for r in REROUTABLE}
    )
    if case.status is not CaseStatus.REPORTED and not waiting:
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
    if isinstance(decision, Route) and row["lat"] is not None:
        candidate = await find_likely_duplicate(
            conn,
            duplicates,
            case_id=case_id,
            category_code=decision.category.code,
            lat=row["lat"],
            lon=row["lon"],
        )
        if candidate is not None:
            return await _triage(
                conn,
                case,
                TriageReason.LIKELY_DUPLICATE,
                grid_code=decision.grid_code,
                urgency=reading.urgency,
                read=read,
                extra_payload={
                    "likely_duplicate_of": {
                        "case_id": str(candidate.case_id),
                        "case_no": candidate.case_no,
                        "distance_m": round(candidate.distance_m),
                    }
                },
                extra_updates={
                    "likely_duplicate_of": candidate.case_id,
                    "category_code": decision.category.code,
                },
            )
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
            action=Action.DISPATCH,  # from reported, or from triage when a supplement made it routable
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
    if waiting and reason.value == row["triage_reason"]:
        return None  # what arrived didn't help: it waits as it was
    return await _triage(
        conn,
        case,
        reason,
        grid_code=decision.grid_code or row["grid_code"],
        urgency=reading.urgency,
        read=read,
    )


async def _triage(
    conn: asyncpg.Connection,
    case: LockedCase,
    reason: TriageReason,
    *,
    grid_code: str | None,
    urgency: str,
    read: dict[str, dict[str, Any]],
    extra_payload: dict[str, Any] | None = None,
    extra_updates: dict[str, Any] | None = None,
) -> EventEnvelope:
    """To the operators' queue with the reason; a case already there gets the new reason (same status)."""
    payload = TriagedPayload(reason=reason.value, reason_label=TRIAGE_LABELS[reason]).model_dump()
    updates = {
        "triage_reason": reason.value,
        "grid_code": grid_code,
        "urgency": urgency,  # a fire or a fall waits in triage flagged, not as normal
        **read["updates"],
        **(extra_updates or {}),
    }
    payload |= read["payload"] | (extra_payload or {})
    if case.status is CaseStatus.TRIAGE:
        return await record_event(
            conn, case=case, event_type=EventType.TRIAGED, actor=ACTOR, payload=payload, updates=updates
        )
    return await apply_action(
        conn, case=case, action=Action.TRIAGE, actor=ACTOR, payload=payload, updates=updates
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
