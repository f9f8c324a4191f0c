"""The workflow's rules beside the state machine: what each action needs, which requests wait for an
answer, and when the lead department may report handled. Pure: the console's command runs them on
what it read under the case lock. Refusals are Chinese."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from schemas.states import Action

A = Action

MAX_PHOTOS = 9


class RequestKind(StrEnum):
    EXTENSION = "extension"  # 延期
    SUSPENSION = "suspension"  # 挂起


REQUEST_LABELS = {RequestKind.EXTENSION: "延期申请", RequestKind.SUSPENSION: "挂起申请"}

# Actions that open a request, and the ones that answer it (approved or not).
OPENS: dict[Action, RequestKind] = {
    A.REQUEST_EXTENSION: RequestKind.EXTENSION,
    A.REQUEST_SUSPENSION: RequestKind.SUSPENSION,
}
ANSWERS: dict[Action, tuple[RequestKind, bool]] = {
    A.APPROVE_EXTENSION: (RequestKind.EXTENSION, True),
    A.REFUSE_EXTENSION: (RequestKind.EXTENSION, False),
    A.APPROVE_SUSPENSION: (RequestKind.SUSPENSION, True),
    A.REFUSE_SUSPENSION: (RequestKind.SUSPENSION, False),
}

# The reason or result people read on the timeline; these actions can't go without one.
NOTE_REQUIRED: dict[Action, str] = {
    A.RETURN: "退回须说明原因（为何不属于本部门职责）",
    A.HAND_OVER: "转交职能部门须说明为何无法就地解决",
    A.REDISPATCH: "改派须说明原因",
    A.REQUEST_EXTENSION: "申请延期须说明原因",
    A.REFUSE_EXTENSION: "驳回延期申请须说明原因",
    A.REQUEST_SUSPENSION: "申请挂起须说明原因",
    A.REFUSE_SUSPENSION: "驳回挂起申请须说明原因",
    A.SUSPEND: "挂起须说明原因",
    A.RESOLVE: "办结反馈须填写处置结果",
    A.REPORT_ASSIST: "协办反馈须填写本部门办理情况",
    A.REWORK: "核查不通过须说明原因",
    A.REOPEN: "重新办理须说明原因",
    A.REJECT: "作废须说明原因",
}

# Photos an action may attach, and what they show.
PHOTO_KINDS: dict[Action, str] = {
    A.RESOLVE: "handle",
    A.REPORT_ASSIST: "assist",
    A.CLOSE: "check",
    A.REWORK: "check",
}
PHOTO_KIND_LABELS = {"report": "上报照片", "handle": "处置照片", "assist": "协办照片", "check": "核查照片"}


class WorkflowRefused(Exception):
    """The action doesn't fit the case's requests or assisting parts now (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingValue(ValueError):
    """A value the action needs is missing or wrong (HTTP 422, naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Command:
    """What a person asked for, as the rules see it."""

    action: Action
    note: str | None = None
    department_code: str | None = None
    category_code: str | None = None
    due_at: datetime | None = None
    original_case_id: UUID | None = None
    photo_ids: tuple[UUID, ...] = ()
    missing_assists_reason: str | None = None


def check_values(command: Command) -> None:
    """The values each action needs, before anything is read."""
    action = command.action
    if action in NOTE_REQUIRED and not (command.note and command.note.strip()):
        raise MissingValue("note", NOTE_REQUIRED[action])
    if action is A.REDISPATCH and not command.department_code:
        raise MissingValue("department_code", "改派必须指定新的责任部门")
    if action is A.DISPATCH and not (command.department_code or command.category_code):
        raise MissingValue("department_code", "派遣必须指定责任部门或案件类别")
    if action is A.REQUEST_EXTENSION and command.due_at is None:
        raise MissingValue("due_at", "申请延期须填写新的办结期限")
    if action is A.MARK_DUPLICATE and command.original_case_id is None:
        raise MissingValue("original_case_id", "并案须指定原案件")
    if command.photo_ids and action not in PHOTO_KINDS:
        raise MissingValue("photo_ids", "此操作不能附照片")
    if len(command.photo_ids) > MAX_PHOTOS:
        raise MissingValue("photo_ids", f"最多附{MAX_PHOTOS}张照片")


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the rules read about the case under its lock."""

    pending: frozenset[RequestKind] = frozenset()
    due_at: datetime | None = None
    lead_department: str | None = None
    assists_pending: tuple[str, ...] = ()  # assisting departments that haven't reported their part
    assists_all: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)  # department code -> name, for refusals


def check_rules(command: Command, case: CaseState, *, department_code: str | None, now: datetime) -> None:
    """Refuse what the case's requests and assisting parts don't allow now (WorkflowRefused)."""
    action = command.action
    if action in OPENS and OPENS[action] in case.pending:
        raise WorkflowRefused(f"已有待审批的{REQUEST_LABELS[OPENS[action]]}，请等待指挥中心答复")
    if action in ANSWERS and ANSWERS[action][0] not in case.pending:
        kind = REQUEST_LABELS[ANSWERS[action][0]]
        raise WorkflowRefused(f"没有待审批的{kind}：可能已被批准或驳回，或已撤回")
    if action is A.REQUEST_EXTENSION and command.due_at is not None:
        floor = max(now, case.due_at) if case.due_at else now
        if command.due_at <= floor:
            raise MissingValue("due_at", "新的办结期限须晚于当前期限")
    if action is A.REPORT_ASSIST:
        if department_code is None or department_code not in case.assists_all:
            raise WorkflowRefused("本部门不是该案件的协办部门，主办部门请使用“办结反馈”")
        if department_code not in case.assists_pending:
            raise WorkflowRefused("本部门已提交协办反馈")
    if action is A.RESOLVE and case.assists_pending and not (command.missing_assists_reason or "").strip():
        raise WorkflowRefused(
            f"协办部门尚未全部反馈（{'、'.join(case.names.get(c, c) for c in case.assists_pending)}）：请等待其反馈，"
            "或在“协办未反馈原因”中说明为何现在办结"
        )


def available(action: Action, case: CaseState, *, department_code: str | None) -> bool:
    """Whether a button for ``action`` makes sense now (the policy and the state machine asked first)."""
    if action in OPENS:
        return OPENS[action] not in case.pending
    if action in ANSWERS:
        return ANSWERS[action][0] in case.pending
    if action is A.REPORT_ASSIST:
        return department_code is not None and department_code in case.assists_pending
    return True


def pending_kinds(kinds: Collection[str]) -> frozenset[RequestKind]:
    return frozenset(RequestKind(k) for k in kinds)


# --- anti-bounce (踢皮球) ---------------------------------------------------------------------


class BounceReason(StrEnum):
    RETURNED_TWICE = "returned_twice"
    THIRD_DEPARTMENT = "third_department"


BOUNCE_LABELS: dict[str, str] = {
    BounceReason.RETURNED_TWICE: "推诿预警：案件已被退回两次",
    BounceReason.THIRD_DEPARTMENT: "推诿预警：案件已派至第三个部门",
}
BOUNCE_RETURNS = 2  # a case returned this many times is bouncing
BOUNCE_DEPARTMENTS = 3  # so is one dispatched to this many different departments


def bounce_reason(return_count: int, departments_tried: Collection[str]) -> BounceReason | None:
    """Why the case counts as bouncing between departments now, if it does."""
    if return_count >= BOUNCE_RETURNS:
        return BounceReason.RETURNED_TWICE
    if len(set(departments_tried)) >= BOUNCE_DEPARTMENTS:
        return BounceReason.THIRD_DEPARTMENT
    return None
