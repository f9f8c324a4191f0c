"""Event envelope and event types of the case lifecycle.

Every event is appended to the case's timeline in PostgreSQL and published (through the outbox)
on the case-events topic, keyed by case id so one case's events stay in order. Payloads carry no
personal data of residents: services that need it read the case from the database.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import Action, CaseStatus

SCHEMA_VERSION = 1


class EventType(StrEnum):
    REPORTED = "case.reported"
    DISPATCHED = "case.dispatched"
    TRIAGED = "case.triaged"
    REDISPATCHED = "case.redispatched"
    SIGNED = "case.signed"
    RETURNED = "case.returned"
    SUSPENDED = "case.suspended"
    RESUMED = "case.resumed"
    RESOLVED = "case.resolved"
    CLOSED = "case.closed"
    REWORKED = "case.reworked"
    REOPENED = "case.reopened"
    REJECTED = "case.rejected"
    MARKED_DUPLICATE = "case.marked_duplicate"
    EXTENSION_REQUESTED = "case.extension_requested"
    EXTENSION_APPROVED = "case.extension_approved"
    EXTENSION_REFUSED = "case.extension_refused"
    SUSPENSION_REQUESTED = "case.suspension_requested"
    SUSPENSION_APPROVED = "case.suspension_approved"
    SUSPENSION_REFUSED = "case.suspension_refused"
    ASSIST_REPORTED = "case.assist_reported"
    SUPPLEMENTED = "case.supplemented"  # the resident added a text, a place or a photo (same case)
    HANDED_OVER = "case.handed_over"  # the grid or community can't: the lead department takes it
    BOUNCE_FLAGGED = "case.bounce_flagged"  # returned twice or a third department: raised, coordinated
    ORIGINAL_CLOSED = "case.original_closed"  # on a merged duplicate: its original was closed
    SLA_STARTED = "case.sla_started"
    DEADLINE_WARNING = "case.deadline_warning"  # a clock reached the yellow light (once per clock)
    SUPERVISION_ORDERED = "case.supervision_ordered"  # 督办单 issued
    SUPERVISION_REPLIED = "case.supervision_replied"
    SUPERVISION_OVERDUE = "case.supervision_overdue"  # the order's reply is late
    ESCALATED = "case.escalated"
    OVERDUE = "case.overdue"
    NOTIFICATION_DELIVERED = "notification.delivered"
    NOTIFICATION_FAILED = "notification.failed"


# The event each state-machine action records.
ACTION_EVENTS: dict[Action, EventType] = {
    Action.REPORT: EventType.REPORTED,
    Action.DISPATCH: EventType.DISPATCHED,
    Action.TRIAGE: EventType.TRIAGED,
    Action.REDISPATCH: EventType.REDISPATCHED,
    Action.SIGN: EventType.SIGNED,
    Action.RETURN: EventType.RETURNED,
    Action.SUSPEND: EventType.SUSPENDED,
    Action.RESUME: EventType.RESUMED,
    Action.RESOLVE: EventType.RESOLVED,
    Action.CLOSE: EventType.CLOSED,
    Action.REWORK: EventType.REWORKED,
    Action.REOPEN: EventType.REOPENED,
    Action.REJECT: EventType.REJECTED,
    Action.MARK_DUPLICATE: EventType.MARKED_DUPLICATE,
    Action.REQUEST_EXTENSION: EventType.EXTENSION_REQUESTED,
    Action.APPROVE_EXTENSION: EventType.EXTENSION_APPROVED,
    Action.REFUSE_EXTENSION: EventType.EXTENSION_REFUSED,
    Action.REQUEST_SUSPENSION: EventType.SUSPENSION_REQUESTED,
    Action.APPROVE_SUSPENSION: EventType.SUSPENSION_APPROVED,
    Action.REFUSE_SUSPENSION: EventType.SUSPENSION_REFUSED,
    Action.REPORT_ASSIST: EventType.ASSIST_REPORTED,
    Action.HAND_OVER: EventType.HANDED_OVER,
}

EVENT_LABELS: dict[EventType, str] = {
    EventType.REPORTED: "案件上报",
    EventType.DISPATCHED: "派遣",
    EventType.TRIAGED: "转人工分拣",
    EventType.REDISPATCHED: "改派",
    EventType.SIGNED: "部门签收",
    EventType.RETURNED: "部门退回",
    EventType.SUSPENDED: "挂起",
    EventType.RESUMED: "恢复办理",
    EventType.RESOLVED: "办结反馈",
    EventType.CLOSED: "核查结案",
    EventType.REWORKED: "核查不通过，返工",
    EventType.REOPENED: "回访不满意，重新办理",
    EventType.REJECTED: "作废（不予受理）",
    EventType.MARKED_DUPLICATE: "并案（重复件）",
    EventType.EXTENSION_REQUESTED: "申请延期",
    EventType.EXTENSION_APPROVED: "批准延期",
    EventType.EXTENSION_REFUSED: "驳回延期申请",
    EventType.SUSPENSION_REQUESTED: "申请挂起",
    EventType.SUSPENSION_APPROVED: "批准挂起",
    EventType.SUSPENSION_REFUSED: "驳回挂起申请",
    EventType.ASSIST_REPORTED: "协办反馈",
    EventType.SUPPLEMENTED: "群众补充信息",
    EventType.HANDED_OVER: "转交职能部门",
    EventType.DEADLINE_WARNING: "临期预警",
    EventType.SUPERVISION_ORDERED: "下发督办单",
    EventType.SUPERVISION_REPLIED: "督办回复",
    EventType.SUPERVISION_OVERDUE: "督办回复超期",
    EventType.BOUNCE_FLAGGED: "推诿预警",
    EventType.ORIGINAL_CLOSED: "原案件已结案",
    EventType.SLA_STARTED: "开始计时",
    EventType.ESCALATED: "超时升级",
    EventType.OVERDUE: "超期督办",
    EventType.NOTIFICATION_DELIVERED: "通知已送达",
    EventType.NOTIFICATION_FAILED: "通知发送失败",
}


class EventEnvelope(BaseModel):
    """What travels on Kafka and what the timeline stores."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    type: str  # an EventType value; kept open so an unknown future type is dead-lettered, not crashed on
    case_id: UUID
    case_no: str
    seq: int = Field(ge=1, description="Position in the case's timeline, 1-based")
    occurred_at: datetime
    actor: str = Field(description="Who caused it: 'user:<username>', 'token:<token id>', 'system:<service>'")
    actor_name: str | None = Field(default=None, description="The actor as people read it (张敏)")
    actor_unit: str | None = Field(default=None, description="The actor's unit (区网格化管理指挥中心)")
    status: CaseStatus = Field(description="The case status after this event")
    schema_version: int = SCHEMA_VERSION
    payload: dict[str, Any] = Field(default_factory=dict)


