"""Operators', departments' and grid workers' actions on a case: the access policy, the workflow's
rules and the one state machine, in the caller's transaction (the case row locked)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from schemas.access import ACTION_PERMISSIONS, Permission
from schemas.api import ActionIn
from schemas.events import EventEnvelope
from schemas.identity import Principal
from schemas.levels import Level
from schemas.states import ACTION_LABELS, Action, next_status
from schemas.workflow import ANSWERS, OPENS, PHOTO_KINDS, Command, check_rules, check_values
from services.casework import repository as casework
from services.casework.bounce import flag_if_bouncing
from services.console.access import check_case, facts_of
from services.http.errors import Invalid
from services.identity.dependencies import authorize_case
from services.ledger.service import LockedCase, apply_action, lock_case
from services.matrix.assignment import assign
from services.reference.catalog import Catalog, Category

# Only intake opens cases; everything else a person may do from the console or a department system.
API_ACTIONS = frozenset(Action) - {Action.REPORT}
# A case that leaves the department's hands leaves no request waiting for an answer.
ENDS_REQUESTS = frozenset({Action.RETURN, Action.REDISPATCH, Action.RESOLVE, Action.REJECT, Action.HAND_OVER})
# After these, a case may have started bouncing between departments (踢皮球).
BOUNCE_CHECKED = frozenset({Action.RETURN, Action.REDISPATCH, Action.DISPATCH})


def parse_action(text: str) -> Action:
    try:
        action = Action(text)
    except ValueError:
        action = None
    if action is None or action not in API_ACTIONS:
        allowed = "、".join(f"{a.value}（{ACTION_LABELS[a]}）" for a in sorted(API_ACTIONS))
        raise Invalid("action", f"未知的操作“{text}”，可用操作：{allowed}")
    return action


def duration_label(minutes: int) -> str:
    """延长2天3小时 — how far a deadline moved, as people say it."""
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}天" if days else "", f"{hours}小时" if hours else "", f"{mins}分钟" if mins else ""]
    return "".join(parts) or "0分钟"


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
    cmd = Command(
        action=action,
        note=(command.note or "").strip() or None,
        department_code=command.department_code,
        category_code=command.category_code,
        due_at=command.due_at,
        original_case_id=command.original_case_id,
        photo_ids=tuple(command.photo_ids),
        missing_assists_reason=command.missing_assists_reason,
    )
    check_values(cmd)
    if cmd.department_code and cmd.department_code not in catalog.departments:
        raise Invalid("department_code", f"责任部门“{cmd.department_code}”不存在")
    if cmd.category_code and cmd.category_code not in catalog.categories:
        raise Invalid("category_code", f"案件类别“{cmd.category_code}”不存在")

    case = await lock_case(conn, case_id)
    # Decided on the locked row: the case can't move to another department or grid meanwhile.
    authorize_case(principal, ACTION_PERMISSIONS[action], facts_of(case.row))
    next_status(case.status, action)  # the state machine first: its refusal names what is possible
    names = {code: d.name for code, d in catalog.departments.items()}
    state = await casework.case_state(
        conn, case_id, due_at=case.row["due_at"], lead=case.row["department_code"], names=names
    )
    check_rules(cmd, state, department_code=principal.department_code, now=case.now)
    category_now = catalog.categories.get(case.row["category_code"] or "")
    if action is Action.CLOSE and not cmd.photo_ids and category_now is not None and category_now.must_report:
        # 四必报 items are never closed unseen: the on-site check's photos come with the close.
        raise Invalid("photo_ids", "四必报事项须经现场核查，附核查照片后方可结案")

    payload: dict[str, Any] = {"note": cmd.note} if cmd.note else {}
    updates: dict[str, Any] = {}
    assists: list[str] | None = None
    if action in (Action.DISPATCH, Action.REDISPATCH, Action.HAND_OVER):
        assists = _route(catalog, case, cmd, payload, updates)
        await _learn_from_correction(conn, case, cmd, principal)
    elif action is Action.RETURN:
        updates["return_count"] = case.row["return_count"] + 1
    elif action is Action.REQUEST_EXTENSION and cmd.due_at is not None:
        payload |= {"requested_due_at": cmd.due_at.isoformat(), "current_due_at": _iso(case.row["due_at"])}
    elif action in ANSWERS:
        request = await casework.pending_request(conn, case_id, ANSWERS[action][0])
        if request is None:  # check_rules saw it pending under the same lock; defensive only
            raise Invalid("action", "没有待审批的申请")
        payload["request_reason"] = request["reason"]
        if action is Action.APPROVE_EXTENSION:
            moved = _extension(case, request["requested_due_at"])
            payload |= moved
            updates["due_at"] = request["requested_due_at"]
    elif action is Action.REPORT_ASSIST:
        payload["department_code"] = principal.department_code
        payload["department_name"] = names.get(principal.department_code or "", principal.unit)
    elif action is Action.RESOLVE and cmd.missing_assists_reason:
        payload["missing_assists_reason"] = cmd.missing_assists_reason.strip()
        payload["assists_missing"] = [names.get(c, c) for c in state.assists_pending]
    elif action is Action.MARK_DUPLICATE and cmd.original_case_id is not None:
        payload |= await _original(conn, principal, case, cmd.original_case_id)
        updates["duplicate_of"] = cmd.original_case_id
    if cmd.photo_ids:
        payload["photo_ids"] = [str(p) for p in cmd.photo_ids]

    event = await apply_action(
        conn, case=case, action=action, actor=principal.actor, payload=payload, updates=updates
    )

    if assists is not None:
        await casework.set_assists(conn, case_id, assists)
    if action in BOUNCE_CHECKED:
        await flag_if_bouncing(conn, catalog, case_id)
    if action in ENDS_REQUESTS:
        await casework.close_pending_requests(
            conn, case_id, note=f"案件已{ACTION_LABELS[action]}，申请自动结束", at=case.now
        )
    if action in OPENS:
        await casework.open_request(
            conn,
            case_id=case_id,
            kind=OPENS[action],
            reason=cmd.note or "",
            due_at=cmd.due_at,
            actor=principal.actor,
            at=case.now,
            event_id=event.event_id,
        )
    elif action in ANSWERS:
        request = await casework.pending_request(conn, case_id, ANSWERS[action][0])
        if request is not None:
            await casework.answer_request(
                conn,
                request_id=request["id"],
                approved=ANSWERS[action][1],
                note=cmd.note,
                actor=principal.actor,
                at=case.now,
                event_id=event.event_id,
            )
    elif action is Action.REPORT_ASSIST and principal.department_code:
        await casework.report_assist(
            conn,
            case_id=case_id,
            department_code=principal.department_code,
            note=cmd.note or "",
            actor=principal.actor,
            at=case.now,
        )
    if cmd.photo_ids:
        refused = await casework.attach_photos(
            conn,
            case_id=case_id,
            photo_ids=cmd.photo_ids,
            kind=PHOTO_KINDS[action],
            event_id=event.event_id,
            uploader=principal.subject,
        )
        if refused:  # the whole action is rolled back with it
            raise Invalid(
                "photo_ids",
                f"照片不存在、不属于该案件、不是本人上传或已被使用：{', '.join(map(str, refused))}",
            )
    return event


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _route(
    catalog: Catalog, case: LockedCase, cmd: Command, payload: dict[str, Any], updates: dict[str, Any]
) -> list[str]:
    """Dispatch, re-dispatch or hand over: the responsibility matrix, for the category (picked, corrected
    or kept) at the case's grid, names the lead and assisting departments, the level and time limits,
    and whether the grid or community tries first; a department an operator names leads instead."""
    row = case.row
    category: Category | None = catalog.categories.get(cmd.category_code or row["category_code"] or "")
    handing_over = cmd.action is Action.HAND_OVER
    assignment = assign(
        catalog,
        category_code=category.code if category else None,
        grid_code=row["grid_code"],
        department_code=row["department_code"] if handing_over else cmd.department_code,
        local_first=not handing_over,
    )
    if assignment is None:
        if cmd.department_code is None and category is not None:
            raise Invalid(
                "department_code", f"责任矩阵中“{category.name}”在该网格没有责任部门，请指定责任部门"
            )
        raise Invalid("department_code", "该案件没有类别，派遣必须指定责任部门或案件类别")
    if cmd.action is Action.REDISPATCH and assignment.department_code == row["department_code"]:
        raise Invalid("department_code", "改派须指定另一个责任部门")
    payload |= assignment.payload(catalog) | ({} if handing_over else {"routed_by": "operator"})
    updates |= assignment.updates() | {"dispatched_at": case.now}
    if category is not None:
        payload |= {"category_code": category.code, "category_name": category.name}
        if cmd.category_code and cmd.category_code != row["category_code"]:
            payload["category_changed_from"] = row["category_code"]
            updates["category_source"] = "operator"
        updates["category_code"] = category.code
        if row["bounced_at"] is not None and assignment.level is not None:
            updates["level"] = max(row["level"] or assignment.level, assignment.level, key=_LEVEL_ORDER.index)
    tried = list(row["departments_tried"] or ())
    if assignment.department_code not in tried:
        updates["departments_tried"] = [*tried, assignment.department_code]
    coordinator = row["coordinator_department_code"]
    if coordinator and coordinator != assignment.department_code and coordinator not in assignment.assist:
        # The first department keeps coordinating (首接负责): it keeps seeing the case.
        updates["assist_department_codes"] = [*assignment.assist, coordinator]
    return list(assignment.assist)


_LEVEL_ORDER = [lv.value for lv in Level]


async def _learn_from_correction(
    conn: asyncpg.Connection, case: LockedCase, cmd: Command, principal: Principal
) -> None:
    """An operator who picks another category than the model's first suggestion teaches it: the text
    and the chosen category become a labelled example for `gridcase routing train`."""
    suggestions = case.row["category_suggestions"] or []
    if not cmd.category_code or not suggestions or suggestions[0]["code"] == cmd.category_code:
        return
    await conn.execute(
        "INSERT INTO classifier_examples (text, category, source, case_id, suggested, created_by) "
        "VALUES ($1, $2, 'operator_correction', $3, $4, $5)",
        case.row["description"],
        cmd.category_code,
        case.row["id"],
        suggestions[0]["code"],
        principal.subject,
    )


def _extension(case: LockedCase, new_due: datetime) -> dict[str, Any]:
    old_due: datetime | None = case.row["due_at"]
    moved: dict[str, Any] = {"from_due_at": _iso(old_due), "to_due_at": new_due.isoformat()}
    if old_due is not None:
        minutes = round((new_due - old_due).total_seconds() / 60)  # clocks differ by microseconds
        moved |= {"extended_by_minutes": minutes, "extended_by_label": f"延长{duration_label(minutes)}"}
    return moved


async def _original(
    conn: asyncpg.Connection, principal: Principal, case: LockedCase, original_id: uuid.UUID
) -> dict[str, Any]:
    """The case a duplicate is merged into: another case, one this operator may see, not itself merged."""
    if original_id == case.row["id"]:
        raise Invalid("original_case_id", "不能与自身并案")
    await check_case(conn, principal, Permission.CASE_READ, original_id)
    original = await conn.fetchrow("SELECT case_no, status FROM cases WHERE id = $1", original_id)
    if original["status"] == "duplicate":
        raise Invalid("original_case_id", f"案件{original['case_no']}本身是重复件，请并入其原案件")
    return {"original_case_id": str(original_id), "original_case_no": original["case_no"]}
