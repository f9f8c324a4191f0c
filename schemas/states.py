"""The case state machine, defined once.

Every service changes a case's status only through :func:`next_status`; an action that the
current status does not allow raises :class:`IllegalTransition` with a reason a person can read.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    REPORTED = "reported"  # 上报: taken in, not yet routed
    TRIAGE = "triage"  # 待分拣: automatic routing failed, an operator decides
    DISPATCHED = "dispatched"  # 已派遣: sent to the responsible department
    SIGNED = "signed"  # 已签收: the department accepted and is handling it
    RETURNED = "returned"  # 已退回: the department says it is not its job; to be re-dispatched
    SUSPENDED = "suspended"  # 已挂起: handling paused (the SLA clock pauses too)
    RESOLVED = "resolved"  # 已办结待核查: handled, waiting for the on-site check
    CLOSED = "closed"  # 已结案
    REJECTED = "rejected"  # 不予受理/作废 (terminal)
    DUPLICATE = "duplicate"  # 重复件, linked to the original (terminal)


class Action(StrEnum):
    REPORT = "report"
    DISPATCH = "dispatch"
    TRIAGE = "triage"
    REDISPATCH = "redispatch"
    SIGN = "sign"
    RETURN = "return"
    SUSPEND = "suspend"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REWORK = "rework"
    REOPEN = "reopen"
    REJECT = "reject"
    MARK_DUPLICATE = "mark_duplicate"
    # The department asks, the command centre answers (the case keeps its status while it waits).
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    REQUEST_SUSPENSION = "request_suspension"
    APPROVE_SUSPENSION = "approve_suspension"
    REFUSE_SUSPENSION = "refuse_suspension"
    REPORT_ASSIST = "report_assist"  # an assisting department (协办) reports its part
    # 小事不出网格: the grid worker or community, who tried first, hands the case to the lead department.
    HAND_OVER = "hand_over"


S = CaseStatus
A = Action

# (current status, action) -> new status. Nothing else is legal.
TRANSITIONS: dict[tuple[CaseStatus, Action], CaseStatus] = {
    (S.REPORTED, A.DISPATCH): S.DISPATCHED,
    (S.REPORTED, A.TRIAGE): S.TRIAGE,
    (S.REPORTED, A.REJECT): S.REJECTED,
    (S.REPORTED, A.MARK_DUPLICATE): S.DUPLICATE,
    (S.TRIAGE, A.DISPATCH): S.DISPATCHED,
    (S.TRIAGE, A.REJECT): S.REJECTED,
    (S.TRIAGE, A.MARK_DUPLICATE): S.DUPLICATE,
    (S.DISPATCHED, A.SIGN): S.SIGNED,
    (S.DISPATCHED, A.RETURN): S.RETURNED,
    (S.DISPATCHED, A.REDISPATCH): S.DISPATCHED,
    (S.RETURNED, A.REDISPATCH): S.DISPATCHED,
    (S.RETURNED, A.TRIAGE): S.TRIAGE,
    (S.RETURNED, A.REJECT): S.REJECTED,
    (S.SIGNED, A.RESOLVE): S.RESOLVED,
    (S.SIGNED, A.SUSPEND): S.SUSPENDED,
    (S.SIGNED, A.RETURN): S.RETURNED,
    (S.SUSPENDED, A.RESUME): S.SIGNED,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.REWORK): S.SIGNED,
    (S.CLOSED, A.REOPEN): S.SIGNED,
    (S.SIGNED, A.REQUEST_EXTENSION): S.SIGNED,
    (S.SIGNED, A.APPROVE_EXTENSION): S.SIGNED,
    (S.SIGNED, A.REFUSE_EXTENSION): S.SIGNED,
    (S.SIGNED, A.REQUEST_SUSPENSION): S.SIGNED,
    (S.SIGNED, A.APPROVE_SUSPENSION): S.SUSPENDED,
    (S.SIGNED, A.REFUSE_SUSPENSION): S.SIGNED,
    (S.DISPATCHED, A.REPORT_ASSIST): S.DISPATCHED,
    (S.SIGNED, A.REPORT_ASSIST): S.SIGNED,
    (S.SUSPENDED, A.REPORT_ASSIST): S.SUSPENDED,
    (S.DISPATCHED, A.HAND_OVER): S.DISPATCHED,
    (S.SIGNED, A.HAND_OVER): S.DISPATCHED,
}

TERMINAL: frozenset[CaseStatus] = frozenset({S.CLOSED, S.REJECTED, S.DUPLICATE})
# Statuses in which a department owes work, so the SLA clock runs and escalation may fire.
CLOCK_RUNNING: frozenset[CaseStatus] = frozenset({S.DISPATCHED, S.SIGNED, S.RETURNED})

STATUS_LABELS: dict[CaseStatus, str] = {
    S.REPORTED: "已上报",
    S.TRIAGE: "待分拣",
    S.DISPATCHED: "已派遣",
    S.SIGNED: "已签收",
    S.RETURNED: "已退回",
    S.SUSPENDED: "已挂起",
    S.RESOLVED: "已办结待核查",
    S.CLOSED: "已结案",
    S.REJECTED: "不予受理",
    S.DUPLICATE: "重复件",
}

ACTION_LABELS: dict[Action, str] = {
    A.REPORT: "上报",
    A.DISPATCH: "派遣",
    A.TRIAGE: "转人工分拣",
    A.REDISPATCH: "改派",
    A.SIGN: "签收",
    A.RETURN: "退回",
    A.SUSPEND: "挂起",
    A.RESUME: "恢复办理",
    A.RESOLVE: "办结反馈",
    A.CLOSE: "核查通过，结案",
    A.REWORK: "核查不通过，返工",
    A.REOPEN: "重新办理",
    A.REJECT: "作废（不予受理）",
    A.MARK_DUPLICATE: "并案",
    A.REQUEST_EXTENSION: "申请延期",
    A.APPROVE_EXTENSION: "批准延期",
    A.REFUSE_EXTENSION: "驳回延期",
    A.REQUEST_SUSPENSION: "申请挂起",
    A.APPROVE_SUSPENSION: "批准挂起",
    A.REFUSE_SUSPENSION: "驳回挂起",
    A.REPORT_ASSIST: "协办反馈",
    A.HAND_OVER: "无法就地解决，转职能部门",
}


class IllegalTransition(Exception):
    """An action the case's current status does not allow."""

    def __init__(self, status: CaseStatus, action: Action) -> None:
        self.status = status
        self.action = action
        self.allowed = allowed_actions(status)
        allowed = "、".join(ACTION_LABELS[a] for a in self.allowed) or "无（已终结）"
        self.message = (
            f"案件当前状态为“{STATUS_LABELS[status]}”，不能执行“{ACTION_LABELS[action]}”。"
            f"当前可执行：{allowed}"
        )
        super().__init__(f"illegal transition: {status.value} --{action.value}-->")


def allowed_actions(status: CaseStatus) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == status]


def next_status(status: CaseStatus, action: Action) -> CaseStatus:
    """The status after ``action``; raises IllegalTransition if the action is not allowed."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalTransition(status, action) from None
