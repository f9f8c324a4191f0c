"""The access policy, defined once (like ``TRANSITIONS`` for the state machine).

``POLICY`` maps (role, permission) to the condition a case must meet. A pair that is not in the
table is refused. Every HTTP route names the permission it needs; case routes then ask
:func:`decide` with the case's facts. Account area limits apply on top of every case condition:
an operator limited to one street acts on that street's cases only.

What a refusal says is Chinese, for the person who was refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.identity import ROLE_LABELS, Principal, Role
from schemas.states import ACTION_LABELS, Action


class Permission(StrEnum):
    # cases
    CASE_READ = "case.read"  # list and detail (summary: status, category, grid, deadlines, timeline)
    CASE_READ_DETAILS = "case.read_details"  # exact coordinates and the free-text description
    CASE_READ_INTERNAL = "case.read_internal"  # who handled it (staff names) and notifications
    CASE_REVEAL = "case.reveal"  # residents' contact data in clear, with a reason; audited
    CASE_REPORT = "case.report"  # submit a report
    CASE_ACT = "case.act"  # the actions route; the concrete action's permission decides
    # one permission per state-machine action an identity may take
    CASE_DISPATCH = "case.dispatch"
    CASE_TRIAGE = "case.triage"
    CASE_REDISPATCH = "case.redispatch"
    CASE_SIGN = "case.sign"
    CASE_RETURN = "case.return"
    CASE_SUSPEND = "case.suspend"
    CASE_RESUME = "case.resume"
    CASE_RESOLVE = "case.resolve"
    CASE_CLOSE = "case.close"
    CASE_REWORK = "case.rework"
    CASE_REOPEN = "case.reopen"
    CASE_REJECT = "case.reject"
    CASE_MARK_DUPLICATE = "case.mark_duplicate"
    CASE_REQUEST_EXTENSION = "case.request_extension"
    CASE_APPROVE_EXTENSION = "case.approve_extension"
    CASE_REFUSE_EXTENSION = "case.refuse_extension"
    CASE_REQUEST_SUSPENSION = "case.request_suspension"
    CASE_APPROVE_SUSPENSION = "case.approve_suspension"
    CASE_REFUSE_SUSPENSION = "case.refuse_suspension"
    CASE_REPORT_ASSIST = "case.report_assist"
    CASE_HAND_OVER = "case.hand_over"
    CASE_SUPERVISE = "case.supervise"  # issue a supervision order (督办单)
    CASE_REPLY_SUPERVISION = "case.reply_supervision"  # the lead department answers it
    CASE_UPLOAD_PHOTOS = "case.upload_photos"  # photos for a result or a check, attached by the action
    # the rest of the system
    LIVE_FEED = "live_feed.read"
    REFERENCE_READ = "reference.read"
    REFERENCE_WRITE = "reference.write"
    USERS_MANAGE = "users.manage"
    TOKENS_MANAGE = "tokens.manage"
    AUDIT_READ = "audit.read"
    DEAD_LETTERS_MANAGE = "dead_letters.manage"
    GRID_APP = "grid_app.use"  # the grid worker's app: reports from the street, 零上报
    RAW_INBOUND_READ = "raw_inbound.read"  # requests as they arrived: personal data, admins only
    METRICS_READ = "metrics.read"
    API_DOCS = "api_docs.read"
    SESSION = "session"  # who am I, sign out


PERMISSION_LABELS: dict[Permission, str] = {
    Permission.CASE_READ: "查看案件",
    Permission.CASE_READ_DETAILS: "查看案件描述与精确位置",
    Permission.CASE_READ_INTERNAL: "查看办理过程",
    Permission.CASE_REVEAL: "查看居民联系方式",
    Permission.CASE_REPORT: "上报案件",
    Permission.CASE_ACT: "办理案件",
    Permission.LIVE_FEED: "查看实时动态",
    Permission.REFERENCE_READ: "查看基础数据",
    Permission.REFERENCE_WRITE: "维护基础数据",
    Permission.USERS_MANAGE: "管理账号",
    Permission.TOKENS_MANAGE: "管理接口令牌",
    Permission.AUDIT_READ: "查看审计日志",
    Permission.DEAD_LETTERS_MANAGE: "处理死信",
    Permission.RAW_INBOUND_READ: "查看原始上报请求",
    Permission.GRID_APP: "使用网格员App上报",
    Permission.CASE_SUPERVISE: "下发督办单",
    Permission.CASE_REPLY_SUPERVISION: "回复督办单",
    Permission.METRICS_READ: "查看运行指标",
    Permission.API_DOCS: "查看接口文档",
    Permission.CASE_UPLOAD_PHOTOS: "上传现场照片",
    Permission.SESSION: "登录会话",
}

# The permission each state-machine action needs (`report` is intake's: CASE_REPORT).
ACTION_PERMISSIONS: dict[Action, Permission] = {
    Action.REPORT: Permission.CASE_REPORT,
    Action.DISPATCH: Permission.CASE_DISPATCH,
    Action.TRIAGE: Permission.CASE_TRIAGE,
    Action.REDISPATCH: Permission.CASE_REDISPATCH,
    Action.SIGN: Permission.CASE_SIGN,
    Action.RETURN: Permission.CASE_RETURN,
    Action.SUSPEND: Permission.CASE_SUSPEND,
    Action.RESUME: Permission.CASE_RESUME,
    Action.RESOLVE: Permission.CASE_RESOLVE,
    Action.CLOSE: Permission.CASE_CLOSE,
    Action.REWORK: Permission.CASE_REWORK,
    Action.REOPEN: Permission.CASE_REOPEN,
    Action.REJECT: Permission.CASE_REJECT,
    Action.MARK_DUPLICATE: Permission.CASE_MARK_DUPLICATE,
    Action.REQUEST_EXTENSION: Permission.CASE_REQUEST_EXTENSION,
    Action.APPROVE_EXTENSION: Permission.CASE_APPROVE_EXTENSION,
    Action.REFUSE_EXTENSION: Permission.CASE_REFUSE_EXTENSION,
    Action.REQUEST_SUSPENSION: Permission.CASE_REQUEST_SUSPENSION,
    Action.APPROVE_SUSPENSION: Permission.CASE_APPROVE_SUSPENSION,
    Action.REFUSE_SUSPENSION: Permission.CASE_REFUSE_SUSPENSION,
    Action.REPORT_ASSIST: Permission.CASE_REPORT_ASSIST,
    Action.HAND_OVER: Permission.CASE_HAND_OVER,
}
for _action, _permission in ACTION_PERMISSIONS.items():
    PERMISSION_LABELS.setdefault(_permission, ACTION_LABELS[_action])


class Scope(StrEnum):
    """The condition on a case (or on nothing) under which a role holds a permission."""

    GLOBAL = "global"  # not about one case
    AREA = "area"  # the case lies in the account's area (an unlimited account: any case)
    DEPARTMENT = "department"  # the account's department leads or assists on the case
    LEAD = "lead"  # the account's department leads the case (assisting ones only see and report their part)
    SUBMITTER = "submitter"  # the case was submitted by this identity
    # The case is worked first at the grid or community (小事不出网格) and the account's area covers
    # that grid or community.
    LOCAL = "local"


R, P, S = Role, Permission, Scope

# Everyone who signs in may see who they are, sign out and read the API documentation.
_EVERYONE = {(role, perm): S.GLOBAL for role in Role for perm in (P.SESSION, P.API_DOCS)}
# Staff who work cases in the console see the live feed and the reference data.
_STAFF = {
    (role, perm): S.GLOBAL
    for role in (R.ADMIN, R.OPERATOR, R.LEADER, R.DEPARTMENT, R.GRID_WORKER)
    for perm in (P.LIVE_FEED, P.REFERENCE_READ)
}

# (role, permission) -> condition. Nothing else is allowed.
POLICY: dict[tuple[Role, Permission], Scope] = {
    **_EVERYONE,
    **_STAFF,
    # admin: accounts, tokens, reference data, settings, the platform; cases in summary only
    (R.ADMIN, P.CASE_READ): S.AREA,
    (R.ADMIN, P.CASE_READ_INTERNAL): S.AREA,
    (R.ADMIN, P.REFERENCE_WRITE): S.GLOBAL,
    (R.ADMIN, P.USERS_MANAGE): S.GLOBAL,
    (R.ADMIN, P.TOKENS_MANAGE): S.GLOBAL,
    (R.ADMIN, P.AUDIT_READ): S.GLOBAL,
    (R.ADMIN, P.DEAD_LETTERS_MANAGE): S.GLOBAL,
    (R.ADMIN, P.RAW_INBOUND_READ): S.GLOBAL,
    (R.ADMIN, P.METRICS_READ): S.GLOBAL,
    # operator (command centre): everything the centre does with a case, in its area
    (R.OPERATOR, P.CASE_READ): S.AREA,
    (R.OPERATOR, P.CASE_READ_DETAILS): S.AREA,
    (R.OPERATOR, P.CASE_READ_INTERNAL): S.AREA,
    (R.OPERATOR, P.CASE_REVEAL): S.AREA,
    (R.OPERATOR, P.CASE_REPORT): S.GLOBAL,
    (R.OPERATOR, P.CASE_DISPATCH): S.AREA,
    (R.OPERATOR, P.CASE_TRIAGE): S.AREA,
    (R.OPERATOR, P.CASE_REDISPATCH): S.AREA,
    (R.OPERATOR, P.CASE_SUSPEND): S.AREA,  # suspends directly (a department asks: request_suspension)
    (R.OPERATOR, P.CASE_RESUME): S.AREA,
    (R.OPERATOR, P.CASE_CLOSE): S.AREA,
    (R.OPERATOR, P.CASE_REWORK): S.AREA,
    (R.OPERATOR, P.CASE_REOPEN): S.AREA,
    (R.OPERATOR, P.CASE_REJECT): S.AREA,
    (R.OPERATOR, P.CASE_MARK_DUPLICATE): S.AREA,
    (R.OPERATOR, P.CASE_APPROVE_EXTENSION): S.AREA,
    (R.OPERATOR, P.CASE_REFUSE_EXTENSION): S.AREA,
    (R.OPERATOR, P.CASE_APPROVE_SUSPENSION): S.AREA,
    (R.OPERATOR, P.CASE_REFUSE_SUSPENSION): S.AREA,
    (R.OPERATOR, P.CASE_UPLOAD_PHOTOS): S.AREA,
    (R.OPERATOR, P.CASE_SUPERVISE): S.AREA,
    # leader: reads everything in the area, supervises, reads the audit log of the area's cases
    (R.LEADER, P.CASE_READ): S.AREA,
    (R.LEADER, P.CASE_READ_INTERNAL): S.AREA,
    (R.LEADER, P.AUDIT_READ): S.AREA,
    (R.LEADER, P.CASE_SUPERVISE): S.AREA,  # 领导督办
    # department: the cases it leads or assists on
    (R.DEPARTMENT, P.CASE_READ): S.DEPARTMENT,
    (R.DEPARTMENT, P.CASE_READ_DETAILS): S.DEPARTMENT,
    (R.DEPARTMENT, P.CASE_READ_INTERNAL): S.DEPARTMENT,
    (R.DEPARTMENT, P.CASE_REVEAL): S.DEPARTMENT,
    (R.DEPARTMENT, P.CASE_SIGN): S.LEAD,
    (R.DEPARTMENT, P.CASE_RETURN): S.LEAD,
    (R.DEPARTMENT, P.CASE_RESUME): S.LEAD,
    (R.DEPARTMENT, P.CASE_RESOLVE): S.LEAD,
    (R.DEPARTMENT, P.CASE_REQUEST_EXTENSION): S.LEAD,
    (R.DEPARTMENT, P.CASE_REQUEST_SUSPENSION): S.LEAD,
    (R.DEPARTMENT, P.CASE_REPORT_ASSIST): S.DEPARTMENT,  # the workflow checks it is an assisting one
    (R.DEPARTMENT, P.CASE_UPLOAD_PHOTOS): S.DEPARTMENT,
    (R.DEPARTMENT, P.CASE_REPLY_SUPERVISION): S.LEAD,
    # grid worker (and community staff, whose area is the community): their own grids; reports, the
    # on-site check (核查), and the cases worked at their grid or community first (小事不出网格)
    (R.GRID_WORKER, P.CASE_SIGN): S.LOCAL,
    (R.GRID_WORKER, P.CASE_RESOLVE): S.LOCAL,
    (R.GRID_WORKER, P.CASE_HAND_OVER): S.LOCAL,
    (R.GRID_WORKER, P.CASE_READ): S.AREA,
    (R.GRID_WORKER, P.CASE_READ_DETAILS): S.AREA,
    (R.GRID_WORKER, P.CASE_READ_INTERNAL): S.AREA,
    (R.GRID_WORKER, P.CASE_REPORT): S.GLOBAL,
    (R.GRID_WORKER, P.GRID_APP): S.GLOBAL,
    (R.GRID_WORKER, P.CASE_CLOSE): S.AREA,
    (R.GRID_WORKER, P.CASE_REWORK): S.AREA,
    (R.GRID_WORKER, P.CASE_UPLOAD_PHOTOS): S.AREA,
    # feed: submits on its own channel and reads back what it submitted
    (R.FEED, P.CASE_REPORT): S.GLOBAL,
    (R.FEED, P.CASE_READ): S.SUBMITTER,
}

# The actions route is open to a role that may take at least one action.
for (_role, _permission), _scope in list(POLICY.items()):
    if _permission in ACTION_PERMISSIONS.values() and _permission is not P.CASE_REPORT:
        POLICY[(_role, P.CASE_ACT)] = S.GLOBAL

# Channels a role other than a feed may report on (a feed reports on its own channel only).
REPORT_CHANNELS: dict[Role, frozenset[str]] = {
    R.OPERATOR: frozenset({"operator", "superior", "hotline", "wechat", "open311"}),
    R.GRID_WORKER: frozenset({"app"}),
}


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the policy needs to know about a case."""

    grid_code: str | None
    department_code: str | None
    assist_department_codes: tuple[str, ...] = ()  # incl. a coordinating first department (首接负责)
    submitted_by: str | None = None
    handler_level: str | None = None  # grid | community while worked there first; None: the department
    handler_area_codes: tuple[str, ...] = ()  # that grid or community and the areas above it


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""  # Chinese, when refused

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def scope_of(role: Role, permission: Permission) -> Scope | None:
    return POLICY.get((role, permission))