# --- payloads of the events services act on -------------------------------------------------


class Point(BaseModel):
    lat: float
    lon: float


class ReportedPayload(BaseModel):
    channel: str
    external_id: str | None = None
    category_code: str | None = None
    grid_code: str | None = None
    location: Point | None = None  # WGS-84, converted at intake
    urgency: str = "normal"


class DispatchedPayload(BaseModel):
    department_code: str
    department_name: str
    grid_code: str | None
    grid_name: str | None = None
    category_code: str
    category_name: str
    level: str
    urgency: str
    handle_limit: str
    routed_by: str  # grid_code | location | address | operator
    # From the responsibility matrix: who works it first (grid / community; None: the department).
    sign_limit: str | None = None
    handler_level: str | None = None
    handler_label: str | None = None
    matrix_rule: str | None = None  # the area whose rule decided, or 类别默认
    assist_departments: list[str] = Field(default_factory=list)


class DeadlineWarningPayload(BaseModel):
    phase: str  # sign | handle | check
    phase_label: str
    due_at: datetime
    elapsed_ratio: float
    light: str  # yellow


class SupervisionPayload(BaseModel):
    order_id: int
    issuer_level: str
    issuer_label: str
    reason: str
    reply_due_at: datetime
    department_code: str | None = None
    department_name: str | None = None
    reply: str | None = None


class SupplementedPayload(BaseModel):
    """A resident's later message within the window, added to their case (no personal data here)."""

    kind: str  # text | location | image | voice | video | file
    kind_label: str
    location: Point | None = None  # WGS-84
    has_text: bool = False
    attachment_id: int | None = None


SUPPLEMENT_LABELS = {
    "text": "补充描述",
    "location": "补充位置",
    "image": "补充图片",
    "voice": "补充语音",
    "video": "补充视频",
    "file": "补充文件",
}


class BounceFlaggedPayload(BaseModel):
    """踢皮球 caught: the case is raised to the street and its first department coordinates."""

    reason: str  # returned_twice | third_department
    reason_label: str
    return_count: int
    departments_tried: list[str]
    coordinator_department_code: str
    coordinator_department_name: str
    to_level: str
    to_level_label: str


class TriagedPayload(BaseModel):
    reason: str
    reason_label: str


class SlaStartedPayload(BaseModel):
    due_at: datetime
    policy: dict[str, Any]


class EscalatedPayload(BaseModel):
    from_level: str
    from_level_label: str
    to_level: str
    to_level_label: str
    due_at: datetime | None  # when the next step fires, if any
    overdue_since: datetime
    step: int = 1  # 1-based, of steps
    steps: int = 1
    supervisor: str | None = None  # who supervises from now on
    notify: str | None = None  # who is told
    order_id: int | None = None  # the supervision order this step issued


class NotificationPayload(BaseModel):
    notification_id: UUID
    channel: str
    target: str
    trigger_event_id: UUID
    trigger_type: str
    attempts: int
    error: str | None = None


class ExtensionApprovedPayload(BaseModel):
    note: str | None = None
    request_reason: str
    from_due_at: datetime | None = None
    to_due_at: datetime
    extended_by_minutes: int | None = None
    extended_by_label: str | None = None


class MarkedDuplicatePayload(BaseModel):
    original_case_id: UUID
    original_case_no: str
    note: str | None = None


class NotePayload(BaseModel):
    """The reason or result a person gave with an action (other payload fields ignored)."""

    note: str | None = None
