"""The policy table and its decisions, as pure logic."""

from __future__ import annotations

import re

import pytest

from schemas.access import (
    ACTION_PERMISSIONS,
    PERMISSION_LABELS,
    POLICY,
    CaseFacts,
    Permission,
    Scope,
    decide,
    permissions_of,
)
from schemas.identity import Principal, Role
from schemas.states import Action

GRID_A, GRID_B = "10100133019900100101", "10100133019900200101"


def who(role: Role, *, department: str | None = None, grids: set[str] | None = None) -> Principal:
    return Principal(
        subject=f"user:{role.value}",
        kind="session",
        credential_id="c",
        display_name="某人",
        role=role,
        unit="某单位",
        department_code=department,
        grid_codes=frozenset(grids) if grids is not None else None,
        area_label="梅溪街道" if grids is not None else None,
    )


def case(grid: str | None = GRID_A, department: str | None = "CG-SZ", **kw: object) -> CaseFacts:
    return CaseFacts(grid_code=grid, department_code=department, **kw)  # type: ignore[arg-type]


def test_every_action_and_permission_has_a_label() -> None:
    assert set(ACTION_PERMISSIONS) == set(Action)
    assert set(PERMISSION_LABELS) == set(Permission)


def test_feed_may_only_report_and_read_its_own() -> None:
    assert set(permissions_of(Role.FEED)) == {
        Permission.CASE_REPORT,
        Permission.CASE_READ,
        Permission.SESSION,
        Permission.API_DOCS,
    }
    assert POLICY[(Role.FEED, Permission.CASE_READ)] is Scope.SUBMITTER
    feed = who(Role.FEED)
    assert decide(feed, Permission.CASE_READ, case(submitted_by="user:feed"))
    refused = decide(feed, Permission.CASE_READ, case(submitted_by="token:other"))
    assert not refused and "接入方" in refused.reason


def test_department_acts_on_what_it_leads_or_assists_on() -> None:
    staff = who(Role.DEPARTMENT, department="HB")
    assert not decide(staff, Permission.CASE_SIGN, case(department="CG-SZ"))
    assert decide(staff, Permission.CASE_SIGN, case(department="HB"))
    assert decide(staff, Permission.CASE_READ, case(department="CG-SZ", assist_department_codes=("HB",)))
    refused = decide(staff, Permission.CASE_DISPATCH, case(department="HB"))
    assert not refused and "部门工作人员" in refused.reason


def test_a_department_account_without_a_department_sees_nothing() -> None:
    assert not decide(who(Role.DEPARTMENT), Permission.CASE_READ, case(department=None))


def test_area_limit_applies_to_every_case_permission() -> None:
    street_operator = who(Role.OPERATOR, grids={GRID_A})
    assert decide(street_operator, Permission.CASE_CLOSE, case(grid=GRID_A))
    refused = decide(street_operator, Permission.CASE_CLOSE, case(grid=GRID_B))
    assert not refused and "梅溪街道" in refused.reason
    assert not decide(street_operator, Permission.CASE_READ, case(grid=None))
    assert decide(who(Role.OPERATOR), Permission.CASE_READ, case(grid=None))


@pytest.mark.parametrize("role", list(Role))
def test_every_refusal_is_chinese(role: Role) -> None:
    for permission in Permission:
        decision = decide(who(role, department="XX", grids=set()), permission, case(submitted_by="x"))
        if not decision:
            assert re.search(r"[\u4e00-\u9fff]", decision.reason), (role, permission)


def test_leaders_read_but_never_reveal_or_act() -> None:
    leader = who(Role.LEADER)
    assert decide(leader, Permission.CASE_READ, case())
    assert not decide(leader, Permission.CASE_READ_DETAILS, case())
    assert not decide(leader, Permission.CASE_REVEAL, case())
    assert not decide(leader, Permission.CASE_ACT)