def permissions_of(role: Role) -> list[Permission]:
    return [perm for (r, perm) in POLICY if r == role]


def roles_with(permission: Permission) -> frozenset[Role]:
    return frozenset(r for (r, perm) in POLICY if perm == permission)


def in_area(principal: Principal, case: CaseFacts) -> bool:
    return principal.grid_codes is None or case.grid_code in principal.grid_codes


def decide(principal: Principal, permission: Permission, case: CaseFacts | None = None) -> Decision:
    """May ``principal`` do ``permission`` (on ``case``, for case permissions)?"""
    scope = scope_of(principal.role, permission)
    if scope is None:
        return Decision(
            False, f"“{ROLE_LABELS[principal.role]}”角色无权{PERMISSION_LABELS.get(permission, permission)}"
        )
    if scope is S.GLOBAL or case is None:
        return ALLOW
    if scope is S.SUBMITTER:
        return (
            ALLOW
            if case.submitted_by == principal.subject
            else Decision(False, "该案件不是本接入方上报的，无权访问")
        )
    if not in_area(principal, case):
        return Decision(False, f"该案件不在您的管辖范围（{principal.area_label or '指定区域'}）内")
    if scope is S.DEPARTMENT and (
        principal.department_code is None
        or principal.department_code not in (case.department_code, *case.assist_department_codes)
    ):
        return Decision(False, f"该案件不由本部门（{principal.unit}）承办或协办")
    if scope is S.LEAD and (
        principal.department_code is None or principal.department_code != case.department_code
    ):
        return Decision(False, f"该案件不由本部门（{principal.unit}）承办，只有主办部门可以办理")
    if scope is S.LEAD and case.handler_level is not None:
        stage = LOCAL_LABELS.get(case.handler_level, case.handler_level)
        return Decision(False, f"该案件正由{stage}先行处置，{stage}转交后本部门才能办理")
    if scope is S.LOCAL:
        if case.handler_level is None:
            return Decision(False, "该案件已由职能部门办理，网格和社区不能再签收或办结")
        covered = principal.grid_codes is None or bool(
            set(principal.area_codes) & set(case.handler_area_codes)
        )
        if not covered:
            stage = LOCAL_LABELS.get(case.handler_level, case.handler_level)
            return Decision(
                False,
                f"该案件由所在{stage}先行处置，不在您负责的区域（{principal.area_label or '指定区域'}）",
            )
    return ALLOW


LOCAL_LABELS = {"grid": "网格", "community": "社区"}
