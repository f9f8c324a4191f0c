"""Who acts: roles, the signed-in principal, and the actor recorded on a case's timeline.

The actor always comes from the signed-in identity (a person's session or an integration's API
token), never from a request body. System services act as ``system:<service>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # accounts, tokens, reference data and settings
    OPERATOR = "operator"  # command centre: triage, dispatch, check and close, void, merge
    LEADER = "leader"  # community / street / district leaders and supervisors: read their area
    DEPARTMENT = "department"  # staff of one department: the cases it leads or assists on
    GRID_WORKER = "grid_worker"  # their own grids: report, on-site check
    FEED = "feed"  # a machine identity of one integration: submit on its channel, read back its cases


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "系统管理员",
    Role.OPERATOR: "指挥中心操作员",
    Role.LEADER: "领导/督办",
    Role.DEPARTMENT: "部门工作人员",
    Role.GRID_WORKER: "网格员",
    Role.FEED: "接入系统",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event, as the timeline shows it: ``id`` is stable, ``name`` and ``unit`` are
    what a person reads (张敏 / 区网格化管理指挥中心)."""

    id: str  # user:<username> | token:<token id> | system:<service>
    name: str | None = None
    unit: str | None = None

    @classmethod
    def system(cls, service: str, name: str) -> Actor:
        return cls(id=f"system:{service}", name=name, unit="系统")


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in identity, resolved from a session or an API token (cached by the verifier)."""

    subject: str  # user:<username> or token:<token id>: what `submitted_by` and the audit log record
    kind: str  # "session" | "token"
    credential_id: str  # the session's or token's id (logout / revoke)
    display_name: str
    role: Role
    unit: str  # the account's unit as people read it (a department, the command centre, a grid)
    username: str | None = None
    department_code: str | None = None
    area_codes: tuple[str, ...] = ()
    # Grids inside the account's areas; None when the account is not limited to part of the district.
    grid_codes: frozenset[str] | None = None
    area_label: str | None = None  # names of the account's areas, for refusals ("梅溪街道")
    channel: str | None = None  # feed: the one channel it may submit on
    expires_at: datetime | None = None
    csrf_token: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> Actor:
        return Actor(id=self.subject, name=self.display_name, unit=self.unit)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]
