"""Operators' and departments' actions on a case: the access policy, then the one state machine."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from schemas.access import ACTION_PERMISSIONS
from schemas.api import ActionIn
from schemas.events import EventEnvelope
from schemas.identity import Principal
from schemas.states import ACTION_LABELS, Action
from services.console.access import facts_of
from services.http.errors import Invalid
from services.identity.dependencies import authorize_case
from services.ledger.service import apply_action, lock_case
from services.reference.catalog import Catalog

# Only intake opens cases; everything else a person may do from the console or a department system.
API_ACTIONS = frozenset(Action) - {Action.REPORT}
NEEDS_DEPARTMENT = frozenset({Action.DISPATCH, Action.REDISPATCH})


def parse_action(text: str) -> Action:
    try:
        action = Action(text)
    except ValueError:
        action = None
    if action is None or action not in API_ACTIONS:
        allowed = "、".join(f"{a.value}（{ACTION_LABELS[a]}）" for a in sorted(API_ACTIONS))
        raise Invalid("action", f"未知的操作“{text}”，可用操作：{allowed}")
    return action


async def act(
    conn: asyncpg.Connection,
    catalog: Catalog,
    principal: Principal,
    *,
    case_id: uuid.UUID,
    command: ActionIn,
) -> EventEnvelope:
    """Inside the caller's transaction. The actor is the signed-in principal, never the request body."""
    action = parse_action(command.action)
    payload: dict[str, Any] = {"note": command.note} if command.note else {}
    updates: dict[str, Any] = {}
    if action in NEEDS_DEPARTMENT:
        if not command.department_code:
            raise Invalid("department_code", "派遣或改派必须指定责任部门")
        department = catalog.departments.get(command.department_code)
        if department is None:
            raise Invalid("department_code", f"责任部门“{command.department_code}”不存在")
        payload |= {
            "department_code": department.code,
            "department_name": department.name,
            "routed_by": "operator",
        }
        updates["department_code"] = department.code
    case = await lock_case(conn, case_id)
    # Decided on the locked row: the case can't move to another department or grid meanwhile.
    authorize_case(principal, ACTION_PERMISSIONS[action], facts_of(case.row))
    if action in NEEDS_DEPARTMENT:
        updates["dispatched_at"] = case.now
        if case.row["category_code"] in catalog.categories:
            category = catalog.categories[case.row["category_code"]]
            payload |= {"category_code": category.code, "category_name": category.name}
            updates.setdefault("level", case.row["level"] or category.level)
    return await apply_action(
        conn, case=case, action=action, actor=principal.actor, payload=payload, updates=updates
    )
